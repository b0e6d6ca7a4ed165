import { Buffer } from 'node:buffer'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import fc from 'fast-check'
import { deflateSync } from 'fflate'
import { afterAll, describe, expect, test } from 'vitest'
import {
  DTYPES,
  type DType,
  type NdArray,
  STORAGE,
  type TypedArray,
} from '../../src/compare/dtype.js'
import { NpyFormatError, NpzFormatError, WriteError } from '../../src/io/errors.js'
import { encodeNpy } from '../../src/io/npy.js'
import { crc32, crc32Js, encodeNpz, readNpz, writeNpz } from '../../src/io/npz.js'
import { expectFileError } from '../helpers/file-errors.js'

// ---------------------------------------------------------------------------------------------
// Helpers

const sizeOf = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1)

/** An array of `dtype` and `shape` with varied bytes (valid 0/1 for bool). */
function sample(dtype: DType, shape: readonly number[], seed = 1): NdArray {
  const n = sizeOf(shape)
  const data = new STORAGE[dtype](n)
  const bytes = new Uint8Array(data.buffer)
  for (let i = 0; i < bytes.length; i++)
    bytes[i] = dtype === 'bool' ? (i + seed) % 2 : (i * 37 + seed * 11) & 0xff
  return { data, shape: [...shape], dtype } as NdArray
}

const bytesOf = (a: TypedArray): Uint8Array =>
  new Uint8Array(a.buffer, a.byteOffset, a.byteLength).slice()

/** Field overrides for a hand-made zip member. */
interface Raw {
  name: string
  /** The member's uncompressed bytes. */
  plain: Uint8Array
  /** 0 stored, 8 deflate (default 0); others are written as stored bytes with that method id. */
  method?: number
  /** Compressed bytes instead of deflating `plain`. */
  packed?: Uint8Array
  level?: 0 | 6
  crc?: number
  size?: number
  csize?: number
  flags?: number
  localName?: string
  /** Put the uncompressed size in a zip64 extra field (the 32-bit field reads 0xffffffff). */
  zip64Size?: number
  /** Override the local header offset the central directory gives. */
  offset?: number
}

/** A zip built field by field, to make archives the writer never would. */
function rawZip(members: Raw[], opts: { disk?: number; prefix?: number } = {}): Uint8Array {
  const enc = new TextEncoder()
  // Junk before the archive, not counted in its offsets (what Python calls a concatenated zip).
  const parts: Uint8Array[] = [new Uint8Array(opts.prefix ?? 0)]
  let offset = 0
  const central: Uint8Array[] = []
  for (const m of members) {
    const method = m.method ?? 0
    const packed =
      m.packed ?? (method === 8 ? deflateSync(m.plain, { level: m.level ?? 6 }) : m.plain)
    const name = enc.encode(m.name)
    const localName = enc.encode(m.localName ?? m.name)
    const crc = m.crc ?? crc32(m.plain)
    const size = m.size ?? m.plain.length
    const csize = m.csize ?? packed.length
    const local = new Uint8Array(30 + localName.length)
    const lv = new DataView(local.buffer)
    lv.setUint32(0, 0x04034b50, true)
    lv.setUint16(4, 20, true)
    lv.setUint16(6, m.flags ?? 0, true)
    lv.setUint16(8, method, true)
    lv.setUint32(14, crc, true)
    lv.setUint32(18, csize, true)
    lv.setUint32(22, size, true)
    lv.setUint16(26, localName.length, true)
    local.set(localName, 30)
    const extra = new Uint8Array(m.zip64Size === undefined ? 0 : 12)
    if (m.zip64Size !== undefined) {
      const ev = new DataView(extra.buffer)
      ev.setUint16(0, 1, true)
      ev.setUint16(2, 8, true)
      ev.setBigUint64(4, BigInt(m.zip64Size), true)
    }
    const cd = new Uint8Array(46 + name.length + extra.length)
    const cv = new DataView(cd.buffer)
    cv.setUint32(0, 0x02014b50, true)
    cv.setUint16(4, 20, true)
    cv.setUint16(6, 20, true)
    cv.setUint16(8, m.flags ?? 0, true)
    cv.setUint16(10, method, true)
    cv.setUint32(16, crc, true)
    cv.setUint32(20, csize, true)
    cv.setUint32(24, m.zip64Size === undefined ? size : 0xffffffff, true)
    cv.setUint16(28, name.length, true)
    cv.setUint16(30, extra.length, true)
    cv.setUint16(34, opts.disk ?? 0, true)
    cv.setUint32(42, m.offset ?? offset, true)
    cd.set(name, 46)
    cd.set(extra, 46 + name.length)
    parts.push(local, packed)
    central.push(cd)
    offset += local.length + packed.length
  }
  const cdSize = central.reduce((s, c) => s + c.length, 0)
  const end = new Uint8Array(22)
  const ev = new DataView(end.buffer)
  ev.setUint32(0, 0x06054b50, true)
  ev.setUint16(4, opts.disk ?? 0, true)
  ev.setUint16(8, members.length, true)
  ev.setUint16(10, members.length, true)
  ev.setUint32(12, cdSize, true)
  ev.setUint32(16, offset, true)
  const all = [...parts, ...central, end]
  const out = new Uint8Array(all.reduce((s, p) => s + p.length, 0))
  let at = 0
  for (const p of all) {
    out.set(p, at)
    at += p.length
  }
  return out
}

