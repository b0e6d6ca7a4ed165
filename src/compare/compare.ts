/**
 * The one compare pipeline: normalize both sides, pair them key by key, compute each pair's
 * statistics in one pass, judge them, and return plain data. No test-runner import: the
 * matchers, the reporter, the CLI and the file round trip all call this.
 */

import { elementAt, type NdArray, numericView } from './dtype.js'
import { diffHistogram } from './histogram.js'
import { pairStats } from './kernel/index.js'
import {
  type AlignOptions,
  optionsForKey,
  resolveOptions,
  type Tolerance,
  validateOptions,
} from './options.js'
import type { AlignResult, ArraySummary, Failure, KeyResult, PairStats } from './result.js'
import { type AlignNode, isRecordNode, normalize } from './tensor-like.js'
import { isVacuous, passingTolerance, ruleFailures } from './tolerance.js'

/** What a report needs beyond the verdict, at a small extra cost. */
export interface CompareExtras {
  /** Add a sampled |Δ| histogram to every pair's statistics (see {@link diffHistogram}). */
  histogram?: boolean
}

interface Context {
  readonly options: AlignOptions
  readonly extras: CompareExtras
}

/**
 * Compares `actual` with `expected` (arrays, tensors, or records of them) and returns every
 * key's statistics and verdict. Throws only on bad input or bad options (typed errors naming
 * the key or option); a failed alignment is a result with `pass: false`.
 */
export function compare(
  actual: unknown,
  expected: unknown,
  options: AlignOptions = {},
  extras: CompareExtras = {},
): AlignResult {
  validateOptions(options)
  const keys: KeyResult[] = []
  const ctx = { options, extras }
  walk(normalize(actual, 'actual'), normalize(expected, 'expected'), '', ctx, keys)
  if (keys.length === 0 && !options.allowVacuous) {
    // Two empty records: nothing was compared, so nothing was proven.
    keys.push({ key: '', pass: false, failures: [{ kind: 'vacuous' }] })
  }
  return { pass: keys.every((k) => k.pass), keys }
}

const join = (key: string, child: string): string => (key === '' ? child : `${key}.${child}`)

function summary(node: AlignNode | undefined): ArraySummary | undefined {
  return node === undefined || isRecordNode(node)
    ? undefined
    : { shape: node.shape, dtype: node.dtype }
}

function walk(
  a: AlignNode | undefined,
  e: AlignNode | undefined,
  key: string,
  ctx: Context,
  out: KeyResult[],
): void {
  if (a === undefined || e === undefined) {
    const side = summary(a ?? e)
    out.push({
      key,
      pass: false,
      ...(side && (a ? { actual: side } : { expected: side })),
      failures: [{ kind: a === undefined ? 'missing' : 'extra' }],
    })
    return
  }
  const aRec = isRecordNode(a)
  const eRec = isRecordNode(e)
  if (aRec && eRec) {
    // The expected side's order first, as reprod_log iterates its reference dict.
    for (const [k, ev] of e.entries) walk(a.entries.get(k), ev, join(key, k), ctx, out)
    for (const [k, av] of a.entries) {
      if (!e.entries.has(k)) walk(av, undefined, join(key, k), ctx, out)
    }
    return
  }
  if (aRec || eRec) {
    const sa = summary(a)
    const se = summary(e)
    out.push({
      key,
      pass: false,
      ...(sa && { actual: sa }),
      ...(se && { expected: se }),
      failures: [
        {
          kind: 'structure',
          actual: aRec ? 'record' : 'array',
          expected: eRec ? 'record' : 'array',
        },
      ],
    })
    return
  }
  out.push(comparePair(a as NdArray, e as NdArray, key, ctx))
}

const size = (shape: readonly number[]): number => shape.reduce((p, d) => p * d, 1)
const squeeze = (shape: readonly number[]): number[] => shape.filter((d) => d !== 1)
const sameShape = (x: readonly number[], y: readonly number[]): boolean =>
  x.length === y.length && x.every((d, i) => d === y[i])

