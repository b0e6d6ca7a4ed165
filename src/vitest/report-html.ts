/**
 * `index.html`: the report as one self-contained page (inline CSS and SVG, no script, no
 * network): an overview of the stages, then per stage its table of keys, the curves of its
 * sequences (`loss_0..n`: reference and candidate on one chart) and a |Δ| histogram per key.
 * Every text that comes from users (keys, test names, paths) is escaped. Pure: the same report
 * gives the same bytes.
 */

import { formatNumber, formatValue, keyName } from '../compare/format.js'
import {
  type AlignReport,
  type CheckVerdict,
  type KeyReport,
  REPORT_VERSION,
  type SequenceReport,
  type StageReport,
  type StageVerdict,
} from './report.js'
import {
  checkStat,
  escapeHtml,
  headline,
  reasonOf,
  shapeCell,
  VERDICT_TEXT,
} from './report-cells.js'
import { histogramSvg, sequenceSvg } from './report-charts.js'
import { LAYERS_CSS, layerwiseHtml } from './report-layers.js'

export { escapeHtml } from './report-cells.js'
export { histogramSvg, sequenceSvg } from './report-charts.js'

const h = escapeHtml
const num = (x: number | undefined): string => (x === undefined ? '-' : formatNumber(x))
/** Text that may wrap between its words only (not at the hyphen of `1e-5`). */
const words = (text: string): string =>
  text
    .split(' ')
    .map((w) => `<span class="nb">${h(w)}</span>`)
    .join(' ')

const CSS = `
:root{--bg:#f4f6f8;--fg:#1f2328;--muted:#59636e;--line:#d8dee4;--soft:#eef1f4;--card:#fff;
--pass:#1a7f37;--pass-bg:#dafbe1;--fail:#cf222e;--fail-bg:#ffebe9;--ctl:#6e40c9;--ctl-bg:#f1eafe;
--empty:#7d4e00;--empty-bg:#fff8c5;--ref:#0969da;--cand:#d4590b}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);
font:14px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
code,.mono,td.num{font-family:ui-monospace,SFMono-Regular,"DejaVu Sans Mono",Menlo,Consolas,monospace}
code{font-size:12px;background:var(--soft);border-radius:4px;padding:1px 5px}
header.top{background:var(--card);border-bottom:1px solid var(--line)}
.wrap{max-width:1240px;margin:0 auto;padding:22px 28px}
h1{font-size:21px;margin:0 0 6px;letter-spacing:-.01em}
h1 small{font-weight:400;color:var(--muted);font-size:13px;margin-left:8px}
.headline{margin:0;font-weight:600}
.headline.fail{color:var(--fail)}.headline.pass{color:var(--pass)}.headline.empty{color:var(--empty)}
.cards{display:flex;flex-wrap:wrap;gap:10px;margin-top:16px}
.card{background:var(--bg);border:1px solid var(--line);border-radius:8px;padding:8px 14px;min-width:118px}
.card b{display:block;font-size:20px;line-height:1.2;font-variant-numeric:tabular-nums}
.card span{color:var(--muted);font-size:12px}
.card.bad b{color:var(--fail)}
h2{font-size:18px;margin:0;display:flex;align-items:center;gap:10px}
h3{font-size:13px;text-transform:uppercase;letter-spacing:.05em;color:var(--muted);margin:22px 0 10px}
section{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:18px 22px;margin:0 0 18px}
section.overview{padding:6px 8px}
.meta{color:var(--muted);margin:6px 0 0;font-size:13px}
.line{margin:8px 0 0}
.note{color:var(--muted);font-size:13px;margin:0 0 10px}
table{border-collapse:collapse;width:100%;font-size:13px}
th,td{padding:6px 10px;border-bottom:1px solid var(--soft);text-align:left;vertical-align:top}
thead th{color:var(--muted);font-weight:600;font-size:12px;border-bottom:1px solid var(--line);white-space:nowrap}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
td.num{font-size:12.5px}
td.key{font-weight:600;white-space:nowrap}
td.nowrap,.nb{white-space:nowrap}
td.worst{font-size:12px;color:#424a53}
.dtype{font-size:11.5px;color:var(--muted)}
.scroll{overflow-x:auto}
tr.group th{background:var(--soft);color:var(--fg);font-weight:600;font-size:12px;border-bottom:none}
tr.reason td{border-bottom:1px solid var(--soft);padding-top:0;color:var(--fail);font-size:12.5px}
tr.has-reason td{border-bottom:none}
a{color:var(--ref);text-decoration:none}a:hover{text-decoration:underline}
.badge{display:inline-block;border-radius:999px;padding:1px 9px;font-size:12px;font-weight:600;white-space:nowrap}
.badge.pass{background:var(--pass-bg);color:var(--pass)}
.badge.fail,.badge.unexpected-pass{background:var(--fail-bg);color:var(--fail)}
.badge.expected-fail{background:var(--ctl-bg);color:var(--ctl)}
.badge.empty{background:var(--empty-bg);color:var(--empty)}
ul.errors{color:var(--fail);margin:10px 0 0;padding-left:20px}
.charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(330px,1fr));gap:12px}
.charts.wide{grid-template-columns:repeat(auto-fill,minmax(560px,1fr))}
figure{margin:0;border:1px solid var(--line);border-radius:8px;padding:10px 12px 6px;background:var(--card)}
figcaption{font-size:12.5px;margin-bottom:4px;display:flex;justify-content:space-between;gap:8px}
figcaption .sub{color:var(--muted);font-size:12px;text-align:right}
svg{display:block;width:100%;height:auto}
svg text{font:10px system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;fill:#59636e}
svg .grid{stroke:#e6eaef;stroke-width:1}
svg .axis{stroke:#8c959f;stroke-width:1}
footer{color:var(--muted);font-size:12px;text-align:center;padding:6px 0 30px}
`