const npy = (dtype: DType = 'float32', shape: readonly number[] = [3]) =>
  encodeNpy(sample(dtype, shape))

const expectNpzError = (fn: () => unknown, key: string | undefined, ...reasons: string[]) =>
  expectFileError(NpzFormatError, fn, '<bytes>', key, ...reasons)

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vitest-align-npz-'))
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }))

const SHAPES: readonly (readonly number[])[] = [[], [0, 3], [5], [2, 3], [2, 3, 4]]

// ---------------------------------------------------------------------------------------------

describe('round trips', () => {
  const record: { [key: string]: NdArray } = {}
  for (const dtype of DTYPES) {
    for (const shape of SHAPES)
      record[`${dtype}_${shape.join('x') || 'scalar'}`] = sample(dtype, shape)
  }

  test.each([false, true])('every dtype and shape, compress: %s', (compress) => {
    const back = readNpz(encodeNpz(record, { compress }))
    expect(Object.keys(back)).toEqual(Object.keys(record))
    for (const [key, a] of Object.entries(record)) {
      const b = back[key] as NdArray
      expect([b.dtype, b.shape]).toEqual([a.dtype, a.shape])
      expect(b.data).toBeInstanceOf(STORAGE[a.dtype])
      expect(bytesOf(b.data)).toEqual(bytesOf(a.data))
    }
  })

  test('names keep /, unicode and __proto__ as plain keys', () => {
    const keys = ['a/b/c', 'ünïcödé', '__proto__', 'x.npy', 'with space', 'constructor']
    const back = readNpz(encodeNpz(Object.fromEntries(keys.map((k, i) => [k, i]))))
    expect(Object.keys(back)).toEqual(keys)
    expect(Object.getPrototypeOf(back)).toBe(Object.prototype)
    const proto = Object.getOwnPropertyDescriptor(back, '__proto__')?.value as NdArray
    expect(proto.data).toEqual(Float64Array.of(2))
    expect((back['a/b/c'] as NdArray).data).toEqual(Float64Array.of(0))
  })

  test('a Map, an empty record, and the same bytes every time', () => {
    const m = new Map<string, Float32Array | number[]>([
      ['z', Float32Array.of(1)],
      ['a', [1, 2]],
    ])
    expect(Object.keys(readNpz(encodeNpz(m)))).toEqual(['z', 'a'])
    expect(readNpz(encodeNpz({}))).toEqual({})
    expect(encodeNpz(m, { compress: true })).toEqual(encodeNpz(m, { compress: true }))
  })

  test('more than 65,535 members: zip64 end records', () => {
    const n = 65_536
    const record = new Map<string, boolean>()
    for (let i = 0; i < n; i++) record.set(`m${i}`, i % 2 === 0)
    const bytes = encodeNpz(record)
    // the classic end record says 0xffff; the zip64 locator sits just before it
    const dv = new DataView(bytes.buffer)
    expect(dv.getUint16(bytes.length - 12, true)).toBe(0xffff)
    expect(dv.getUint32(bytes.length - 42, true)).toBe(0x07064b50)
    const back = readNpz(bytes)
    expect(Object.keys(back)).toHaveLength(n)
    expect((back.m65535 as NdArray).data).toEqual(Uint8Array.of(0))
    expectNpzError(
      () => readNpz(bytes, { maxMembers: 65_535 }),
      undefined,
      '65536 members, over maxMembers (65535)',
    )
    // 65,536 members take about 1 s on a quiet machine: sized for a loaded one
  }, 60_000)
})

