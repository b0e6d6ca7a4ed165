import { describe, expect, test } from 'vitest'
import { AlignOptionsError } from '../../src/compare/errors.js'

const f32 = (...v: number[]) => Float32Array.from(v)

describe('toHaveMeanDiffBelow', () => {
  test("reprod_log's rule: the mean |Δ| must not exceed the threshold (equal passes)", () => {
    const a = f32(1, 2, 3, 4)
    const e = f32(1, 2, 3, 4.5)
    expect(a).toHaveMeanDiffBelow(e, 0.125)
    expect(a).not.toHaveMeanDiffBelow(e, 0.12)
  })

  test('golden: the tutorial loss_2 pair fails at 1e-6, passes at 1e-5', () => {
    // Step1-5/result/losses_{ref,paddle}.npy, key loss_2: mean |Δ| 9.5367431640625e-06
    const ref = { data: f32(4.6274595), shape: [] }
    const paddle = { data: f32(4.62745), shape: [1] }
    expect(paddle).not.toHaveMeanDiffBelow(ref, 1e-6, { shape: 'squeeze' })
    expect(paddle).toHaveMeanDiffBelow(ref, 1e-5, { shape: 'squeeze' })
    expect(paddle).not.toHaveMeanDiffBelow(ref, 1e-5) // shapes () vs (1,) differ
  })

  test('the failure message names the statistic and the threshold', () => {
    let message = ''
    try {
      expect(f32(1, 2)).toHaveMeanDiffBelow(f32(1, 3), 0.1)
    } catch (e) {
      message = (e as Error).message
    }
    expect(message.split('\n')[0]).toBe(
      'toHaveMeanDiffBelow: expected received to align with expected, but 1 of 1 key not aligned: (value): mean |Δ| 0.5 > 0.1; passes at threshold=0.5',
    )
  })

  test('NaN fails, where reprod_log would pass it', () => {
    expect(f32(Number.NaN, 1)).not.toHaveMeanDiffBelow(f32(1, 1), 1)
  })

  test('a threshold that is not a number is a typed error', () => {
    expect(() => expect(f32(1)).toHaveMeanDiffBelow(f32(1), '1e-5' as never)).toThrow(
      AlignOptionsError,
    )
  })

  test('works inside toEqual', () => {
    expect({ loss: f32(3) }).toEqual({ loss: expect.toHaveMeanDiffBelow(f32(3.0001), 1e-3) })
  })
})