const STAGE_TEXT: Record<StageVerdict, string> = {
  pass: 'aligned',
  fail: 'not aligned',
  empty: 'nothing compared',
}

function badge(kind: CheckVerdict | StageVerdict, text: string): string {
  return `<span class="badge ${kind}">${h(text)}</span>`
}

// ---------------------------------------------------------------------------------------------
// Figures

function histogramFigure(c: KeyReport): string {
  const svg = histogramSvg(c)
  if (svg === '') return ''
  const n = c.stats?.n ?? 0
  const sampled = c.histogram && c.histogram.sampled < n ? `, ${c.histogram.sampled} sampled` : ''
  return `<figure><figcaption><span class="mono">${h(keyName(c.key))}</span><span class="sub">${h(c.test)} · n=${n}${sampled}</span></figcaption>${svg}</figure>`
}

function sequenceFigure(seq: SequenceReport): string {
  const failing = seq.points.filter((p) => !p.pass).length
  const first = seq.points[0]?.index ?? 0
  const range = `${seq.name}_${first} … ${seq.name}_${first + seq.points.length - 1}`
  const status =
    failing === 0
      ? `${seq.points.length} steps, all aligned`
      : `${failing} of ${seq.points.length} steps not aligned`
  return `<figure><figcaption><span class="mono"><b>${h(seq.name)}</b></span><span class="sub">${h(range)} · ${h(status)}</span></figcaption>${sequenceSvg(seq)}</figure>`
}

// ---------------------------------------------------------------------------------------------
// Tables

const KEY_COLUMNS = 9

function keyRows(rows: readonly KeyReport[]): string {
  const out: string[] = []
  let test: string | undefined
  for (const k of rows) {
    if (k.test !== test) {
      test = k.test
      out.push(`<tr class="group"><th colspan="${KEY_COLUMNS}">${h(k.test)}</th></tr>`)
    }
    const dtype =
      k.actual && k.expected && k.actual.dtype !== k.expected.dtype
        ? `${k.actual.dtype} vs ${k.expected.dtype}`
        : ((k.actual ?? k.expected)?.dtype ?? '-')
    const w = k.worst
    const worst = w
      ? `[${w.index.join(', ')}] ${formatValue(w.actual)} vs ${formatValue(w.expected)}`
      : '-'
    const reason =
      k.verdict === 'fail'
        ? reasonOf(k)
        : k.verdict === 'unexpected-pass'
          ? 'aligned: this negative control cannot tell a broken candidate from a good one'
          : ''
    out.push(
      `<tr${reason ? ' class="has-reason"' : ''}><td class="key">${h(keyName(k.key))}</td><td class="mono nowrap">${h(shapeCell(k))}<div class="dtype">${h(dtype)}</div></td>` +
        `<td class="num">${num(checkStat(k, 'meanAbs'))}</td><td class="num">${num(checkStat(k, 'maxAbs'))}</td><td class="num">${num(checkStat(k, 'maxRel'))}</td>` +
        `<td class="num">${k.stats ? `${k.stats.mismatches ?? '-'}/${k.stats.n}` : '-'}</td><td class="mono worst">${words(worst)}</td>` +
        `<td class="mono">${words(k.tolerance ?? '-')}</td><td>${badge(k.verdict, VERDICT_TEXT[k.verdict])}</td></tr>`,
    )
    if (reason) out.push(`<tr class="reason"><td colspan="${KEY_COLUMNS}">${h(reason)}</td></tr>`)
  }
  return out.join('\n')
}

function keyTable(rows: readonly KeyReport[], label: string): string {
  return `<div class="scroll"><table class="keys" aria-label="${h(label)}"><thead><tr><th>key</th><th>shape, dtype</th><th class="num">mean |Δ|</th><th class="num">max |Δ|</th><th class="num">max rel Δ</th><th class="num">mismatched</th><th>worst (actual vs expected)</th><th>tolerance</th><th>verdict</th></tr></thead>
<tbody>
${keyRows(rows)}
</tbody></table></div>`
}

