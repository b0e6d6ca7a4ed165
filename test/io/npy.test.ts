import { Buffer } from 'node:buffer'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import fc from 'fast-check'
import { parse as npyjsParse } from 'npyjs'
import { afterAll, describe, expect, test } from 'vitest'
import {
  DTYPES,
  type DType,
  type NdArray,
  STORAGE,
  type TypedArray,
} from '../../src/compare/dtype.js'
import { AlignOptionsError } from '../../src/compare/errors.js'
import { NpyFormatError, WriteError } from '../../src/io/errors.js'
import { resolveLimits } from '../../src/io/limits.js'
import { encodeNpy, readNpy, readNpyHeader, writeNpy } from '../../src/io/npy.js'
import { NPY_MAGIC, npyHeaderText } from '../../src/io/npy-header.js'
import { descrOf, itemsizeOf } from '../../src/io/numpy-dtype.js'
import { DEFAULT_LIMITS } from '../../src/io/types.js'
import { expectFileError } from '../helpers/file-errors.js'

// ---------------------------------------------------------------------------------------------
// Helpers

/** Edge values of every dtype (float16 as raw bits): extremes, NaN, infinities, -0, subnormals. */
const EDGES: { readonly [D in DType]: readonly (number | bigint)[] } = {
  bool: [1, 0, 1, 1, 0],
  int8: [-128, 127, 0, -1, 5],
  uint8: [0, 255, 1, 128],
  int16: [-32768, 32767, 0, -1, 300],
  uint16: [0, 65535, 1, 40000],
  int32: [-(2 ** 31), 2 ** 31 - 1, 0, -1, 123456],
  uint32: [0, 2 ** 32 - 1, 1, 3e9],
  int64: [-(2n ** 63n), 2n ** 63n - 1n, 2n ** 53n + 1n, -1n, 0n],
  uint64: [0n, 2n ** 64n - 1n, 2n ** 53n + 1n, 1n],
  float16: [0x3c00, 0xc000, 0x7c00, 0xfc00, 0x7e00, 0x8000, 0x0001, 0x7bff],
  float32: [1.5, -2.25, Infinity, -Infinity, NaN, -0, 1e-45, 3.4028234663852886e38],
  float64: [1.5, -2.25, Infinity, -Infinity, NaN, -0, Number.MIN_VALUE, Number.MAX_VALUE, 0.1],
}

const SHAPES: readonly (readonly number[])[] = [[], [0], [0, 3], [5], [2, 3], [2, 3, 4], [3, 1, 2]]

const sizeOf = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1)

/** An array of `dtype` and `shape` filled with the dtype's edge values, cyclically. */
function sample<D extends DType>(dtype: D, shape: readonly number[]): NdArray<D> {
  const n = sizeOf(shape)
  const data = new STORAGE[dtype](n)
  const edges = EDGES[dtype]
  for (let i = 0; i < n; i++)
    (data as { [i: number]: number | bigint })[i] = edges[i % edges.length] as number
  return { data, shape: [...shape], dtype } as unknown as NdArray<D>
}

/** The raw bytes of a typed array (the exact comparison: NaN payloads, -0). */
const bytesOf = (a: TypedArray): Uint8Array =>
  new Uint8Array(a.buffer, a.byteOffset, a.byteLength).slice()

/** Bytes with every `itemsize` group reversed. */
function swapped(bytes: Uint8Array, itemsize: number): Uint8Array {
  const out = new Uint8Array(bytes.length)
  for (let i = 0; i < bytes.length; i += itemsize) {
    for (let b = 0; b < itemsize; b++) out[i + b] = bytes[i + itemsize - 1 - b] as number
  }
  return out
}

/** C-order element bytes rearranged into Fortran (column-major) order. */
function fortranBytes(bytes: Uint8Array, shape: readonly number[], itemsize: number): Uint8Array {
  const n = sizeOf(shape)
  const out = new Uint8Array(bytes.length)
  for (let f = 0; f < n; f++) {
    // Fortran flat index -> multi-index (first axis fastest) -> C flat index
    let rest = f
    let c = 0
    const idx = shape.map((d) => {
      const i = rest % d
      rest = Math.floor(rest / d)
      return i
    })
    for (let k = 0; k < shape.length; k++) c = c * (shape[k] as number) + (idx[k] as number)
    out.set(bytes.subarray(c * itemsize, (c + 1) * itemsize), f * itemsize)
  }
  return out
}

