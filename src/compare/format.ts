/**
 * Every message about a result is built here: numbers, shapes, rules, failure sentences, the
 * per-key table and the one-line summary. Plain text only (no colour codes), so JUnit and logs
 * stay readable; text that comes from a file (key names) goes through {@link escapeText}.
 */

import type { ReprodMethod, Rule } from './options.js'
import type {
  AlignResult,
  ArraySummary,
  Failure,
  NoiseStats,
  WorstElement,
  WouldPass,
} from './result.js'
import type { NonFiniteCensus } from './stats.js'

/**
 * What the messages read of one key: a `KeyResult`, or a key decoded from its JSON-safe
 * record (where a statistic may be missing: it was not finite).
 */
export interface KeyView {
  readonly key: string
  readonly pass: boolean
  readonly actual?: ArraySummary
  readonly expected?: ArraySummary
  readonly rule?: Rule
  readonly stats?: StatsView
  readonly failures: readonly Failure[]
  readonly wouldPass?: WouldPass
  /** Under the noise rule: the spread and the worst element against it. */
  readonly noise?: NoiseView
}

/** What the messages read of a key's noise statistics. */
export type NoiseView = Omit<NoiseStats, 'curve'>

/** The statistics the messages read: those of `PairStats`. */
export interface StatsView {
  readonly n: number
  readonly meanAbs: number
  readonly maxAbs: number
  readonly minAbs: number
  readonly maxRel: number
  readonly mismatches: number
  readonly worst?: WorstElement
  readonly maxAbsExpected: number
  readonly meanAbsExpected: number
  readonly minAbsExpected: number
  readonly nonFinite?: { readonly actual: NonFiniteCensus; readonly expected: NonFiniteCensus }
}

/** How a message names the two sides: `actual`/`expected`, or reprod_log's reference/candidate. */
export interface SideNames {
  readonly actual: string
  readonly expected: string
}

const MATCHER_SIDES: SideNames = { actual: 'actual', expected: 'expected' }

// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g
const NAMED_CONTROL: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' }

/**
 * Text from a file made safe for a terminal, a log and every report: each control character
 * (C0, DEL, C1), line separator and bidirectional override becomes a visible escape (`\n`,
 * `\x1b`, `\u202e`), so a key can neither run an ESC sequence nor start a line of its own
 * (`\n[...] root INFO: diff check passed` stays on its key's line). Backslashes are left as
 * they are: ordinary keys print unchanged.
 */
export function escapeText(text: string): string {
  return text.replace(CONTROL, (ch) => {
    const named = NAMED_CONTROL[ch]
    if (named !== undefined) return named
    const code = ch.charCodeAt(0)
    return code <= 0xff
      ? `\\x${code.toString(16).padStart(2, '0')}`
      : `\\u${code.toString(16).padStart(4, '0')}`
  })
}

/** A number in at most 3 significant digits: `2.31e-6`, `0.0123`, `1000`, `NaN`, `Inf`. */
export function formatNumber(x: number): string {
  if (Number.isNaN(x)) return 'NaN'
  if (x === Number.POSITIVE_INFINITY) return 'Inf'
  if (x === Number.NEGATIVE_INFINITY) return '-Inf'
  if (x === 0) return '0'
  const ax = Math.abs(x)
  if (ax >= 1e-3 && ax < 1e5) return String(Number(x.toPrecision(3)))
  return x
    .toExponential(2)
    .replace(/\.?0+e/, 'e')
    .replace('e+', 'e')
}

/** A value of an element, with enough digits to tell float32 neighbours apart. */
export function formatValue(x: number): string {
  if (!Number.isFinite(x)) return formatNumber(x)
  return String(Number(x.toPrecision(9)))
}

