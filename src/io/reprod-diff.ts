/**
 * reprod_log's report, in TypeScript: diff two records into the very lines its
 * `ReprodDiffHelper.report` logs, with numpy's values to the last bit, but with a verdict
 * returned, missing keys named, NaN failing and no repeated lines; and the logger's line format.
 */

import { compare } from '../compare/compare.js'
import type { NdArray } from '../compare/dtype.js'
import { AlignInputError } from '../compare/errors.js'
import { describeFailure, formatShape } from '../compare/format.js'
import { DEFAULT_THRESHOLD, type ReprodMethod } from '../compare/options.js'
import type { AlignResult, Failure, KeyResult } from '../compare/result.js'
import {
  type AlignNode,
  type AlignRecord,
  isRecordNode,
  normalize,
  type RecordNode,
} from '../compare/tensor-like.js'
import { absDiffStats } from './numpy-sum.js'
import { pyFloatRepr } from './py-repr.js'
import type { NdRecord } from './types.js'

/** Options of {@link diffReprodLogs}. */
export interface ReprodDiffOptions {
  /** The statistic of |Δ| checked: `'mean'` (default), `'max'`, `'min'`, or `'all'` (all three). */
  method?: ReprodMethod
  /** Each statistic must be <= this (reprod_log: fails only when strictly above). Default 1e-6. */
  threshold?: number
  /**
   * Let a key pass that an all-zero candidate would pass too (see the core's vacuity rule).
   * Default false: such a check proves nothing, and fails with a line saying so.
   */
  allowVacuous?: boolean
}

/** The report of {@link diffReprodLogs}. */
export interface ReprodDiff {
  /** The verdict: every key present on both sides and within the threshold. */
  readonly pass: boolean
  /** The core's result of the same comparison (every key's statistics and failures). */
  readonly result: AlignResult
  /** The report, as reprod_log logs it (without the logger's `[date] root INFO: ` prefix). */
  readonly lines: readonly string[]
}

const INDENT = '\t'
const STATS: Record<ReprodMethod, readonly ('mean' | 'max' | 'min')[]> = {
  mean: ['mean'],
  max: ['max'],
  min: ['min'],
  all: ['min', 'max', 'mean'],
}

const join = (key: string, child: string): string => (key === '' ? child : `${key}.${child}`)

const squeeze = (shape: readonly number[]) => shape.filter((d) => d !== 1)
const sameSqueezed = (a: readonly number[], b: readonly number[]) => {
  const x = squeeze(a)
  const y = squeeze(b)
  return x.length === y.length && x.every((d, i) => d === y[i])
}

/** A statistic as reprod_log prints it: `'{}'.format` of a numpy scalar. */
function formatStat(v: number | bigint, integer: boolean): string {
  if (typeof v === 'bigint') return v.toString()
  return integer ? String(v) : pyFloatRepr(v)
}

/**
 * Diffs two reprod_log records into reprod_log's report: for each key of the reference (in its
 * order), `key: ` and one line per statistic, `\tmean diff: check passed: True, value:
 * 2.308018565599923e-06`; a nested dict prints `key` and its keys one tab deeper; the last line
 * is `diff check passed` or `diff check failed`. Each value is what numpy computes
 * (`np.abs(ref - cand).mean()` in the arrays' dtype, with numpy's pairwise summation), printed as
 * Python prints a float, so the lines equal reprod_log's byte for byte.
 *
 * Unlike reprod_log, the verdict is returned (and comes from {@link compare} with `{ method,
 * threshold, shape: 'squeeze' }`); a key missing on either side is a line
 * (`loss_3: missing from candidate`) and a failure, not a bare assert; a NaN or infinite
 * statistic fails (`check passed: False, value: nan`); a failing statistic does not make the
 * key's later statistics print False; and when the core fails a key for a reason reprod_log
 * has no line for (shapes that differ beyond size-1 dimensions, a vacuous check, a statistic
 * that passes in the dtype's precision but not exactly), an indented `check failed: ...` line
 * says why. Shapes that differ only by size-1 dimensions (`()` vs `(1,)`) are compared element
 * by element, as numpy broadcasts them.
 *
 * @param reference The reference record (reprod_log's first dict: the PyTorch side).
 * @param candidate The record of the port.
 * @throws {AlignOptionsError} for a bad method or threshold.
 * @throws {AlignInputError} when either side is not a record of arrays.
 */
