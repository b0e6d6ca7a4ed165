/**
 * Mutation fuzzing of every reader: real files (the tutorial's reprod_log records, .npy of
 * every dtype, stored and deflated .npz) with bytes flipped, truncated, inserted, or header
 * fields overwritten with extreme values. The only outcomes allowed are a well-formed result
 * or a typed error (an AlignError subclass); never another exception, never a hang.
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { describe, expect, test } from 'vitest'
import { DTYPES, type NdArray } from '../../src/compare/dtype.js'
import { AlignError } from '../../src/compare/errors.js'
import { orderedKeys } from '../../src/compare/key-order.js'
import { readCheckpoint } from '../../src/io/checkpoint.js'
import { FileFormatError } from '../../src/io/errors.js'
import { load } from '../../src/io/load.js'
import { encodeNpy } from '../../src/io/npy.js'
import { encodeNpz } from '../../src/io/npz.js'
import { unpickleRecord } from '../../src/io/pickle.js'
import { encodeReprodLog } from '../../src/io/reprod-log.js'
import { encodeSafetensors, readSafetensors } from '../../src/io/safetensors.js'
import type { NdRecord } from '../../src/io/types.js'

const fixture = (name: string) =>
  new Uint8Array(
    readFileSync(new URL(`../fixtures/reprod_log/paddle-mobilenetv3/${name}`, import.meta.url)),
  )

const arrays = {
  f4: Float32Array.from({ length: 24 }, (_, i) => i / 7),
  f8: { data: Float64Array.from({ length: 12 }, (_, i) => -i), shape: [3, 4] },
  i8: { data: BigInt64Array.from({ length: 6 }, (_, i) => BigInt(i) * 3n), shape: [2, 3] },
  u1: Uint8Array.of(1, 2, 3),
  b1: { data: Uint8Array.of(1, 0, 1, 1), shape: [2, 2], dtype: 'bool' as const },
  f2: { data: Uint16Array.of(0x3c00, 0x4000), shape: [2], dtype: 'float16' as const },
  scalar: 2.5,
}

const seeds: Uint8Array[] = [
  fixture('forward_ref.npy'),
  fixture('losses_paddle.npy'),
  fixture('metric_ref.npy'),
  ...Object.values(arrays).map((a) => encodeNpy(a)),
  encodeNpz(arrays, { compress: false }),
  encodeNpz(arrays, { compress: true }),
  encodeReprodLog({ logits: arrays.f4, nested: { ids: arrays.i8, lr: 0.001 } }),
]

/** One mutation of a seed: what a damaged or hostile file could look like. */
const mutation = fc.oneof(
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({
    kind: fc.constant('flip' as const),
    edits: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), {
      minLength: 1,
      maxLength: 8,
    }),
    header: fc.boolean(), // most structure lives in the first bytes: hit them half the time
  }),
  fc.record({
    kind: fc.constant('insert' as const),
    at: fc.nat(),
    bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }),
  }),
  fc.record({
    kind: fc.constant('u32' as const),
    at: fc.nat(),
    value: fc.constantFrom(0, 1, 0x7fffffff, 0xffffffff, 0x80000000, 0xffff, 0x10000),
  }),
)

type Mutation = typeof mutation extends fc.Arbitrary<infer M> ? M : never

function mutate(seed: Uint8Array, m: Mutation): Uint8Array {
  switch (m.kind) {
    case 'truncate':
      return seed.slice(0, m.at % seed.length)
    case 'flip': {
      const out = seed.slice()
      for (const [at, value] of m.edits)
        out[at % (m.header ? Math.min(256, out.length) : out.length)] = value
      return out
    }
    case 'insert': {
      const at = m.at % (seed.length + 1)
      const out = new Uint8Array(seed.length + m.bytes.length)
      out.set(seed.subarray(0, at))
      out.set(m.bytes, at)
      out.set(seed.subarray(at), at + m.bytes.length)
      return out
    }
    case 'u32': {
      const out = seed.slice()
      const at = m.at % Math.max(1, out.length - 4)
      new DataView(out.buffer).setUint32(at, m.value, true)
      return out
    }
  }
}

/** A result is well formed when every array's data holds exactly its shape's elements. */
function checkWellFormed(value: NdArray | NdRecord): void {
  if ('dtype' in value && 'shape' in value && 'data' in value) {
    const nd = value as NdArray
    expect(DTYPES).toContain(nd.dtype)
    for (const d of nd.shape) expect(Number.isSafeInteger(d) && d >= 0).toBe(true)
    expect(nd.data.length).toBe(nd.shape.reduce((p, d) => p * d, 1))
    return
  }
  for (const v of Object.values(value as NdRecord)) checkWellFormed(v)
}

