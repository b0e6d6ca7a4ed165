import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, test } from 'vitest'
import type { NdArray } from '../../src/compare/dtype.js'
import { orderedKeys } from '../../src/compare/key-order.js'
import { FileFormatError, SafetensorsFormatError, WriteError } from '../../src/io/errors.js'
import { load } from '../../src/io/load.js'
import {
  encodeSafetensors,
  readSafetensors,
  readSafetensorsMetadata,
  writeSafetensors,
} from '../../src/io/safetensors.js'
import { expectFileError } from '../helpers/file-errors.js'

const enc = new TextEncoder()

/** A file as the format lays it out: u64 LE header length, the header text, then `data`. */
function file(header: unknown, data: number[] | Uint8Array = [], pad = 0): Uint8Array {
  const text = (typeof header === 'string' ? header : JSON.stringify(header)) + ' '.repeat(pad)
  const head = enc.encode(text)
  const out = new Uint8Array(8 + head.length + data.length)
  new DataView(out.buffer).setBigUint64(0, BigInt(head.length), true)
  out.set(head, 8)
  out.set(data, 8 + head.length)
  return out
}

const f32Bytes = (...v: number[]) => new Uint8Array(Float32Array.from(v).buffer)

/** The SafetensorsFormatError reading `bytes` throws, naming `m.safetensors`, `key` and the reason. */
const refusal = (bytes: Uint8Array, key: string | undefined, ...reasons: string[]) =>
  expectFileError(
    SafetensorsFormatError,
    () => readSafetensors(bytes, { source: 'm.safetensors' }),
    'm.safetensors',
    key,
    ...reasons,
  )

const values = (a: unknown) => Array.from((a as NdArray).data as ArrayLike<number | bigint>)

