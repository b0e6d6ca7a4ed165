import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, test } from 'vitest'
import { AlignOptionsError } from '../../src/compare/errors.js'
import { FileFormatError, NpyFormatError } from '../../src/io/errors.js'
import { detectKind, load } from '../../src/io/load.js'
import { encodeNpy } from '../../src/io/npy.js'
import { encodeNpz } from '../../src/io/npz.js'
import { encodeReprodLog } from '../../src/io/reprod-log.js'
import { expectFileError } from '../helpers/file-errors.js'

const dir = mkdtempSync(join(tmpdir(), 'va-load-'))
const file = (name: string, bytes: Uint8Array): string => {
  const path = join(dir, name)
  writeFileSync(path, bytes)
  return path
}
const f32 = (...v: number[]) => Float32Array.from(v)

const npy = encodeNpy(f32(1, 2, 3))
const npz = encodeNpz({ a: f32(1), b: Int32Array.from([2, 3]) })
const record = encodeReprodLog({ logits: { data: f32(0.5, 1.5), shape: [1, 2], dtype: 'float32' } })

describe('detectKind', () => {
  test('the bytes decide: npy magic, npy magic with an object header, zip magic', () => {
    expect(detectKind(npy)).toBe('npy')
    expect(detectKind(record)).toBe('reprod_log')
    expect(detectKind(npz)).toBe('npz')
    // an empty zip archive is only its end record
    expect(detectKind(Uint8Array.from([0x50, 0x4b, 0x05, 0x06, ...new Array(18).fill(0)]))).toBe(
      'npz',
    )
  })

  test('anything else is refused, naming the source and the reason', () => {
    const e = expectFileError(
      FileFormatError,
      () => detectKind(new TextEncoder().encode('{"a": 1}'), { source: 'x.json' }),
      'x.json',
      undefined,
    )
    expect(e.reason).toBe(
      'not an .npy, .npz, reprod_log, .safetensors, torch or Paddle file (no npy, zip or pickle magic and no safetensors header at the start)',
    )
    expectFileError(FileFormatError, () => detectKind(new Uint8Array(0)), '<bytes>', undefined)
    // the first three bytes of the npy magic are not the magic
    expect(() => detectKind(npy.subarray(0, 3))).toThrow(FileFormatError)
  })
})

describe('load', () => {
  test('reads each kind from a path, whatever its name says', () => {
    const array = load(file('array.npz', npy))
    expect(array).toMatchObject({ shape: [3], dtype: 'float32' })
    expect(Array.from((array as { data: Float32Array }).data)).toEqual([1, 2, 3])
    const archive = load(file('archive.npy', npz)) as Record<string, { data: ArrayLike<number> }>
    expect(Object.keys(archive)).toEqual(['a', 'b'])
    expect(Array.from(archive.b?.data ?? [])).toEqual([2, 3])
    const rec = load(file('record.bin', record)) as unknown as Record<string, { shape: number[] }>
    expect(rec.logits?.shape).toEqual([1, 2])
  })

  test('reads bytes and ArrayBuffers as well as paths', () => {
    expect(load(npy)).toMatchObject({ shape: [3] })
    const copy = npy.slice().buffer
    expect(load(copy)).toMatchObject({ shape: [3] })
  })

  test('a missing file, a directory and a character device are refused by name, before reading', () => {
    const missing = join(dir, 'nope.npy')
    expectFileError(
      FileFormatError,
      () => load(missing),
      missing,
      undefined,
      'no such file or folder',
    )
    expectFileError(FileFormatError, () => load(dir), dir, undefined, 'is a directory')
    expectFileError(
      FileFormatError,
      () => load('/dev/zero'),
      '/dev/zero',
      undefined,
      'character device',
    )
  })

  test("the file's errors name the path, and its limits apply", () => {
    const junk = file('junk.npy', new TextEncoder().encode('not numpy'))
    expectFileError(FileFormatError, () => load(junk), junk, undefined, 'not an .npy, .npz')
    const big = file('big.npy', encodeNpy(new Float32Array(1000)))
    expectFileError(NpyFormatError, () => load(big, { maxArrayBytes: 100 }), big, undefined)
    expect(() => load(big, { maxArrayBytes: Number.NaN })).toThrow(AlignOptionsError)
  })

  test('input that is neither a path nor bytes is a typed error', () => {
    expect(() => load(42 as never)).toThrow(FileFormatError)
  })
})