/** Runs one fuzzed read: a well-formed result or a typed error naming `<bytes>` is counted, anything else fails. */
function tally(outcomes: { ok: number; typed: number }, read: () => NdArray | NdRecord): void {
  let result: NdArray | NdRecord
  try {
    result = read()
  } catch (e) {
    if (!(e instanceof AlignError)) throw e
    expect(e.message).toMatch(/^<bytes>/) // names the source
    outcomes.typed++
    return
  }
  checkWellFormed(result)
  outcomes.ok++
}

describe('fuzzing the .safetensors reader', () => {
  const { scalar: _, ...tensors } = arrays
  const seed = encodeSafetensors(tensors, { metadata: { format: 'pt' } })

  test('10,000 mutations of a real file: a well-formed record or a typed error naming <bytes>', () => {
    const outcomes = { ok: 0, typed: 0 }
    fc.assert(
      fc.property(mutation, fc.boolean(), (m, viaLoad) => {
        const bytes = mutate(seed, m)
        tally(outcomes, () =>
          viaLoad ? load(bytes, { maxInflatedBytes: 2 ** 24 }) : readSafetensors(bytes),
        )
      }),
      { numRuns: 10_000, seed: 20261203 },
    )
    expect(outcomes.ok).toBeGreaterThan(500)
    expect(outcomes.typed).toBeGreaterThan(2000)
  }, 60_000)
})

const checkpoint = (name: string) =>
  new Uint8Array(readFileSync(new URL(`../fixtures/checkpoints/${name}`, import.meta.url)))

/** The archive with every CRC-32 zeroed, as torch's set_crc32_options(False) writes it: the
 * mutations then reach the pickle and the storages instead of stopping at the CRC check. */
function zeroCrcs(zip: Uint8Array): Uint8Array {
  const out = zip.slice()
  const dv = new DataView(out.buffer)
  for (let p = 0; p + 20 <= out.length; p++) {
    if (dv.getUint32(p, true) === 0x02014b50) dv.setUint32(p + 16, 0, true)
  }
  return out
}

describe.each([
  {
    kind: '.pth',
    fileSeeds: [
      zeroCrcs(checkpoint('small.pt')),
      checkpoint('small.pt'),
      checkpoint('small_legacy.pt'),
    ],
    minOk: 400,
  },
  {
    kind: '.pdparams',
    fileSeeds: [checkpoint('small.pdparams'), checkpoint('split.pdparams')],
    minOk: 100,
  },
])('fuzzing the $kind reader', ({ fileSeeds, minOk }) => {
  test('10,000 mutations of real files: a well-formed record or a typed error naming <bytes>', () => {
    const outcomes = { ok: 0, typed: 0 }
    fc.assert(
      fc.property(
        fc.nat({ max: fileSeeds.length - 1 }),
        mutation,
        fc.boolean(),
        (which, m, viaLoad) => {
          const bytes = mutate(fileSeeds[which] ?? new Uint8Array(0), m)
          const limits = { maxArrayBytes: 2 ** 24, maxInflatedBytes: 2 ** 24 }
          tally(outcomes, () =>
            viaLoad ? load(bytes, limits) : readCheckpoint(bytes, limits).record,
          )
        },
      ),
      { numRuns: 10_000, seed: 20261203 },
    )
    // seed 20261203 gave 842 / 9,158 (.pth) and 286 / 9,714 (.pdparams): both outcomes reached
    expect(outcomes.ok).toBeGreaterThan(minOk)
    expect(outcomes.typed).toBeGreaterThan(5000)
  }, 120_000)
})

describe('fuzzing the readers with mutated real files', () => {
  test('10,000 mutated inputs: a well-formed result or a typed error, nothing else', () => {
    const outcomes = { ok: 0, typed: 0 }
    fc.assert(
      fc.property(fc.nat({ max: seeds.length - 1 }), mutation, (which, m) => {
        const bytes = mutate(seeds[which] as Uint8Array, m)
        tally(outcomes, () => load(bytes, { maxArrayBytes: 2 ** 24, maxInflatedBytes: 2 ** 24 }))
      }),
      { numRuns: 10_000, seed: 20261128 },
    )
    // both paths were exercised: the fuzzer is not just feeding garbage the magic check stops
    expect(outcomes.ok).toBeGreaterThan(500)
    expect(outcomes.typed).toBeGreaterThan(2000)
  }, 60_000)
})

