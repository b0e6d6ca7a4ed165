/**
 * `summary.md`: the report for a pull request or a CI summary. The run's verdict, an overview
 * of the stages, then per stage its table of keys, why each failing key failed (the matcher
 * message's sentences), its curves and its negative controls. Every user text is escaped.
 */
import { escapeText, formatNumber, keyName } from '../compare/format.js'
import type { AlignReport, KeyReport } from './report.js'
import { checkStat, headline, reasonOf, shapeCell, VERDICT_TEXT } from './report-cells.js'
import { layerwiseMarkdown } from './report-layers.js'

/**
 * Text for Markdown (a table cell, a list item): control characters and line breaks escaped
 * first ({@link escapeText}: a newline shows as `\n`); then `\\`, `|`, `` ` ``, `*`, `[`, `]`,
 * `~` and a `_` that could start emphasis backslash-escaped; `&` and `<` as entities, so
 * nothing in a user's key becomes markup or HTML.
 */
export function escapeMarkdown(text: string): string {
  const word = (ch: string | undefined) => ch !== undefined && /[\p{L}\p{N}]/u.test(ch)
  return escapeText(text)
    .replace(/[\\`*[\]|~]/g, '\\$&')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/_/g, (_, i: number, all: string) =>
      word(all[i - 1]) && word(all[i + 1]) ? '_' : '\\_',
    )
}

const md = escapeMarkdown
const num = (x: number | undefined): string => (x === undefined ? '-' : formatNumber(x))

function keyTable(rows: readonly KeyReport[]): string[] {
  const head = [
    '| test | key | shape | mean \\|Δ\\| | max \\|Δ\\| | max rel Δ | tolerance | verdict |',
    '| --- | --- | --- | ---: | ---: | ---: | --- | --- |',
  ]
  const verdict = (k: KeyReport) =>
    k.verdict === 'fail' || k.verdict === 'unexpected-pass'
      ? `**${VERDICT_TEXT[k.verdict]}**`
      : VERDICT_TEXT[k.verdict]
  return [
    ...head,
    ...rows.map(
      (k) =>
        `| ${md(k.test)} | ${md(keyName(k.key))} | ${md(shapeCell(k))} | ${num(checkStat(k, 'meanAbs'))} | ${num(checkStat(k, 'maxAbs'))} | ${num(checkStat(k, 'maxRel'))} | ${md(k.tolerance ?? '-')} | ${verdict(k)} |`,
    ),
  ]
}

/** `summary.md`: the run's verdict, an overview of the stages, then one table per stage. */
export function formatSummary(report: AlignReport): string {
  const out: string[] = ['# vitest-align report', '', `**${md(headline(report))}**`, '']
  if (report.stages.length > 0) {
    out.push(
      '| stage | file | keys | not aligned | max rel Δ | negative controls | verdict |',
      '| --- | --- | ---: | ---: | ---: | ---: | --- |',
      ...report.stages.map(
        (s) =>
          `| ${md(s.stage)} | ${md(s.file)} | ${s.keys.length} | ${s.keys.filter((k) => !k.pass).length} | ${formatNumber(s.maxRel)} | ${s.controls.length} | ${s.verdict === 'fail' ? '**fail**' : s.verdict} |`,
      ),
      '',
    )
  }
  for (const s of report.stages) {
    out.push(`## ${md(s.stage)}: ${s.verdict}`, '')
    const where = [`File ${md(s.file)}`]
    if (s.project !== undefined) where.push(`project ${md(s.project)}`)
    if (s.log !== undefined) where.push(`log ${md(s.log)}`)
    out.push(`${where.join(', ')}.`, '', `${md(s.summary)}.`, '')
    for (const e of s.errors) out.push(`- file error: ${md(e)}`)
    if (s.errors.length > 0) out.push('')
    if (s.keys.length > 0) out.push(...keyTable(s.keys), '')
    const failing = s.keys.filter((k) => !k.pass)
    if (failing.length > 0) {
      out.push('Why:', '')
      for (const k of failing)
        out.push(`- ${md(keyName(k.key))} (${md(k.test)}): ${md(reasonOf(k))}`)
      out.push('')
    }
    const explained = new Set(
      [...failing, ...s.controls.filter((k) => k.verdict === 'unexpected-pass')].map((k) => k.test),
    )
    const otherFailures = s.failedTests.filter((t) => !explained.has(t))
    if (otherFailures.length > 0) {
      out.push('Failed tests (beyond the keys above):', '')
      for (const t of otherFailures) out.push(`- ${md(t)}`)
      out.push('')
    }
    const layered = s.keys.filter((k) => k.layerwise !== undefined)
    if (layered.length > 0) {
      out.push('### Layer by layer', '')
      for (const k of layered) out.push(...layerwiseMarkdown(k, md))
    }
    if (s.sequences.length > 0) {
      const seqs = s.sequences.map((q) => {
        const first = q.points[0]?.index ?? 0
        return `${md(q.name)} (${first}..${first + q.points.length - 1})`
      })
      out.push(`Sequences, drawn in index.html: ${seqs.join(', ')}.`, '')
    }
    if (s.controls.length > 0) {
      out.push(
        '### Negative controls',
        '',
        'Each compares a deliberately broken candidate under `.not`: it is expected to fail, and a control that aligns proves nothing.',
        '',
        ...keyTable(s.controls),
        '',
      )
    }
  }
  return `${out.join('\n').trimEnd()}\n`
}
