import { describe, expect, test } from 'vitest'
import type { ExactDiff } from '../../src/compare/exact-int.js'
import type { PairStats } from '../../src/compare/result.js'
import {
  isVacuous,
  methodStats,
  passingTolerance,
  ruleFailures,
} from '../../src/compare/tolerance.js'

const none = { nan: 0, posInf: 0, negInf: 0 }

/** Statistics of a pair, every number chosen by the test. */
function stats(over: Partial<PairStats> = {}): PairStats {
  return {
    n: 4,
    meanAbs: 2e-7,
    maxAbs: 5e-7,
    minAbs: 0,
    maxRel: 1e-6,
    mismatches: 0,
    maxAbsExpected: 1,
    meanAbsExpected: 0.5,
    minAbsExpected: 0.1,
    nonFinite: { actual: none, expected: none },
    ...over,
  }
}

describe('methodStats', () => {
  test("reprod_log's order: all is min, max, mean", () => {
    expect(methodStats('all')).toEqual(['min', 'max', 'mean'])
    expect(methodStats('max')).toEqual(['max'])
  })
})

describe('ruleFailures', () => {
  test('allclose fails on any element outside, reporting the count', () => {
    const rule = { method: 'allclose', atol: 1e-5, rtol: 0 } as const
    expect(ruleFailures(rule, stats())).toEqual([])
    expect(ruleFailures(rule, stats({ mismatches: 1 }))).toEqual([
      { kind: 'allclose', mismatches: 1, n: 4 },
    ])
  })

  test('a threshold is an upper bound that an equal statistic meets, as in reprod_log', () => {
    const at = { method: 'mean', threshold: 2e-7 } as const
    expect(ruleFailures(at, stats())).toEqual([])
    expect(ruleFailures({ method: 'mean', threshold: 1e-7 }, stats())).toEqual([
      { kind: 'threshold', method: 'mean', value: 2e-7, threshold: 1e-7 },
    ])
  })

  test('all: each statistic fails on its own, in min, max, mean order', () => {
    const f = ruleFailures({ method: 'all', threshold: 3e-7 }, stats())
    expect(f).toEqual([{ kind: 'threshold', method: 'max', value: 5e-7, threshold: 3e-7 }])
    const g = ruleFailures({ method: 'all', threshold: 0 }, stats())
    expect(g.map((x) => (x.kind === 'threshold' ? x.method : x.kind))).toEqual(['max', 'mean'])
  })

  test('an element infinitely apart fails every statistic, min included, reported as +Infinity', () => {
    const poisoned = stats({ maxAbs: Number.POSITIVE_INFINITY, meanAbs: Number.NaN, minAbs: 0 })
    const f = ruleFailures({ method: 'all', threshold: 1 }, poisoned)
    expect(f).toHaveLength(3)
    for (const x of f)
      expect(x).toMatchObject({ kind: 'threshold', value: Number.POSITIVE_INFINITY })
  })

  test('the noise rule is judged elsewhere (from the runs): no failure here', () => {
    const rule = { method: 'noise', factor: 2, atol: 0, rtol: 0, runs: 2 } as const
    expect(ruleFailures(rule, stats({ mismatches: 4 }))).toEqual([])
  })

  test('exact integer statistics judge 64-bit pairs, not their float64 roundings', () => {
    // |Δ| of 1 on one of 2 elements: the exact mean is 1/2; the float64 one is given as 0
    const exact: ExactDiff = {
      n: 2,
      sum: 1n,
      max: 1n,
      min: 0n,
      sumExpected: 2n ** 61n,
      maxExpected: 2n ** 60n,
      minExpected: 7n,
    }
    const rounded = stats({ n: 2, meanAbs: 0, maxAbs: 0, minAbs: 0 })
    expect(ruleFailures({ method: 'max', threshold: 0.5 }, rounded)).toEqual([])
    expect(ruleFailures({ method: 'max', threshold: 0.5 }, rounded, exact)).toHaveLength(1)
    expect(ruleFailures({ method: 'mean', threshold: 0.5 }, rounded, exact)).toEqual([])
  })
})

describe('isVacuous', () => {
  test('allclose: vacuous when every |e| is within the tolerance of zero', () => {
    // max|e| 1: |0 - e| <= atol + rtol·|e| holds for every e iff 1·(1 - rtol) <= atol
    expect(isVacuous({ method: 'allclose', atol: 1, rtol: 0 }, stats())).toBe(true)
    expect(isVacuous({ method: 'allclose', atol: 0.5, rtol: 0.5 }, stats())).toBe(true)
    expect(isVacuous({ method: 'allclose', atol: 0.4, rtol: 0.5 }, stats())).toBe(false)
    expect(isVacuous({ method: 'allclose', atol: 0, rtol: 1 }, stats())).toBe(true)
    const inf = stats({ maxAbsExpected: Number.POSITIVE_INFINITY })
    expect(isVacuous({ method: 'allclose', atol: 1e9, rtol: 0 }, inf)).toBe(false)
  })

  test("reprod_log methods: vacuous when |e|'s own statistic is within the threshold", () => {
    expect(isVacuous({ method: 'min', threshold: 0.1 }, stats())).toBe(true)
    expect(isVacuous({ method: 'min', threshold: 0.09 }, stats())).toBe(false)
    // all: every statistic of |e| (min 0.1, max 1, mean 0.5) must be within
    expect(isVacuous({ method: 'all', threshold: 0.5 }, stats())).toBe(false)
    expect(isVacuous({ method: 'all', threshold: 1 }, stats())).toBe(true)
  })

  test('an empty pair proves nothing', () => {
    expect(isVacuous({ method: 'allclose', atol: 0, rtol: 0 }, stats({ n: 0 }))).toBe(true)
  })
})

describe('passingTolerance', () => {
  test('allclose: the atol that passes at the same rtol, never negative', () => {
    const rule = { method: 'allclose', atol: 0, rtol: 0 } as const
    expect(passingTolerance(rule, stats(), 3e-4)).toEqual({ atol: 3e-4 })
    expect(passingTolerance(rule, stats(), -1)).toEqual({ atol: 0 })
  })

  test('reprod_log methods: the largest statistic the method checks, Infinity when poisoned', () => {
    expect(passingTolerance({ method: 'all', threshold: 0 }, stats(), 0)).toEqual({
      threshold: 5e-7,
    })
    expect(passingTolerance({ method: 'min', threshold: 0 }, stats(), 0)).toEqual({ threshold: 0 })
    const poisoned = stats({ maxAbs: Number.POSITIVE_INFINITY })
    expect(passingTolerance({ method: 'min', threshold: 0 }, poisoned, 0)).toEqual({
      threshold: Number.POSITIVE_INFINITY,
    })
  })

  test('the noise rule has no single tolerance to suggest', () => {
    const rule = { method: 'noise', factor: 2, atol: 0, rtol: 0, runs: 2 } as const
    expect(passingTolerance(rule, stats(), 1)).toEqual({})
  })
})
