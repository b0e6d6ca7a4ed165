/**
 * The noise-floor rule: a candidate is judged against the reference's own numerical noise,
 * measured by the caller as several runs of the reference that should agree but do not
 * exactly (float64 against float32, a perturbation at the last bit, another thread count).
 * Past the first steps of a chaotic training run no fixed tolerance holds for any correct port;
 * a multiple of the reference's own spread does. Pure: no test-runner import.
 */

import { compare } from './compare.js'
import { elementAt, type NdArray, numericView } from './dtype.js'
import { AlignOptionsError } from './errors.js'
import { type AlignOptions, type NoiseRule, optionsForKey, resolveOptions } from './options.js'
import {
  type AlignResult,
  type Failure,
  type KeyResult,
  NOISE_CURVE_MAX,
  type NoiseCurve,
  type NoiseStats,
  type NoiseWorst,
} from './result.js'
import { type AlignNode, isRecordNode, normalize } from './tensor-like.js'

/** The default multiple of the reference's spread a candidate may differ by. */
export const DEFAULT_NOISE_FACTOR = 3

/**
 * Options of {@link compareWithinNoise}: the allclose options (their `atol` and `rtol`, by
 * dtype as ever, are the floor of the band), minus the rule, plus the multiple of the spread.
 */
export interface NoiseOptions extends Omit<AlignOptions, 'method' | 'threshold'> {
  /**
   * The multiple of the reference's spread the candidate may differ by. Default
   * {@link DEFAULT_NOISE_FACTOR} (3): a correct port is one more run of the reference, so its
   * distance to the reference is of the order of the runs' own; 3 leaves room for it to be the
   * worst of them without letting through an error several times the noise.
   */
  factor?: number
}

const join = (key: string, child: string): string => (key === '' ? child : `${key}.${child}`)

/** The arrays of a normalized input by dotted key, in the input's order ('' for a lone array). */
function leaves(node: AlignNode, key: string, out: Map<string, NdArray>): Map<string, NdArray> {
  if (!isRecordNode(node)) {
    out.set(key, node)
    return out
  }
  node.entries.forEach((v, k) => {
    leaves(v, join(key, k), out)
  })
  return out
}

function sameShape(x: readonly number[], y: readonly number[]): boolean {
  return x.length === y.length && x.every((d, i) => d === y[i])
}

/**
 * Compares `candidate` with `reference` against the reference's own noise, key by key.
 *
 * For element i of a key, with `e` the reference and `r_1..r_K` the noise runs (each the same
 * structure and shapes as the reference):
 *
 * - `spread_i = max_k |r_k,i - e_i|`: how far the reference's own runs stray from it there;
 * - `bound_i = factor·spread_i + atol + rtol·|e_i|`: the floor `atol + rtol·|e_i|` is the
 *   allclose tolerance (dtype defaults), so that where the runs agree exactly (step 0 of a
 *   training run, from the same weights) the check is allclose, not an exact equality no port
 *   could meet;
 * - the element passes when `|a_i - e_i| <= bound_i`.
 *
 * It fails closed: a NaN or ±Inf in the candidate where the reference differs fails; a noise
 * run that is missing, of another shape or not finite fails the key (`noise-run`), as a spread
 * cannot be measured from it; shapes must match as in `compare()`. A key is vacuous (and fails,
 * unless `allowVacuous`) when an all-zero candidate would pass at every element: the runs
 * spread so widely that the band holds zero, so the check proves nothing. Throws
 * {@link AlignOptionsError} on bad options (no runs, a bad factor).
 */
export function compareWithinNoise(
  candidate: unknown,
  reference: unknown,
  noise: readonly unknown[],
  options: NoiseOptions = {},
): AlignResult {
  if (!Array.isArray(noise) || noise.length === 0) {
    throw new AlignOptionsError('noise', 'must be a non-empty array of runs of the reference')
  }
  const { factor = DEFAULT_NOISE_FACTOR, ...alignOptions } = options
  if (typeof factor !== 'number' || !Number.isFinite(factor) || factor < 0) {
    throw new AlignOptionsError('factor', `must be a finite number >= 0, got ${String(factor)}`)
  }
  // the base comparison: shapes, dtypes, NaN census, |Δ| statistics, missing and extra keys
  const base = compare(candidate, reference, { ...alignOptions, allowVacuous: true })
  const ref = leaves(normalize(reference, 'expected'), '', new Map())
  const cand = leaves(normalize(candidate, 'actual'), '', new Map())
  const runs = noise.map((r, i) => leaves(normalize(r, 'expected', `noise[${i}]`), '', new Map()))
  const keys = base.keys.map((k): KeyResult => {
    const e = ref.get(k.key)
    const a = cand.get(k.key)
    if (e === undefined || a === undefined || k.stats === undefined) return k
    const o = resolveOptions(optionsForKey({ ...alignOptions }, k.key), a.dtype, e.dtype)
    const floor = o.rule.method === 'allclose' ? o.rule : { atol: 0, rtol: 0 }
    const rule: NoiseRule = {
      method: 'noise',
      factor,
      atol: floor.atol,
      rtol: floor.rtol,
      runs: noise.length,
    }
    const failures: Failure[] = k.failures.filter((f) => f.kind === 'shape' || f.kind === 'dtype')
    const runArrays: (NdArray | undefined)[] = runs.map((r, i) => {
      const run = r.get(k.key)
      if (run === undefined || !sameShape(run.shape, e.shape)) {
        failures.push({
          kind: 'noise-run',
          run: i,
          problem: run === undefined ? 'missing' : 'shape',
        })
        return undefined
      }
      return run
    })
    const measured = noiseStats(a, e, runArrays, rule, o.equalNan)
    for (const bad of measured.nonFiniteRuns)
      failures.push({ kind: 'noise-run', run: bad, problem: 'non-finite' })
    const { stats: noiseResult, wouldFactor } = measured
    if (noiseResult.outside > 0)
      failures.push({ kind: 'noise', outside: noiseResult.outside, n: k.stats.n })
    if (failures.length === 0 && !o.allowVacuous && noiseResult.zeroInside === k.stats.n) {
      failures.push({ kind: 'vacuous' })
    }
    const w = noiseResult.worst
    const stats = {
      ...k.stats,
      mismatches: noiseResult.outside,
      ...(w && { worst: { index: w.index, actual: w.actual, expected: w.expected } }),
    }
    const { wouldPass: _w, ...rest } = k
    return {
      ...rest,
      rule,
      stats,
      failures,
      pass: failures.length === 0,
      noise: noiseResult,
      ...(noiseResult.outside > 0 && { wouldPass: { factor: wouldFactor } }),
    }
  })
  return { pass: keys.every((k) => k.pass), keys }
}

