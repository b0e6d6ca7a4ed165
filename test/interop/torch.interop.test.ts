/**
 * torch `.pth` and Paddle `.pdparams` against the files torch 1.13 and numpy's pickle really
 * write (test/interop/torch-files.py): every tensor read equal to torch's own values byte for
 * byte, in the file's order, in both torch formats, with views resolved and shared storages read
 * once; a training checkpoint's numbers kept and its None left out by name; torchvision's
 * mobilenet_v3_small state_dict; the tutorial's Paddle conversion (Fortran-ordered classifier
 * weights) under protocols 2 and 4, with Paddle's tensor tuple, eval form, name table and split
 * arrays. Skips locally without Debian's python3-torch; in CI it must run.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { decodeFloat16, type NdArray } from '../../src/compare/dtype.js'
import { orderedKeys } from '../../src/compare/key-order.js'
import { readCheckpoint } from '../../src/io/checkpoint.js'
import { CheckpointFormatError, ForbiddenGlobalError } from '../../src/io/errors.js'
import { load } from '../../src/io/load.js'
import { readNpz } from '../../src/io/npz.js'
import type { NdRecord } from '../../src/io/types.js'
import { hasTorch, runPython } from '../helpers/python.js'

const isArray = (v: unknown): v is NdArray =>
  typeof v === 'object' && v !== null && ArrayBuffer.isView((v as NdArray).data)

/** Every array of a nested record under its dotted key, in order. */
function flat(
  r: NdRecord,
  prefix = '',
  out: Record<string, NdArray> = {},
): Record<string, NdArray> {
  for (const k of orderedKeys(r)) {
    const v = r[k]
    if (isArray(v)) out[prefix + k] = v
    else flat(v as NdRecord, `${prefix}${k}.`, out)
  }
  return out
}

const bytesOf = (a: NdArray): Buffer =>
  Buffer.from(a.data.buffer, a.data.byteOffset, a.data.byteLength)

/** The keys whose dtype, shape or bytes differ from the expected arrays (none when equal). */
function differing(got: Record<string, NdArray>, expected: NdRecord): string[] {
  return orderedKeys(expected).filter((k) => {
    const e = expected[k] as NdArray
    const g = got[k]
    return (
      g === undefined ||
      g.dtype !== e.dtype ||
      g.shape.join() !== e.shape.join() ||
      !bytesOf(g).equals(bytesOf(e))
    )
  })
}

