/**
 * What a matcher call leaves on its test: one JSON-safe line per compared key, in
 * `task.meta.align`, where reporters (and Vitest's JSON reporter) read it.
 */
import type { MatcherState } from 'vitest'
import type { AlignResult, PairStats } from '../compare/result.js'

/** One compared key, as recorded on the test. */
export interface AlignCheck {
  /** The matcher that compared it. */
  readonly matcher: string
  /** Dotted key ('' for a lone array). */
  readonly key: string
  readonly pass: boolean
  /** Under `.not`, a pass of the comparison is the test's failure. */
  readonly negated: boolean
  readonly n?: number
  readonly meanAbs?: number
  readonly maxAbs?: number
  readonly maxRel?: number
  readonly mismatches?: number
}

declare module 'vitest' {
  interface TaskMeta {
    /** vitest-align: every key every matcher compared in this test. */
    align?: AlignCheck[]
  }
}

type Statistic = 'meanAbs' | 'maxAbs' | 'maxRel' | 'mismatches'
const STATISTICS: readonly Statistic[] = ['meanAbs', 'maxAbs', 'maxRel', 'mismatches']

/** JSON has no Infinity or NaN: a statistic that is one is left out rather than turned to null. */
function finiteStats(s: PairStats): Partial<Record<Statistic | 'n', number>> {
  const out: Partial<Record<Statistic | 'n', number>> = { n: s.n }
  for (const name of STATISTICS) if (Number.isFinite(s[name])) out[name] = s[name]
  return out
}

/** Appends a comparison's keys to the running test's meta (nothing outside a test). */
export function recordChecks(state: MatcherState, matcher: string, result: AlignResult): void {
  if (state.task === undefined) return
  state.task.meta.align ??= []
  const checks = state.task.meta.align
  for (const k of result.keys) {
    checks.push({
      matcher,
      key: k.key,
      pass: k.pass,
      negated: state.isNot === true,
      ...(k.stats && finiteStats(k.stats)),
    })
  }
}
