/** The IDX reader: round trips, every refused input as a typed error, and the size bound. */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { gzipSync } from 'fflate'
import { afterAll, describe, expect, test } from 'vitest'
import { FileFormatError } from 'vitest-align/files'
import { decodeIdx, IdxFormatError, readIdx } from '../../../examples/mobilenetv3/model/idx.js'
import { expectFileError } from '../../helpers/file-errors.js'

/** An IDX file's bytes, written here from the format (not by the code under test). */
function encodeIdx(shape: number[], data: Uint8Array, type = 0x08): Uint8Array {
  const header = new Uint8Array(4 + 4 * shape.length)
  const view = new DataView(header.buffer)
  header[2] = type
  header[3] = shape.length
  for (const [i, d] of shape.entries()) view.setUint32(4 + 4 * i, d, false)
  const out = new Uint8Array(header.length + data.length)
  out.set(header)
  out.set(data, header.length)
  return out
}

const ramp = (n: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (i * 7) % 256)

const dir = mkdtempSync(join(tmpdir(), 'idx-test-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

function file(name: string, bytes: Uint8Array): string {
  const p = join(dir, name)
  writeFileSync(p, bytes)
  return p
}

describe('round trip', () => {
  test('raw and gzipped, 1 to 4 dimensions, from bytes and from a file', () => {
    for (const shape of [[5], [3, 4], [2, 3, 4], [2, 1, 3, 2], [0, 28, 28]]) {
      const n = shape.reduce((a, b) => a * b, 1)
      const data = ramp(n)
      const raw = encodeIdx(shape, data)
      for (const bytes of [raw, gzipSync(raw)]) {
        const got = decodeIdx(bytes)
        expect(got.shape).toEqual(shape)
        expect(got.data).toEqual(data)
        expect(readIdx(file('rt.idx', bytes))).toEqual(got)
      }
    }
  })

  test('property: decode(encode(shape, data)) gives them back, gzipped or not', () => {
    const arb = fc
      .array(fc.integer({ min: 0, max: 6 }), { minLength: 1, maxLength: 4 })
      .chain((shape) =>
        fc.tuple(
          fc.constant(shape),
          fc.uint8Array({
            minLength: shape.reduce((a, b) => a * b, 1),
            maxLength: shape.reduce((a, b) => a * b, 1),
          }),
          fc.boolean(),
        ),
      )
    fc.assert(
      fc.property(arb, ([shape, data, gz]) => {
        const raw = encodeIdx(shape, data)
        const got = decodeIdx(gz ? gzipSync(raw) : raw)
        expect(got.shape).toEqual(shape)
        expect(got.data).toEqual(data)
      }),
    )
  })

  test('the elements are a copy, not a view of the input', () => {
    const raw = encodeIdx([4], ramp(4))
    const got = decodeIdx(raw)
    raw.fill(0)
    expect(got.data).toEqual(ramp(4))
  })

  test('the committed Fashion-MNIST subset reads as (2048, 28, 28) and (2048,)', () => {
    const data = new URL('../../../examples/mobilenetv3/data/', import.meta.url).pathname
    expect(readIdx(`${data}train-images-idx3-ubyte.gz`).shape).toEqual([2048, 28, 28])
    expect(readIdx(`${data}train-labels-idx1-ubyte.gz`).shape).toEqual([2048])
  })
})

describe('refused input: an IdxFormatError naming the file and the reason', () => {
  const src = 'x.idx'
  const bad = (bytes: Uint8Array, ...reasons: string[]) =>
    expectFileError(IdxFormatError, () => decodeIdx(bytes, src), src, undefined, ...reasons)

  test('is a FileFormatError', () => {
    const e = bad(new Uint8Array([1, 2, 3, 4]), 'bad magic')
    expect(e).toBeInstanceOf(FileFormatError)
  })

  test('bad magic', () => {
    const raw = encodeIdx([2], ramp(2))
    raw[0] = 1
    bad(raw, 'bad magic 01 00 08 01')
  })

  test('an element type other than uint8 (0x0D float, 0x09 int8)', () => {
    bad(encodeIdx([2], new Uint8Array(8), 0x0d), 'unsupported element type 0x0d', 'uint8')
    bad(encodeIdx([2], new Uint8Array(2), 0x09), 'unsupported element type 0x09')
  })

  test('0 or 5 dimensions', () => {
    bad(encodeIdx([], new Uint8Array(0)), '0 dimensions', '1 to 4')
    bad(encodeIdx([1, 1, 1, 1, 1], new Uint8Array(1)), '5 dimensions')
  })

  test('truncated header, truncated data, trailing bytes', () => {
    bad(new Uint8Array([0, 0, 8]), 'truncated header')
    bad(encodeIdx([3, 4], ramp(12)).subarray(0, 10), 'truncated header')
    bad(encodeIdx([3, 4], ramp(11)), 'truncated data', '12 element bytes', '11 present')
    bad(encodeIdx([3, 4], ramp(13)), 'trailing bytes', '12 element bytes')
    bad(gzipSync(encodeIdx([3, 4], ramp(13))), 'trailing bytes')
  })

  test('a declared size over the bound fails from the header, before allocating', () => {
    // 2^31 bytes claimed by a 12-byte file: refused by the header check (a RangeError or an
    // out-of-memory would say an allocation was tried)
    bad(encodeIdx([2 ** 15, 2 ** 16], new Uint8Array(0)), 'declares 2147483648 bytes', 'bound')
    // (2^32 - 1)^4 bytes: more than any Uint8Array can hold
    const huge = 2 ** 32 - 1
    bad(encodeIdx([huge, huge, huge, huge], new Uint8Array(0)), 'over the bound')
    // gzipped: the header is checked on the first inflated bytes
    bad(gzipSync(encodeIdx([2 ** 15, 2 ** 16], new Uint8Array(0))), 'declares 2147483648')
    // the bound is an option, and counts the header
    const raw = encodeIdx([100], ramp(100))
    const opt = { maxBytes: 107 }
    expectFileError(IdxFormatError, () => decodeIdx(raw, src, opt), src, undefined, 'bound of 107')
    expect(decodeIdx(raw, src, { maxBytes: 108 }).data).toEqual(ramp(100))
  })

  test('a gzip inflating past what the header declares stops there', () => {
    // 16 MiB of zeros after a header declaring 4 bytes: refused on the first excess chunk
    const raw = encodeIdx([4], new Uint8Array(16 * 2 ** 20))
    bad(gzipSync(raw), 'trailing bytes', '4 element bytes')
  })

  test('corrupt gzip: truncated, a damaged deflate stream, a wrong CRC, two members', () => {
    const gz = gzipSync(encodeIdx([64], ramp(64)))
    bad(gz.subarray(0, gz.length - 12), 'corrupt gzip')
    const damaged = gz.slice()
    damaged[12] = (damaged[12] as number) ^ 0xff
    bad(damaged, 'corrupt gzip')
    const crc = gz.slice()
    crc[gz.length - 8] = (crc[gz.length - 8] as number) ^ 1
    bad(crc, 'corrupt gzip', 'CRC-32')
    const two = new Uint8Array(gz.length * 2)
    two.set(gz)
    two.set(gz, gz.length)
    bad(two, 'corrupt gzip')
  })

  test('files: missing, a directory, larger than the bound', () => {
    const missing = join(dir, 'missing.idx')
    expectFileError(IdxFormatError, () => readIdx(missing), missing, undefined, 'cannot read')
    const sub = join(dir, 'sub')
    mkdirSync(sub, { recursive: true })
    expectFileError(IdxFormatError, () => readIdx(sub), sub, undefined, 'not a regular file')
    const big = file('big.idx', encodeIdx([1000], ramp(1000)))
    const opt = { maxBytes: 500 }
    expectFileError(IdxFormatError, () => readIdx(big, opt), big, undefined, '1008 bytes', '500')
    // an error inside the file names the path too
    const trunc = file('trunc.idx', encodeIdx([10], ramp(3)))
    expectFileError(IdxFormatError, () => readIdx(trunc), trunc, undefined, 'truncated data')
  })
})
