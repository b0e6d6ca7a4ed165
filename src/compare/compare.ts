/**
 * The one compare pipeline: normalize both sides, pair them key by key, compute each pair's
 * statistics in one pass, judge them, and return plain data. No test-runner import: the
 * matchers, the reporter, the CLI and the file round trip all call this.
 */

import { type DType, elementAt, type NdArray, numericView } from './dtype.js'
import { type ExactDiff, exactIntStats, isExactPair } from './exact-int.js'
import { diffHistogram } from './histogram.js'
import { type PairInput, pairStats, pairStatsMany, WASM_MIN_LENGTH } from './kernel/index.js'
import {
  type AlignOptions,
  type KeyOptions,
  limitsOf,
  optionsForKey,
  type ResolvedOptions,
  resolveOptions,
  type Tolerance,
  validateOptions,
} from './options.js'
import type { AlignResult, ArraySummary, Failure, KeyResult, PairStats } from './result.js'
import type { KernelStats, KernelTolerance } from './stats.js'
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
  /** The options of every key when no `keys` overrides exist: resolved once per dtype pair. */
  readonly shared: KeyOptions | undefined
  readonly resolved: Map<string, PairOptions>
  last?: { readonly a: DType; readonly e: DType; readonly o: PairOptions }
  /** The pairs whose statistics the kernel computes, all at once after the walk. */
  readonly pending: Pending[]
  readonly inputs: PairInput[]
}

/** A pair waiting for its statistics: its place in the results and what its verdict needs. */
interface Pending {
  readonly index: number
  readonly a: NdArray
  readonly e: NdArray
  readonly key: string
  readonly o: PairOptions
  readonly failures: Failure[]
}

/** The place of a pending pair's result until the kernel has run. */
const PLACEHOLDER: KeyResult = { key: '', pass: false, failures: [] }