/** A shape as numpy prints it: `()`, `(3,)`, `(1, 1000)`. */
export function formatShape(shape: readonly number[]): string {
  return shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`
}

/** The display name of a key, escaped: the lone array of a non-record comparison is `(value)`. */
export function keyName(key: string): string {
  return key === '' ? '(value)' : escapeText(key)
}

const STAT_LABEL: Record<Exclude<ReprodMethod, 'all'>, string> = {
  mean: 'mean |Δ|',
  max: 'max |Δ|',
  min: 'min |Δ|',
}

/** The rule in words: `allclose atol=1e-5 rtol=1.3e-6` or `mean |Δ| <= 1e-6`. */
export function describeRule(rule: Rule): string {
  if (rule.method === 'allclose')
    return `allclose atol=${formatNumber(rule.atol)} rtol=${formatNumber(rule.rtol)}`
  if (rule.method === 'noise')
    return `${formatNumber(rule.factor)} × spread of ${rule.runs} noise run${rule.runs === 1 ? '' : 's'} + atol=${formatNumber(rule.atol)} rtol=${formatNumber(rule.rtol)}`
  const stats = rule.method === 'all' ? 'min, max and mean |Δ|' : STAT_LABEL[rule.method]
  return `${stats} <= ${formatNumber(rule.threshold)}`
}

function percent(part: number, whole: number): string {
  return `${((100 * part) / whole).toFixed(1)}%`
}

function nonFiniteNote(k: KeyView): string {
  const c = k.stats?.nonFinite
  if (!c) return ''
  const side = (name: string, s: { nan: number; posInf: number; negInf: number }): string[] => {
    const parts = []
    if (s.nan) parts.push(`${s.nan} NaN`)
    if (s.posInf) parts.push(`${s.posInf} +Inf`)
    if (s.negInf) parts.push(`${s.negInf} -Inf`)
    return parts.length ? [`${name} has ${parts.join(', ')}`] : []
  }
  const notes = [...side('actual', c.actual), ...side('expected', c.expected)]
  return notes.length ? ` (${notes.join('; ')})` : ''
}

/** ` (candidate vs reference)` after a pair of values, when the sides are not actual/expected. */
const which = (sides: SideNames): string =>
  sides === MATCHER_SIDES ? '' : ` (${sides.actual} vs ${sides.expected})`

/**
 * One sentence for one failure of one key. `sides` names the two sides: the matchers' `actual`
 * and `expected` by default; reprod_log's log says `candidate` and `reference`.
 */
export function describeFailure(k: KeyView, f: Failure, sides: SideNames = MATCHER_SIDES): string {
  switch (f.kind) {
    case 'missing':
      return `missing from ${sides.actual}`
    case 'extra':
      return `not in ${sides.expected}`
    case 'structure':
      return `${sides.actual} is ${f.actual === 'record' ? 'a record' : 'an array'}, ${sides.expected} ${f.expected === 'record' ? 'a record' : 'an array'}`
    case 'shape': {
      // the fix, where there is one: the CLI's flag in the log's words, else the option
      const fix = sides === MATCHER_SIDES ? "shape: 'squeeze'" : '--shape squeeze'
      const hint = f.squeezable
        ? `; they differ only in size-1 dimensions, which ${fix} ignores`
        : ''
      return `shape ${formatShape(k.actual?.shape ?? [])} != ${formatShape(k.expected?.shape ?? [])}${which(sides)}${hint}`
    }
    case 'dtype':
      return `dtype ${k.actual?.dtype} != ${k.expected?.dtype}${which(sides)}`
    case 'allclose': {
      const w = k.stats?.worst
      const worst = w
        ? `, worst at [${w.index.join(', ')}]: ${formatValue(w.actual)} vs ${formatValue(w.expected)}`
        : ''
      return `${f.mismatches} / ${f.n} (${percent(f.mismatches, f.n)}) elements outside ${describeRule(k.rule as Rule)}${worst}`
    }
    case 'threshold':
      return `${STAT_LABEL[f.method]} ${formatNumber(f.value)} > ${formatNumber(f.threshold)}`
    case 'noise': {
      const w = k.noise?.worst
      const worst = w
        ? `, worst at [${w.index.join(', ')}]: ${formatValue(w.actual)} vs ${formatValue(w.expected)}, |Δ| ${formatNumber(w.diff)} where the runs spread ${formatNumber(w.spread)} (bound ${formatNumber(w.bound)}${w.spread > 0 && Number.isFinite(w.diff) ? `, ${formatNumber(w.diff / w.spread)} × spread` : ''})`
        : ''
      return `${f.outside} / ${f.n} (${percent(f.outside, f.n)}) elements outside ${describeRule(k.rule as Rule)}${worst}`
    }
    case 'noise-run':
      return f.problem === 'missing'
        ? `noise run ${f.run} has no such key`
        : f.problem === 'shape'
          ? `noise run ${f.run} has another shape than ${sides.expected}`
          : `noise run ${f.run} is not finite where ${sides.expected} is: no spread can be measured`
    case 'break':
      return `alignment breaks at ${escapeText(f.module)}: error ${formatNumber(f.error)} (max |Δ| / max |${sides.expected}|) is ${f.baseline > 0 ? `${formatNumber(f.error / f.baseline)} ×` : 'above'} the largest before it (${formatNumber(f.baseline)}), over its tolerance and the growth factor ${formatNumber(f.growthFactor)}`
    case 'modules': {
      const list = (xs: readonly string[]) =>
        xs.slice(0, 5).map(escapeText).join(', ') +
        (xs.length > 5 ? ` (and ${xs.length - 5} more)` : '')
      const parts = []
      if (f.missing.length > 0)
        parts.push(`modules missing from ${sides.actual}: ${list(f.missing)}`)
      if (f.extra.length > 0) parts.push(`modules not in ${sides.expected}: ${list(f.extra)}`)
      return parts.join('; ')
    }
    case 'vacuous': {
      if (k.stats === undefined) return 'nothing was compared (no keys)'
      if (k.stats.n === 0) return 'empty arrays: nothing was compared'
      if (k.rule?.method === 'noise')
        return `vacuous: an all-zero ${sides.actual} would pass too (every |${sides.expected}| is within ${describeRule(k.rule)}: max spread ${formatNumber(k.noise?.maxSpread ?? Number.NaN)}); add noise runs that agree more closely, lower the factor, or set allowVacuous`
      const s = k.stats
      const mag =
        k.rule?.method === 'allclose' || k.rule?.method === 'max' || k.rule?.method === 'all'
          ? `max |${sides.expected}| ${formatNumber(s.maxAbsExpected)}`
          : k.rule?.method === 'mean'
            ? `mean |${sides.expected}| ${formatNumber(s.meanAbsExpected)}`
            : `min |${sides.expected}| ${formatNumber(s.minAbsExpected)}`
      return `vacuous: an all-zero ${sides.actual} would pass too (${mag} is within ${describeRule(k.rule as Rule)}); tighten the tolerance or set allowVacuous`
    }
  }
}

/** `passes at atol=3.2e-3`, `no tolerance passes`, or undefined when no tolerance is at issue. */
function passAt(k: KeyView): string | undefined {
  const w = k.wouldPass
  if (w === undefined) return undefined
  const value = w.atol ?? w.threshold ?? w.factor ?? Number.NaN
  if (!Number.isFinite(value)) return 'no tolerance passes'
  const name = w.atol !== undefined ? 'atol' : w.threshold !== undefined ? 'threshold' : 'factor'
  return `passes at ${name}=${formatNumber(value)}`
}

/** The failure sentences of one key, joined, with its non-finite census and passing tolerance. */
export function describeKey(k: KeyView): string {
  const at = passAt(k)
  return (
    k.failures.map((f) => describeFailure(k, f)).join('; ') +
    nonFiniteNote(k) +
    (at ? `; ${at}` : '')
  )
}

const HEADERS = [
  'key',
  'shape',
  'dtype',
  'mean |Δ|',
  'max |Δ|',
  'max rel Δ',
  'mismatched',
  'worst (actual vs expected)',
  'verdict',
]

function row(k: KeyView): string[] {
  const shape = (s: KeyView['actual']) => (s ? formatShape(s.shape) : '-')
  const a = k.actual
  const e = k.expected
  const shapes = a && e && shape(a) !== shape(e) ? `${shape(a)} vs ${shape(e)}` : shape(a ?? e)
  const dtypes =
    a && e && a.dtype !== e.dtype ? `${a.dtype} vs ${e.dtype}` : ((a ?? e)?.dtype ?? '-')
  const s = k.stats
  const w = s?.worst
  return [
    keyName(k.key),
    shapes,
    dtypes,
    s ? formatNumber(s.meanAbs) : '-',
    s ? formatNumber(s.maxAbs) : '-',
    s ? formatNumber(s.maxRel) : '-',
    s ? `${s.mismatches}/${s.n} (${s.n ? percent(s.mismatches, s.n) : '-'})` : '-',
    w ? `[${w.index.join(', ')}] ${formatValue(w.actual)} vs ${formatValue(w.expected)}` : '-',
    k.pass ? 'pass' : verdict(k),
  ]
}

/** `FAIL: shape`, `FAIL: allclose; passes at atol=0.0098`. */
function verdict(k: KeyView): string {
  const at = passAt(k)
  const kinds = [...new Set(k.failures.map((f) => (f.kind === 'threshold' ? f.method : f.kind)))]
  return `FAIL: ${kinds.join(', ')}${at ? `; ${at}` : ''}`
}

/**
 * Rows of cells as plain-text lines, each column as wide as its widest cell, two spaces
 * between columns; the columns `right` picks are right-aligned (numbers), the others left.
 */
export function alignColumns(
  rows: readonly (readonly string[])[],
  right: (column: number) => boolean = () => false,
): string[] {
  const widths = (rows[0] ?? []).map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)))
  return rows.map((r) =>
    r
      .map((cell, c) => (right(c) ? cell.padStart(widths[c] ?? 0) : cell.padEnd(widths[c] ?? 0)))
      .join('  ')
      .trimEnd(),
  )
}

/** Every key as one aligned plain-text table. */
export function formatTable(result: AlignResult): string {
  return alignColumns([HEADERS, ...result.keys.map(row)]).join('\n')
}

/** The first line of a report: how many keys failed and, for the first ones, why. */
export function summarize(result: AlignResult): string {
  const failed = result.keys.filter((k) => !k.pass)
  const n = result.keys.length
  if (failed.length === 0) {
    const rel = Math.max(...result.keys.map((k) => k.stats?.maxRel ?? 0))
    return `${n} ${n === 1 ? 'key' : 'keys'} aligned, max rel Δ ${formatNumber(rel)}`
  }
  const first = failed[0] as KeyView
  const more = failed.length > 1 ? ` (and ${failed.length - 1} more)` : ''
  return `${failed.length} of ${n} ${n === 1 ? 'key' : 'keys'} not aligned: ${keyName(first.key)}: ${describeKey(first)}${more}`
}

/** The full report: the summary line, the table, then one line per failing key. */
export function formatReport(result: AlignResult): string {
  const failing = result.keys
    .filter((k) => !k.pass)
    .map((k) => `  ${keyName(k.key)}: ${describeKey(k)}`)
  return [
    summarize(result),
    '',
    formatTable(result),
    ...(failing.length ? ['', ...failing] : []),
  ].join('\n')
}