/** Row-major multi-dimensional index of a flat position. */
export function unravel(flat: number, shape: readonly number[]): number[] {
  const index = new Array<number>(shape.length).fill(0)
  for (let i = shape.length - 1; i >= 0; i--) {
    const d = shape[i] as number
    index[i] = flat % d
    flat = Math.floor(flat / d)
  }
  return index
}

function comparePair(a: NdArray, e: NdArray, key: string, ctx: Context): KeyResult {
  const keyOptions = optionsForKey(ctx.options, key)
  const resolved = resolveOptions(keyOptions, a.dtype, e.dtype)
  const { rule } = resolved
  const base = {
    key,
    actual: { shape: a.shape, dtype: a.dtype },
    expected: { shape: e.shape, dtype: e.dtype },
    rule,
  }
  const failures: Failure[] = []
  const shapesMatch =
    resolved.shape === 'strict'
      ? sameShape(a.shape, e.shape)
      : sameShape(squeeze(a.shape), squeeze(e.shape))
  if (!shapesMatch) failures.push({ kind: 'shape' })
  if (resolved.checkDtype && a.dtype !== e.dtype) failures.push({ kind: 'dtype' })
  // Without the same element count there is nothing to pair element by element.
  if (size(a.shape) !== size(e.shape)) return { ...base, pass: false, failures }

  // Mismatches are counted against allclose even under a reprod_log rule, with the dtype
  // defaults there, so every report says how many elements are off.
  const close = resolveOptions({ ...keyOptions, method: 'allclose' }, a.dtype, e.dtype).rule
  const tol: Tolerance = close.method === 'allclose' ? close : { atol: 0, rtol: 0 }
  const av = numericView(a)
  const ev = numericView(e)
  const k = pairStats(av, ev, { ...tol, equalNan: resolved.equalNan })
  const mismatches = Math.max(exactIntegerMismatches(a, e, tol) ?? 0, k.mismatches)
  const worstFlat = rule.method === 'allclose' ? k.argMaxExcess : k.argMaxAbs
  const stats: PairStats = {
    n: k.n,
    meanAbs: k.n === 0 ? 0 : k.sumAbs / k.n,
    maxAbs: k.maxAbs,
    minAbs: k.minAbs,
    maxRel: k.maxRel,
    mismatches,
    ...(worstFlat >= 0 && {
      worst: {
        index: unravel(worstFlat, e.shape),
        actual: elementAt(a, worstFlat),
        expected: elementAt(e, worstFlat),
      },
    }),
    maxAbsExpected: k.maxAbsExpected,
    meanAbsExpected: k.n === 0 ? 0 : k.sumAbsExpected / k.n,
    minAbsExpected: k.minAbsExpected,
    nonFinite: { actual: k.actual, expected: k.expected },
    ...(ctx.extras.histogram && { histogram: diffHistogram(av, ev, resolved.equalNan) }),
  }
  const ruleFails = ruleFailures(rule, stats)
  failures.push(...ruleFails)
  if (failures.length === 0 && !resolved.allowVacuous && isVacuous(rule, stats)) {
    failures.push({ kind: 'vacuous' })
  }
  return {
    ...base,
    pass: failures.length === 0,
    stats,
    failures,
    ...(ruleFails.length > 0 && { wouldPass: passingTolerance(rule, stats, k.maxExcess) }),
  }
}

/**
 * int64/uint64 go through float64 in the kernel, exact only up to 2^53; under an exact rule two
 * bigint arrays are also compared as bigints, so a difference in the low bits still counts.
 */
function exactIntegerMismatches(a: NdArray, e: NdArray, tol: Tolerance): number | undefined {
  if (
    tol.atol !== 0 ||
    tol.rtol !== 0 ||
    typeof a.data[0] !== 'bigint' ||
    typeof e.data[0] !== 'bigint'
  )
    return undefined
  let count = 0
  for (let i = 0; i < a.data.length; i++) if (a.data[i] !== e.data[i]) count++
  return count
}
