/**
 * reprod_log's report, in TypeScript: the lines its `ReprodDiffHelper.report` logs, rendered
 * from one {@link AlignResult} (the verdict on every line and on the last one is the result's,
 * never judged again here), with numpy's values to the last bit where the arrays are at hand;
 * and its logger's line format. The CLI's `--log` and the reporter's `<stage>_diff.log` are both
 * {@link reprodLogLines}.
 */

import { compare } from '../compare/compare.js'
import type { NdArray } from '../compare/dtype.js'
import { AlignInputError } from '../compare/errors.js'
import {
  describeFailure,
  describeRule,
  escapeText,
  formatShape,
  type KeyView,
  type SideNames,
} from '../compare/format.js'
import type { AlignOptions, ReprodMethod } from '../compare/options.js'
import type { AlignResult, Failure } from '../compare/result.js'
import {
  type AlignNode,
  type AlignRecord,
  isRecordNode,
  normalize,
} from '../compare/tensor-like.js'
import { type AbsDiffStats, absDiffStats, broadcastShape, pairsLikeNumpy } from './numpy-sum.js'
import { pyFloatRepr } from './py-repr.js'
import type { NdRecord } from './types.js'

/**
 * Options of {@link diffReprodLogs}: those of `compare()`, with reprod_log's defaults where they
 * differ: `method: 'mean'` and `shape: 'squeeze'` (its files pair `()` with `(1,)`); pass
 * `shape: 'strict'` to fail such pairs, as the CLI does by default.
 */
export type ReprodDiffOptions = AlignOptions

/** The report of {@link diffReprodLogs}. */
export interface ReprodDiff {
  /** The verdict: `result.pass`. */
  readonly pass: boolean
  /** The comparison the lines render. */
  readonly result: AlignResult
  /** The report, as reprod_log logs it (without the logger's `[date] root INFO: ` prefix). */
  readonly lines: readonly string[]
}

/** One key of the report: where it sits, what the core found, and numpy's values of it. */
export interface LogEntry {
  /**
   * The key's place in its record, one name per dict level (`['blk', 'a']` prints `blk` then
   * `\ta: `); a flat dotted key is one name. Empty for what belongs to no key.
   */
  readonly path: readonly string[]
  /** The core's result for the key (or a recorded check read back). */
  readonly key: KeyView
  /** `np.abs(reference - candidate)`'s statistics as numpy computes them, when known. */
  readonly numpy?: AbsDiffStats
}

type Stat = Exclude<ReprodMethod, 'all'>

const INDENT = '\t'
const SIDES: SideNames = { actual: 'candidate', expected: 'reference' }
const STATS: Record<ReprodMethod, readonly Stat[]> = {
  mean: ['mean'],
  max: ['max'],
  min: ['min'],
  all: ['min', 'max', 'mean'],
}
const CORE_STAT = { mean: 'meanAbs', max: 'maxAbs', min: 'minAbs' } as const
const INTEGER = /^(u?int\d+|bool)$/

const isIntegerPair = (k: KeyView): boolean =>
  INTEGER.test(k.actual?.dtype ?? '') && INTEGER.test(k.expected?.dtype ?? '')

/** A value as reprod_log prints it: `'{}'.format` of a numpy scalar (integers as integers). */
function formatValue(v: number | bigint, integer: boolean): string {
  if (typeof v === 'bigint') return v.toString()
  return integer && Number.isInteger(v) ? String(v) : pyFloatRepr(v)
}

/** Whether the statistic's verdict is a pass: the rule's failures, as the core judged them. */
function statPasses(k: KeyView, stat: Stat): boolean {
  if (k.rule?.method === 'allclose') return !k.failures.some((f) => f.kind === 'allclose')
  if (k.rule?.method === 'noise') return !k.failures.some((f) => f.kind === 'noise')
  return !k.failures.some((f) => f.kind === 'threshold' && f.method === stat)
}