/** One pair's options, resolved: the rule's, and the allclose tolerance mismatches count at. */
interface PairOptions {
  readonly resolved: ResolvedOptions
  readonly kernel: KernelTolerance
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
  const ctx: Context = {
    options,
    extras,
    shared: options.keys === undefined ? optionsForKey(options, '') : undefined,
    resolved: new Map(),
    pending: [],
    inputs: [],
  }
  const limits = limitsOf(options)
  // both sides are normalized (and bounded) before any pair is compared
  const a = normalize(actual, 'actual', '', limits)
  const e = normalize(expected, 'expected', '', limits)
  walk(a, e, '', ctx, keys)
  // every pair's statistics in one batch: a record's pairs can then run on two threads
  if (ctx.pending.length > 0) {
    const stats = pairStatsMany(ctx.inputs)
    for (let j = 0; j < ctx.pending.length; j++) {
      const p = ctx.pending[j] as Pending
      keys[p.index] = finishPair(p.a, p.e, p.key, p.o, p.failures, stats[j] as KernelStats, ctx)
    }
  }
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
    const ae = a.entries
    const ee = e.entries
    // forEach: no [key, value] array per entry
    let found = 0
    ee.forEach((ev, k) => {
      const av = ae.get(k)
      if (av !== undefined) found++
      walk(av, ev, join(key, k), ctx, out)
    })
    // the actual side's extra keys, if it has any
    if (found < ae.size) {
      ae.forEach((av, k) => {
        if (!ee.has(k)) walk(av, undefined, join(key, k), ctx, out)
      })
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
  comparePair(a as NdArray, e as NdArray, key, ctx, out)
}

function size(shape: readonly number[]): number {
  let p = 1
  for (let i = 0; i < shape.length; i++) p *= shape[i] as number
  return p
}

function sameShape(x: readonly number[], y: readonly number[]): boolean {
  if (x.length !== y.length) return false
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false
  return true
}

/** sameShape of the two shapes without their 1s, without building them. */
function sameSqueezed(x: readonly number[], y: readonly number[]): boolean {
  let i = 0
  let j = 0
  for (;;) {
    while (i < x.length && x[i] === 1) i++
    while (j < y.length && y[j] === 1) j++
    if (i === x.length || j === y.length) return i === x.length && j === y.length
    if (x[i] !== y[j]) return false
    i++
    j++
  }
}

/** Row-major multi-dimensional index of a flat position. */
export function unravel(flat: number, shape: readonly number[]): number[] {
  const index: number[] = []
  for (let i = 0; i < shape.length; i++) index.push(0)
  for (let i = shape.length - 1; i >= 0; i--) {
    const d = shape[i] as number
    index[i] = flat % d
    flat = Math.floor(flat / d)
  }
  return index
}

function pairOptions(keyOptions: KeyOptions, a: DType, e: DType): PairOptions {
  const resolved = resolveOptions(keyOptions, a, e)
  // Mismatches are counted against allclose even under a reprod_log rule, with the dtype
  // defaults there, so every report says how many elements are off.
  const close =
    resolved.rule.method === 'allclose'
      ? resolved.rule
      : resolveOptions({ ...keyOptions, method: 'allclose' }, a, e).rule
  const tol: Tolerance = close.method === 'allclose' ? close : { atol: 0, rtol: 0 }
  return { resolved, kernel: { atol: tol.atol, rtol: tol.rtol, equalNan: resolved.equalNan } }
}

function optionsOfPair(a: NdArray, e: NdArray, key: string, ctx: Context): PairOptions {
  if (ctx.shared === undefined)
    return pairOptions(optionsForKey(ctx.options, key), a.dtype, e.dtype)
  // a record's pairs mostly share one dtype pair: no key string to build for those
  const last = ctx.last
  if (last !== undefined && last.a === a.dtype && last.e === e.dtype) return last.o
  const id = `${a.dtype}|${e.dtype}`
  let o = ctx.resolved.get(id)
  if (o === undefined) {
    o = pairOptions(ctx.shared, a.dtype, e.dtype)
    ctx.resolved.set(id, o)
  }
  ctx.last = { a: a.dtype, e: e.dtype, o }
  return o
}

function comparePair(a: NdArray, e: NdArray, key: string, ctx: Context, out: KeyResult[]): void {
  const o = optionsOfPair(a, e, key, ctx)
  const { resolved, kernel: tol } = o
  const failures: Failure[] = []
  const shapesMatch =
    resolved.shape === 'strict' ? sameShape(a.shape, e.shape) : sameSqueezed(a.shape, e.shape)
  if (!shapesMatch) {
    const squeezable = resolved.shape === 'strict' && sameSqueezed(a.shape, e.shape)
    failures.push(squeezable ? { kind: 'shape', squeezable } : { kind: 'shape' })
  }
  if (resolved.checkDtype && a.dtype !== e.dtype) failures.push({ kind: 'dtype' })
  // Without the same element count there is nothing to pair element by element.
  if (a.data.length !== e.data.length || size(a.shape) !== size(e.shape)) {
    const actual = { shape: a.shape, dtype: a.dtype }
    const expected = { shape: e.shape, dtype: e.dtype }
    out.push({ key, actual, expected, rule: resolved.rule, pass: false, failures })
    return
  }
  if (isExactPair(a.dtype, e.dtype)) {
    const { stats, exact } = exactIntStats(a, e, tol)
    out.push(finishPair(a, e, key, o, failures, stats, ctx, exact))
    return
  }
  if (a.data.length < WASM_MIN_LENGTH) {
    // the JS kernel's: nothing for a batch to share
    const stats = pairStats(numericView(a), numericView(e), tol)
    out.push(finishPair(a, e, key, o, failures, stats, ctx))
    return
  }
  ctx.pending.push({ index: out.length, a, e, key, o, failures })
  ctx.inputs.push({ actual: numericView(a), expected: numericView(e), tol })
  out.push(PLACEHOLDER)
}

const NONE: readonly Failure[] = []

/** A pair's result from its statistics. */
function finishPair(
  a: NdArray,
  e: NdArray,
  key: string,
  o: PairOptions,
  failures: Failure[],
  k: KernelStats,
  ctx: Context,
  exact?: ExactDiff,
): KeyResult {
  const { resolved } = o
  const { rule } = resolved
  const actual = { shape: a.shape, dtype: a.dtype }
  const expected = { shape: e.shape, dtype: e.dtype }
  const worstFlat = rule.method === 'allclose' ? k.argMaxExcess : k.argMaxAbs
  // two literals rather than conditional spreads: this runs once per key of a record
  const n = k.n
  const meanAbs = n === 0 ? 0 : k.sumAbs / n
  const { maxAbs, minAbs, maxRel, mismatches, maxAbsExpected, minAbsExpected } = k
  const meanAbsExpected = n === 0 ? 0 : k.sumAbsExpected / n
  const nonFinite = { actual: k.actual, expected: k.expected }
  const stats: PairStats =
    worstFlat < 0
      ? {
          n,
          meanAbs,
          maxAbs,
          minAbs,
          maxRel,
          mismatches,
          maxAbsExpected,
          meanAbsExpected,
          minAbsExpected,
          nonFinite,
        }
      : {
          n,
          meanAbs,
          maxAbs,
          minAbs,
          maxRel,
          mismatches,
          worst: {
            index: unravel(worstFlat, e.shape),
            actual: elementAt(a, worstFlat),
            expected: elementAt(e, worstFlat),
          },
          maxAbsExpected,
          meanAbsExpected,
          minAbsExpected,
          nonFinite,
        }
  if (ctx.extras.histogram) {
    // the literal is this function's own: the histogram goes last, as a spread would put it
    ;(stats as { histogram?: PairStats['histogram'] }).histogram = diffHistogram(
      numericView(a),
      numericView(e),
      resolved.equalNan,
    )
  }
  // a passing allclose pair (the common case) has no failures to build
  const ruleFails =
    rule.method === 'allclose' && k.mismatches === 0 ? NONE : ruleFailures(rule, stats, exact)
  for (let i = 0; i < ruleFails.length; i++) failures.push(ruleFails[i] as Failure)
  if (failures.length === 0 && !resolved.allowVacuous && isVacuous(rule, stats, exact)) {
    failures.push({ kind: 'vacuous' })
  }
  const pass = failures.length === 0
  if (ruleFails.length === 0) return { key, actual, expected, rule, pass, stats, failures }
  const wouldPass = passingTolerance(rule, stats, k.maxExcess, exact)
  return { key, actual, expected, rule, pass, stats, failures, wouldPass }
}