describe('readSafetensors', () => {
  test('reads every tensor with its dtype and shape, in the order of its data', () => {
    const bytes = file(
      {
        __metadata__: { format: 'pt' },
        w: { dtype: 'F32', shape: [2, 2], data_offsets: [8, 24] },
        step: { dtype: 'I64', shape: [], data_offsets: [0, 8] },
      },
      [...new Uint8Array(BigInt64Array.of(2n ** 60n + 1n).buffer), ...f32Bytes(1, 2, 3, 4)],
    )
    const r = readSafetensors(bytes)
    expect(orderedKeys(r)).toEqual(['step', 'w'])
    expect(r.w).toMatchObject({ shape: [2, 2], dtype: 'float32' })
    expect(values(r.w)).toEqual([1, 2, 3, 4])
    expect(r.step).toMatchObject({ shape: [], dtype: 'int64' })
    expect(values(r.step)).toEqual([2n ** 60n + 1n]) // exact beyond 2^53
    expect(readSafetensorsMetadata(bytes)).toEqual({ format: 'pt' })
  })

  test('BF16 comes back as float32, exactly; F16 as float16 bits', () => {
    // bf16 [1, -2.5, 3.140625] is 80 3f 20 c0 49 40: the top halves of the float32s
    const bytes = file(
      {
        b: { dtype: 'BF16', shape: [3], data_offsets: [0, 6] },
        h: { dtype: 'F16', shape: [3], data_offsets: [6, 12] },
      },
      [0x80, 0x3f, 0x20, 0xc0, 0x49, 0x40, 0x00, 0x3c, 0x00, 0xc1, 0xff, 0x7b],
    )
    const r = readSafetensors(bytes)
    expect(r.b).toMatchObject({ dtype: 'float32', shape: [3] })
    expect(values(r.b)).toEqual([1, -2.5, 3.140625])
    expect(r.h).toMatchObject({ dtype: 'float16' })
    expect(values(r.h)).toEqual([0x3c00, 0xc100, 0x7bff]) // 1, -2.5, 65504
  })

  test('accepted as the reference reader accepts: a leading space, no padding, extra fields, misaligned data, empty and 0-d', () => {
    const r = readSafetensors(
      file(
        ` {"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1],"extra":1},"b":{"dtype":"F32","shape":[],"data_offsets":[1,5]},"e":{"dtype":"F64","shape":[0,3],"data_offsets":[5,5]}}`,
        [7, ...f32Bytes(0.5)],
      ),
    )
    expect(values(r.a)).toEqual([7])
    expect(values(r.b)).toEqual([0.5]) // at byte offset 1: copied, not viewed
    expect(r.e).toMatchObject({ shape: [0, 3], dtype: 'float64' })
    expect(values(r.e)).toEqual([])
  })

  test("a tensor named __proto__ is a key, not the record's prototype", () => {
    const r = readSafetensors(
      file({ ['__proto__']: { dtype: 'U8', shape: [1], data_offsets: [0, 1] } }, [9]),
    )
    expect(Object.getPrototypeOf(r)).toBe(Object.prototype)
    expect(Object.hasOwn(r, '__proto__')).toBe(true)
  })

  const t = (dtype: string, shape: unknown, offsets: unknown) => ({
    dtype,
    shape,
    data_offsets: offsets,
  })

  test.each([
    ['too short', new Uint8Array(4), undefined, 'too short for the header length'],
    [
      'a header length over the bound',
      Uint8Array.from([0x01, 0xe1, 0xf5, 0x05, 0, 0, 0, 0, 0x7b]),
      undefined,
      "over the format's bound of 100000000 bytes",
    ],
    [
      'a header past the end',
      file('{}').subarray(0, 9),
      undefined,
      'runs past the end of the file',
    ],
    [
      'not UTF-8',
      (() => {
        const b = file('{"a":1}')
        b[10] = 0xff
        return b
      })(),
      undefined,
      'not valid UTF-8',
    ],
    ['not JSON', file('{"a":'), undefined, 'the header is not JSON'],
    ['not an object', file('[1,2]'), undefined, 'not a JSON object'],
    [
      'metadata of numbers',
      file({ __metadata__: { v: 1 } }),
      '__metadata__',
      '"v" is not a string',
    ],
    [
      'an unknown dtype',
      file({ w: t('F33', [1], [0, 4]) }, f32Bytes(1)),
      'w',
      'unknown dtype "F33"',
    ],
    [
      'an FP8 tensor',
      file({ w: t('F8_E4M3', [1], [0, 1]) }, [1]),
      'w',
      'dtype F8_E4M3 has no array type here',
    ],
    [
      'a negative dimension',
      file({ w: t('F32', [-1], [0, 4]) }, f32Bytes(1)),
      'w',
      'shape must be a list of integers >= 0',
    ],
    [
      'a fractional dimension',
      file({ w: t('F32', [1.5], [0, 4]) }, f32Bytes(1)),
      'w',
      'shape must be',
    ],
    [
      'three offsets',
      file({ w: t('F32', [1], [0, 4, 8]) }, f32Bytes(1)),
      'w',
      'data_offsets must be [begin, end]',
    ],
    [
      'end before begin',
      file({ w: t('F32', [0], [4, 0]) }, f32Bytes(1)),
      'w',
      'end before they begin',
    ],
    [
      'a hole',
      file({ w: t('F32', [1], [4, 8]) }, f32Bytes(1, 2)),
      'w',
      'leaving a hole after byte 0',
    ],
    [
      'an overlap',
      file({ a: t('F32', [2], [0, 8]), b: t('F32', [1], [4, 8]) }, f32Bytes(1, 2)),
      'b',
      'overlaps the tensor before it',
    ],
    [
      'a size mismatch',
      file({ w: t('F32', [3], [0, 8]) }, f32Bytes(1, 2)),
      'w',
      'needs 12 bytes, its data_offsets give 8',
    ],
    [
      'data past the end',
      file({ w: t('F32', [2], [0, 8]) }, f32Bytes(1)),
      'w',
      'past the 4 data bytes',
    ],
    [
      'trailing bytes',
      file({ w: t('F32', [1], [0, 4]) }, f32Bytes(1, 2)),
      undefined,
      '4 bytes after the last tensor',
    ],
    [
      // JSON keeps the last of two equal keys, which leaves the first one's bytes as a hole
      'a duplicate key',
      file(
        '{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"w":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}',
        f32Bytes(1, 2),
      ),
      'w',
      'leaving a hole',
    ],
  ])('%s is refused, naming the tensor and the reason', (_, bytes, key, reason) => {
    refusal(bytes, key, reason)
  })

  test('a tensor over maxArrayBytes is refused before it is read', () => {
    const bytes = file({ w: t('F32', [4], [0, 16]) }, f32Bytes(1, 2, 3, 4))
    expect(() => readSafetensors(bytes, { maxArrayBytes: 8 })).toThrow(
      /over maxArrayBytes \(8 bytes\)/,
    )
    // a shape whose product overflows is refused by the same bound, never multiplied out
    const huge = file({ w: t('F32', [2 ** 40, 2 ** 40], [0, 4]) }, f32Bytes(1))
    refusal(huge, 'w', 'over maxArrayBytes')
  })
})

