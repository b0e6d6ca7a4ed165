import { describe, expect, test } from 'vitest'
import type { NdArray } from '../../src/compare/dtype.js'
import { LayoutError } from '../../src/convert/errors.js'
import {
  depthwiseFromTf,
  depthwiseToTf,
  fromTfLayout,
  hwioToOihw,
  type LayoutRole,
  linearToTf,
  matrixToPointwise,
  oihwToHwio,
  pointwiseToMatrix,
  reshape,
  toTfLayout,
  transpose,
} from '../../src/convert/layout.js'

/** 0, 1, 2, ... in a float32 array of `shape`. */
const arange = (shape: number[]): NdArray<'float32'> => ({
  data: Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => i),
  shape,
  dtype: 'float32',
})

/** The element at a multi-index, row-major. */
function at(a: NdArray, index: number[]): number | bigint {
  let flat = 0
  for (let i = 0; i < index.length; i++) flat = flat * (a.shape[i] as number) + (index[i] as number)
  return (a.data as unknown as ArrayLike<number | bigint>)[flat] as number | bigint
}

describe('transpose and reshape', () => {
  test('transpose moves element [i, j, k] of the result from [perm-inverse] of the input', () => {
    const a = arange([2, 3, 4])
    const t = transpose(a, [2, 0, 1])
    expect(t.shape).toEqual([4, 2, 3])
    for (let i = 0; i < 4; i++)
      for (let j = 0; j < 2; j++)
        for (let k = 0; k < 3; k++) expect(at(t, [i, j, k])).toBe(at(a, [j, k, i]))
    expect(a.shape).toEqual([2, 3, 4]) // the input is not touched
  })

  test('any dtype keeps its storage: int64 as BigInt64, float16 as its bits', () => {
    const i64 = {
      data: BigInt64Array.of(1n, 2n, 3n, 2n ** 60n),
      shape: [2, 2],
      dtype: 'int64' as const,
    }
    const t = transpose(i64, [1, 0])
    expect(t.dtype).toBe('int64')
    expect(Array.from(t.data)).toEqual([1n, 3n, 2n, 2n ** 60n])
    const f16 = { data: Uint16Array.of(0x3c00, 0x4000), shape: [2, 1], dtype: 'float16' as const }
    expect(Array.from(transpose(f16, [1, 0]).data)).toEqual([0x3c00, 0x4000])
  })

  test('a bad permutation or a reshape of another size is a LayoutError', () => {
    expect(() => transpose(arange([2, 3]), [0, 0])).toThrow(LayoutError)
    expect(() => transpose(arange([2, 3]), [1])).toThrow(/bad permutation \[1\] for rank 2/)
    expect(() => reshape(arange([2, 3]), [4])).toThrow(/cannot reshape \(2, 3\) to \(4,\)/)
    expect(reshape(arange([2, 3]), [3, 2]).shape).toEqual([3, 2])
  })
})

describe('the layouts', () => {
  test('conv OIHW → HWIO: element [o, i, h, w] lands at [h, w, i, o], and back', () => {
    const a = arange([4, 3, 2, 5])
    const t = oihwToHwio(a)
    expect(t.shape).toEqual([2, 5, 3, 4])
    expect(at(t, [1, 4, 2, 3])).toBe(at(a, [3, 2, 1, 4]))
    expect(hwioToOihw(t)).toEqual(a)
  })

  test('depthwise (C, 1, kh, kw) → (kh, kw, C, 1), and back; a non-depthwise shape is refused', () => {
    const a = arange([6, 1, 3, 3])
    const t = depthwiseToTf(a)
    expect(t.shape).toEqual([3, 3, 6, 1])
    expect(at(t, [2, 1, 5, 0])).toBe(at(a, [5, 0, 2, 1]))
    expect(depthwiseFromTf(t)).toEqual(a)
    expect(() => depthwiseToTf(arange([6, 2, 3, 3]))).toThrow(
      /depthwise weight \(C, 1, kh, kw\): shape \(6, 2, 3, 3\)/,
    )
  })

  test('Linear (out, in) → (in, out) is a transpose, not a reshape', () => {
    const t = linearToTf(arange([2, 3]))
    expect(t.shape).toEqual([3, 2])
    expect(Array.from(t.data)).toEqual([0, 3, 1, 4, 2, 5])
  })

  test('a 1x1 conv (out, in, 1, 1) → a matMul matrix (in, out), and back; a 3x3 is refused', () => {
    const t = pointwiseToMatrix(arange([2, 3, 1, 1]))
    expect(t.shape).toEqual([3, 2])
    expect(Array.from(t.data)).toEqual([0, 3, 1, 4, 2, 5])
    expect(matrixToPointwise(t)).toEqual(arange([2, 3, 1, 1]))
    expect(() => pointwiseToMatrix(arange([2, 3, 3, 3]))).toThrow(/1x1 conv weight/)
  })

  test('every role round-trips; a wrong rank names the weight when given', () => {
    const shapes: [LayoutRole, number[]][] = [
      ['conv', [4, 3, 3, 3]],
      ['depthwise', [5, 1, 5, 5]],
      ['pointwise', [8, 4, 1, 1]],
      ['linear', [10, 7]],
      ['keep', [7]],
    ]
    for (const [role, shape] of shapes) {
      const a = arange(shape)
      expect(fromTfLayout(role, toTfLayout(role, a)), role).toEqual(a)
    }
    const e = (() => {
      try {
        toTfLayout('conv', arange([2, 3]), 'features.0.0.weight')
      } catch (x) {
        return x as LayoutError
      }
    })()
    expect(e).toBeInstanceOf(LayoutError)
    expect(e?.weight).toBe('features.0.0.weight')
    expect(e?.message).toBe(
      'features.0.0.weight: conv weight (out, in, kh, kw): expected rank 4, got shape (2, 3)',
    )
  })
})
