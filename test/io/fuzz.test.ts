/**
 * Mutation fuzzing of every reader: real files (the tutorial's reprod_log records, .npy of
 * every dtype, stored and deflated .npz) with bytes flipped, truncated, inserted, or header
 * fields overwritten with extreme values. The only outcomes allowed are a well-formed result
 * or a typed error (an AlignError subclass); never another exception, never a hang.
 */
import { readFileSync } from 'node:fs'
import fc from 'fast-check'
import { describe, expect, test } from 'vitest'
import { DTYPES, type NdArray } from '../../src/compare/dtype.js'
import { AlignError } from '../../src/compare/errors.js'
import { load } from '../../src/io/load.js'
import { encodeNpy } from '../../src/io/npy.js'
import { encodeNpz } from '../../src/io/npz.js'
import { encodeReprodLog } from '../../src/io/reprod-log.js'
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

describe('fuzzing the readers with mutated real files', () => {
  test('10,000 mutated inputs: a well-formed result or a typed error, nothing else', () => {
    const outcomes = { ok: 0, typed: 0 }
    fc.assert(
      fc.property(fc.nat({ max: seeds.length - 1 }), mutation, (which, m) => {
        const bytes = mutate(seeds[which] as Uint8Array, m)
        let result: NdArray | NdRecord
        try {
          result = load(bytes, { maxArrayBytes: 2 ** 24, maxInflatedBytes: 2 ** 24 })
        } catch (e) {
          if (!(e instanceof AlignError)) throw e
          expect(e.message).toMatch(/^<bytes>/) // names the source
          outcomes.typed++
          return
        }
        checkWellFormed(result)
        outcomes.ok++
      }),
      { numRuns: 10_000, seed: 20261128 },
    )
    // both paths were exercised: the fuzzer is not just feeding garbage the magic check stops
    expect(outcomes.ok).toBeGreaterThan(500)
    expect(outcomes.typed).toBeGreaterThan(2000)
  }, 60_000)
})
