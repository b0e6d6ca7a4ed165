/**
 * What a matcher call leaves on its test: one JSON-safe {@link AlignCheck} per compared key, in
 * `task.meta.align`, where reporters, Vitest's JSON reporter and blob/merged reports read it.
 * A check is the key's {@link KeyResult} in JSON (structured failures, never sentences), and
 * {@link keyViewOf} reads it back for the renderers: nothing downstream judges again.
 */
import type { MatcherState } from 'vitest'
import type { KeyView, NoiseView, StatsView } from '../compare/format.js'
import type { DiffHistogram } from '../compare/histogram.js'
import type { LayerStatus, LayerwiseResult } from '../compare/layerwise.js'
import type { LayerwiseView } from '../compare/layerwise-format.js'
import type { Rule } from '../compare/options.js'
import type {
  AlignResult,
  ArraySummary,
  Failure,
  KeyResult,
  NoiseCurve,
  NoiseWorst,
  WorstElement,
  WouldPass,
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
type BreakFailure = Extract<Failure, { kind: 'break' }>

/**
 * One reason a check failed: the core's {@link Failure}, except that a threshold failure's
 * `value` and a break's `error` and `baseline` are left out when not finite (+Infinity).
 */
export type CheckFailure =
  | Exclude<Failure, ThresholdFailure | BreakFailure>
  | (Omit<ThresholdFailure, 'value'> & { readonly value?: number })
  | (Omit<BreakFailure, 'error' | 'baseline'> & {
      readonly error?: number
      readonly baseline?: number
    })

/** A check's noise statistics (see `NoiseStats`), statistics that are not finite left out. */
export interface CheckNoise {
  readonly runs: number
  readonly factor: number
  readonly maxSpread?: number
  readonly meanSpread?: number
  readonly outside: number
  readonly zeroInside: number
  /** Left out when one of its numbers is not finite. */
  readonly worst?: NoiseWorst
  /** Reference, candidate, band and the runs' envelope, element by element (1-D pairs). */
  readonly curve?: NoiseCurve
}

/** One module of a layer-by-layer check; a number that is not finite is left out. */
export interface CheckLayer {
  readonly module: string
  readonly status: LayerStatus
  /** max |Δ| / max |expected| of its output. */
  readonly error?: number
  /** The largest error of the modules before it. */
  readonly baseline?: number
  /** error / baseline. */
  readonly growth?: number
  readonly vacuous: boolean
  readonly maxAbs?: number
  readonly maxRel?: number
  /** Its own comparison's failures (over its tolerance, shape, NaN...). */
  readonly failures: readonly CheckFailure[]
}

/** A layer-by-layer check: every module in execution order, and the first break. */
export interface CheckLayerwise {
  readonly growthFactor: number
  /** The first module where alignment breaks. */
  readonly firstBreak?: string
  readonly modules: readonly CheckLayer[]
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
  readonly wouldPass?: WouldPass
  /** |Δ| by decade. */
  readonly histogram?: DiffHistogram
  /** Under the noise rule (`toStayWithinNoise`): the spread, the worst element, the curve. */
  readonly noise?: CheckNoise
  /** A layer-by-layer check (`toAlignLayerwise`): the modules and the first break. */
  readonly layerwise?: CheckLayerwise
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
  const wouldValue = would && (would.atol ?? would.threshold ?? would.factor)
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
    ...(k.noise && { noise: checkNoise(k.noise) }),
  }
}

function checkNoise(n: NonNullable<KeyResult['noise']>): CheckNoise {
  const w = n.worst
  const worstFinite =
    w !== undefined && [w.actual, w.expected, w.spread, w.bound, w.diff].every(Number.isFinite)
  return {
    runs: n.runs,
    factor: n.factor,
    ...(finite(n.maxSpread) && { maxSpread: n.maxSpread }),
    ...(finite(n.meanSpread) && { meanSpread: n.meanSpread }),
    outside: n.outside,
    zeroInside: n.zeroInside,
    ...(worstFinite && { worst: w }),
    ...(n.curve && { curve: n.curve }),
  }
}

function checkFailure(f: Failure): CheckFailure {
  if (f.kind === 'break') {
    const { error, baseline, ...rest } = f
    return {
      ...rest,
      ...(Number.isFinite(error) && { error }),
      ...(Number.isFinite(baseline) && { baseline }),
    }
  }
  if (f.kind !== 'threshold' || Number.isFinite(f.value)) return { ...f }
  const { value: _, ...rest } = f
  return rest
}