/** |a - e| as the statistics define it: matched non-finite pairs 0, any other +Infinity. */
function diffOf(a: number, e: number, equalNan: boolean): number {
  const d = a - e
  if (d - d === 0) return Math.abs(d)
  if (a === e || (equalNan && Number.isNaN(a) && Number.isNaN(e))) return 0
  return Number.POSITIVE_INFINITY
}

function unravel(flat: number, shape: readonly number[]): number[] {
  const index = shape.map(() => 0)
  for (let i = shape.length - 1; i >= 0; i--) {
    const d = shape[i] as number
    index[i] = flat % d
    flat = Math.floor(flat / d)
  }
  return index
}

/** One key's noise statistics, the runs that were not finite, and the factor that would pass. */
function noiseStats(
  a: NdArray,
  e: NdArray,
  runs: readonly (NdArray | undefined)[],
  rule: NoiseRule,
  equalNan: boolean,
): { stats: NoiseStats; nonFiniteRuns: number[]; wouldFactor: number } {
  const av = numericView(a)
  const ev = numericView(e)
  const rv = runs.map((r) => (r === undefined ? undefined : numericView(r)))
  const n = Math.min(av.length, ev.length)
  const nonFinite = new Set<number>()
  const withCurve = e.shape.length === 1 && n <= NOISE_CURVE_MAX
  const curve = { actual: [] as number[], expected: [] as number[], bound: [] as number[] }
  const outsideAt: number[] = []
  const lo: number[] = []
  const hi: number[] = []
  let maxSpread = 0
  let sumSpread = 0
  let outside = 0
  let zeroInside = 0
  let worstFlat = -1
  let worstRatio = -1
  let wouldFactor = 0
  let worst: Omit<NoiseWorst, 'index' | 'actual' | 'expected'> | undefined
  for (let i = 0; i < n; i++) {
    const x = av[i] as number
    const y = ev[i] as number
    let spread = 0
    let min = y
    let max = y
    for (let k = 0; k < rv.length; k++) {
      const run = rv[k]
      if (run === undefined) continue
      const r = run[i] as number
      const s = diffOf(r, y, equalNan)
      if (!Number.isFinite(s) || !Number.isFinite(r)) nonFinite.add(k)
      if (s > spread) spread = s
      if (r < min) min = r
      if (r > max) max = r
    }
    const floor = rule.atol + rule.rtol * (Number.isFinite(y) ? Math.abs(y) : 0)
    const bound = rule.factor * spread + floor
    const d = diffOf(x, y, equalNan)
    // a non-finite spread makes no band: the element fails (the run is named as the reason)
    const inside = Number.isFinite(bound) && d <= bound
    if (!inside) {
      outside++
      if (withCurve) outsideAt.push(i)
    }
    if (Number.isFinite(bound) && Number.isFinite(y) && Math.abs(y) <= bound) zeroInside++
    maxSpread = Math.max(maxSpread, spread)
    sumSpread += spread
    const ratio = d === 0 ? 0 : Number.isFinite(bound) && bound > 0 ? d / bound : Infinity
    if (ratio > worstRatio) {
      worstRatio = ratio
      worstFlat = i
      worst = { spread, bound, diff: d }
    }
    if (d > floor) {
      const need = spread > 0 ? (d - floor) / spread : Number.POSITIVE_INFINITY
      if (need > wouldFactor) wouldFactor = need
    }
    if (withCurve) {
      curve.actual.push(x)
      curve.expected.push(y)
      curve.bound.push(bound)
      lo.push(min)
      hi.push(max)
    }
  }
  const finiteCurve =
    withCurve &&
    [curve.actual, curve.expected, curve.bound, lo, hi].every((xs) => xs.every(Number.isFinite))
  const nc: NoiseCurve | undefined = finiteCurve
    ? { ...curve, lo, hi, outside: outsideAt }
    : undefined
  const stats: NoiseStats = {
    runs: rule.runs,
    factor: rule.factor,
    maxSpread: nonFinite.size > 0 ? Number.POSITIVE_INFINITY : maxSpread,
    meanSpread: nonFinite.size > 0 ? Number.POSITIVE_INFINITY : n === 0 ? 0 : sumSpread / n,
    outside,
    zeroInside,
    ...(worstFlat >= 0 &&
      worst && {
        worst: {
          index: unravel(worstFlat, e.shape),
          actual: elementAt(a, worstFlat),
          expected: elementAt(e, worstFlat),
          ...worst,
        },
      }),
    ...(nc && { curve: nc }),
  }
  return { stats, nonFiniteRuns: [...nonFinite].sort((x, y) => x - y), wouldFactor }
}