describe.skipIf(!hasTorch)('checkpoints written by torch 1.13 and numpy pickle', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'va-torch-interop-'))
  const at = (name: string) => path.join(dir, name)
  beforeAll(() => {
    runPython(fs.readFileSync(new URL('./torch-files.py', import.meta.url), 'utf8'), dir)
  }, 180_000)
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))

  test.each(['sd.pt', 'sd_legacy.pt', 'sd_p4.pt'])(
    '%s: every dtype and layout equal to torch, in the file order',
    (name) => {
      const expected = readNpz(at('sd_expected.npz'))
      const c = readCheckpoint(at(name))
      expect(c.format).toBe(name === 'sd_legacy.pt' ? 'torch-legacy' : 'torch')
      const got = flat(c.record)
      expect(Object.keys(got)).toEqual(orderedKeys(expected))
      expect(differing(got, expected)).toEqual([])
      expect(got.bf16?.dtype).toBe('float32') // widened exactly
      expect(Array.from((got.bf16 as NdArray).data as Float32Array).slice(0, 3)).toEqual([
        1, -2.5, 3.140625,
      ])
      expect(got.f16?.dtype).toBe('float16') // bits, as numpy holds them
      expect(((got.i64 as NdArray).data as BigInt64Array)[0]).toBe(2n ** 62n + 1n)
      expect(got.transposed?.shape).toEqual([4, 3])
      expect(got.expanded?.shape).toEqual([3, 4])
      expect(got.zero_d?.shape).toEqual([])
      expect(got.empty?.shape).toEqual([0, 3])
      expect(c.skipped).toEqual([])
    },
  )

  test('views of one storage read once: contiguous ones share the file’s bytes', () => {
    const r = load(at('sd.pt')) as Record<string, NdArray>
    expect(r.shared_mid?.data.buffer).toBe(r.shared_all?.data.buffer)
    expect(r.shared_tail?.data.buffer).toBe(r.shared_all?.data.buffer)
    expect(Array.from((r.shared_mid as NdArray).data as Float64Array)).toEqual([3, 4.5, 6])
  })

  test("float16: 'float32' widens exactly", () => {
    const bits = (load(at('sd.pt')) as Record<string, NdArray>).f16 as NdArray
    const wide = (readCheckpoint(at('sd.pt'), { float16: 'float32' }).record as NdRecord)
      .f16 as NdArray
    expect(wide.dtype).toBe('float32')
    expect(Array.from(wide.data as Float32Array)).toEqual(
      Array.from(decodeFloat16(bits.data as Uint16Array)),
    )
    expect(Array.from(wide.data as Float32Array).slice(0, 3)).toEqual([1, -2.5, 65504])
  })

  test.each(['ckpt.pt', 'ckpt_legacy.pt'])(
    '%s: a training checkpoint {epoch, model, optimizer}',
    (name) => {
      const c = readCheckpoint(at(name))
      const got = flat(c.record)
      expect(differing(got, readNpz(at('ckpt_expected.npz')))).toEqual([])
      expect(((got.epoch as NdArray).data as BigInt64Array)[0]).toBe(3n)
      expect(got['optimizer.param_groups.0.lr']?.dtype).toBe('float64')
      expect(((got['optimizer.param_groups.0.lr'] as NdArray).data as Float64Array)[0]).toBe(0.1)
      expect(got['optimizer.param_groups.0.nesterov']?.dtype).toBe('bool')
      expect(
        Object.keys(got).filter((k) => k.startsWith('optimizer.param_groups.0.params.')),
      ).toHaveLength(4)
      expect(c.skipped).toEqual(['optimizer.param_groups.0.foreach']) // None, named
    },
  )

  test.each([
    ['whole_module.pt', ForbiddenGlobalError, 'whole-module save', 'model.state_dict()'],
    ['scripted.pt', CheckpointFormatError, 'a TorchScript archive', 'model.state_dict()'],
    ['quantized.pt', ForbiddenGlobalError, 'a quantized tensor', 'dequantize()'],
    ['sparse.pt', ForbiddenGlobalError, 'a sparse or nested tensor', 'to_dense()'],
  ] as const)(
    '%s: refused, saying what the file is and what to save instead',
    (name, Class, ...reasons) => {
      const e = (() => {
        try {
          readCheckpoint(at(name))
        } catch (err) {
          return err
        }
        return undefined
      })()
      expect(e).toBeInstanceOf(Class)
      for (const r of reasons) expect((e as Error).message).toContain(r)
    },
  )

  test("torchvision's mobilenet_v3_small state_dict, element by element", () => {
    const c = readCheckpoint(at('mobilenet_v3_small.pth'))
    const got = flat(c.record)
    const expected = readNpz(at('mv3_expected.npz'))
    expect(Object.keys(got)).toHaveLength(244)
    expect(Object.keys(got)).toEqual(orderedKeys(expected))
    expect(differing(got, expected)).toEqual([])
    expect(got['features.0.0.weight']?.shape).toEqual([16, 3, 3, 3])
    expect(got['classifier.3.weight']?.shape).toEqual([10, 1024])
  })

  test.each(['mv3_p2.pdparams', 'mv3_p4.pdparams'])(
    "%s: the tutorial's torch2paddle conversion",
    (name) => {
      const c = readCheckpoint(at(name))
      expect(c.format).toBe('pdparams')
      const got = flat(c.record)
      const expected = readNpz(at('mv3_paddle_expected.npz'))
      expect(Object.keys(got)).toHaveLength(210)
      expect(differing(got, expected)).toEqual([])
      // the transposed classifier weights are pickled in Fortran order and read row-major
      expect(got['classifier.0.weight']?.shape).toEqual([576, 1024])
      expect(got['classifier.0.weight']?.order).toBe('F')
      expect(got['features.0.1._mean']).toBeDefined()
    },
  )

  test.each(['extras_p2.pdparams', 'extras_p4.pdparams'])(
    "%s: Paddle's tensor tuple, eval form, name table and split arrays",
    (name) => {
      const c = readCheckpoint(at(name))
      const r = c.record as Record<string, NdArray>
      expect(orderedKeys(r)).toEqual(['fc.weight', 'lod', 'big'])
      expect(r['fc.weight']?.shape).toEqual([2, 3])
      expect(Array.from((r.lod as NdArray).data as Float64Array)).toEqual([1.5, 2.5])
      expect(r.big?.shape).toEqual([2, 5])
      expect(Array.from((r.big as NdArray).data as Float32Array)).toEqual([
        0, 1, 2, 3, 4, 5, 6, 7, 8, 9,
      ])
      expect({ ...c.nameTable }).toEqual({ 'fc.weight': 'linear_0.w_0' })
      expect(c.skipped).toEqual(['note'])
    },
  )
})
