/**
 * The verdict of a rule over a pair's statistics: pass or fail, vacuity, and the smallest
 * tolerance that would have passed. Pure functions of {@link PairStats}.
 */

import { type ExactDiff, exactUpperBound, exactWithin } from './exact-int.js'
import type { ReprodMethod, Rule } from './options.js'
import type { Failure, PairStats } from './result.js'

type Stat = Exclude<ReprodMethod, 'all'>

/** The statistics a reprod_log method checks, in reprod_log's order (`all`: min, max, mean). */
export function methodStats(method: ReprodMethod): readonly Stat[] {
  return method === 'all' ? ['min', 'max', 'mean'] : [method]
}

/** The value of one reprod_log statistic of |Δ| in a pair's statistics. */
function diffStatistic(stats: PairStats, s: Stat): number {
  return s === 'mean' ? stats.meanAbs : s === 'max' ? stats.maxAbs : stats.minAbs
}

/** The same statistic of |expected|: what an all-zero candidate would get. */
function expectedStatistic(stats: PairStats, s: Stat): number {
  return s === 'mean'
    ? stats.meanAbsExpected
    : s === 'max'
      ? stats.maxAbsExpected
      : stats.minAbsExpected
}

/**
 * The rule's failures. allclose fails when any element has |Δ| > atol + rtol·|e|; a reprod_log
 * method fails when its statistic exceeds the threshold (strictly, as reprod_log: equal passes;
 * unlike reprod_log, a NaN or infinite statistic fails). A pair with any element infinitely
 * apart (NaN against a number or NaN, +Inf against -Inf, Inf against a number) fails every
 * statistic, `min` included: its value is then reported as +Infinity (numpy's `min` gives NaN
 * there, and reprod_log fails it too). `exact`, for 64-bit integer pairs, judges on the exact
 * values; the values reported are float64.
 */
export function ruleFailures(rule: Rule, stats: PairStats, exact?: ExactDiff): Failure[] {
  if (rule.method === 'allclose') {
    return stats.mismatches > 0
      ? [{ kind: 'allclose', mismatches: stats.mismatches, n: stats.n }]
      : []
  }
  // the noise rule is judged element by element in noise.ts, from the runs
  if (rule.method === 'noise') return []
  const poisoned = stats.maxAbs === Number.POSITIVE_INFINITY
  const failures: Failure[] = []
  for (const method of methodStats(rule.method)) {
    const value = poisoned ? Number.POSITIVE_INFINITY : diffStatistic(stats, method)
    const within =
      exact !== undefined ? exactWithin(exact, method, rule.threshold) : value <= rule.threshold
    if (!within) failures.push({ kind: 'threshold', method, value, threshold: rule.threshold })
  }
  return failures
}

/**
 * Whether an all-zero candidate would pass the same rule: every |e| within the tolerance of
 * zero, or the reprod_log statistic of |e| itself within the threshold. An empty array is
 * vacuous too. Such a check proves nothing.
 */
export function isVacuous(rule: Rule, stats: PairStats, exact?: ExactDiff): boolean {
  if (stats.n === 0) return true
  if (rule.method === 'allclose') {
    // |0 - e| <= atol + rtol·|e| for every e  <=>  max|e|·(1 - rtol) <= atol (max|e| finite)
    const m = stats.maxAbsExpected
    return Number.isFinite(m) && (rule.rtol >= 1 || m * (1 - rule.rtol) <= rule.atol)
  }
  // the noise rule's vacuity needs each element's bound: noise.ts judges it
  if (rule.method === 'noise') return false
  return methodStats(rule.method).every((s) =>
    exact !== undefined
      ? exactWithin(exact, s, rule.threshold, 'expected')
      : expectedStatistic(stats, s) <= rule.threshold,
  )
}

/**
 * The smallest tolerance of the same rule that passes: atol at the given rtol for allclose,
 * the threshold for reprod_log's methods. Infinity when none does (a NaN where a number is).
 * `maxExcess` is the kernel's max (|Δ| - rtol·|e|); with `exact`, the threshold is the exact
 * statistic rounded up to a double, so that it does pass.
 */
export function passingTolerance(
  rule: Rule,
  stats: PairStats,
  maxExcess: number,
  exact?: ExactDiff,
): { atol?: number; threshold?: number } {
  if (rule.method === 'allclose') return { atol: Math.max(0, maxExcess) }
  if (rule.method === 'noise') return {}
  const poisoned = stats.maxAbs === Number.POSITIVE_INFINITY
  const values = methodStats(rule.method).map((s) =>
    poisoned
      ? Number.POSITIVE_INFINITY
      : exact !== undefined
        ? exactUpperBound(exact, s)
        : diffStatistic(stats, s),
  )
  return { threshold: Math.max(...values) }
}