export function diffReprodLogs(
  reference: NdRecord | AlignRecord,
  candidate: NdRecord | AlignRecord,
  options: ReprodDiffOptions = {},
): ReprodDiff {
  const method = options.method ?? 'mean'
  const threshold = options.threshold ?? DEFAULT_THRESHOLD
  const ref = normalize(reference, 'expected')
  const cand = normalize(candidate, 'actual')
  if (!isRecordNode(ref)) throw new AlignInputError('', 'expected', 'a record is needed')
  if (!isRecordNode(cand)) throw new AlignInputError('', 'actual', 'a record is needed')
  // the core's verdict on the same pair (it walks the keys in the same order as below)
  const result = compare(candidate, reference, {
    method,
    threshold,
    shape: 'squeeze',
    ...(options.allowVacuous !== undefined && { allowVacuous: options.allowVacuous }),
  })

  const lines: string[] = []
  let linesPass = true
  let at = 0
  const next = (key: string): KeyResult => {
    const k = result.keys[at++]
    if (k === undefined || k.key !== key) throw new Error(`internal: no result for key '${key}'`)
    return k
  }
  const explain = (k: KeyResult, f: Failure, indent: string): string => {
    if (f.kind === 'shape') {
      return `${indent}check failed: shapes differ beyond size-1 dimensions: reference ${formatShape(k.expected?.shape ?? [])}, candidate ${formatShape(k.actual?.shape ?? [])}`
    }
    if (f.kind === 'structure') {
      return `${indent}check failed: the reference is ${f.expected === 'record' ? 'a dict' : 'an array'}, the candidate ${f.actual === 'record' ? 'a dict' : 'an array'}`
    }
    if (f.kind === 'threshold') {
      // numpy's value (in the dtype's precision) passed; the exact one does not
      return `${indent}check failed: ${f.method} |Δ| computed exactly (float64) is ${pyFloatRepr(f.value)}, above ${pyFloatRepr(f.threshold)}`
    }
    return `${indent}check failed: ${describeFailure(k, f)}`
  }

  const leaf = (k: KeyResult, e: NdArray, a: NdArray, level: number): void => {
    const indent = INDENT.repeat(level + 1)
    const printed = new Map<string, boolean>()
    if (e.data.length === a.data.length && sameSqueezed(e.shape, a.shape)) {
      const s = absDiffStats(e, a)
      const integer = s.dtype !== 'float16' && s.dtype !== 'float32' && s.dtype !== 'float64'
      if (s.n > 0) {
        for (const stat of STATS[method]) {
          const v = s[stat] as number | bigint
          const ok =
            typeof v === 'bigint' ? !(Number(v) > threshold) : !Number.isNaN(v) && !(v > threshold)
          printed.set(stat, ok)
          linesPass &&= ok
          lines.push(
            `${indent}${stat} diff: check passed: ${ok ? 'True' : 'False'}, value: ${formatStat(v, integer && stat !== 'mean')}`,
          )
        }
      }
    }
    for (const f of k.failures) {
      // a failed statistic already printed as False needs no second line
      if (f.kind === 'threshold' && printed.get(f.method) === false) continue
      lines.push(explain(k, f, indent))
    }
  }

  const walk = (
    a: AlignNode | undefined,
    e: AlignNode | undefined,
    key: string,
    name: string,
    level: number,
  ): void => {
    const indent = INDENT.repeat(level)
    if (a === undefined || e === undefined) {
      next(key)
      lines.push(`${indent}${name}: missing from ${a === undefined ? 'candidate' : 'reference'}`)
      return
    }
    const aRec = isRecordNode(a)
    const eRec = isRecordNode(e)
    if (aRec && eRec) {
      lines.push(`${indent}${name}`)
      entries(a, e, key, level + 1)
      return
    }
    const k = next(key)
    lines.push(`${indent}${name}: `)
    if (aRec || eRec) {
      for (const f of k.failures) lines.push(explain(k, f, INDENT.repeat(level + 1)))
      return
    }
    leaf(k, e as NdArray, a as NdArray, level)
  }

  const entries = (a: RecordNode, e: RecordNode, key: string, level: number): void => {
    for (const [k, ev] of e.entries) walk(a.entries.get(k), ev, join(key, k), k, level)
    for (const [k, av] of a.entries) {
      if (!e.entries.has(k)) walk(av, undefined, join(key, k), k, level)
    }
  }

  entries(cand, ref, '', 0)
  // what the core found beyond the keys (nothing compared at all)
  for (; at < result.keys.length; at++) {
    const k = result.keys[at] as KeyResult
    for (const f of k.failures) lines.push(explain(k, f, ''))
  }
  const pass = result.pass && linesPass
  lines.push(pass ? 'diff check passed' : 'diff check failed')
  return { pass, result, lines }
}

const pad = (n: number) => String(n).padStart(2, '0')

/**
 * The report as reprod_log's logger writes it: each line prefixed with
 * `[YYYY/MM/DD HH:MM:SS] root INFO: ` (local time, as Python's logging) and ended by `\n`.
 */
export function formatReprodLog(lines: readonly string[], date: Date = new Date()): string {
  const stamp = `${date.getFullYear()}/${pad(date.getMonth() + 1)}/${pad(date.getDate())} ${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`
  return lines.map((line) => `[${stamp}] root INFO: ${line}\n`).join('')
}