describe('view or copy', () => {
  test('stored members are padded so every array is a view into the archive', () => {
    const record = Object.fromEntries(DTYPES.map((d) => [d, sample(d, [3, 2])]))
    const bytes = encodeNpz(record)
    const back = readNpz(bytes.buffer)
    for (const d of DTYPES) {
      const a = back[d] as NdArray
      expect(a.data.buffer).toBe(bytes.buffer)
      expect(a.data.byteOffset % 64).toBe(0)
    }
  })

  test('deflated members are fresh buffers', () => {
    const bytes = encodeNpz({ a: sample('float64', [4]) }, { compress: true })
    expect((readNpz(bytes).a as NdArray).data.buffer).not.toBe(bytes.buffer)
  })

  test('a stored member at an unaligned offset (as np.savez writes) is read through a copy', () => {
    const zip = rawZip([{ name: 'a.npy', plain: npy('float64', [3]) }])
    expect((zip.indexOf(0x93) + 128) % 8).not.toBe(0)
    const a = readNpz(zip).a as NdArray
    expect(bytesOf(a.data)).toEqual(bytesOf(sample('float64', [3]).data))
  })
})

describe('bounds', () => {
  test('a member declaring 10 GB is refused from the directory, before inflating', () => {
    const zip = rawZip([{ name: 'big.npy', plain: npy(), method: 8, zip64Size: 10e9 }])
    const t0 = performance.now()
    expectNpzError(
      () => readNpz(zip),
      'big',
      'declares 10000000000 bytes uncompressed, over maxInflatedBytes (4294967296)',
    )
    expect(performance.now() - t0).toBeLessThan(50)
  })

  test('the declared sizes are summed', () => {
    const zip = encodeNpz({ a: new Float64Array(20), b: new Float64Array(20) })
    expect(Object.keys(readNpz(zip, { maxInflatedBytes: 600 }))).toEqual(['a', 'b'])
    expectNpzError(
      () => readNpz(zip, { maxInflatedBytes: 300 }),
      'b',
      'the members declare 576 bytes uncompressed in total, over maxInflatedBytes (300)',
    )
    expectNpzError(
      () => readNpz(zip, { maxInflatedBytes: 200 }),
      'a',
      'declares 288 bytes uncompressed, over maxInflatedBytes (200)',
    )
  })

  test('more members than maxMembers', () => {
    const zip = encodeNpz({ a: 1, b: 2, c: 3 })
    expectNpzError(
      () => readNpz(zip, { maxMembers: 2 }),
      undefined,
      '3 members, over maxMembers (2)',
    )
  })

  test('a deflate stream that inflates to more than it declares cannot grow past it', () => {
    const plain = encodeNpy(new Float64Array(10_000)) // 80 KB of zeros: deflates to ~100 bytes
    for (const level of [6, 0] as const) {
      // level 0 makes stored deflate blocks, which fflate copies whole (a RangeError when they do not fit)
      const zip = rawZip([{ name: 'bomb.npy', plain, method: 8, level, size: 1000 }])
      expectNpzError(() => readNpz(zip), 'bomb', 'inflates to more than its declared 1000 bytes')
    }
  })

  test('a deflate stream shorter than declared, corrupt or empty', () => {
    const plain = npy('float32', [10])
    expectNpzError(
      () => readNpz(rawZip([{ name: 'a.npy', plain, method: 8, size: 500 }])),
      'a',
      `inflates to ${plain.length} bytes, it declares 500`,
    )
    const garbage = Uint8Array.of(0xff, 0xff, 0xff, 0xff)
    expectNpzError(
      () => readNpz(rawZip([{ name: 'a.npy', plain, method: 8, packed: garbage }])),
      'a',
      'bad deflate data',
    )
    const cut = deflateSync(plain).subarray(0, 10)
    expectNpzError(
      () => readNpz(rawZip([{ name: 'a.npy', plain, method: 8, packed: cut }])),
      'a',
      'bad deflate data: unexpected EOF',
    )
    expectNpzError(
      () => readNpz(rawZip([{ name: 'a.npy', plain, method: 8, packed: new Uint8Array(0) }])),
      'a',
      'empty deflate stream',
    )
  })
})