/**
 * The lines of one pair's statistics, then one line per failure they do not show. A value
 * printed is numpy's when known (else the core's float64 statistic); its True/False is the
 * core's verdict, and where numpy's value alone would read the other way a line says which
 * value judged (the exact one).
 */
function pairLines(entry: LogEntry, indent: string): string[] {
  const k = entry.key
  const lines: string[] = []
  const shown = new Set<Stat>()
  const a = k.actual
  const e = k.expected
  if (a && e && !pairsLikeNumpy(e.shape, a.shape) && k.stats !== undefined) {
    const shape = broadcastShape(e.shape, a.shape)
    lines.push(
      `${indent}note: reference ${formatShape(e.shape)} and candidate ${formatShape(a.shape)} are compared element by element; ${
        shape === undefined
          ? 'reprod_log cannot broadcast them (numpy raises)'
          : `reprod_log would broadcast them to ${formatShape(shape)}`
      }`,
    )
  }
  const rule = k.rule
  const stats = k.stats
  if (rule !== undefined && stats !== undefined && stats.n > 0) {
    const integer = isIntegerPair(k)
    // reprod_log has no allclose or noise line: the rule's own line says what judged, and the
    // mean follows for information, with no verdict of its own
    if (rule.method === 'allclose' || rule.method === 'noise') {
      const mean = entry.numpy?.mean ?? stats.meanAbs
      lines.push(
        ruleLine(k, indent),
        `${indent}mean diff (not judged): value: ${formatValue(mean, false)}`,
      )
    } else
      for (const stat of STATS[rule.method]) {
        const exact = stats[CORE_STAT[stat]]
        const numpy = entry.numpy?.[stat]
        const printed = numpy ?? exact
        const ok = statPasses(k, stat)
        lines.push(
          `${indent}${stat} diff: check passed: ${ok ? 'True' : 'False'}, value: ${formatValue(printed, integer && stat !== 'mean')}`,
        )
        if (!ok) shown.add(stat)
        if (numpy === undefined) continue
        // numpy's value, read against the threshold, would say otherwise: say what judged
        const reads = Number(printed) <= rule.threshold
        if (ok && !reads) {
          const why = Number.isNaN(Number(printed))
            ? ": equal infinities count as equal, where numpy's inf - inf is nan"
            : `; the value printed is numpy's, in ${entry.numpy?.dtype} arithmetic`
          lines.push(
            `${indent}note: judged on ${stat} |Δ| computed exactly (float64), ${pyFloatRepr(exact)}, within ${pyFloatRepr(rule.threshold)}${why}`,
          )
        } else if (!ok && reads) {
          lines.push(
            `${indent}check failed: ${stat} |Δ| computed exactly (float64) is ${pyFloatRepr(exact)}, above ${pyFloatRepr(rule.threshold)}`,
          )
        }
      }
  }
  for (const f of k.failures) {
    // a failed statistic printed False says it already (or the exact line above does)
    if (f.kind === 'threshold' && shown.has(f.method)) continue
    lines.push(`${indent}check failed: ${failureText(k, f)}`)
  }
  return lines
}

/**
 * The line of a rule reprod_log does not have, in the form of its own lines and named for the
 * rule that judged: `allclose atol=1e-5 rtol=1.3e-6: check passed: False, value: 1 / 3
 * elements outside` (printing the mean's line with the rule's verdict read as if the mean had
 * failed). The count is the rule's own, from the failure when it failed, else 0 outside.
 */
function ruleLine(k: KeyView, indent: string): string {
  const rule = k.rule
  const n = k.stats?.n ?? 0
  let outside = 0
  for (const f of k.failures) {
    if (f.kind === 'allclose') outside = f.mismatches
    if (f.kind === 'noise') outside = f.outside
  }
  const ok = statPasses(k, 'mean')
  const name = rule === undefined ? 'rule' : describeRule(rule)
  return `${indent}${name}: check passed: ${ok ? 'True' : 'False'}, value: ${outside} / ${n} elements outside`
}

