/**
 * The report page's charts, as inline SVG: a check's |Δ| histogram by decade, the tolerance
 * marked, and a sequence's curves (`loss_0..n`: the reference and the candidate on one chart,
 * failing points ringed). Pure: the same check gives the same bytes; text is escaped.
 */
import { formatNumber, formatValue, keyName } from '../compare/format.js'
import { HISTOGRAM_DECADES } from '../compare/histogram.js'
import type { Rule } from '../compare/options.js'
import type { KeyReport, SequenceReport } from './report.js'
import { escapeHtml as h } from './report-cells.js'

/** A coordinate with at most 2 decimals. */
const px = (x: number): string => String(Math.round(x * 100) / 100)

const BIN_LABELS = [
  '|Δ| = 0',
  '0 < |Δ| ≤ 1e-12',
  ...HISTOGRAM_DECADES.slice(1).map(
    (edge, i) => `${formatNumber(HISTOGRAM_DECADES[i] as number)} < |Δ| ≤ ${formatNumber(edge)}`,
  ),
  `|Δ| > ${formatNumber(HISTOGRAM_DECADES[HISTOGRAM_DECADES.length - 1] as number)} or not finite`,
]

/** The per-element tolerance to mark on the |Δ| axis, with its label. */
function toleranceMark(rule: Rule | undefined): { value: number; label: string } | undefined {
  if (rule === undefined) return undefined
  if (rule.method === 'allclose' || rule.method === 'noise')
    return { value: rule.atol, label: `atol ${formatNumber(rule.atol)}` }
  return { value: rule.threshold, label: `threshold ${formatNumber(rule.threshold)}` }
}

/** A bar chart of a check's |Δ| histogram: one bar per decade, the tolerance marked. */
export function histogramSvg(c: KeyReport): string {
  const hist = c.histogram
  if (hist === undefined) return ''
  const W = 330
  const H = 150
  const L = 38
  const R = 10
  const T = 18
  const B = 32
  const pw = W - L - R
  const ph = H - T - B
  const bins = hist.counts.length
  const bw = pw / bins
  const max = Math.max(1, ...hist.counts)
  const color =
    c.verdict === 'pass'
      ? '#3b82d6'
      : c.verdict === 'fail' || c.verdict === 'unexpected-pass'
        ? '#d9434e'
        : '#8a63d2'
  const out: string[] = []
  out.push(
    `<svg class="hist" xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="${h(`|Δ| histogram of ${keyName(c.key)}`)}">`,
  )
  // counts are integers: ticks at 0, the largest count and, when it is an integer, half of it
  for (const tick of max % 2 === 0 ? [0, max / 2, max] : [0, max]) {
    const y = T + ph - (tick / max) * ph
    out.push(`<line class="grid" x1="${L}" x2="${W - R}" y1="${px(y)}" y2="${px(y)}"/>`)
    out.push(`<text x="${L - 5}" y="${px(y + 3)}" text-anchor="end">${tick}</text>`)
  }
  hist.counts.forEach((count, i) => {
    if (count === 0) return
    const bh = Math.max(1.5, (count / max) * ph)
    const x = L + i * bw + 1
    out.push(
      `<rect x="${px(x)}" y="${px(T + ph - bh)}" width="${px(bw - 2)}" height="${px(bh)}" rx="1.5" fill="${color}"><title>${h(`${BIN_LABELS[i] ?? ''}: ${count} element${count === 1 ? '' : 's'}`)}</title></rect>`,
    )
  })
  out.push(`<line class="axis" x1="${L}" x2="${W - R}" y1="${T + ph}" y2="${T + ph}"/>`)
  // bin i of a decade (u = log10|Δ| + 14 on the axis, in bins): bin 0 is |Δ| = 0
  const xAt = (u: number) => L + u * bw
  out.push(`<text x="${px(xAt(0.5))}" y="${H - B + 14}" text-anchor="middle">0</text>`)
  for (const [u, label] of [
    [2, '1e-12'],
    [5, '1e-9'],
    [8, '1e-6'],
    [11, '1e-3'],
    [14, '1'],
    [16, '1e2'],
  ] as const) {
    out.push(
      `<line class="axis" x1="${px(xAt(u))}" x2="${px(xAt(u))}" y1="${T + ph}" y2="${T + ph + 3}"/>`,
    )
    out.push(`<text x="${px(xAt(u))}" y="${H - B + 14}" text-anchor="middle">${label}</text>`)
  }
  out.push(`<text x="${W - R}" y="${H - 4}" text-anchor="end">|Δ| by decade</text>`)
  const mark = toleranceMark(c.rule)
  if (mark !== undefined && mark.value <= 100) {
    const u = mark.value === 0 ? 1 : Math.max(1, Math.log10(mark.value) + 14)
    const x = xAt(u)
    const anchor = u > bins * 0.7 ? 'end' : 'start'
    out.push(
      `<line x1="${px(x)}" x2="${px(x)}" y1="${T - 4}" y2="${T + ph}" stroke="#57606a" stroke-width="1" stroke-dasharray="3 3"/>`,
      `<text x="${px(anchor === 'end' ? x - 4 : x + 4)}" y="${T + 4}" text-anchor="${anchor}">${h(mark.label)}</text>`,
    )
  }
  out.push('</svg>')
  return out.join('')
}