function stageSection(s: StageReport, i: number): string {
  const out: string[] = []
  out.push(
    `<section class="stage" id="stage-${i + 1}">`,
    `<h2>${h(s.stage)} ${badge(s.verdict, STAGE_TEXT[s.verdict])}</h2>`,
  )
  const meta = [`<code>${h(s.file)}</code>`]
  if (s.project !== undefined) meta.push(`project <code>${h(s.project)}</code>`)
  if (s.log !== undefined) meta.push(`log <code>${h(s.log)}</code>`)
  meta.push(
    `${s.tests.total} test${s.tests.total === 1 ? '' : 's'}${s.tests.failed ? `, ${s.tests.failed} failed` : ''}`,
  )
  out.push(`<p class="meta">${meta.join(' · ')}</p>`, `<p class="line">${h(s.summary)}</p>`)
  if (s.errors.length > 0) {
    out.push(`<ul class="errors">${s.errors.map((e) => `<li>${h(e)}</li>`).join('')}</ul>`)
  }
  if (s.keys.length > 0) out.push('<h3>Keys</h3>', keyTable(s.keys, `keys of ${s.stage}`))
  const layered = [...s.keys, ...s.controls].filter((k) => k.layerwise !== undefined)
  if (layered.length > 0) out.push('<h3>Layer by layer</h3>', ...layered.map(layerwiseHtml))
  if (s.sequences.length > 0) {
    out.push(
      '<h3>Curves</h3>',
      `<div class="charts wide">${s.sequences.map(sequenceFigure).join('\n')}</div>`,
    )
  }
  // a key drawn as a point of a curve gets no histogram of its one element
  const onCurves = new Set(s.sequences.flatMap((q) => q.points.map((p) => p.key)))
  const hists = s.keys
    .filter((k) => !onCurves.has(k.key))
    .map(histogramFigure)
    .filter((f) => f !== '')
  if (hists.length > 0) {
    out.push('<h3>|Δ| by decade</h3>', `<div class="charts">${hists.join('\n')}</div>`)
  }
  if (s.controls.length > 0) {
    out.push(
      '<h3>Negative controls</h3>',
      '<p class="note">Each compares a deliberately broken candidate under <code>.not</code>: it is expected to fail. A control that aligns proves nothing.</p>',
      keyTable(s.controls, `negative controls of ${s.stage}`),
    )
    const ch = s.controls.map(histogramFigure).filter((f) => f !== '')
    if (ch.length > 0)
      out.push(`<div class="charts" style="margin-top:12px">${ch.join('\n')}</div>`)
  }
  out.push('</section>')
  return out.join('\n')
}

function overview(report: AlignReport): string {
  const rows = report.stages.map(
    (s, i) =>
      `<tr><td><a href="#stage-${i + 1}">${h(s.stage)}</a></td><td class="mono">${h(s.file)}</td><td class="num">${s.keys.length}</td><td class="num">${s.keys.filter((k) => !k.pass).length}</td><td class="num">${formatNumber(s.maxRel)}</td><td class="num">${s.controls.length}</td><td>${badge(s.verdict, STAGE_TEXT[s.verdict])}</td></tr>`,
  )
  return `<section class="overview"><table class="stages" aria-label="stages"><thead><tr><th>stage</th><th>file</th><th class="num">keys</th><th class="num">not aligned</th><th class="num">max rel Δ</th><th class="num">negative controls</th><th>verdict</th></tr></thead>
<tbody>
${rows.join('\n')}
</tbody></table></section>`
}

/** The whole page. */
export function renderHtml(report: AlignReport): string {
  const t = report.totals
  const card = (n: number, label: string, bad = false) =>
    `<div class="card${bad && n > 0 ? ' bad' : ''}"><b>${n}</b><span>${h(label)}</span></div>`
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>vitest-align report: ${report.verdict === 'pass' ? 'aligned' : report.verdict === 'fail' ? 'not aligned' : 'empty'}</title>
<style>${CSS}${LAYERS_CSS}</style>
</head>
<body>
<header class="top"><div class="wrap">
<h1>vitest-align report<small>a port against its reference, stage by stage</small></h1>
<p class="headline ${report.verdict}">${h(headline(report))}</p>
<div class="cards">${card(t.stages, 'stages')}${card(t.failedStages, 'stages not aligned', true)}${card(t.keys, 'keys compared')}${card(t.failedKeys, 'keys not aligned', true)}${card(t.controls, 'negative controls')}${card(t.brokenControls, 'controls that aligned', true)}</div>
</div></header>
<main class="wrap">
${report.stages.length > 0 ? overview(report) : '<section><p>No key was compared.</p></section>'}
${report.stages.map(stageSection).join('\n')}
</main>
<footer>vitest-align · report format version ${REPORT_VERSION} · report.json holds every number shown here</footer>
</body>
</html>
`
}
