/**
 * Exact statistics of integer pairs with a 64-bit side (int64, uint64). float64 holds integers
 * exactly only up to 2^53, so the float kernel would see 2^60 and 2^60 + 1 as equal; here |Δ| is
 * a bigint, exact, and so are Σ|Δ|, max, min, the mismatch count and the verdicts drawn from
 * them ({@link exactWithin}). The statistics reported ({@link KernelStats}) are those exact
 * values rounded to the nearest float64; max relative |Δ| and the allclose excess are computed
 * in float64 from the rounded |Δ| and |e|.
 */

import { type DType, isFloat, type NdArray } from './dtype.js'
import type { Tolerance } from './options.js'
import type { KernelStats } from './stats.js'

/** The exact |Δ| and |e| statistics of a pair, beside the rounded ones. */
export interface ExactDiff {
  readonly n: number
  readonly sum: bigint
  readonly max: bigint
  readonly min: bigint
  readonly sumExpected: bigint
  readonly maxExpected: bigint
  readonly minExpected: bigint
}

const is64 = (d: DType): boolean => d === 'int64' || d === 'uint64'

/** Whether a pair takes the exact path: both sides integers (or bool), one of them 64-bit. */
export function isExactPair(a: DType, e: DType): boolean {
  return !isFloat(a) && !isFloat(e) && (is64(a) || is64(e))
}

const big = (v: number | bigint): bigint => (typeof v === 'bigint' ? v : BigInt(v))
const abs = (v: bigint): bigint => (v < 0n ? -v : v)

/** The statistics of an integer pair, exactly (see the header). Integers have no NaN or Inf. */
export function exactIntStats(
  actual: NdArray,
  expected: NdArray,
  tol: Tolerance,
): { stats: KernelStats; exact: ExactDiff } {
  const a = actual.data as ArrayLike<number | bigint>
  const e = expected.data as ArrayLike<number | bigint>
  const n = a.length
  let sum = 0n
  let max = -1n
  let argMaxAbs = -1
  let min = -1n
  let sumE = 0n
  let maxE = 0n
  let minE = -1n
  let maxRel = Number.NEGATIVE_INFINITY
  let argMaxRel = -1
  let maxExcess = Number.NEGATIVE_INFINITY
  let argMaxExcess = -1
  let mismatches = 0
  for (let i = 0; i < n; i++) {
    const ei = big(e[i] as number | bigint)
    const d = abs(big(a[i] as number | bigint) - ei)
    const ae = abs(ei)
    sum += d
    sumE += ae
    if (d > max) {
      max = d
      argMaxAbs = i
    }
    if (min < 0n || d < min) min = d
    if (ae > maxE) maxE = ae
    if (minE < 0n || ae < minE) minE = ae
    const df = Number(d)
    const aef = Number(ae)
    const rel = d === 0n ? 0 : df / aef
    if (rel > maxRel) {
      maxRel = rel
      argMaxRel = i
    }
    const excess = df - tol.rtol * aef
    if (excess > maxExcess) {
      maxExcess = excess
      argMaxExcess = i
    }
    // the bound is a float64; comparing a bigint with it is exact
    if (d > tol.atol + tol.rtol * aef) mismatches++
  }
  const none = { nan: 0, posInf: 0, negInf: 0 }
  const exact: ExactDiff = {
    n,
    sum,
    max: n === 0 ? 0n : max,
    min: n === 0 ? 0n : min,
    sumExpected: sumE,
    maxExpected: maxE,
    minExpected: n === 0 ? 0n : minE,
  }
  const stats: KernelStats = {
    n,
    sumAbs: Number(sum),
    maxAbs: Number(exact.max),
    argMaxAbs,
    minAbs: Number(exact.min),
    maxRel: n === 0 ? 0 : maxRel,
    argMaxRel,
    maxExcess: n === 0 ? 0 : maxExcess,
    argMaxExcess,
    mismatches,
    sumAbsExpected: Number(sumE),
    maxAbsExpected: Number(maxE),
    minAbsExpected: Number(exact.minExpected),
    actual: { ...none },
    expected: { ...none },
  }
  return { stats, exact }
}

const f64 = new Float64Array(1)
const u64 = new BigUint64Array(f64.buffer)

/** A finite double ≥ 0 as m·2^k, m and k integers, exactly. */
function decompose(t: number): { m: bigint; k: bigint } {
  f64[0] = t
  const bits = u64[0] as bigint
  const exp = Number((bits >> 52n) & 0x7ffn)
  const frac = bits & ((1n << 52n) - 1n)
  return exp === 0 ? { m: frac, k: -1074n } : { m: frac | (1n << 52n), k: BigInt(exp - 1075) }
}

/** Whether sum / n ≤ t, exactly (n ≥ 1, t a finite double ≥ 0). */
export function exactRatioWithin(sum: bigint, n: number, t: number): boolean {
  const { m, k } = decompose(t)
  const rhs = m * BigInt(n)
  return k >= 0n ? sum <= rhs << k : sum << -k <= rhs
}

/** The statistic of an {@link ExactDiff} a reprod_log method checks is within `t`, exactly. */
export function exactWithin(
  x: ExactDiff,
  stat: 'mean' | 'max' | 'min',
  t: number,
  side: 'diff' | 'expected' = 'diff',
): boolean {
  const d = side === 'diff'
  if (stat === 'mean') return x.n === 0 || exactRatioWithin(d ? x.sum : x.sumExpected, x.n, t)
  // a bigint compared with a double is exact in JS
  return (stat === 'max' ? (d ? x.max : x.maxExpected) : d ? x.min : x.minExpected) <= t
}

/** The next double above a finite x ≥ 0. */
function nextUp(x: number): number {
  f64[0] = x
  u64[0] = (u64[0] as bigint) + 1n
  return f64[0] as number
}

/** The smallest double the statistic is within (for `wouldPass`): its value rounded up. */
export function exactUpperBound(x: ExactDiff, stat: 'mean' | 'max' | 'min'): number {
  const value = stat === 'mean' ? (x.n === 0 ? 0n : x.sum) : stat === 'max' ? x.max : x.min
  let t = stat === 'mean' && x.n > 0 ? Number(value) / x.n : Number(value)
  while (!exactWithin(x, stat, t)) t = nextUp(t)
  return t
}
