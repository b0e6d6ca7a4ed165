/**
 * What a comparison returns: plain, JSON-safe data (no class instances, no typed arrays), so
 * that matchers, the reporter, the CLI and files all read the same thing.
 */

import type { DType } from './dtype.js'
import type { DiffHistogram } from './histogram.js'
import type { ReprodMethod, Rule } from './options.js'
import type { NonFiniteCensus } from './stats.js'

/** Shape and dtype of one side. */
export interface ArraySummary {
  readonly shape: readonly number[]
  readonly dtype: DType
}

/** The element furthest outside the rule, with both values. */
export interface WorstElement {
  /** Index in the expected array's shape (row-major). */
  readonly index: readonly number[]
  readonly actual: number
  readonly expected: number
}

/**
 * Statistics of one pair, from one pass. |Δ| is |actual - expected|, 0 for equal infinities
 * (and NaN vs NaN under `equalNan`), +Infinity for any other pair involving NaN or ±Infinity.
 */
export interface PairStats {
  /** Number of elements compared. */
  readonly n: number
  readonly meanAbs: number
  readonly maxAbs: number
  readonly minAbs: number
  /** max |Δ| / |expected|. */
  readonly maxRel: number
  /** Elements outside `atol + rtol·|e|` (for the reprod_log rules: outside the dtype default). */
  readonly mismatches: number
  /** The worst element: furthest outside allclose, or of largest |Δ| for reprod_log rules. */
  readonly worst?: WorstElement
  /** max, mean and min of |expected| (+Infinity for non-finite values). */
  readonly maxAbsExpected: number
  readonly meanAbsExpected: number
  readonly minAbsExpected: number
  readonly nonFinite: { readonly actual: NonFiniteCensus; readonly expected: NonFiniteCensus }
  /** |Δ| by decade, when asked for (`compare(..., { histogram: true })`). */
  readonly histogram?: DiffHistogram
}

/** Why one key failed. */
export type Failure =
  | { readonly kind: 'missing' }
  | { readonly kind: 'extra' }
  | {
      readonly kind: 'structure'
      readonly actual: 'array' | 'record'
      readonly expected: 'array' | 'record'
    }
  | { readonly kind: 'shape' }
  | { readonly kind: 'dtype' }
  | { readonly kind: 'allclose'; readonly mismatches: number; readonly n: number }
  | {
      readonly kind: 'threshold'
      readonly method: Exclude<ReprodMethod, 'all'>
      readonly value: number
      readonly threshold: number
    }
  | { readonly kind: 'vacuous' }

/** The result for one key (the top-level array has key ''). */
export interface KeyResult {
  /** Dotted key path; '' for a lone array. */
  readonly key: string
  readonly pass: boolean
  readonly actual?: ArraySummary
  readonly expected?: ArraySummary
  readonly rule?: Rule
  readonly stats?: PairStats
  /** Empty when the key passed. */
  readonly failures: readonly Failure[]
  /** For a failure: the smallest tolerance of the same rule that would have passed. */
  readonly wouldPass?: { readonly atol?: number; readonly threshold?: number }
}

/** The result of one comparison: every key, in the expected side's order, then extra keys. */
export interface AlignResult {
  readonly pass: boolean
  readonly keys: readonly KeyResult[]
}