/** A hand-made `.npy`: the given header dict text, padded as numpy pads, then `data`. */
function craft(
  dict: string,
  data: Uint8Array = new Uint8Array(0),
  version: 1 | 2 | 3 = 1,
): Uint8Array<ArrayBuffer> {
  const pre = version === 1 ? 10 : 12
  const len = dict.length + 1 + (64 - ((pre + dict.length + 1) % 64))
  const out = new Uint8Array(pre + len + data.length)
  out.set(NPY_MAGIC)
  out[6] = version
  const dv = new DataView(out.buffer)
  if (version === 1) dv.setUint16(8, len, true)
  else dv.setUint32(8, len, true)
  const text = `${dict.padEnd(len - 1, ' ')}\n`
  out.set(new TextEncoder().encode(text), pre)
  out.set(data, pre + len)
  return out
}

const dictOf = (descr: string, shape: readonly number[], fortran = false) =>
  `{'descr': '${descr}', 'fortran_order': ${fortran ? 'True' : 'False'}, 'shape': ${
    shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`
  }, }`

/** Asserts an NpyFormatError about the whole of `source` whose reason contains every fragment. */
const expectNpyError = (fn: () => unknown, source: string, ...reasons: string[]): NpyFormatError =>
  expectFileError(NpyFormatError, fn, source, undefined, ...reasons)

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vitest-align-npy-'))
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }))

// ---------------------------------------------------------------------------------------------

describe('round trips', () => {
  for (const dtype of DTYPES) {
    test.each(SHAPES)(`${dtype} %j`, (...shape) => {
      const a = sample(dtype, shape)
      const back = readNpy(encodeNpy(a))
      expect(back.dtype).toBe(dtype)
      expect(back.shape).toEqual(shape)
      expect(back.data).toBeInstanceOf(STORAGE[dtype])
      expect(back.data.length).toBe(sizeOf(shape))
      expect(bytesOf(back.data)).toEqual(bytesOf(a.data))
    })
  }

  test.each([1, 2, 3] as const)('format version %i', (version) => {
    const a = sample('float64', [2, 3])
    const bytes = encodeNpy(a, { version })
    expect(bytes[6]).toBe(version)
    expect(readNpyHeader(bytes)).toMatchObject({ version, dataOffset: 128, shape: [2, 3] })
    expect(bytesOf(readNpy(bytes).data)).toEqual(bytesOf(a.data))
  })

  test('a version 3.0 header is utf-8', () => {
    // numpy writes 3.0 only for non-latin1 headers (structured field names); the dict syntax
    // is ASCII, so a non-ASCII character can only sit in a string: here an unknown descr.
    const bytes = craft(dictOf('<f4é', [1]), new Uint8Array(4), 3)
    expectNpyError(() => readNpy(bytes), '<bytes>', "unknown descr '<f4é'")
    const bad = craft(dictOf('<f4', [1]), new Uint8Array(4), 3)
    bad[20] = 0xff // inside the header: not utf-8
    expectNpyError(() => readNpy(bad), '<bytes>', 'not valid utf-8')
  })

  test('any bytes of any dtype and shape survive a round trip (property)', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...DTYPES),
        fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 4 }),
        fc.integer({ min: 0, max: 2 ** 31 }),
        (dtype, shape, seed) => {
          const n = sizeOf(shape)
          const raw = new Uint8Array(n * itemsizeOf(dtype)).map((_, i) => (seed * (i + 7)) >>> 3)
          if (dtype === 'bool') for (let i = 0; i < n; i++) raw[i] = (raw[i] as number) & 1
          const data = new STORAGE[dtype](n)
          new Uint8Array(data.buffer).set(raw)
          const back = readNpy(encodeNpy({ data, shape, dtype }))
          expect([back.dtype, back.shape]).toEqual([dtype, shape])
          expect(bytesOf(back.data)).toEqual(raw)
        },
      ),
      { numRuns: 200 },
    )
  })
})

describe('numpy layouts', () => {
  for (const dtype of DTYPES.filter((d) => itemsizeOf(d) > 1)) {
    test(`big endian ${dtype}`, () => {
      const a = sample(dtype, [2, 3])
      const be = craft(
        dictOf(`>${descrOf(dtype).slice(1)}`, [2, 3]),
        swapped(bytesOf(a.data), itemsizeOf(dtype)),
      )
      const back = readNpy(be)
      expect(back.dtype).toBe(dtype)
      expect(bytesOf(back.data)).toEqual(bytesOf(a.data))
    })
  }

  for (const dtype of DTYPES) {
    test.each([[[2, 3]], [[2, 3, 4]], [[3, 1, 2]], [[2, 0, 3]]])(
      `Fortran order ${dtype} %j, both byte orders`,
      (shape) => {
        const a = sample(dtype, shape)
        const size = itemsizeOf(dtype)
        const f = fortranBytes(bytesOf(a.data), shape, size)
        const le = readNpy(craft(dictOf(descrOf(dtype), shape, true), f))
        expect(le.shape).toEqual(shape)
        expect(bytesOf(le.data)).toEqual(bytesOf(a.data))
        const descr = size === 1 ? descrOf(dtype) : `>${descrOf(dtype).slice(1)}`
        const be = readNpy(craft(dictOf(descr, shape, true), swapped(f, size)))
        expect(bytesOf(be.data)).toEqual(bytesOf(a.data))
      },
    )
  }

  test('Fortran order of a known 2x3 array (numpy gives [0, 3, 1, 4, 2, 5] on disk)', () => {
    const disk = Int32Array.of(0, 3, 1, 4, 2, 5)
    const a = readNpy(craft(dictOf('<i4', [2, 3], true), new Uint8Array(disk.buffer)))
    expect(Array.from(a.data as Int32Array)).toEqual([0, 1, 2, 3, 4, 5])
  })

  test('0-d and empty arrays', () => {
    const scalar = readNpy(craft(dictOf('<f8', []), new Uint8Array(Float64Array.of(2.5).buffer)))
    expect(scalar).toEqual({ data: Float64Array.of(2.5), shape: [], dtype: 'float64' })
    const empty = readNpy(craft(dictOf('<f4', [0, 3])))
    expect(empty).toEqual({ data: new Float32Array(0), shape: [0, 3], dtype: 'float32' })
    // a zero dimension makes the array empty however large the others are
    const huge = readNpy(craft(dictOf('<f4', [2 ** 53 - 1, 0])))
    expect(huge.shape).toEqual([2 ** 53 - 1, 0])
    expect(huge.data.length).toBe(0)
  })

  test.each(['|b1', '<b1', '?', '|?'])('%s is bool, as a 0/1 Uint8Array', (descr) => {
    const a = readNpy(craft(dictOf(descr, [3]), Uint8Array.of(1, 0, 1)))
    expect(a).toEqual({ data: Uint8Array.of(1, 0, 1), shape: [3], dtype: 'bool' })
  })

  test('a bool byte other than 0/1 is True (as numpy), read as 1 without touching the input', () => {
    const bytes = craft(dictOf('|b1', [4]), Uint8Array.of(0, 2, 1, 255))
    const a = readNpy(bytes)
    expect(Array.from(a.data as Uint8Array)).toEqual([0, 1, 1, 1])
    expect(Array.from(bytes.subarray(128))).toEqual([0, 2, 1, 255])
  })

  test("'=f4', '|f4' and 'f4' are the native order, as in numpy", () => {
    for (const d of ['=f4', '|f4', 'f4']) {
      const a = readNpy(craft(dictOf(d, [1]), new Uint8Array(Float32Array.of(1.5).buffer)))
      expect(a.data).toEqual(Float32Array.of(1.5))
    }
  })

  test('agrees with npyjs where npyjs is right (little endian, C order, numeric)', () => {
    for (const dtype of [
      'int8',
      'uint8',
      'int16',
      'int32',
      'uint32',
      'float32',
      'float64',
      'int64',
    ] as const) {
      const bytes = encodeNpy(sample(dtype, [2, 3]))
      const theirs = npyjsParse(bytes.slice().buffer)
      expect(theirs.shape).toEqual([2, 3])
      expect(bytesOf(readNpy(bytes).data)).toEqual(bytesOf(theirs.data as TypedArray))
    }
  })

  test('the npyjs gaps this reader fills are real', () => {
    // big endian: npyjs throws
    expect(() => npyjsParse(craft(dictOf('>f4', [1]), new Uint8Array(4)).buffer)).toThrow(
      'Unsupported dtype',
    )
    // its view is not bounded by the shape: 8 trailing bytes give 2 more elements
    const trailing = craft(dictOf('<f4', [2, 3]), new Uint8Array(32))
    expect(npyjsParse(trailing.buffer).data).toHaveLength(8)
    // bool is a plain array, Fortran data is left column-major
    expect(Array.isArray(npyjsParse(craft(dictOf('|b1', [1]), Uint8Array.of(1)).buffer).data)).toBe(
      true,
    )
    // its regexes accept a header without a shape (as ()) and a NaN dimension
    expect(npyjsParse(craft("{'descr': '<f4'}", new Uint8Array(4)).buffer).shape).toEqual([])
    expect(
      npyjsParse(craft(dictOf('<f4', []).replace('()', '(x,)'), new Uint8Array(4)).buffer).shape,
    ).toEqual([Number.NaN])
  })
})

describe('known headers, byte for byte (what np.save writes)', () => {
  const header = (bytes: Uint8Array) => Buffer.from(bytes.subarray(0, 128)).toString('latin1')
  test('float32 (2, 3)', () => {
    const bytes = encodeNpy({ data: new Float32Array(6), shape: [2, 3] })
    expect(bytes.length).toBe(152)
    expect(header(bytes)).toBe(
      `\x93NUMPY\x01\x00v\x00{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }${' '.repeat(58)}\n`,
    )
  })
  test('bool 0-d', () => {
    const bytes = encodeNpy(true)
    expect(bytes.length).toBe(129)
    expect(header(bytes)).toBe(
      `\x93NUMPY\x01\x00v\x00{'descr': '|b1', 'fortran_order': False, 'shape': (), }${' '.repeat(62)}\n`,
    )
    expect(bytes[128]).toBe(1)
  })
  test('int64 (0, 3), version 2.0', () => {
    const bytes = encodeNpy({ data: new BigInt64Array(0), shape: [0, 3] }, { version: 2 })
    expect(bytes.length).toBe(128)
    expect(header(bytes)).toBe(
      `\x93NUMPY\x02\x00t\x00\x00\x00{'descr': '<i8', 'fortran_order': False, 'shape': (0, 3), }${' '.repeat(56)}\n`,
    )
  })
  test.each([
    ['float16', '<f2'],
    ['uint8', '|u1'],
    ['int8', '|i1'],
    ['uint64', '<u8'],
  ] as const)('%s is %s', (dtype, descr) => {
    expect(npyHeaderText(dtype, [7])).toBe(
      `{'descr': '${descr}', 'fortran_order': False, 'shape': (7,), }${' '.repeat(20)}`,
    )
  })
  test('the data always starts at a multiple of 64', () => {
    for (const shape of [[], [1], [12345678, 0], Array(20).fill(1), Array(64).fill(1)]) {
      const bytes = encodeNpy({ data: new Float64Array(sizeOf(shape)), shape })
      expect(readNpyHeader(bytes).dataOffset % 64).toBe(0)
      expect(bytes[readNpyHeader(bytes).dataOffset - 1]).toBe(0x0a)
    }
  })
})

describe('view or copy', () => {
  test('aligned data is a view into the input, bounded by the shape', () => {
    const bytes = encodeNpy(sample('float32', [2, 3]))
    const a = readNpy(bytes.buffer)
    expect(a.data.buffer).toBe(bytes.buffer)
    expect(a.data.byteOffset).toBe(128)
    expect(a.data.length).toBe(6)
    // a view shares memory with the input
    ;(a.data as Float32Array)[0] = 42
    expect(new Float32Array(bytes.buffer, 128, 1)[0]).toBe(42)
  })

  test('a Uint8Array at an offset: a view where the offset suits the type, else a copy', () => {
    const npy = encodeNpy(sample('float64', [3]))
    const holder = new Uint8Array(npy.length + 12)
    for (const at of [0, 4, 8]) {
      holder.set(npy, at)
      const input = holder.subarray(at, at + npy.length)
      const a = readNpy(input)
      expect(bytesOf(a.data)).toEqual(bytesOf(sample('float64', [3]).data))
      expect(a.data.buffer === holder.buffer).toBe(at % 8 === 0)
    }
    const f4 = encodeNpy(sample('float32', [3]))
    holder.set(f4, 4)
    expect(readNpy(holder.subarray(4, 4 + f4.length)).data.buffer).toBe(holder.buffer)
  })

  test('a Node Buffer at an odd offset is copied correctly (Buffer#slice is not a copy)', () => {
    for (const dtype of ['int64', 'float32', 'int16'] as const) {
      const npy = encodeNpy(sample(dtype, [5]))
      const pool = Buffer.alloc(npy.length + 3)
      pool.set(npy, 3)
      const a = readNpy(pool.subarray(3))
      expect(bytesOf(a.data)).toEqual(bytesOf(sample(dtype, [5]).data))
      expect(a.data.buffer).not.toBe(pool.buffer)
    }
  })

  test('one-byte types are always views', () => {
    const npy = encodeNpy(sample('uint8', [4]))
    const holder = new Uint8Array(npy.length + 1)
    holder.set(npy, 1)
    expect(readNpy(holder.subarray(1)).data.buffer).toBe(holder.buffer)
  })

  test('big endian and Fortran order are copies; a Fortran array with one long axis is a view', () => {
    const be = craft(dictOf('>f4', [2]), new Uint8Array(8))
    expect(readNpy(be).data.buffer).not.toBe(be.buffer)
    const f = craft(dictOf('<f4', [2, 2], true), new Uint8Array(16))
    expect(readNpy(f).data.buffer).not.toBe(f.buffer)
    const col = craft(dictOf('<f4', [1, 4, 1], true), new Uint8Array(16))
    expect(readNpy(col).data.buffer).toBe(col.buffer)
  })
})

describe('sources and inputs', () => {
  const npy = encodeNpy(sample('int32', [2, 2]))

  test('a path, a Uint8Array, a Buffer and an ArrayBuffer give the same array', () => {
    const file = path.join(tmp, 'a.npy')
    fs.writeFileSync(file, npy)
    const expected = sample('int32', [2, 2])
    for (const input of [file, npy, Buffer.from(npy), npy.slice().buffer]) {
      expect(readNpy(input)).toEqual(expected)
    }
  })

  test('errors name the path, options.source, or <bytes>', () => {
    const file = path.join(tmp, 'bad.npy')
    fs.writeFileSync(file, 'not numpy')
    expectNpyError(() => readNpy(file), file, 'not an .npy file')
    expectNpyError(() => readNpy(file, { source: 'golden/x.npy' }), 'golden/x.npy')
    expectNpyError(() => readNpy(new Uint8Array(3)), '<bytes>')
    expectNpyError(() => readNpy(new Uint8Array(3), { source: 'mine' }), 'mine')
  })

  test('anything else is refused, and other byte views are read as bytes', () => {
    expectNpyError(
      () => readNpy(42 as never),
      '<bytes>',
      'expected a path, a Uint8Array or an ArrayBuffer, got 42',
    )
    expectNpyError(() => readNpy(null as never), '<bytes>', 'got null')
    const asWords = new Uint16Array(npy.slice().buffer)
    expect(readNpy(asWords as never)).toEqual(sample('int32', [2, 2]))
  })

  test('a missing file is an NpyFormatError naming it, with the cause', () => {
    const file = path.join(tmp, 'missing.npy')
    const e = expectNpyError(() => readNpy(file), file, 'cannot read the file', 'ENOENT')
    expect((e.cause as NodeJS.ErrnoException).code).toBe('ENOENT')
  })

  test('a file larger than the limits allow is refused from its size, unread', () => {
    const file = path.join(tmp, 'big.npy')
    fs.writeFileSync(file, encodeNpy(new Float64Array(100)))
    expectNpyError(
      () => readNpy(file, { maxArrayBytes: 100, maxHeaderBytes: 100 }),
      file,
      'file of 928 bytes is larger than the limits allow',
    )
  })

  test('limits must be numbers >= 0', () => {
    expect(() => readNpy(npy, { maxArrayBytes: Number.NaN })).toThrow(AlignOptionsError)
    expect(() => readNpy(npy, { maxHeaderBytes: -1 })).toThrow("option 'maxHeaderBytes'")
    expect(resolveLimits({ maxArrayBytes: Infinity })).toEqual({
      ...DEFAULT_LIMITS,
      maxArrayBytes: Infinity,
    })
  })
})

describe('untrusted bytes', () => {
  const f4 = (shape: readonly number[], data = new Uint8Array(sizeOf(shape) * 4)) =>
    craft(dictOf('<f4', shape), data)

  test.each([
    [new Uint8Array(0), 'not an .npy file: empty'],
    [
      new TextEncoder().encode('hello world'),
      'it starts with "hello wo", not the magic "\\x93NUMPY"',
    ],
    [Uint8Array.of(0x50, 0x4b, 3, 4, 0, 0, 0, 0), 'it is a zip archive: read it with readNpz'],
    [NPY_MAGIC.slice(0, 4), 'not an .npy file'],
    [NPY_MAGIC, 'truncated: 6 bytes, the magic and version need 8'],
    [
      Uint8Array.of(...NPY_MAGIC, 1, 0, 0x76),
      'truncated: 9 bytes, the header length of version 1.0 ends at 10',
    ],
    [Uint8Array.of(...NPY_MAGIC, 2, 0, 0x76, 0, 0), 'the header length of version 2.0 ends at 12'],
  ])('%#: %s', (bytes, reason) => {
    expectNpyError(() => readNpy(bytes), '<bytes>', reason)
  })

  test.each([
    [4, 0],
    [1, 1],
    [0, 0],
    [2, 255],
  ])('version %i.%i is refused', (major, minor) => {
    const bytes = f4([1])
    bytes[6] = major
    bytes[7] = minor
    expectNpyError(
      () => readNpy(bytes),
      '<bytes>',
      `unsupported .npy format version ${major}.${minor}`,
    )
  })

  test('a header length over maxHeaderBytes or past the bytes present', () => {
    expectNpyError(
      () => readNpy(f4([1]), { maxHeaderBytes: 100 }),
      '<bytes>',
      'header of 118 bytes is over maxHeaderBytes (100)',
    )
    const v2 = Uint8Array.of(...NPY_MAGIC, 2, 0, 0xff, 0xff, 0xff, 0xff, 0x7b)
    expectNpyError(
      () => readNpy(v2),
      '<bytes>',
      'header of 4294967295 bytes is over maxHeaderBytes (1048576)',
    )
    const short = f4([1]).subarray(0, 100)
    expectNpyError(
      () => readNpy(short),
      '<bytes>',
      'truncated header: it claims 118 bytes but only 90 follow',
    )
  })

  test('header syntax errors are NpyFormatErrors with the parser reason', () => {
    expectNpyError(
      () => readNpy(craft("{'descr': '<f4', 'shape': (1,)}")),
      '<bytes>',
      "missing 'fortran_order'",
    )
    expectNpyError(
      () => readNpy(craft(dictOf('<f4', [1]).replace('(1,)', '(1)'))),
      '<bytes>',
      'a 1-d shape is written (1,)',
    )
    expectNpyError(
      () => readNpy(craft(dictOf('<f4', [1]).replace('(1,)', '(-4,)'))),
      '<bytes>',
      'negative dimension',
    )
  })

  test.each([
    ['|S3', "descr '|S3' is a byte-string array"],
    ['<U5', "descr '<U5' is a unicode string array"],
    ['|O', "descr '|O' is a pickled object array: use readReprodLog / load for reprod_log records"],
    ['<c8', "descr '<c8' is a complex array"],
    ['<M8[us]', 'datetime64'],
    ['|V16', "raw void (numpy 'V') array"],
    ['<q', "unknown descr '<q'"],
  ])('dtype %s is refused', (descr, reason) => {
    expectNpyError(() => readNpy(craft(dictOf(descr, [1]), new Uint8Array(16))), '<bytes>', reason)
  })

  test('a header reading |O still parses with readNpyHeader (for the pickle reader)', () => {
    const bytes = craft(dictOf('|O', []), Uint8Array.of(0x80, 3))
    expect(readNpyHeader(bytes)).toEqual({
      version: 1,
      descr: '|O',
      fortranOrder: false,
      shape: [],
      dataOffset: 128,
    })
  })

  test('shape (2**40,) on 100 bytes fails at once, before allocating', () => {
    const bytes = craft(dictOf('<f4', [2 ** 40])).subarray(0, 100)
    expect(bytes.length).toBe(100)
    // the header length is checked first
    expectNpyError(() => readNpy(bytes), '<bytes>', 'truncated header')
    const whole = craft(dictOf('<f4', [2 ** 40]))
    const t0 = performance.now()
    expectNpyError(
      () => readNpy(whole),
      '<bytes>',
      "shape (1099511627776,) of '<f4' needs more than maxArrayBytes (4294967296)",
    )
    expectNpyError(
      () => readNpy(whole, { maxArrayBytes: Infinity }),
      '<bytes>',
      'needs 4398046511104 bytes after the header, 0 are present',
    )
    const product = craft(dictOf('<f8', [2 ** 40, 2 ** 40, 2 ** 40]))
    expectNpyError(() => readNpy(product, { maxArrayBytes: Infinity }), '<bytes>', 'truncated data')
    expect(performance.now() - t0).toBeLessThan(50)
  })

  test('too few data bytes: expected vs present', () => {
    expectNpyError(
      () => readNpy(f4([2, 3], new Uint8Array(20))),
      '<bytes>',
      "truncated data: shape (2, 3) of '<f4' needs 24 bytes after the header, 20 are present",
    )
    expectNpyError(
      () => readNpy(f4([2, 3]), { maxArrayBytes: 23 }),
      '<bytes>',
      'maxArrayBytes (23)',
    )
    expect(readNpy(f4([2, 3]), { maxArrayBytes: 24 }).data.length).toBe(6)
  })

  test('trailing bytes are refused (numpy never writes them)', () => {
    expectNpyError(
      () => readNpy(f4([2, 3], new Uint8Array(25))),
      '<bytes>',
      "1 trailing bytes: shape (2, 3) of '<f4' needs exactly 24 bytes after the header, 25 are present",
    )
  })

  test('damaged files only ever give an NpyFormatError or a well-formed array (property)', () => {
    const valid = DTYPES.flatMap((d) => [
      encodeNpy(sample(d, [2, 3])),
      craft(dictOf(descrOf(d), [3, 2], true), new Uint8Array(6 * itemsizeOf(d))),
    ])
    fc.assert(
      fc.property(
        fc.constantFrom(...valid),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }),
        fc.option(fc.nat()),
        fc.uint8Array({ maxLength: 9 }),
        (base, edits, cut, tail) => {
          const bytes = new Uint8Array([...base, ...tail])
          for (const [at, v] of edits) bytes[at % bytes.length] = v
          const input = cut === null ? bytes : bytes.subarray(0, cut % (bytes.length + 1))
          try {
            const a = readNpy(input)
            expect(a.data.length).toBe(sizeOf(a.shape))
            expect(a.data).toBeInstanceOf(STORAGE[a.dtype])
          } catch (e) {
            expect(e).toBeInstanceOf(NpyFormatError)
          }
        },
      ),
      { numRuns: 2000 },
    )
  })
})

describe('writing', () => {
  test('accepts every ArrayInput form', () => {
    const read = (x: Parameters<typeof encodeNpy>[0]) => readNpy(encodeNpy(x))
    expect(
      read([
        [1, 2],
        [3, 4],
      ]),
    ).toEqual({ data: Float64Array.of(1, 2, 3, 4), shape: [2, 2], dtype: 'float64' })
    expect(read(2.5)).toEqual({ data: Float64Array.of(2.5), shape: [], dtype: 'float64' })
    expect(read(7n)).toEqual({ data: BigInt64Array.of(7n), shape: [], dtype: 'int64' })
    expect(read([true, false])).toEqual({ data: Uint8Array.of(1, 0), shape: [2], dtype: 'bool' })
    expect(read(Int16Array.of(-1, 2))).toEqual({
      data: Int16Array.of(-1, 2),
      shape: [2],
      dtype: 'int16',
    })
    const tensor = { shape: [2], dtype: 'int32', dataSync: () => Int32Array.of(5, 6) }
    expect(read(tensor)).toEqual({ data: Int32Array.of(5, 6), shape: [2], dtype: 'int32' })
    const half = { data: Uint16Array.of(0x3c00), shape: [1], dtype: 'float16' } as const
    expect(read(half)).toEqual(half)
  })

  test('bool data other than 0/1 is written as 1', () => {
    const bytes = encodeNpy({ data: Uint8Array.of(0, 2, 1), shape: [3], dtype: 'bool' })
    expect(Array.from(bytes.subarray(128))).toEqual([0, 1, 1])
  })

  test('the data buffer of the input is copied once, not referenced', () => {
    const data = Float32Array.of(1, 2)
    const bytes = encodeNpy(data)
    data[0] = 9
    expect(readNpy(bytes).data).toEqual(Float32Array.of(1, 2))
  })

  test('what cannot be written is a WriteError with the reason', () => {
    const bad: [unknown, string][] = [
      [
        { a: Float32Array.of(1) },
        'a record of arrays, not one array: write it with encodeNpz / writeNpz',
      ],
      ['text', 'unsupported type string'],
      [[[1, 2], [3]], 'ragged nested array'],
      [{ data: [1, 2, 3], shape: [2] }, 'data has 3 elements but shape [2] holds 2'],
      [{ shape: [1], dtype: 'string', dataSync: () => ['a'] }, "unsupported tensor dtype 'string'"],
      [
        { data: new Float32Array(1), shape: Array(65).fill(1) },
        "65 dimensions, more than numpy's 64",
      ],
    ]
    for (const [input, reason] of bad) {
      let err: unknown
      try {
        encodeNpy(input as Parameters<typeof encodeNpy>[0])
      } catch (e) {
        err = e
      }
      expect(err).toBeInstanceOf(WriteError)
      expect((err as WriteError).source).toBe('<bytes>')
      expect((err as WriteError).reason).toContain(reason)
    }
  })

  test('a bad version is an option error', () => {
    expect(() => encodeNpy(1, { version: 4 as 1 })).toThrow(AlignOptionsError)
  })

  test('writeNpy writes a file np.load reads; errors name the path', () => {
    const file = path.join(tmp, 'w.npy')
    writeNpy(file, sample('uint16', [2, 2]))
    expect(readNpy(file)).toEqual(sample('uint16', [2, 2]))
    writeNpy(file, 1, { version: 3 })
    expect(fs.readFileSync(file)[6]).toBe(3)
    const nowhere = path.join(tmp, 'no-such-dir', 'w.npy')
    expect(() => writeNpy(nowhere, 1)).toThrow(WriteError)
    expect(() => writeNpy(nowhere, 1)).toThrow(`${nowhere}: cannot write the file`)
    expect(() => writeNpy(file, 'x' as unknown as number)).toThrow(
      `${file}: unsupported type string`,
    )
  })
})
