/**
 * The one-pass statistics of a pair of equally long numeric arrays.
 *
 * Every element contributes a difference |Δ| defined so that the statistics fail closed:
 * - |a - e| when both values are finite;
 * - 0 when the values are "matched": equal infinities of the same sign, or two NaNs when
 *   `equalNan` is set;
 * - +Infinity for any other pair with a NaN or an infinity (NaN vs 1, +Inf vs -Inf, NaN vs NaN
 *   without `equalNan`), so a mean, a max and an allclose check all see the pair as far apart.
 */

/** Any array the kernel reads directly: every numeric TypedArray but the BigInt ones. */
export type NumericArray =
  | Float32Array
  | Float64Array
  | Int8Array
  | Int16Array
  | Int32Array
  | Uint8Array
  | Uint8ClampedArray
  | Uint16Array
  | Uint32Array

/** How often NaN and ±Infinity occur on one side. */
export interface NonFiniteCensus {
  nan: number
  posInf: number
  negInf: number
}

/** Raw output of the kernel: sums and flat indices, before they become {@link PairStats}. */
export interface KernelStats {
  /** Number of elements compared. */
  n: number
  /** Σ|Δ| in float64. */
  sumAbs: number
  maxAbs: number
  /** Flat index of the first element with the largest |Δ| (-1 when n = 0). */
  argMaxAbs: number
  minAbs: number
  /** max |Δ| / |e| (0/0 counts as 0, x/0 as +Infinity). */
  maxRel: number
  argMaxRel: number
  /** max (|Δ| - rtol·|e|): the smallest atol that passes at this rtol, when ≥ 0. */
  maxExcess: number
  /** Flat index of the element furthest outside allclose: the "worst" element. */
  argMaxExcess: number
  /** Elements with |Δ| > atol + rtol·|e|. */
  mismatches: number
  /**
   * Σ|e|, max |e| and min |e|, with a non-finite e counted as +Infinity: these are the |Δ|
   * statistics an all-zero candidate would get, which is what the vacuity rule asks.
   */
  sumAbsExpected: number
  maxAbsExpected: number
  minAbsExpected: number
  actual: NonFiniteCensus
  expected: NonFiniteCensus
}

/** The tolerance the kernel counts mismatches against. */
export interface KernelTolerance {
  atol: number
  rtol: number
  equalNan: boolean
}

const census = (): NonFiniteCensus => ({ nan: 0, posInf: 0, negInf: 0 })

function countNonFinite(c: NonFiniteCensus, v: number): void {
  if (Number.isNaN(v)) c.nan++
  else if (v === Number.POSITIVE_INFINITY) c.posInf++
  else if (v === Number.NEGATIVE_INFINITY) c.negInf++
}

/**
 * Reference kernel in plain JavaScript: one loop, every statistic, any pair of numeric arrays
 * (mixed types allowed). It is the specification the accelerated kernel is tested against and
 * the path taken for every pair the accelerated kernel does not take.
 */
export function pairStatsJs(
  actual: NumericArray,
  expected: NumericArray,
  tol: KernelTolerance,
): KernelStats {
  const n = actual.length
  if (expected.length !== n) throw new RangeError(`length ${n} != ${expected.length}`)
  const { atol, rtol, equalNan } = tol
  const ca = census()
  const ce = census()
  let sumAbs = 0
  let maxAbs = Number.NEGATIVE_INFINITY
  let argMaxAbs = -1
  let minAbs = Number.POSITIVE_INFINITY
  let maxRel = Number.NEGATIVE_INFINITY
  let argMaxRel = -1
  let maxExcess = Number.NEGATIVE_INFINITY
  let argMaxExcess = -1
  let mismatches = 0
  let sumAbsExpected = 0
  let maxAbsExpected = 0
  let minAbsExpected = Number.POSITIVE_INFINITY
  for (let i = 0; i < n; i++) {
    const a = actual[i] as number
    const e = expected[i] as number
    let d = a - e
    // ae bounds the relative error; mag is what an all-zero candidate would differ by.
    let ae = Math.abs(e)
    let mag = ae
    if (d - d !== 0) {
      // d is NaN or ±Infinity: a non-finite operand, or an overflow of two finite ones.
      if (a - a === 0 && e - e === 0) {
        d = Number.POSITIVE_INFINITY
      } else {
        countNonFinite(ca, a)
        countNonFinite(ce, e)
        const matched = a === e || (equalNan && Number.isNaN(a) && Number.isNaN(e))
        d = matched ? 0 : Number.POSITIVE_INFINITY
        ae = 0
        if (e - e !== 0) mag = Number.POSITIVE_INFINITY
      }
    } else {
      d = Math.abs(d)
    }
    sumAbs += d
    if (d > maxAbs) {
      maxAbs = d
      argMaxAbs = i
    }
    if (d < minAbs) minAbs = d
    const rel = d === 0 ? 0 : d / ae
    if (rel > maxRel) {
      maxRel = rel
      argMaxRel = i
    }
    const excess = d - rtol * ae
    if (excess > maxExcess) {
      maxExcess = excess
      argMaxExcess = i
    }
    if (excess > atol) mismatches++
    sumAbsExpected += mag
    if (mag > maxAbsExpected) maxAbsExpected = mag
    if (mag < minAbsExpected) minAbsExpected = mag
  }
  return {
    n,
    sumAbs,
    maxAbs: n === 0 ? 0 : maxAbs,
    argMaxAbs,
    minAbs: n === 0 ? 0 : minAbs,
    maxRel: n === 0 ? 0 : maxRel,
    argMaxRel,
    maxExcess: n === 0 ? 0 : maxExcess,
    argMaxExcess,
    mismatches,
    sumAbsExpected,
    maxAbsExpected,
    minAbsExpected: n === 0 ? 0 : minAbsExpected,
    actual: ca,
    expected: ce,
  }
}