describe('damaged and hostile archives', () => {
  test.each([
    [new Uint8Array(0), 'not a zip archive: empty'],
    [
      new TextEncoder().encode('just some text, long enough to search for a record'),
      'no end of central directory record',
    ],
    [npy(), 'not a zip archive: this is an .npy file (read it with readNpy)'],
  ])('%#: %s', (bytes, reason) => {
    expectNpzError(() => readNpz(bytes), undefined, reason)
  })

  test('truncated, cut in the middle, or prefixed', () => {
    const zip = encodeNpz({ a: 1, b: 2 })
    expectNpzError(
      () => readNpz(zip.subarray(0, zip.length - 1)),
      undefined,
      'no end of central directory record',
    )
    const holed = new Uint8Array([...zip.subarray(0, 100), ...zip.subarray(110)])
    expectNpzError(() => readNpz(holed), undefined, 'does not end where the end record starts')
    expectNpzError(
      () => readNpz(rawZip([{ name: 'a.npy', plain: npy() }], { prefix: 7 })),
      undefined,
      'prefixed archive',
    )
  })

  test('CRC-32 is checked (Python zipfile checks it too)', () => {
    expectNpzError(
      () => readNpz(rawZip([{ name: 'a.npy', plain: npy(), crc: 1234 }])),
      'a',
      'CRC-32 mismatch: the data gives 0x',
      'the directory says 0x000004d2',
    )
    const zip = encodeNpz({ a: Float32Array.of(1, 2, 3) })
    const at = zip.indexOf(0x93) + 128
    zip[at] = (zip[at] as number) ^ 1 // one bit of the float data
    expectNpzError(() => readNpz(zip), 'a', 'CRC-32 mismatch')
  })

  test('zip features an .npz never uses are refused by name', () => {
    const plain = npy()
    const cases: [Raw[], { disk?: number }, string | undefined, string][] = [
      [[{ name: 'a.npy', plain, flags: 1 }], {}, 'a', 'encrypted members are not supported'],
      [
        [{ name: 'a.npy', plain, method: 12 }],
        {},
        'a',
        'compression method 12 is not supported (only stored and deflate)',
      ],
      [
        [{ name: 'a.npy', plain }],
        { disk: 1 },
        undefined,
        'multi-disk zip archives are not supported',
      ],
      [[{ name: 'notes.txt', plain }], {}, 'notes.txt', "member 'notes.txt' is not a .npy file"],
      [
        [
          { name: 'a.npy', plain },
          { name: 'a.npy', plain },
        ],
        {},
        'a',
        "duplicate member 'a.npy'",
      ],
      [
        [{ name: 'a.npy', plain, localName: 'b.npy' }],
        {},
        'a',
        "the local header names 'b.npy', the directory 'a.npy'",
      ],
      [
        [{ name: 'a.npy', plain, csize: plain.length - 1 }],
        {},
        'a',
        `stored member declares ${plain.length} bytes but ${plain.length - 1} compressed`,
      ],
      [
        [{ name: 'a.npy', plain, offset: 3 }],
        {},
        'a',
        'no local header where the directory points',
      ],
      [
        [{ name: 'a.npy', plain, size: 10_000, csize: 10_000 }],
        {},
        'a',
        'runs past the central directory',
      ],
      [
        [
          { name: 'a.npy', plain, size: plain.length + 40, csize: plain.length + 40 },
          { name: 'b.npy', plain },
        ],
        {},
        'b',
        "members 'a.npy' and 'b.npy' overlap",
      ],
    ]
    for (const [members, opts, key, reason] of cases)
      expectNpzError(() => readNpz(rawZip(members, opts)), key, reason)
  })

  test('directory entries are skipped; names without the utf-8 flag are code page 437', () => {
    const zip = rawZip([
      { name: 'dir/', plain: new Uint8Array(0) },
      { name: 'dir/a.npy', plain: npy() },
    ])
    expect(Object.keys(readNpz(zip))).toEqual(['dir/a'])
    // 0x81 is ü in cp437; with the utf-8 flag the same byte is invalid
    const cp = rawZip([{ name: 'x.npy', plain: npy() }])
    cp[cp.lastIndexOf(0x78)] = 0x81 // the name in the central directory
    cp[cp.indexOf(0x78)] = 0x81 // and in the local header
    expect(Object.keys(readNpz(cp))).toEqual(['ü'])
    const bad = rawZip([{ name: 'x.npy', plain: npy(), flags: 0x800 }])
    bad[bad.lastIndexOf(0x78)] = 0x81
    expectNpzError(() => readNpz(bad), undefined, 'the name of member 0 is not valid utf-8')
  })

  test('a bad .npy inside is an NpyFormatError naming the archive and the key', () => {
    const zip = rawZip([
      { name: 'good.npy', plain: npy() },
      { name: 'bad.npy', plain: new TextEncoder().encode('garbage!') },
    ])
    expectFileError(
      NpyFormatError,
      () => readNpz(zip, { source: 'run.npz' }),
      'run.npz',
      'bad',
      'not an .npy file',
    )
    const obj = encodeNpy(1).slice()
    obj.set(new TextEncoder().encode("'|O' "), Buffer.from(obj).indexOf("'<f8'"))
    expectFileError(
      NpyFormatError,
      () => readNpz(rawZip([{ name: 'log.npy', plain: obj }])),
      '<bytes>',
      'log',
      'pickled object array',
    )
    // the array limit applies inside the archive too
    expectFileError(
      NpyFormatError,
      () => readNpz(encodeNpz({ a: new Float64Array(10) }), { maxArrayBytes: 79 }),
      '<bytes>',
      'a',
      'maxArrayBytes (79)',
    )
  })

  test('damaged archives only ever give a typed error or a well-formed record (property)', () => {
    const bases = [
      encodeNpz({ a: sample('float32', [2, 3]), 'b/c': sample('int64', [2]), d: true }),
      encodeNpz({ a: sample('float32', [2, 3]), b: sample('uint16', [3, 1]) }, { compress: true }),
    ]
    fc.assert(
      fc.property(
        fc.constantFrom(...bases),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), {
          minLength: 1,
          maxLength: 4,
        }),
        fc.option(fc.nat()),
        (base, edits, cut) => {
          const bytes = base.slice()
          for (const [at, v] of edits) bytes[at % bytes.length] = v
          const input = cut === null ? bytes : bytes.subarray(0, cut % (bytes.length + 1))
          try {
            for (const a of Object.values(readNpz(input)) as NdArray[]) {
              expect(a.data.length).toBe(sizeOf(a.shape))
            }
          } catch (e) {
            expect(e instanceof NpzFormatError || e instanceof NpyFormatError).toBe(true)
          }
        },
      ),
      { numRuns: 1500 },
    )
  })
})

