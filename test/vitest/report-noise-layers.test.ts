import { describe, expect, test } from 'vitest'
import { compareLayerwise } from '../../src/compare/layerwise.js'
import { compareWithinNoise } from '../../src/compare/noise.js'
import { annotationOf } from '../../src/vitest/defaults.js'
import { type AlignCheck, toCheck, toLayerwiseCheck } from '../../src/vitest/record.js'
import { buildReport, formatReportJson, type StageInput } from '../../src/vitest/report.js'
import { renderHtml } from '../../src/vitest/report-html.js'
import { formatSummary } from '../../src/vitest/report-markdown.js'

const f32 = (xs: number[]) => Float32Array.from(xs)

function noiseChecks(candidate: number[], negated = false): AlignCheck[] {
  const r = compareWithinNoise({ loss: f32(candidate) }, { loss: [2.3, 2.1, 1.9, 1.7] }, [
    { loss: [2.3, 2.11, 1.92, 1.75] },
    { loss: [2.3, 2.09, 1.87, 1.66] },
  ])
  return r.keys.map((k) => toCheck('toStayWithinNoise', negated, k, r.pass))
}

const PATHS = ['features.0.0', 'features.1.block.0', 'features.1.block.1', 'features.1', 'head']

function layerCheck(breakAt: number | undefined): AlignCheck {
  const ref: Record<string, Float32Array> = {}
  const port: Record<string, Float32Array> = {}
  PATHS.forEach((p, i) => {
    const v = Array.from({ length: 6 }, (_, j) => Math.sin(i + j) + 2)
    ref[p] = f32(v)
    const err = breakAt !== undefined && i >= breakAt ? 0.1 : 1e-7
    port[p] = f32(v.map((x, j) => x * (1 + (j % 2 ? err : -err))))
  })
  return toLayerwiseCheck('toAlignLayerwise', false, compareLayerwise(port, ref))
}

function stage(checks: AlignCheck[], state: 'passed' | 'failed' = 'passed'): StageInput {
  return { file: 'stages/05-training.align.test.ts', tests: [{ name: 'training', state, checks }] }
}

describe('the report of a noise check', () => {
  const report = buildReport([stage(noiseChecks([2.3, 2.12, 1.95, 2.4]), 'failed')])
  const key = report.stages[0]?.keys[0]

  test('report.json: the noise rule, the worst element against the spread, the curve', () => {
    expect(key?.rule).toMatchObject({ method: 'noise', factor: 3, runs: 2 })
    expect(key?.tolerance).toBe('3 × spread of 2 noise runs + atol=1e-5 rtol=1.3e-6')
    expect(key?.noise?.worst).toMatchObject({ index: [3], expected: 1.7 })
    expect(key?.noise?.worst?.spread).toBeCloseTo(0.05, 6)
    expect(key?.noise?.curve?.outside).toEqual([3])
    expect(key?.wouldPass?.factor).toBeGreaterThan(13)
    const json = JSON.parse(formatReportJson(report))
    expect(json.stages[0].keys[0].noise.curve.bound).toHaveLength(4)
  })

  test('a sequence with its band, each point the core’s verdict', () => {
    const seq = report.stages[0]?.sequences[0]
    expect(seq?.name).toBe('loss')
    expect(seq?.points.map((p) => p.pass)).toEqual([true, true, true, false])
    const b = seq?.points[1]?.band
    expect(b?.runsLo).toBeCloseTo(2.09, 6)
    expect(b?.runsHi).toBeCloseTo(2.11, 6)
    expect((b?.hi ?? 0) - 2.1).toBeCloseTo(3 * 0.01 + 1e-5 + 1.3e-6 * 2.1, 6)
  })

  test('summary.md and index.html render it: the reason, the band', () => {
    const md = formatSummary(report)
    expect(md).toContain('outside 3 × spread of 2 noise runs')
    expect(md).toContain('passes at factor=')
    const html = renderHtml(report)
    expect(html).toContain('<path class="band"')
    expect(html).toContain('<path class="runs"')
    expect(html).toContain('noise band')
  })

  test('the annotation says why', () => {
    const c = noiseChecks([2.3, 2.12, 1.95, 2.4])[0] as AlignCheck
    expect(annotationOf(c, false).message).toMatch(
      /^toStayWithinNoise loss: not aligned: 1 \/ 4 \(25\.0%\) elements outside 3 × spread/,
    )
  })
})

describe('the report of a layer-by-layer check', () => {
  test('report.json: a structured layerwise field, every module and the first break', () => {
    const report = buildReport([stage([layerCheck(2)], 'failed')])
    const key = report.stages[0]?.keys[0]
    expect(key?.matcher).toBe('toAlignLayerwise')
    expect(key?.pass).toBe(false)
    expect(key?.layerwise?.firstBreak).toBe('features.1.block.1')
    expect(key?.layerwise?.modules.map((m) => [m.module, m.status])).toEqual([
      ['features.0.0', 'aligned'],
      ['features.1.block.0', 'aligned'],
      ['features.1.block.1', 'break'],
      ['features.1', 'drift'],
      ['head', 'drift'],
    ])
    expect(key?.layerwise?.modules[2]?.error).toBeGreaterThan(0.05)
    expect(key?.layerwise?.modules[0]?.baseline).toBe(0)
    const json = JSON.parse(formatReportJson(report))
    expect(json.stages[0].keys[0].layerwise.firstBreak).toBe('features.1.block.1')
    expect(json.stages[0].keys[0].failures[0].kind).toBe('break')
  })

  test('summary.md: the break and the module tree; index.html: the tree, the break row marked', () => {
    const report = buildReport([stage([layerCheck(2)], 'failed')])
    const md = formatSummary(report)
    expect(md).toContain('### Layer by layer')
    expect(md).toContain('alignment breaks at features.1.block.1')
    expect(md).toMatch(/```text\nmodule +error +growth +status\nfeatures\n {2}0\n/)
    expect(md).toContain('<- alignment breaks here')
    const html = renderHtml(report)
    expect(html).toContain('<h3>Layer by layer</h3>')
    const breakRows = html.match(/<tr class="break">.*?<\/tr>/g) ?? []
    expect(breakRows).toHaveLength(1)
    expect(breakRows[0]).toContain('title="features.1.block.1"')
    expect(breakRows[0]).toContain('← alignment breaks here')
    expect(html.match(/<tr class="heading">/g)).toHaveLength(4) // features, 0, 1, block
  })

  test('a passing chain reports its growth, no break', () => {
    const report = buildReport([stage([layerCheck(undefined)])])
    expect(report.stages[0]?.verdict).toBe('pass')
    expect(formatSummary(report)).toContain('5 modules aligned layer by layer')
    expect(renderHtml(report)).not.toContain('<tr class="break">')
  })
})
