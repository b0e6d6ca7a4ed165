/**
 * A histogram of |Δ| by decade, for reports: where the differences of a pair lie, on a log
 * scale. Computed on at most `maxSamples` evenly strided elements, so it costs little on big
 * tensors; |Δ| follows the statistics' rule (0 for matched non-finite pairs, +Infinity for the
 * others).
 */
import type { NumericArray } from './stats.js'

/** Bin edges: |Δ| = 0, then (0, 1e-12], (1e-12, 1e-11], ..., (10, 100], then > 100 or non-finite. */
export const HISTOGRAM_DECADES: readonly number[] = Array.from(
  { length: 15 },
  (_, i) => 10 ** (i - 12),
)

/** Counts of |Δ| per bin: [exactly 0, (0, 1e-12], one per decade up to (10, 100], > 100]. */
export interface DiffHistogram {
  /** Upper edges of the decade bins (1e-12 ... 1e2); see {@link HISTOGRAM_DECADES}. */
  readonly decades: readonly number[]
  /** `decades.length + 2` counts: zero, one per decade, and over the last edge. */
  readonly counts: readonly number[]
  /** How many elements were counted (all of them when n <= maxSamples). */
  readonly sampled: number
}

export function diffHistogram(
  actual: NumericArray,
  expected: NumericArray,
  equalNan: boolean,
  maxSamples = 65_536,
): DiffHistogram {
  const n = actual.length
  const counts = new Array<number>(HISTOGRAM_DECADES.length + 2).fill(0)
  const stride = Math.max(1, Math.ceil(n / maxSamples))
  let sampled = 0
  for (let i = 0; i < n; i += stride) {
    const a = actual[i] as number
    const e = expected[i] as number
    let d = Math.abs(a - e)
    if (!Number.isFinite(d) && !(Number.isFinite(a) && Number.isFinite(e))) {
      const matched = a === e || (equalNan && Number.isNaN(a) && Number.isNaN(e))
      d = matched ? 0 : Number.POSITIVE_INFINITY
    }
    sampled++
    if (d === 0) {
      counts[0] = (counts[0] as number) + 1
      continue
    }
    let bin = 1
    while (bin <= HISTOGRAM_DECADES.length && d > (HISTOGRAM_DECADES[bin - 1] as number)) bin++
    counts[bin] = (counts[bin] as number) + 1
  }
  return { decades: HISTOGRAM_DECADES, counts, sampled }
}