/** Round tick values between lo and hi, about `count` of them. */
function niceTicks(lo: number, hi: number, count = 6): number[] {
  const raw = (hi - lo) / count
  const mag = 10 ** Math.floor(Math.log10(raw))
  const step = ([1, 2, 2.5, 5, 10].find((m) => m * mag >= raw) ?? 10) * mag
  const ticks: number[] = []
  for (let t = Math.ceil(lo / step - 1e-9) * step; t <= hi + step * 1e-9; t += step) {
    ticks.push(Math.abs(t) < step * 1e-9 ? 0 : Number(t.toPrecision(12)))
  }
  return ticks
}

/**
 * One chart of a sequence: the reference and the candidate, a legend, failing points ringed;
 * under the noise rule also the pass band (reference ∓ bound) and the noise runs' envelope.
 */
export function sequenceSvg(seq: SequenceReport): string {
  const pts = seq.points
  const W = 560
  const H = 250
  const L = 58
  const R = 18
  const T = 34
  const B = 34
  const pw = W - L - R
  const ph = H - T - B
  const values = pts.flatMap((p) =>
    p.band
      ? [p.actual, p.expected, p.band.lo, p.band.hi, p.band.runsLo, p.band.runsHi]
      : [p.actual, p.expected],
  )
  let lo = Math.min(...values)
  let hi = Math.max(...values)
  const pad = hi > lo ? (hi - lo) * 0.08 : Math.abs(hi) * 0.1 || 1
  lo -= pad
  hi += pad
  const ticks = niceTicks(lo, hi)
  lo = Math.min(lo, ticks[0] ?? lo)
  hi = Math.max(hi, ticks[ticks.length - 1] ?? hi)
  const first = pts[0]?.index ?? 0
  const last = pts[pts.length - 1]?.index ?? first + 1
  const x = (i: number) => L + ((i - first) / Math.max(1, last - first)) * pw
  const y = (v: number) => T + ph - ((v - lo) / (hi - lo)) * ph
  const out: string[] = []
  out.push(
    `<svg class="curve" xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="${h(`${seq.name}: reference and candidate by step`)}">`,
  )
  for (const t of ticks) {
    if (t < lo || t > hi) continue
    out.push(`<line class="grid" x1="${L}" x2="${W - R}" y1="${px(y(t))}" y2="${px(y(t))}"/>`)
    out.push(
      `<text x="${L - 6}" y="${px(y(t) + 3)}" text-anchor="end">${h(formatNumber(t))}</text>`,
    )
  }
  out.push(`<line class="axis" x1="${L}" x2="${W - R}" y1="${T + ph}" y2="${T + ph}"/>`)
  const every = Math.max(1, Math.ceil(pts.length / 12))
  pts.forEach((p, i) => {
    if (i % every !== 0 && i !== pts.length - 1) return
    out.push(
      `<line class="axis" x1="${px(x(p.index))}" x2="${px(x(p.index))}" y1="${T + ph}" y2="${T + ph + 3}"/>`,
    )
    out.push(
      `<text x="${px(x(p.index))}" y="${T + ph + 15}" text-anchor="middle">${p.index}</text>`,
    )
  })
  out.push(`<text x="${W - R}" y="${H - 3}" text-anchor="end">step (${h(seq.name)}_i)</text>`)
  const path = (side: 'actual' | 'expected') =>
    pts.map((p, i) => `${i === 0 ? 'M' : 'L'}${px(x(p.index))} ${px(y(p[side]))}`).join(' ')
  const banded = pts.every((p) => p.band !== undefined)
  if (banded) {
    // an area between two edges: along the upper one, back along the lower one
    const area = (upper: (p: (typeof pts)[number]) => number, lower: typeof upper) =>
      `${pts.map((p, i) => `${i === 0 ? 'M' : 'L'}${px(x(p.index))} ${px(y(upper(p)))}`).join(' ')} ${[
        ...pts,
      ]
        .reverse()
        .map((p) => `L${px(x(p.index))} ${px(y(lower(p)))}`)
        .join(' ')} Z`
    out.push(
      `<path class="band" d="${area(
        (p) => p.band?.hi ?? p.expected,
        (p) => p.band?.lo ?? p.expected,
      )}" fill="#0969da" fill-opacity="0.1" stroke="#0969da" stroke-opacity="0.35" stroke-width="0.75"><title>${h('pass band: reference ∓ (factor × spread + floor)')}</title></path>`,
      `<path class="runs" d="${area(
        (p) => p.band?.runsHi ?? p.expected,
        (p) => p.band?.runsLo ?? p.expected,
      )}" fill="#0969da" fill-opacity="0.22" stroke="none"><title>${h("the reference's noise runs: min to max")}</title></path>`,
    )
  }
  out.push(
    `<path d="${path('expected')}" fill="none" stroke="#0969da" stroke-opacity="0.5" stroke-width="4" stroke-linejoin="round" stroke-linecap="round"/>`,
    `<path d="${path('actual')}" fill="none" stroke="#d4590b" stroke-width="1.75" stroke-dasharray="6 4" stroke-linejoin="round"/>`,
  )
  for (const p of pts) {
    const tip = h(
      `${p.key}: reference ${formatValue(p.expected)}, candidate ${formatValue(p.actual)}${p.pass ? '' : ' (not aligned)'}`,
    )
    out.push(
      `<circle cx="${px(x(p.index))}" cy="${px(y(p.expected))}" r="4" fill="#0969da"><title>${tip}</title></circle>`,
      `<circle cx="${px(x(p.index))}" cy="${px(y(p.actual))}" r="2.6" fill="#fff" stroke="#d4590b" stroke-width="1.5"><title>${tip}</title></circle>`,
    )
    if (!p.pass) {
      out.push(
        `<circle cx="${px(x(p.index))}" cy="${px(y(p.actual))}" r="7" fill="none" stroke="#cf222e" stroke-width="1.5"><title>${tip}</title></circle>`,
      )
    }
  }
  // legend
  const lx = L + 4
  out.push(
    `<g class="legend"><line x1="${lx}" x2="${lx + 22}" y1="14" y2="14" stroke="#0969da" stroke-opacity="0.5" stroke-width="4" stroke-linecap="round"/><circle cx="${lx + 11}" cy="14" r="4" fill="#0969da"/><text x="${lx + 28}" y="17.5" style="font-size:11px">reference (expected)</text>`,
    `<line x1="${lx + 150}" x2="${lx + 172}" y1="14" y2="14" stroke="#d4590b" stroke-width="1.75" stroke-dasharray="6 4"/><circle cx="${lx + 161}" cy="14" r="2.6" fill="#fff" stroke="#d4590b" stroke-width="1.5"/><text x="${lx + 178}" y="17.5" style="font-size:11px">candidate (actual)</text>`,
  )
  if (banded) {
    out.push(
      `<rect x="${lx + 290}" y="8" width="22" height="12" fill="#0969da" fill-opacity="0.16" stroke="#0969da" stroke-opacity="0.35" stroke-width="0.75"/><text x="${lx + 318}" y="17.5" style="font-size:11px">noise band</text>`,
    )
  }
  if (pts.some((p) => !p.pass)) {
    const at = banded ? 395 : 305
    out.push(
      `<circle cx="${lx + at}" cy="14" r="6" fill="none" stroke="#cf222e" stroke-width="1.5"/><text x="${lx + at + 11}" y="17.5" style="font-size:11px">not aligned</text>`,
    )
  }
  out.push('</g></svg>')
  return out.join('')
}