describe('writing', () => {
  test('a nested record is refused (keys are flat names)', () => {
    let err: unknown
    try {
      encodeNpz({ a: 1, b: { c: 2 } } as never)
    } catch (e) {
      err = e
    }
    expect(err).toBeInstanceOf(WriteError)
    expect((err as WriteError).key).toBe('b')
    expect((err as WriteError).message).toBe(
      "<bytes> [key 'b']: a nested record: an .npz holds flat names; flatten it (for instance to dotted keys) first",
    )
  })

  test('bad values, keys and records are WriteErrors naming the key', () => {
    expect(() => encodeNpz({ a: 'x' as never })).toThrow(
      "<bytes> [key 'a']: unsupported type string",
    )
    expect(() => encodeNpz({ '': 1 })).toThrow('a key must be a non-empty string')
    expect(() => encodeNpz({ 'a\0b': 1 })).toThrow(
      "<bytes> [key 'a\0b']: a key must not contain NUL",
    )
    expect(() => encodeNpz([1, 2] as never)).toThrow(WriteError)
    expect(() => encodeNpz(null as never)).toThrow('expected a record of arrays')
  })

  test('writeNpz writes a file readNpz reads; errors name the path', () => {
    const file = path.join(tmp, 'w.npz')
    writeNpz(file, { a: sample('int8', [4]) }, { compress: true })
    expect(readNpz(file)).toEqual({ a: sample('int8', [4]) })
    expectFileError(
      NpzFormatError,
      () => readNpz(path.join(tmp, 'none.npz')),
      path.join(tmp, 'none.npz'),
      undefined,
      'cannot read the file',
      'ENOENT',
    )
    const nowhere = path.join(tmp, 'no', 'w.npz')
    expect(() => writeNpz(nowhere, { a: 1 })).toThrow(`${nowhere}: cannot write the file`)
    expect(() => writeNpz(file, { a: 'x' as never })).toThrow(
      `${file} [key 'a']: unsupported type string`,
    )
  })
})

test('crc32: the check value, and the JS fallback agrees with the native one', () => {
  const check = new TextEncoder().encode('123456789')
  expect(crc32(check)).toBe(0xcbf43926)
  expect(crc32Js(check)).toBe(0xcbf43926)
  expect(crc32Js(new Uint8Array(0))).toBe(0)
  fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (d) => crc32Js(d) === crc32(d)))
})
