/**
 * The torch → TF.js weight layouts and the state_dict check, without TF.js: pure functions over
 * small arrays, and the spec against the committed torch checkpoint's own keys and shapes.
 */
import { fileURLToPath } from 'node:url'
import { describe, expect, test } from 'vitest'
import { AlignError, type NdArray } from 'vitest-align'
import { readTorch } from 'vitest-align/files'
import {
  checkStateDict,
  depthwiseFromTf,
  depthwiseToTf,
  type F32,
  fromTfLayout,
  hwioToOihw,
  inferNumClasses,
  linearFromTf,
  linearToTf,
  makeDivisible,
  matrixToPointwise,
  mobileNetV3Small,
  oihwToHwio,
  pointwiseToMatrix,
  toTfLayout,
  transpose,
  WeightError,
  weightSpec,
} from '../../../examples/mobilenetv3/model/weights.js'
import { randomStateDict, sameArray } from './random-state-dict.js'

/** 0, 1, 2... in `shape`. */
function arange(shape: number[]): F32 {
  const n = shape.reduce((a, b) => a * b, 1)
  return { data: Float32Array.from({ length: n }, (_, i) => i), shape, dtype: 'float32' }
}

/** The flat row-major offset of `index` in `shape`. */
function offset(shape: readonly number[], index: readonly number[]): number {
  return index.reduce((acc, i, ax) => acc * (shape[ax] as number) + i, 0)
}

/** Every index of `shape`. */
function* indices(shape: readonly number[]): Generator<number[]> {
  const n = shape.reduce((a, b) => a * b, 1)
  for (let flat = 0; flat < n; flat++) {
    const idx: number[] = []
    let r = flat
    for (let ax = shape.length - 1; ax >= 0; ax--) {
      idx.unshift(r % (shape[ax] as number))
      r = Math.floor(r / (shape[ax] as number))
    }
    yield idx
  }
}

const at = (a: NdArray, index: readonly number[]): number =>
  a.data[offset(a.shape, index)] as number

describe('layout conversions', () => {
  test('conv OIHW → HWIO: out[h, w, i, o] = in[o, i, h, w], and back', () => {
    const a = arange([4, 3, 2, 5]) // O I H W, every size distinct
    const t = oihwToHwio(a)
    expect(t.shape).toEqual([2, 5, 3, 4])
    for (const [h, w, i, o] of indices(t.shape) as Iterable<[number, number, number, number]>) {
      expect(at(t, [h, w, i, o])).toBe(at(a, [o, i, h, w]))
    }
    expect(hwioToOihw(t)).toEqual(a)
  })

  test('depthwise (C, 1, kh, kw) → (kh, kw, C, 1), and back', () => {
    const a = arange([3, 1, 2, 4])
    const t = depthwiseToTf(a)
    expect(t.shape).toEqual([2, 4, 3, 1])
    for (const [h, w, c] of indices(t.shape) as Iterable<[number, number, number]>) {
      expect(at(t, [h, w, c, 0])).toBe(at(a, [c, 0, h, w]))
    }
    expect(depthwiseFromTf(t)).toEqual(a)
    expect(() => depthwiseToTf(arange([3, 2, 2, 2]))).toThrow(/depthwise weight/)
  })

  test('Linear (out, in) → (in, out) is a transpose, not a reshape', () => {
    const t = linearToTf(arange([2, 3]))
    expect(t.shape).toEqual([3, 2])
    expect([...t.data]).toEqual([0, 3, 1, 4, 2, 5])
    expect(linearFromTf(t)).toEqual(arange([2, 3]))
  })

  test('SE 1x1 conv (out, in, 1, 1) → matMul (in, out), and back', () => {
    const t = pointwiseToMatrix(arange([2, 3, 1, 1]))
    expect(t.shape).toEqual([3, 2])
    expect([...t.data]).toEqual([0, 3, 1, 4, 2, 5])
    expect(matrixToPointwise(t)).toEqual(arange([2, 3, 1, 1]))
    expect(() => pointwiseToMatrix(arange([2, 3, 3, 3]))).toThrow(/1x1 conv weight/)
  })

  test('transpose matches index arithmetic for a rank-3 permutation; bad input is refused', () => {
    const a = arange([2, 3, 4])
    const t = transpose(a, [1, 2, 0])
    expect(t.shape).toEqual([3, 4, 2])
    for (const [i, j, k] of indices(t.shape) as Iterable<[number, number, number]>) {
      expect(at(t, [i, j, k])).toBe(at(a, [k, i, j]))
    }
    expect(() => transpose(a, [0, 0, 1])).toThrow(/bad permutation/)
    expect(() => oihwToHwio(arange([2, 3]))).toThrow(/expected rank 4/)
    const f64: NdArray = { data: new Float64Array(4), shape: [2, 2], dtype: 'float64' }
    // the layouts are any dtype's (the library's); the port's own entry wants float32
    expect(linearToTf(f64).dtype).toBe('float64')
    expect(() => toTfLayout('linear', f64 as F32)).toThrow(/expected float32, got float64/)
  })

  test('every role round-trips through toTfLayout / fromTfLayout', () => {
    const sd = randomStateDict(10, 3)
    for (const e of weightSpec(mobileNetV3Small(10))) {
      const torch = sd[e.name] as F32
      expect(sameArray(fromTfLayout(e.role, toTfLayout(e.role, torch)), torch), e.name).toBe(true)
    }
  })
})

