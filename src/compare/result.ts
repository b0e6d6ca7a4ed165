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
  /** `squeezable`: strict shapes that differ only in size-1 dimensions (`shape: 'squeeze'` accepts them). */
  | { readonly kind: 'shape'; readonly squeezable?: true }
  | { readonly kind: 'dtype' }
  | { readonly kind: 'allclose'; readonly mismatches: number; readonly n: number }
  | {
      readonly kind: 'threshold'
      readonly method: Exclude<ReprodMethod, 'all'>
      readonly value: number
      readonly threshold: number
    }
  | { readonly kind: 'vacuous' }
  /** The noise rule: elements outside `factor·spread + atol + rtol·|e|`. */
  | { readonly kind: 'noise'; readonly outside: number; readonly n: number }
  /** A noise run (0-based) that cannot give a spread: missing, of another shape, or not finite. */
  | {
      readonly kind: 'noise-run'
      readonly run: number
      readonly problem: 'missing' | 'shape' | 'non-finite'
    }
  /** The layer-by-layer rule: the first module where alignment breaks (see `compareLayerwise`). */
  | {
      readonly kind: 'break'
      readonly module: string
      /** Its error: max |Δ| / max |expected| of its output. */
      readonly error: number
      /** The largest error of the modules before it. */
      readonly baseline: number
      readonly growthFactor: number
    }
  /** The layer-by-layer rule: modules one side has and the other has not. */
  | {
      readonly kind: 'modules'
      readonly missing: readonly string[]
      readonly extra: readonly string[]
    }

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
  readonly wouldPass?: WouldPass
  /** Under the noise rule: the spread, the worst element against it, the curve. */
  readonly noise?: NoiseStats
}

/** The smallest tolerance of the rule that passes: `atol`, `threshold` or the noise `factor`. */
export interface WouldPass {
  readonly atol?: number
  readonly threshold?: number
  readonly factor?: number
}

/** The element furthest outside the noise band, with what its bound was made of. */
export interface NoiseWorst extends WorstElement {
  /** max over the runs of |run_k - expected| there. */
  readonly spread: number
  /** factor·spread + atol + rtol·|expected| there. */
  readonly bound: number
  /** |actual - expected| there. */
  readonly diff: number
}

/** A one-dimensional pair under the noise rule, element by element, for the report's chart. */
export interface NoiseCurve {
  readonly actual: readonly number[]
  readonly expected: readonly number[]
  /** The half-width of the pass band around `expected`: factor·spread + atol + rtol·|e|. */
  readonly bound: readonly number[]
  /** The noise runs' envelope: min and max over the runs (and the reference) per element. */
  readonly lo: readonly number[]
  readonly hi: readonly number[]
  /** The indices of the elements outside the band (the rule's verdict per element). */
  readonly outside: readonly number[]
}

/** What the noise rule measured for one key. */
export interface NoiseStats {
  /** How many noise runs the spread was measured over. */
  readonly runs: number
  readonly factor: number
  /** The largest and the mean spread over the elements (+Infinity when a run is not finite). */
  readonly maxSpread: number
  readonly meanSpread: number
  /** Elements with |Δ| above their bound. */
  readonly outside: number
  /** Elements where an all-zero candidate would be inside the band (|e| <= bound). */
  readonly zeroInside: number
  /** The element of largest |Δ| / bound. */
  readonly worst?: NoiseWorst
  /** For a 1-D pair of at most {@link NOISE_CURVE_MAX} finite elements. */
  readonly curve?: NoiseCurve
}

/** The longest 1-D pair whose curve a noise result carries (for the report's chart). */
export const NOISE_CURVE_MAX = 4096

/** The result of one comparison: every key, in the expected side's order, then extra keys. */
export interface AlignResult {
  readonly pass: boolean
  readonly keys: readonly KeyResult[]
}
