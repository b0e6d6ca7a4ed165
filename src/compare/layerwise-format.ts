/**
 * The text of a layer-by-layer result: its one-line summary and its module tree, with the first
 * break marked and each module's error and growth. Built here only; the matcher message,
 * `summary.md` and the HTML page render these (the page its own table of the same rows).
 */

import { describeFailure, escapeText, formatNumber } from './format.js'
import { type LayerStatus, layerTree } from './layerwise.js'
import type { Failure } from './result.js'

/** What the texts read of one module: a `LayerStat`, or one read back from a report. */
export interface LayerView {
  readonly module: string
  readonly status: LayerStatus
  readonly error: number
  readonly baseline: number
  readonly growth: number
  readonly vacuous?: boolean
}

/** What the texts read of a layer-by-layer result. */
export interface LayerwiseView {
  readonly pass: boolean
  readonly growthFactor: number
  readonly modules: readonly LayerView[]
  readonly firstBreak?: number
  readonly failures: readonly Failure[]
}

/** The marker of a module's status in the tree. */
export const LAYER_STATUS_TEXT: Record<LayerStatus, string> = {
  aligned: 'aligned',
  drift: 'drift (over tolerance, normal growth)',
  break: 'BREAK',
  missing: 'missing from actual',
  extra: 'not in expected',
}

/** `×4.2e5`, `-` for the first module, `×Inf` from an exact zero. */
export function formatGrowth(m: LayerView): string {
  if (m.status === 'missing' || m.status === 'extra') return '-'
  if (m.baseline === 0 && m.error === 0) return '-'
  return `×${formatNumber(m.growth)}`
}

/** The result in one line: where it breaks and why, or how far the error grew. */
export function summarizeLayerwise(r: LayerwiseView): string {
  const n = r.modules.length
  if (!r.pass) {
    const sentences = r.failures.map((f) =>
      describeFailure({ key: '', pass: false, failures: [] }, f),
    )
    return `${sentences.join('; ')} (${n} module${n === 1 ? '' : 's'})`
  }
  const compared = r.modules.filter((m) => m.status !== 'missing' && m.status !== 'extra')
  const last = compared[compared.length - 1]
  let top: LayerView | undefined
  for (const m of compared)
    if (Number.isFinite(m.growth) && (!top || m.growth > top.growth)) top = m
  const drift = compared.filter((m) => m.status === 'drift').length
  const grew =
    last === undefined
      ? ''
      : `, error ${formatNumber(compared[0]?.error ?? 0)} at ${escapeText(compared[0]?.module ?? '')} to ${formatNumber(last.error)} at ${escapeText(last.module)}`
  const most =
    top !== undefined && top.baseline > 0
      ? `, largest growth ×${formatNumber(top.growth)} at ${escapeText(top.module)}`
      : ''
  const drifting = drift > 0 ? `; ${drift} over tolerance by normal growth (drift)` : ''
  return `${n} module${n === 1 ? '' : 's'} aligned layer by layer${grew}${most}${drifting}`
}

/**
 * The module tree as text lines: a heading per path segment, a row per module with its error
 * (max |Δ| / max |expected|), its growth over the largest error before it and its status; the
 * first break marked `<- alignment breaks here`. At most `maxRows` module rows: those up to the
 * first break and 3 after it when it breaks, the first ones otherwise; the rest are counted.
 */
export function formatLayerTree(r: LayerwiseView, maxRows = 60): string[] {
  const count = r.modules.length
  const until = r.firstBreak !== undefined ? Math.min(count, Math.max(r.firstBreak + 4, 1)) : count
  const from = Math.max(0, until - maxRows)
  const shown = r.modules.slice(from, Math.min(until, from + maxRows))
  const rows = layerTree(shown.map((m) => m.module))
  const labels = rows.map((row) => `${'  '.repeat(row.depth)}${escapeText(row.label)}`)
  const width = Math.max(6, ...labels.map((l) => l.length))
  const lines = [
    `${'module'.padEnd(width)}  ${'error'.padStart(8)}  ${'growth'.padStart(8)}  status`,
  ]
  if (from > 0) lines.push(`… ${from} module${from === 1 ? '' : 's'} before`)
  rows.forEach((row, i) => {
    const label = (labels[i] as string).padEnd(width)
    if (row.module === undefined) {
      lines.push(label.trimEnd())
      return
    }
    const m = shown[row.module] as LayerView
    const mark = from + row.module === r.firstBreak ? '  <- alignment breaks here' : ''
    const vac = m.vacuous ? ' (vacuous)' : ''
    const error = m.status === 'missing' || m.status === 'extra' ? '-' : formatNumber(m.error)
    lines.push(
      `${label}  ${error.padStart(8)}  ${formatGrowth(m).padStart(8)}  ${LAYER_STATUS_TEXT[m.status]}${vac}${mark}`,
    )
  })
  const after = count - from - shown.length
  if (after > 0) lines.push(`… ${after} more module${after === 1 ? '' : 's'}`)
  return lines
}

/** The full text: the summary line, then the tree. */
export function formatLayerwise(r: LayerwiseView, maxRows?: number): string {
  return [summarizeLayerwise(r), '', ...formatLayerTree(r, maxRows)].join('\n')
}