describe('the architecture', () => {
  test("_make_divisible as torchvision's, for the SE widths of mobilenet_v3_small", () => {
    // exp // 4 for exp in 16, 96, 240, 120, 144, 288, 576
    expect([4, 24, 60, 30, 36, 72, 144].map((v) => makeDivisible(v))).toEqual([
      8, 24, 64, 32, 40, 72, 144,
    ])
    expect(makeDivisible(1024)).toBe(1024)
  })

  test('the spec is the torch checkpoint: same keys in the same order, same shapes', () => {
    const path = fileURLToPath(
      new URL('../../../examples/mobilenetv3/data/mobilenet_v3_small.pth', import.meta.url),
    )
    const torch = readTorch(path).value as Record<string, NdArray>
    const floats = Object.entries(torch).filter(([, v]) => v.dtype === 'float32')
    const spec = weightSpec(mobileNetV3Small(10))
    expect(spec.map((e) => [e.name, e.shape])).toEqual(floats.map(([k, v]) => [k, v.shape]))
    const counters = Object.keys(torch).filter((k) => k.endsWith('.num_batches_tracked'))
    expect(counters).toHaveLength(34)
    expect(Object.keys(torch)).toHaveLength(spec.length + counters.length)
  })

  test("parameter counts are torchvision's (1,528,106 for 10 classes, 2,542,856 for 1000)", () => {
    const params = (n: number) =>
      weightSpec(mobileNetV3Small(n))
        .filter((e) => e.trainable)
        .reduce((acc, e) => acc + e.shape.reduce((a, b) => a * b, 1), 0)
    expect(params(10)).toBe(1_528_106)
    expect(params(1000)).toBe(2_542_856)
  })

  test('residual connections where stride is 1 and in == out, and 34 BatchNorms', () => {
    const arch = mobileNetV3Small(10)
    expect(arch.blocks.map((b) => b.residual)).toEqual([
      false,
      false,
      true,
      false,
      true,
      true,
      false,
      true,
      false,
      true,
      true,
    ])
    expect(arch.batchNorms).toHaveLength(34)
    expect(arch.batchNorms[0]).toBe('features.0.1')
    expect(arch.blocks[0]?.expand).toBeUndefined() // features.1 has no expansion conv
  })
})

describe('checkStateDict', () => {
  test('accepts a complete state_dict, skipping num_batches_tracked, and reads the class count', () => {
    const sd = randomStateDict(7)
    expect(inferNumClasses(sd)).toBe(7)
    const { arch, weights } = checkStateDict(sd)
    expect(arch.numClasses).toBe(7)
    expect(Object.keys(weights)).toHaveLength(Object.keys(sd).length - 34)
    expect(Object.keys(weights).some((k) => k.endsWith('num_batches_tracked'))).toBe(false)
  })

  test('lists every problem at once: missing, unexpected, misshapen, wrong dtype', () => {
    const sd = randomStateDict(10)
    delete sd['features.3.block.1.0.weight']
    sd['features.13.0.weight'] = { data: new Float32Array(4), shape: [2, 2], dtype: 'float32' }
    sd['features.99.1.num_batches_tracked'] = {
      data: BigInt64Array.of(0n),
      shape: [],
      dtype: 'int64',
    }
    sd['features.0.0.weight'] = {
      data: new Float32Array(16 * 3 * 25),
      shape: [16, 3, 5, 5],
      dtype: 'float32',
    }
    sd['classifier.0.bias'] = { data: new Float64Array(1024), shape: [1024], dtype: 'float64' }
    let error: unknown
    try {
      checkStateDict(sd, { source: 'ckpt.npz' })
    } catch (e) {
      error = e
    }
    expect(error).toBeInstanceOf(WeightError)
    expect(error).toBeInstanceOf(AlignError)
    const e = error as WeightError
    expect(e.problems.map((p) => p.weight)).toEqual([
      'features.0.0.weight',
      'features.3.block.1.0.weight',
      'classifier.0.bias',
      'features.13.0.weight',
      'features.99.1.num_batches_tracked',
    ])
    expect(e.weight).toBe('features.0.0.weight')
    expect(e.reason).toBe('shape (16, 3, 5, 5), expected (16, 3, 3, 3)')
    expect(e.message).toContain(
      "ckpt.npz does not fit torchvision's mobilenet_v3_small(num_classes=10): 5 weight problems",
    )
    expect(e.message).toContain(
      'features.3.block.1.0.weight: missing (expected float32 (88, 1, 3, 3))',
    )
    expect(e.message).toContain('classifier.0.bias: dtype float64, expected float32')
    expect(e.message).toContain(
      'features.13.0.weight: unexpected: not a weight of this architecture (float32 (2, 2))',
    )
    expect(e.message).toContain('features.99.1.num_batches_tracked: unexpected')
  })

  test('a misshapen weight with the wrong dtype gets both reasons; no classifier says N', () => {
    const sd = randomStateDict(10)
    sd['features.1.block.1.fc1.bias'] = { data: new Float64Array(3), shape: [3], dtype: 'float64' }
    delete sd['classifier.3.weight']
    delete sd['classifier.3.bias']
    expect(() => checkStateDict(sd)).toThrow(
      /3 weight problems\n {2}features\.1\.block\.1\.fc1\.bias: shape \(3,\), expected \(8,\); dtype float64, expected float32\n {2}classifier\.3\.weight: missing \(expected float32 \(N, 1024\)\)\n {2}classifier\.3\.bias: missing/,
    )
  })
})
