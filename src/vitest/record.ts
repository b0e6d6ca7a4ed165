/**
 * What a matcher call leaves on its test: one JSON-safe {@link AlignCheck} per compared key, in
 * `task.meta.align`, where reporters, Vitest's JSON reporter and blob/merged reports read it.
 * A check is the key's {@link KeyResult} in JSON (structured failures, never sentences), and
 * {@link keyViewOf} reads it back for the renderers: nothing downstream judges again.
 */
import type { MatcherState } from 'vitest'
import type { KeyView, StatsView } from '../compare/format.js'
import type { DiffHistogram } from '../compare/histogram.js'
import type { Rule } from '../compare/options.js'
import type {
  AlignResult,
  ArraySummary,
  Failure,
  KeyResult,
  WorstElement,
} from '../compare/result.js'
import type { NonFiniteCensus } from '../compare/stats.js'

/**
 * Statistics of a check, finite values only: JSON has no Infinity, so a statistic that is not
 * finite is left out (the core's |Δ| statistics are then +Infinity: an unmatched NaN or ±Inf).
 */
export interface CheckStats {
  readonly n: number
  readonly meanAbs?: number
  readonly maxAbs?: number
  readonly minAbs?: number
  readonly maxRel?: number
  readonly mismatches?: number
  readonly maxAbsExpected?: number
  readonly meanAbsExpected?: number
  readonly minAbsExpected?: number
}

type ThresholdFailure = Extract<Failure, { kind: 'threshold' }>

/**
 * One reason a check failed: the core's {@link Failure}, except that a threshold failure's
 * `value` is left out when it is not finite (+Infinity).
 */
export type CheckFailure =
  | Exclude<Failure, ThresholdFailure>
  | (Omit<ThresholdFailure, 'value'> & { readonly value?: number })

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
  /** NaN and ±Inf on each side, when there are any. */
  readonly nonFinite?: { readonly actual: NonFiniteCensus; readonly expected: NonFiniteCensus }
  readonly worst?: WorstElement
  /** Both values, for a one-element pair: what curves (`loss_0..n`) are drawn from. */
  readonly values?: { readonly actual: number; readonly expected: number }
  /** Why it failed, as data (empty when it passed); `format.ts` words them. */
  readonly failures: readonly CheckFailure[]
  /**
   * For a failure of the rule: the smallest tolerance of the same rule that would have passed;
   * `{}` when none would (a NaN where a number is).
   */
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
  'meanAbsExpected',
  'minAbsExpected',
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
  const count = (c: NonFiniteCensus) => c.nan + c.posInf + c.negInf
  const nonFinite =
    s && (count(s.nonFinite.actual) > 0 || count(s.nonFinite.expected) > 0)
      ? { actual: { ...s.nonFinite.actual }, expected: { ...s.nonFinite.expected } }
      : undefined
  const w = s?.worst
  const would = k.wouldPass
  const wouldValue = would && (would.atol ?? would.threshold)
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
    ...(nonFinite && { nonFinite }),
    ...(w && finite(w.actual) && finite(w.expected) && { worst: w }),
    ...(s?.n === 1 &&
      w &&
      finite(w.actual) &&
      finite(w.expected) && { values: { actual: w.actual, expected: w.expected } }),
    failures: k.failures.map(checkFailure),
    ...(would && { wouldPass: finite(wouldValue) ? { ...would } : {} }),
    ...(s?.histogram && { histogram: s.histogram }),
  }
}

function checkFailure(f: Failure): CheckFailure {
  if (f.kind !== 'threshold' || Number.isFinite(f.value)) return { ...f }
  const { value: _, ...rest } = f
  return rest
}

const orInfinity = (x: number | undefined): number => x ?? Number.POSITIVE_INFINITY

/**
 * A recorded check read back as the key it records, for the renderers: every statistic left out
 * (not finite) is +Infinity again, as the core had it. The worst element of a pair with
 * non-finite values is not recorded, so it is not shown.
 */
export function keyViewOf(c: AlignCheck): KeyView {
  const s = c.stats
  const stats: StatsView | undefined = s && {
    n: s.n,
    meanAbs: orInfinity(s.meanAbs),
    maxAbs: orInfinity(s.maxAbs),
    minAbs: orInfinity(s.minAbs),
    maxRel: orInfinity(s.maxRel),
    mismatches: s.mismatches ?? 0,
    ...(c.worst && { worst: c.worst }),
    maxAbsExpected: orInfinity(s.maxAbsExpected),
    meanAbsExpected: orInfinity(s.meanAbsExpected),
    minAbsExpected: orInfinity(s.minAbsExpected),
    ...(c.nonFinite && { nonFinite: c.nonFinite }),
  }
  const w = c.wouldPass
  return {
    key: c.key,
    pass: c.pass,
    ...(c.actual && { actual: c.actual }),
    ...(c.expected && { expected: c.expected }),
    ...(c.rule && { rule: c.rule }),
    ...(stats && { stats }),
    failures: c.failures.map((f) =>
      f.kind === 'threshold' ? { ...f, value: orInfinity(f.value) } : f,
    ),
    ...(w && {
      wouldPass:
        w.atol === undefined && w.threshold === undefined
          ? { [c.rule?.method === 'allclose' ? 'atol' : 'threshold']: Number.POSITIVE_INFINITY }
          : w,
    }),
  }
}

/** Appends a comparison's keys to the running test's meta (nothing outside a test). */
export function recordChecks(state: MatcherState, matcher: string, result: AlignResult): void {
  if (state.task === undefined) return
  state.task.meta.align ??= []
  const checks = state.task.meta.align
  for (const k of result.keys) checks.push(toCheck(matcher, state.isNot === true, k, result.pass))
}