/** A recorded failure as the core had it: every number left out is +Infinity again. */
function coreFailure(f: CheckFailure): Failure {
  if (f.kind === 'threshold') return { ...f, value: orInfinity(f.value) }
  if (f.kind === 'break')
    return { ...f, error: orInfinity(f.error), baseline: orInfinity(f.baseline) }
  return f
}

/**
 * A layer-by-layer result as one JSON-safe check: key '' (the whole record), the call's
 * verdict, the rule of its modules, the first break's statistics and every module in
 * `layerwise`.
 */
export function toLayerwiseCheck(
  matcher: string,
  negated: boolean,
  r: LayerwiseResult,
): AlignCheck {
  const at = r.firstBreak !== undefined ? r.modules[r.firstBreak] : undefined
  const focus = at ?? r.modules[0]
  const base = focus
    ? toCheck(matcher, negated, { ...focus.result, key: '' }, r.pass)
    : toCheck(matcher, negated, { key: '', pass: r.pass, failures: [] }, r.pass)
  const { wouldPass: _w, ...rest } = base
  const num = (name: string, x: number) => (Number.isFinite(x) ? { [name]: x } : {})
  return {
    ...rest,
    pass: r.pass,
    ...(r.rule && { rule: r.rule }),
    failures: r.failures.map(checkFailure),
    layerwise: {
      growthFactor: r.growthFactor,
      ...(at && { firstBreak: at.module }),
      modules: r.modules.map((m) => ({
        module: m.module,
        status: m.status,
        ...num('error', m.error),
        ...num('baseline', m.baseline),
        ...num('growth', m.growth),
        vacuous: m.vacuous,
        ...(m.result.stats && num('maxAbs', m.result.stats.maxAbs)),
        ...(m.result.stats && num('maxRel', m.result.stats.maxRel)),
        failures: m.result.failures.map(checkFailure),
      })),
    },
  }
}

/** A recorded layer-by-layer check read back for the renderers (numbers left out are +Infinity). */
export function layerwiseViewOf(c: AlignCheck): LayerwiseView | undefined {
  const l = c.layerwise
  if (l === undefined) return undefined
  const at = l.modules.findIndex((m) => m.module === l.firstBreak && m.status === 'break')
  return {
    pass: c.pass,
    growthFactor: l.growthFactor,
    modules: l.modules.map((m) => ({
      module: m.module,
      status: m.status,
      error: orInfinity(m.error),
      baseline: orInfinity(m.baseline),
      growth: m.status === 'missing' || m.status === 'extra' ? Number.NaN : orInfinity(m.growth),
      vacuous: m.vacuous,
    })),
    ...(at >= 0 && { firstBreak: at }),
    failures: c.failures.map(coreFailure),
  }
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
    failures: c.failures.map(coreFailure),
    ...(w && {
      wouldPass:
        w.atol === undefined && w.threshold === undefined && w.factor === undefined
          ? {
              [c.rule?.method === 'allclose'
                ? 'atol'
                : c.rule?.method === 'noise'
                  ? 'factor'
                  : 'threshold']: Number.POSITIVE_INFINITY,
            }
          : w,
    }),
    ...(c.noise && { noise: noiseViewOf(c.noise) }),
  }
}

function noiseViewOf(n: CheckNoise): NoiseView {
  return {
    runs: n.runs,
    factor: n.factor,
    maxSpread: orInfinity(n.maxSpread),
    meanSpread: orInfinity(n.meanSpread),
    outside: n.outside,
    zeroInside: n.zeroInside,
    ...(n.worst && { worst: n.worst }),
  }
}

/** Appends a comparison's keys to the running test's meta (nothing outside a test). */
export function recordChecks(state: MatcherState, matcher: string, result: AlignResult): void {
  if (state.task === undefined) return
  state.task.meta.align ??= []
  const checks = state.task.meta.align
  for (const k of result.keys) checks.push(toCheck(matcher, state.isNot === true, k, result.pass))
}

/** Appends a layer-by-layer result to the running test's meta, as one check. */
export function recordLayerwise(
  state: MatcherState,
  matcher: string,
  result: LayerwiseResult,
): void {
  if (state.task === undefined) return
  state.task.meta.align ??= []
  state.task.meta.align.push(toLayerwiseCheck(matcher, state.isNot === true, result))
}