describe('fuzzing the new paths: keys, descrs, special files, shared substructures', () => {
  const PROTO_NAMES = [
    '__proto__',
    'constructor',
    'toString',
    'hasOwnProperty',
    'valueOf',
    '__defineGetter__',
    'prototype',
  ]
  const key = fc.oneof(
    fc.constantFrom(...PROTO_NAMES),
    fc.string({ minLength: 1, maxLength: 12 }),
    // control characters, ESC sequences and line breaks: kept as-is (escaping is the renderers' job)
    fc
      .array(fc.integer({ min: 0, max: 0x9f }), { minLength: 1, maxLength: 12 })
      .map((cs) => String.fromCharCode(...cs)),
    fc.nat({ max: 1000 }).map(String),
  )

  test('any keys round-trip through reprod_log and .npz, in file order, with no prototype change', () => {
    fc.assert(
      fc.property(fc.uniqueArray(key, { minLength: 1, maxLength: 8 }), (keys) => {
        const entries = keys.map((k, i) => [k, Float32Array.of(i)] as const)
        const rec = load(encodeReprodLog(new Map(entries))) as NdRecord
        expect(orderedKeys(rec)).toEqual(keys)
        expect(Object.getPrototypeOf(rec)).toBe(Object.prototype)
        for (const [i, k] of keys.entries()) {
          expect(
            (Object.getOwnPropertyDescriptor(rec, k) as { value: NdArray }).value.data[0],
          ).toBe(i)
        }
        const npzKeys = keys.filter((k) => !k.includes('\0'))
        const npz = load(
          encodeNpz(new Map(npzKeys.map((k, i) => [k, Float32Array.of(i)]))),
        ) as NdRecord
        expect(orderedKeys(npz)).toEqual(npzKeys)
      }),
      { numRuns: 300, seed: 8 },
    )
    expect(({} as { [k: string]: unknown }).constructor).toBe(Object)
  }, 60_000)

  test('any descr, prototype names included: an array or a typed error', () => {
    const descr = fc.oneof(
      fc.constantFrom(...PROTO_NAMES),
      fc
        .tuple(
          fc.constantFrom('<', '>', '|', '=', ''),
          fc.constantFrom(...PROTO_NAMES, 'f4', 'i8', 'b1', 'c8', 'U3'),
        )
        .map(([o, c]) => o + c),
      fc.string({ maxLength: 8 }).filter((s) => !/['"\\\n\r]/.test(s)),
    )
    fc.assert(
      fc.property(descr, (d) => {
        const text = `{'descr': '${d}', 'fortran_order': False, 'shape': (1,), }\n`
        const bytes = new Uint8Array(10 + text.length + 8)
        bytes.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, text.length, 0])
        for (let i = 0; i < text.length; i++) bytes[10 + i] = text.charCodeAt(i) & 0xff
        try {
          checkWellFormed(load(bytes))
        } catch (e) {
          if (!(e instanceof AlignError)) throw e
        }
      }),
      { numRuns: 500, seed: 9 },
    )
  })

  test('special files and folders are refused by every path reader, never read or opened', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vitest-align-fuzz-'))
    try {
      const fifo = join(dir, 'fifo')
      execFileSync('mkfifo', [fifo])
      for (const path of [
        '/dev/zero',
        '/dev/null',
        '/dev/urandom',
        fifo,
        dir,
        '/proc/self/status',
      ]) {
        let err: unknown
        try {
          load(path)
        } catch (e) {
          err = e
        }
        expect(err, path).toBeInstanceOf(FileFormatError)
        expect((err as FileFormatError).source).toBe(path)
      }
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  test('records whose dicts share one another, up to 40 deep, read in linear time and stay shared', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 2, max: 4 }), (depth, fan) => {
        // d0 = {'x': 1.0}; d(i) = {'k0': d(i-1), ..., 'k{fan-1}': d(i-1)} (memoised, fetched fan times)
        const b: number[] = [
          0x80, 3, 0x7d, 0x4b, 0, 0x7d, 0x8c, 1, 0x78, 0x47, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0,
        ]
        b.push(0x73, 0x71, 0, 0x30)
        for (let i = 1; i <= depth; i++) {
          b.push(0x7d, 0x28)
          for (let k = 0; k < fan; k++) b.push(0x8c, 2, 0x6b, 0x30 + k, 0x68, i - 1)
          b.push(0x75, 0x71, i)
          if (i < depth) b.push(0x30)
        }
        b.push(0x73, 0x2e)
        const rec = unpickleRecord(Uint8Array.from(b))
        let node = rec['0'] as NdRecord
        for (let i = 0; i < depth - 1; i++) {
          expect(node.k0).toBe(node[`k${fan - 1}`])
          node = node.k0 as NdRecord
        }
      }),
      { numRuns: 100, seed: 10 },
    )
  }, 60_000)
})
