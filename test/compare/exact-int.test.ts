import { describe, expect, test } from 'vitest'
import { compare } from '../../src/compare/compare.js'
import { exactRatioWithin } from '../../src/compare/exact-int.js'
import type { KeyResult } from '../../src/compare/result.js'

const only = (r: { keys: readonly KeyResult[] }): KeyResult => r.keys[0] as KeyResult

describe('64-bit integers are compared exactly', () => {
  const ref = { step: BigInt64Array.of(2n ** 60n, 7n) }
  const cand = { step: BigInt64Array.of(2n ** 60n + 1n, 7n) }

  test('2^60 vs 2^60 + 1 fails max at threshold 0.5 (float64 sees them equal)', () => {
    const k = only(compare(cand, ref, { method: 'max', threshold: 0.5 }))
    expect(k.pass).toBe(false)
    expect(k.failures).toEqual([{ kind: 'threshold', method: 'max', value: 1, threshold: 0.5 }])
    expect(k.stats).toMatchObject({ maxAbs: 1, minAbs: 0, meanAbs: 0.5, mismatches: 1 })
    expect(k.stats?.worst?.index).toEqual([0])
    expect(k.wouldPass).toEqual({ threshold: 1 })
    expect(compare(cand, ref, { method: 'max', threshold: 1 }).pass).toBe(true)
  })

  test('the mean rule is exact: Σ|Δ|/n against the threshold as a rational', () => {
    expect(compare(cand, ref, { method: 'mean', threshold: 0.5 }).pass).toBe(true)
    expect(compare(cand, ref, { method: 'mean', threshold: 0.49999999999999994 }).pass).toBe(false)
    // 3 elements, Σ|Δ| = 1: the mean 1/3 is no double; the nearest one below fails, above passes
    const a = BigInt64Array.of(2n ** 62n + 1n, 5n, 5n)
    const e = BigInt64Array.of(2n ** 62n, 5n, 5n)
    const third = 1 / 3 // rounds below 1/3
    expect(compare(a, e, { method: 'mean', threshold: third }).pass).toBe(false)
    const k = only(compare(a, e, { method: 'mean', threshold: third }))
    expect(compare(a, e, { method: 'mean', threshold: k.wouldPass?.threshold ?? 0 }).pass).toBe(
      true,
    )
  })

  test('allclose (exact by default for integers) counts a low-bit difference', () => {
    const k = only(compare(cand.step, ref.step))
    expect(k.failures).toEqual([{ kind: 'allclose', mismatches: 1, n: 2 }])
    expect(compare(cand.step, ref.step, { atol: 1 }).pass).toBe(true)
  })

  test('uint64 against int64, and int64 against int32, are exact too', () => {
    const u = BigUint64Array.of(2n ** 63n + 1n)
    const i = BigUint64Array.of(2n ** 63n)
    expect(compare(u, i, { method: 'max', threshold: 0.5 }).pass).toBe(false)
    const k = only(
      compare(BigInt64Array.of(-(2n ** 62n)), Int32Array.of(-5), {
        method: 'max',
        threshold: 1e30,
      }),
    )
    expect(k.stats?.maxAbs).toBe(Number(2n ** 62n - 5n))
  })

  test('exactRatioWithin decides sum/n <= t exactly', () => {
    expect(exactRatioWithin(1n, 3, 1 / 3)).toBe(false)
    expect(exactRatioWithin(1n, 2, 0.5)).toBe(true)
    expect(exactRatioWithin(0n, 1, 0)).toBe(true)
    expect(exactRatioWithin(1n, 1, 5e-324)).toBe(false)
    expect(exactRatioWithin(2n ** 70n, 1, 2 ** 70)).toBe(true)
    expect(exactRatioWithin(2n ** 70n + 1n, 1, 2 ** 70)).toBe(false)
  })
})

describe('NaN and Inf fail every rule', () => {
  test.each(['min', 'max', 'mean', 'all'] as const)(
    'method %s with a NaN in the candidate',
    (method) => {
      const k = only(
        compare(Float32Array.of(1, Number.NaN), Float32Array.of(1, 2), { method, threshold: 1 }),
      )
      expect(k.pass).toBe(false)
      expect(
        k.failures.every((f) => f.kind === 'threshold' && f.value === Number.POSITIVE_INFINITY),
      ).toBe(true)
    },
  )

  test('min with +Inf against -Inf, and Inf against a number', () => {
    expect(
      compare([0, Number.POSITIVE_INFINITY], [0, Number.NEGATIVE_INFINITY], { method: 'min' }).pass,
    ).toBe(false)
    expect(compare([0, Number.POSITIVE_INFINITY], [0, 1], { method: 'min' }).pass).toBe(false)
    expect(only(compare([0, 1], [0, Number.NaN], { method: 'min' })).wouldPass).toEqual({
      threshold: Number.POSITIVE_INFINITY,
    })
  })

  test('equal infinities and NaN vs NaN under equalNan still pass min', () => {
    const inf = Number.POSITIVE_INFINITY
    expect(compare([1, inf], [1, inf], { method: 'min', allowVacuous: true }).pass).toBe(true)
    expect(
      compare([1, Number.NaN], [1, Number.NaN], {
        method: 'min',
        equalNan: true,
        allowVacuous: true,
      }).pass,
    ).toBe(true)
  })
})
