import { describe, expect, test } from 'vitest'
import type { NdArray } from '../../src/compare/dtype.js'
import { orderedKeys } from '../../src/compare/key-order.js'
import { StateDictError } from '../../src/convert/errors.js'
import {
  convertStateDict,
  kerasBatchNormName,
  type StateDictMapping,
} from '../../src/convert/state-dict.js'

const f32 = (...shape: number[]): NdArray<'float32'> => ({
  data: Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => i),
  shape,
  dtype: 'float32',
})

/** A small network as torch names it: a conv + BatchNorm, a depthwise conv, a Linear head. */
const stateDict = () => ({
  'features.0.0.weight': f32(8, 3, 3, 3),
  'features.0.1.weight': f32(8),
  'features.0.1.bias': f32(8),
  'features.0.1.running_mean': f32(8),
  'features.0.1.running_var': f32(8),
  'features.0.1.num_batches_tracked': { data: BigInt64Array.of(5n), shape: [], dtype: 'int64' },
  'features.1.0.weight': f32(8, 1, 3, 3),
  'classifier.weight': f32(10, 8),
  'classifier.bias': f32(10),
})

const mapping: StateDictMapping = {
  layouts: [
    ['features.1.0.weight', 'depthwise'],
    ['features.*.0.weight', 'conv'],
    ['classifier.weight', 'linear'],
    ['**', 'keep'],
  ],
  rename: kerasBatchNormName((m) => m.endsWith('.1') && m.startsWith('features.0')),
}

describe('convertStateDict', () => {
  test("each weight in its role's layout, BatchNorms renamed, the step counter skipped, in order", () => {
    const out = convertStateDict(stateDict(), mapping)
    expect(orderedKeys(out)).toEqual([
      'features.0.0.weight',
      'features.0.1.gamma',
      'features.0.1.beta',
      'features.0.1.moving_mean',
      'features.0.1.moving_variance',
      'features.1.0.weight',
      'classifier.weight',
      'classifier.bias',
    ])
    expect(out['features.0.0.weight']?.shape).toEqual([3, 3, 3, 8]) // first pattern wins: conv
    expect(out['features.1.0.weight']?.shape).toEqual([3, 3, 8, 1]) // depthwise, listed first
    expect(out['classifier.weight']?.shape).toEqual([8, 10])
    expect(out['features.0.1.gamma']).toEqual(f32(8))
  })

  test('with the shapes the port expects, every missing, extra, misshapen, unmapped or unconvertible weight is named at once', () => {
    const sd = {
      ...stateDict(),
      'features.1.0.weight': f32(8, 2, 3, 3), // not depthwise
      'head.extra': f32(2),
    }
    const expect_ = {
      'features.0.0.weight': [3, 3, 3, 8],
      'features.0.1.gamma': [8],
      'features.0.1.beta': [8],
      'features.0.1.moving_mean': [8],
      'features.0.1.moving_variance': [4], // misshapen
      'features.1.0.weight': [3, 3, 8, 1],
      'classifier.weight': [8, 10],
      'classifier.bias': [10],
      'port.only': [1], // missing
    }
    let error: StateDictError | undefined
    try {
      convertStateDict(sd, {
        ...mapping,
        layouts: mapping.layouts
          .filter(([p]) => p !== '**')
          .concat([
            ['features.**', 'keep'],
            ['classifier.bias', 'keep'],
          ]),
        expect: expect_,
      })
    } catch (e) {
      error = e as StateDictError
    }
    expect(error).toBeInstanceOf(StateDictError)
    expect(error?.problems.map((p) => [p.weight, p.problem])).toEqual([
      ['features.0.1.running_var', 'misshapen'],
      ['features.1.0.weight', 'layout'],
      ['head.extra', 'unmapped'],
      ['port.only', 'missing'],
    ])
    expect(error?.message).toContain(
      "features.0.1.running_var: misshapen: (8,) as keep, the port's features.0.1.moving_variance is (4,)",
    )
    expect(error?.message).toMatch(/^4 weights do not convert:\n/)
    expect(error?.message).toContain(
      'features.1.0.weight: layout: as depthwise: depthwise weight (C, 1, kh, kw): shape (8, 2, 3, 3)',
    )
  })

  test('a weight the port does not expect is extra; skip can be replaced', () => {
    expect(() =>
      convertStateDict({ a: f32(1), b: f32(1) }, { layouts: [['**', 'keep']], expect: { a: [1] } }),
    ).toThrow(/b: extra: the port has no b/)
    const kept = convertStateDict(
      { 'bn.num_batches_tracked': f32(1) },
      { layouts: [['**', 'keep']], skip: [] },
    )
    expect(Object.keys(kept)).toEqual(['bn.num_batches_tracked'])
  })
})

describe('kerasBatchNormName', () => {
  test("renames only the BatchNorms' four entries", () => {
    const rename = kerasBatchNormName((m) => m === 'bn')
    expect(rename('bn.weight')).toBe('bn.gamma')
    expect(rename('bn.bias')).toBe('bn.beta')
    expect(rename('bn.running_mean')).toBe('bn.moving_mean')
    expect(rename('bn.running_var')).toBe('bn.moving_variance')
    expect(rename('conv.weight')).toBe('conv.weight')
    expect(rename('bn.constructor')).toBe('bn.constructor')
    expect(rename('weight')).toBe('weight')
  })
})