describe('encodeSafetensors and writeSafetensors', () => {
  test("the reference writer's layout: alignment first, then names; the header padded to 8 with spaces", () => {
    const bytes = encodeSafetensors(
      { b: Uint8Array.of(1), a: Float32Array.of(1, 2), c: Float64Array.of(3) },
      { metadata: { format: 'pt' } },
    )
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true))
    expect(n % 8).toBe(0)
    const text = new TextDecoder().decode(bytes.subarray(8, 8 + n))
    expect(text.trimEnd()).toBe(
      '{"__metadata__":{"format":"pt"},"c":{"dtype":"F64","shape":[1],"data_offsets":[0,8]},"a":{"dtype":"F32","shape":[2],"data_offsets":[8,16]},"b":{"dtype":"U8","shape":[1],"data_offsets":[16,17]}}',
    )
    expect(bytes.length).toBe(8 + n + 17)
    const back = readSafetensors(bytes)
    expect(orderedKeys(back)).toEqual(['c', 'a', 'b'])
    expect(values(back.a)).toEqual([1, 2])
    expect(readSafetensorsMetadata(bytes)).toEqual({ format: 'pt' })
  })

  test('round-trips every dtype it writes, 0-d and empty included, byte for byte on re-encoding', () => {
    const record = {
      f64: Float64Array.of(Math.PI, -0),
      f32: {
        data: Float32Array.of(1.5, Number.NaN, Number.POSITIVE_INFINITY),
        shape: [3],
        dtype: 'float32' as const,
      },
      f16: { data: Uint16Array.of(0x3c00, 0x7c00), shape: [2], dtype: 'float16' as const },
      i64: { data: BigInt64Array.of(-(2n ** 62n), 7n), shape: [2, 1], dtype: 'int64' as const },
      u64: BigUint64Array.of(2n ** 64n - 1n),
      i32: Int32Array.of(-5),
      u16: Uint16Array.of(65535),
      i8: Int8Array.of(-128),
      flag: { data: Uint8Array.of(1, 0), shape: [2], dtype: 'bool' as const },
      scalar: { data: Float32Array.of(2), shape: [], dtype: 'float32' as const },
      empty: { data: new Float32Array(0), shape: [0, 4], dtype: 'float32' as const },
    }
    const bytes = encodeSafetensors(record)
    const back = readSafetensors(bytes)
    for (const [k, v] of Object.entries(record)) {
      const got = back[k] as NdArray
      const want = ArrayBuffer.isView(v) ? { data: v } : v
      expect(values(got), k).toEqual(Array.from(want.data as ArrayLike<number | bigint>))
      if ('shape' in want) expect(got.shape, k).toEqual(want.shape)
    }
    expect((back.flag as NdArray).dtype).toBe('bool')
    expect((back.u64 as NdArray).dtype).toBe('uint64')
    expect(encodeSafetensors(back as Record<string, NdArray>)).toEqual(bytes)
  })

  test('bad records are WriteErrors naming the key', () => {
    expect(() => encodeSafetensors({ '': Float32Array.of(1) })).toThrow(WriteError)
    expect(() => encodeSafetensors({ __metadata__: Float32Array.of(1) })).toThrow(
      /'__metadata__' is the header's metadata/,
    )
    expect(() => encodeSafetensors({ a: { b: Float32Array.of(1) } } as never)).toThrow(WriteError)
    expect(() => encodeSafetensors({}, { metadata: { v: 1 } as never })).toThrow(
      /__metadata__ values must be strings/,
    )
  })

  test('writes a file that load() tells apart by its bytes, whatever its name', () => {
    const dir = mkdtempSync(join(tmpdir(), 'va-st-'))
    const path = join(dir, 'weights.bin')
    writeSafetensors(path, new Map([['x', Float32Array.of(4, 5)]]))
    const r = load(path) as { x: NdArray }
    expect(values(r.x)).toEqual([4, 5])
    writeFileSync(join(dir, 'fake.safetensors'), 'hello, world')
    expect(() => load(join(dir, 'fake.safetensors'))).toThrow(FileFormatError)
    expect(() => writeSafetensors(join(dir, 'missing', 'x.safetensors'), {})).toThrow(WriteError)
  })
})