function failureText(k: KeyView, f: Failure): string {
  if (f.kind === 'structure') {
    return `the reference is ${f.expected === 'record' ? 'a dict' : 'an array'}, the candidate ${f.actual === 'record' ? 'a dict' : 'an array'}`
  }
  return describeFailure(k, f, SIDES)
}

/** A key that is on one side only: `loss_3: missing from candidate`. */
function loneSide(k: KeyView): 'candidate' | 'reference' | undefined {
  if (k.stats !== undefined || k.failures.length !== 1) return undefined
  const kind = k.failures[0]?.kind
  return kind === 'missing' ? 'candidate' : kind === 'extra' ? 'reference' : undefined
}

/**
 * reprod_log's report of some keys: per key `key: ` then one line per statistic of the rule,
 * `\tmean diff: check passed: True, value: 2.308018565599923e-06` (`all`: min, max and mean),
 * a dict level as its name alone with its keys one tab deeper, and last `diff check passed` or
 * `diff check failed` as `pass` says.
 *
 * Every True/False is the core's verdict of that statistic (each its own: reprod_log's stays
 * False once one fails). Values are numpy's where the entry has them, printed as Python prints
 * a float; where numpy's value would read the other way than the verdict (float32 rounding,
 * integer wrap-around, `inf - inf`), a line says the exact value judged. A key on one side
 * only is one line (`loss_3: missing from candidate`); each failure reprod_log has no line for
 * is a `check failed: ...` line; a pair that numpy would broadcast (`(3, 1)` with `(3,)`) has a
 * `note:` line saying it is compared element by element. Names are escaped (`escapeText`), so
 * no key can start a line of its own.
 */
export function reprodLogLines(entries: readonly LogEntry[], pass: boolean): string[] {
  const lines: string[] = []
  let open: readonly string[] = []
  for (const entry of entries) {
    const dicts = entry.path.slice(0, -1)
    let same = 0
    while (same < open.length && same < dicts.length && open[same] === dicts[same]) same++
    for (let level = same; level < dicts.length; level++) {
      lines.push(`${INDENT.repeat(level)}${escapeText(dicts[level] as string)}`)
    }
    open = dicts
    const level = dicts.length
    const name = entry.path[level]
    if (name === undefined) {
      lines.push(...pairLines(entry, ''))
      continue
    }
    const indent = INDENT.repeat(level)
    const lone = loneSide(entry.key)
    if (lone !== undefined) {
      lines.push(`${indent}${escapeText(name)}: missing from ${lone}`)
      continue
    }
    lines.push(`${indent}${escapeText(name)}: `, ...pairLines(entry, INDENT.repeat(level + 1)))
  }
  lines.push(pass ? 'diff check passed' : 'diff check failed')
  return lines
}

/**
 * Where a dotted key of the result sits in a record: its names, one per dict level, and the
 * value. At each level the whole remaining key wins, else the longest name that is a dict and
 * a prefix: one pass, no search (a record can make a dotted key ambiguous; compare's keys are
 * as ambiguous).
 */
function locate(node: AlignNode, key: string): { path: string[]; value: AlignNode } | undefined {
  const path: string[] = []
  let at = node
  let rest = key
  for (;;) {
    if (!isRecordNode(at)) return undefined
    const direct = at.entries.get(rest)
    if (direct !== undefined) return { path: [...path, rest], value: direct }
    let best: string | undefined
    for (const [name, child] of at.entries) {
      if (isRecordNode(child) && rest.startsWith(`${name}.`) && name.length > (best?.length ?? -1))
        best = name
    }
    if (best === undefined) return undefined
    path.push(best)
    at = at.entries.get(best) as AlignNode
    rest = rest.slice(best.length + 1)
  }
}

const isArray = (n: AlignNode | undefined): n is NdArray => n !== undefined && !isRecordNode(n)

