/**
 * The cells the report's text forms share (`summary.md`, `index.html`): a check's statistics,
 * shapes, verdict and reasons, each a rendering of the recorded check (read back with
 * {@link keyViewOf}), the run's verdict in one sentence, and HTML escaping.
 */
import { describeKey, escapeText, formatShape } from '../compare/format.js'
import { keyViewOf } from './record.js'
import type { AlignReport, CheckVerdict, KeyReport } from './report.js'

/**
 * A statistic of a check for display: the recorded value, +Infinity when the statistic was
 * computed but not recorded (JSON has no Infinity: the core counts an unmatched NaN or ±Inf as
 * an infinite |Δ|), undefined when nothing was compared.
 */
export function checkStat(
  c: KeyReport,
  name: 'meanAbs' | 'maxAbs' | 'minAbs' | 'maxRel',
): number | undefined {
  const s = c.stats
  if (s === undefined || s.n === 0) return undefined
  return s[name] ?? Number.POSITIVE_INFINITY
}

/** The shape cell: `(3,)`, or `(3,) vs (4,)` when the sides differ. */
export function shapeCell(c: KeyReport): string {
  const a = c.actual && formatShape(c.actual.shape)
  const e = c.expected && formatShape(c.expected.shape)
  if (a !== undefined && e !== undefined && a !== e) return `${a} vs ${e}`
  return a ?? e ?? '-'
}

/** The verdict in words. */
export const VERDICT_TEXT: Record<CheckVerdict, string> = {
  pass: 'pass',
  fail: 'FAIL',
  'expected-fail': 'fails, as expected',
  'unexpected-pass': 'ALIGNED: broken control',
}

/**
 * Why a check failed: the sentences the matcher message gives for the same key (failures,
 * non-finite census, the tolerance that would pass).
 */
export function reasonOf(c: KeyReport): string {
  return describeKey(keyViewOf(c))
}

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`

/** The run's verdict in one sentence. */
export function headline(report: AlignReport): string {
  const t = report.totals
  if (report.verdict === 'empty') return 'No key was compared.'
  const stages =
    t.failedStages === 0
      ? `all ${plural(t.stages, 'stage')} aligned`
      : `${t.failedStages} of ${plural(t.stages, 'stage')} not aligned`
  const keys = `${t.keys - t.failedKeys} of ${plural(t.keys, 'key')} aligned`
  const controls =
    t.controls === 0
      ? 'no negative controls'
      : t.brokenControls === 0
        ? `${plural(t.controls, 'negative control')}, all failing as expected`
        : `${plural(t.controls, 'negative control')}, ${t.brokenControls} aligned when it should not`
  return `${report.verdict === 'pass' ? 'PASS' : 'FAIL'}: ${stages}; ${keys}; ${controls}.`
}

/**
 * Text safe in HTML content and in quoted attribute values: control characters escaped as
 * everywhere ({@link escapeText}), then `&<>"'` as entities.
 */
export function escapeHtml(text: string): string {
  return escapeText(text).replace(
    /[&<>"']/g,
    (ch) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[ch] as string,
  )
}
