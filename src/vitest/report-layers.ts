/**
 * The layer-by-layer checks (`toAlignLayerwise`) in the report: their module tree with the
 * first break marked, as an HTML table and as Markdown lines. Each is a rendering of the
 * recorded check (read back with {@link layerwiseViewOf}): the same rows, statuses and numbers
 * as the matcher message's tree.
 */
import { escapeText, formatNumber, keyName } from '../compare/format.js'
import { layerTree } from '../compare/layerwise.js'
import {
  formatGrowth,
  formatLayerTree,
  LAYER_STATUS_TEXT,
  summarizeLayerwise,
} from '../compare/layerwise-format.js'
import { layerwiseViewOf } from './record.js'
import type { KeyReport } from './report.js'
import { escapeHtml as h } from './report-cells.js'

/** CSS of the module tree (appended to the page's). */
export const LAYERS_CSS = `
table.layers td.mod{white-space:nowrap}
table.layers tr.heading td{color:var(--muted);font-size:12px;padding-top:3px;padding-bottom:3px}
table.layers tr.break td{background:var(--fail-bg);color:var(--fail);font-weight:600}
table.layers tr.drift td.status{color:var(--empty)}
table.layers tr.missing td,table.layers tr.extra td{color:var(--fail)}
`

/** The title of one layer-by-layer check: its test, and what it found. */
function title(c: KeyReport): string {
  const view = layerwiseViewOf(c)
  return view === undefined ? '' : summarizeLayerwise(view)
}

/** One check's module tree as an HTML table, every module, the first break marked. */
export function layerwiseHtml(c: KeyReport): string {
  const view = layerwiseViewOf(c)
  if (view === undefined) return ''
  const mods = c.layerwise?.modules ?? []
  const rows = layerTree(view.modules.map((m) => m.module)).map((row) => {
    const pad = `padding-left:${10 + 14 * row.depth}px`
    if (row.module === undefined) {
      return `<tr class="heading"><td class="mod mono" style="${pad}">${h(row.label)}</td><td colspan="5"></td></tr>`
    }
    const m = view.modules[row.module]
    if (m === undefined) return ''
    const structural = m.status === 'missing' || m.status === 'extra'
    const maxAbs = mods[row.module]?.maxAbs
    const mark = row.module === view.firstBreak ? ' ← alignment breaks here' : ''
    return (
      `<tr class="${m.status}"><td class="mod mono" style="${pad}" title="${h(m.module)}">${h(row.label)}</td>` +
      `<td class="num">${structural ? '-' : h(formatNumber(m.error))}</td><td class="num">${h(formatGrowth(m))}</td>` +
      `<td class="num">${maxAbs === undefined ? '-' : h(formatNumber(maxAbs))}</td>` +
      `<td class="status">${h(LAYER_STATUS_TEXT[m.status])}${m.vacuous ? ' (vacuous)' : ''}${h(mark)}</td></tr>`
    )
  })
  const name = c.key === '' ? c.test : `${c.test} · ${keyName(c.key)}`
  return `<figure class="layers"><figcaption><span class="mono"><b>${h(name)}</b></span><span class="sub">${h(title(c))}</span></figcaption>
<div class="scroll"><table class="layers" aria-label="${h(`modules of ${name}`)}"><thead><tr><th>module</th><th class="num">error</th><th class="num">growth</th><th class="num">max |Δ|</th><th>status</th></tr></thead>
<tbody>
${rows.join('\n')}
</tbody></table></div>
<p class="note">error = max |Δ| / max |expected| of the module's output; growth = × the largest error before it; a module breaks when it is over its tolerance and its growth exceeds ×${h(formatNumber(view.growthFactor))}.</p></figure>`
}

/** One check's module tree as Markdown: its summary, then the tree as a code block. */
export function layerwiseMarkdown(c: KeyReport, toMarkdown: (text: string) => string): string[] {
  const view = layerwiseViewOf(c)
  if (view === undefined) return []
  return [
    `${toMarkdown(c.test)}: ${toMarkdown(summarizeLayerwise(view))}.`,
    '',
    '```text',
    // a code block shows text as it is: only its fence could end it early
    ...formatLayerTree(view).map((l) => escapeText(l).replace(/```/g, '`\u200b``')),
    '```',
    '',
  ]
}