/**
 * reprod_log's report of a comparison already made: `result` (of `compare(candidate,
 * reference, ...)`) rendered by {@link reprodLogLines}, with numpy's values of each pair taken
 * from the two inputs. The verdict is `result.pass`.
 *
 * @param name What a lone pair (two arrays, not records) is called: its `key: ` line.
 */
export function reprodDiffOf(
  result: AlignResult,
  reference: unknown,
  candidate: unknown,
  name?: string,
): ReprodDiff {
  const ref = normalize(reference, 'expected')
  const cand = normalize(candidate, 'actual')
  const entries = result.keys.map((k): LogEntry => {
    if (k.key === '') {
      const pair = isArray(ref) && isArray(cand)
      const numpy = pair && k.stats !== undefined ? numpyStats(ref, cand) : undefined
      const path = name !== undefined && (isArray(ref) || isArray(cand)) ? [name] : []
      return { path, key: k, ...(numpy && { numpy }) }
    }
    const e = locate(ref, k.key)
    const a = locate(cand, k.key)
    const numpy =
      isArray(e?.value) && isArray(a?.value) && k.stats !== undefined
        ? numpyStats(e.value, a.value)
        : undefined
    return { path: (e ?? a)?.path ?? [k.key], key: k, ...(numpy && { numpy }) }
  })
  return { pass: result.pass, result, lines: reprodLogLines(entries, result.pass) }
}

function numpyStats(reference: NdArray, candidate: NdArray): AbsDiffStats | undefined {
  if (reference.data.length !== candidate.data.length || reference.data.length === 0)
    return undefined
  return absDiffStats(reference, candidate)
}

/**
 * Diffs two reprod_log records into reprod_log's report: `compare(candidate, reference,
 * options)` rendered by {@link reprodLogLines}. For each key of the reference (in its order),
 * `key: ` and one line per statistic; the last line is `diff check passed` or `diff check
 * failed`, as the result's verdict. Each value is what numpy computes (`np.abs(ref -
 * cand).mean()` in the arrays' dtype, with numpy's pairwise summation, in memory order),
 * printed as Python prints a float, so the lines equal reprod_log's byte for byte wherever the
 * verdicts agree; see {@link reprodLogLines} for where and why they differ.
 *
 * @param reference The reference record (reprod_log's first dict: the PyTorch side).
 * @param candidate The record of the port.
 * @param options `compare()`'s options; default `{ method: 'mean', shape: 'squeeze' }`.
 * @throws {AlignOptionsError} for a bad option.
 * @throws {AlignInputError} when either side is not a record of arrays.
 */
export function diffReprodLogs(
  reference: NdRecord | AlignRecord,
  candidate: NdRecord | AlignRecord,
  options: ReprodDiffOptions = {},
): ReprodDiff {
  if (!isRecordNode(normalize(reference, 'expected')))
    throw new AlignInputError('', 'expected', 'a record is needed')
  if (!isRecordNode(normalize(candidate, 'actual')))
    throw new AlignInputError('', 'actual', 'a record is needed')
  const result = compare(candidate, reference, { method: 'mean', shape: 'squeeze', ...options })
  return reprodDiffOf(result, reference, candidate)
}

const pad = (n: number) => String(n).padStart(2, '0')

/**
 * The report as reprod_log's logger writes it: each line prefixed with
 * `[YYYY/MM/DD HH:MM:SS] root INFO: ` (local time, as Python's logging) and ended by `\n`.
 * Lines are escaped once more, so that whatever a caller passes stays one line.
 */
export function formatReprodLog(lines: readonly string[], date: Date = new Date()): string {
  const stamp = `${date.getFullYear()}/${pad(date.getMonth() + 1)}/${pad(date.getDate())} ${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`
  return lines.map((line) => `[${stamp}] root INFO: ${escapeLine(line)}\n`).join('')
}

/** A line's tabs are reprod_log's indent and stay; every other control character is escaped. */
function escapeLine(line: string): string {
  return line
    .split('\t')
    .map((part) => escapeText(part))
    .join('\t')
}
