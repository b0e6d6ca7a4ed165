/**
 * What a matcher call leaves on its test: one JSON-safe {@link AlignCheck} per compared key, in
 * `task.meta.align`, where reporters, Vitest's JSON reporter and blob/merged reports read it.
 */
import type { MatcherState } from 'vitest'
import { describeFailure } from '../compare/format.js'
import type { DiffHistogram } from '../compare/histogram.js'
import type { Rule } from '../compare/options.js'
import type { AlignResult, ArraySummary, KeyResult, WorstElement } from '../compare/result.js'

/** Statistics of a check, finite values only (JSON has no Infinity or NaN: those are left out). */
export interface CheckStats {
  readonly n: number
  readonly meanAbs?: number
  readonly maxAbs?: number
  readonly minAbs?: number
  readonly maxRel?: number
  readonly mismatches?: number
  readonly maxAbsExpected?: number
}

/** One compared key, as recorded on the test. */
export interface AlignCheck {
  /** The matcher that compared it. */
  readonly matcher: string
  /** Dotted key ('' for a lone array). */
  readonly key: string
  /** The comparison's verdict for this key (under `.not`, a pass fails the test). */
  readonly pass: boolean
  /** Made under `.not`: a negative control. */
  readonly negated: boolean
  /**
   * The verdict of the whole matcher call this key was part of (every key of a record). A
   * negative control holds when this is false: one key off is enough for `.not` to pass.
   */
  readonly callPass: boolean
  readonly actual?: ArraySummary
  readonly expected?: ArraySummary
  /** The rule with its resolved tolerance. */
  readonly rule?: Rule
  readonly stats?: CheckStats
  /** Counts of NaN and ±Inf on each side, when there are any. */
  readonly nonFinite?: { readonly actual: number; readonly expected: number }
  readonly worst?: WorstElement
  /** Both values, for a one-element pair: what curves (`loss_0..n`) are drawn from. */
  readonly values?: { readonly actual: number; readonly expected: number }
  /** Why it failed, one sentence each (empty when it passed). */
  readonly failures: readonly string[]
  /** For a failure: the smallest tolerance of the same rule that would have passed. */
  readonly wouldPass?: { readonly atol?: number; readonly threshold?: number }
  /** |Δ| by decade. */
  readonly histogram?: DiffHistogram
}

declare module 'vitest' {
  interface TaskMeta {
    /** vitest-align: every key every matcher compared in this test. */
    align?: AlignCheck[]
  }
}

const STATISTICS = [
  'meanAbs',
  'maxAbs',
  'minAbs',
  'maxRel',
  'mismatches',
  'maxAbsExpected',
] as const
type Statistic = (typeof STATISTICS)[number]

const finite = (x: number | undefined): x is number => x !== undefined && Number.isFinite(x)

/** A key's result as a JSON-safe check. */
export function toCheck(
  matcher: string,
  negated: boolean,
  k: KeyResult,
  callPass = k.pass,
): AlignCheck {
  const s = k.stats
  const stats: Partial<Record<Statistic, number>> & { n?: number } = {}
  if (s) {
    stats.n = s.n
    for (const name of STATISTICS) if (finite(s[name])) stats[name] = s[name]
  }
  const nan = s && {
    actual: s.nonFinite.actual.nan + s.nonFinite.actual.posInf + s.nonFinite.actual.negInf,
    expected: s.nonFinite.expected.nan + s.nonFinite.expected.posInf + s.nonFinite.expected.negInf,
  }
  const w = s?.worst
  return {
    matcher,
    key: k.key,
    pass: k.pass,
    negated,
    callPass,
    ...(k.actual && { actual: k.actual }),
    ...(k.expected && { expected: k.expected }),
    ...(k.rule && { rule: k.rule }),
    ...(s && { stats: stats as CheckStats }),
    ...(nan && (nan.actual > 0 || nan.expected > 0) && { nonFinite: nan }),
    ...(w && finite(w.actual) && finite(w.expected) && { worst: w }),
    ...(s?.n === 1 &&
      w &&
      finite(w.actual) &&
      finite(w.expected) && { values: { actual: w.actual, expected: w.expected } }),
    failures: k.failures.map((f) => describeFailure(k, f)),
    ...(k.wouldPass &&
      finite(k.wouldPass.atol ?? k.wouldPass.threshold) && { wouldPass: k.wouldPass }),
    ...(s?.histogram && { histogram: s.histogram }),
  }
}

/** Appends a comparison's keys to the running test's meta (nothing outside a test). */
export function recordChecks(state: MatcherState, matcher: string, result: AlignResult): void {
  if (state.task === undefined) return
  state.task.meta.align ??= []
  const checks = state.task.meta.align
  for (const k of result.keys) checks.push(toCheck(matcher, state.isNot === true, k, result.pass))
}
