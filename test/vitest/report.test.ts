import { describe, expect, test } from 'vitest'
import { compare } from '../../src/compare/compare.js'
import type { AlignOptions } from '../../src/compare/options.js'
import { formatReprodLog } from '../../src/io/reprod-diff.js'
import { annotationOf } from '../../src/vitest/defaults.js'
import { matcherMessage, stageLine } from '../../src/vitest/message.js'
import { type AlignCheck, toCheck } from '../../src/vitest/record.js'
import {
  type AlignReport,
  buildReport,
  findSequences,
  formatReportJson,
  REPORT_VERSION,
  type StageInput,
} from '../../src/vitest/report.js'
import { escapeHtml, renderHtml } from '../../src/vitest/report-html.js'
import { stageLogLines } from '../../src/vitest/report-log.js'
import { escapeMarkdown, formatSummary } from '../../src/vitest/report-markdown.js'

/** The checks a matcher would record for this comparison. */
function checks(
  actual: unknown,
  expected: unknown,
  options: AlignOptions = {},
  negated = false,
): AlignCheck[] {
  const result = compare(actual, expected, options, { histogram: true })
  return result.keys.map((k) => toCheck('toAlignWith', negated, k, result.pass))
}

/** A hand-made check, every number chosen. */
function check(key: string, over: Partial<AlignCheck> = {}): AlignCheck {
  return {
    matcher: 'toAlignWith',
    key,
    pass: true,
    negated: false,
    actual: { shape: [3], dtype: 'float32' },
    expected: { shape: [3], dtype: 'float32' },
    rule: { method: 'allclose', atol: 1e-5, rtol: 1.3e-6 },
    stats: { n: 3, meanAbs: 1e-7, maxAbs: 2e-7, minAbs: 0, maxRel: 1e-7, mismatches: 0 },
    failures: [],
    callPass: over.pass ?? true, // a lone-key call: the call's verdict is the key's
    ...over,
  }
}

const f32 = (...v: number[]) => Float32Array.from(v)

/** One training step's loss and learning rate, as one-element arrays: `loss_i`, `lr_i`. */
function steps(
  n: number,
  off = 0,
): { port: Record<string, Float32Array>; ref: Record<string, number[]> } {
  const port: Record<string, Float32Array> = {}
  const ref: Record<string, number[]> = {}
  for (let i = 0; i < n; i++) {
    port[`loss_${i}`] = f32(2 / (i + 1) + (i === 2 ? off : 0))
    ref[`loss_${i}`] = [2 / (i + 1)]
    port[`lr_${i}`] = f32(0.001)
    ref[`lr_${i}`] = [0.001]
  }
  return { port, ref }
}

const FORWARD: StageInput = {
  file: 'stages/01-forward.align.test.ts',
  tests: [
    {
      name: 'forward > logits',
      state: 'passed',
      checks: checks({ logits: f32(1, 2, 3), 'a|b': f32(4) }, { logits: [1, 2, 3], 'a|b': [4] }),
    },
    {
      name: 'forward > negative control',
      state: 'passed',
      checks: checks({ logits: f32(1, 2, 3) }, { logits: [1, 2, 4] }, {}, true),
    },
  ],
}

const LOSS: StageInput = {
  file: 'stages/03-loss.align.test.ts',
  tests: [
    {
      name: 'loss',
      state: 'failed',
      checks: checks({ loss: f32(2.5) }, { loss: [2.4] }, { method: 'mean', threshold: 1e-6 }),
    },
  ],
}

const TRAIN: StageInput = (() => {
  const { port, ref } = steps(3)
  return {
    file: 'stages/02-train.align.test.ts',
    tests: [{ name: 'train', state: 'passed', checks: checks(port, ref) }],
  }
})()

describe('buildReport', () => {
  const report = buildReport([LOSS, FORWARD, TRAIN])

  test('stages are sorted by file path, whatever order they come in', () => {
    expect(report.stages.map((s) => s.stage)).toEqual(['forward', 'train', 'loss'])
    expect(buildReport([TRAIN, LOSS, FORWARD])).toEqual(report)
    expect(report.version).toBe(REPORT_VERSION)
  })

  test('keys keep the recorded order; negative controls are apart; verdicts per check and stage', () => {
    const forward = report.stages[0]
    expect(forward?.keys.map((k) => [k.test, k.key, k.verdict])).toEqual([
      ['forward > logits', 'logits', 'pass'],
      ['forward > logits', 'a|b', 'pass'],
    ])
    expect(forward?.controls.map((k) => [k.key, k.verdict])).toEqual([['logits', 'expected-fail']])
    expect(forward?.verdict).toBe('pass')
    expect(forward?.summary).toBe('2 keys aligned, max rel Δ 0 (1 negative control)')
    expect(forward?.keys[0]?.tolerance).toBe('allclose atol=1e-5 rtol=1.3e-6')
    expect(forward?.log).toBe('forward_diff.log')

    const loss = report.stages[2]
    expect(loss?.verdict).toBe('fail')
    expect(loss?.keys[0]?.verdict).toBe('fail')
    expect(loss?.failedTests).toEqual(['loss'])
    expect(loss?.tests).toEqual({ total: 1, passed: 0, failed: 1, skipped: 0 })
    expect(loss?.keys[0]?.tolerance).toBe('mean |Δ| <= 1e-6')

    expect(report.verdict).toBe('fail')
    expect(report.totals).toEqual({
      stages: 3,
      failedStages: 1,
      keys: 9,
      failedKeys: 1,
      controls: 1,
      brokenControls: 0,
    })
  })

  test('a negative control that aligns is broken: the stage fails', () => {
    const r = buildReport([
      {
        file: 'x.align.test.ts',
        tests: [{ name: 't', state: 'failed', checks: checks([1], [1], {}, true) }],
      },
    ])
    expect(r.stages[0]?.controls[0]?.verdict).toBe('unexpected-pass')
    expect(r.stages[0]?.verdict).toBe('fail')
    expect(r.totals.brokenControls).toBe(1)
    expect(r.stages[0]?.summary).toBe(
      'no keys compared (1 negative control; aligned, so broken: (value))',
    )
  })

  test('a negative control over a record holds when one key is off, though others align', () => {
    const control = checks({ a: [1], b: [2] }, { a: [1], b: [3] }, {}, true)
    expect(control.map((c) => [c.key, c.pass, c.callPass])).toEqual([
      ['a', true, false],
      ['b', false, false],
    ])
    const r = buildReport([
      { file: 'x.align.test.ts', tests: [{ name: 't', state: 'passed', checks: control }] },
    ])
    expect(r.stages[0]?.controls.map((k) => k.verdict)).toEqual(['expected-fail', 'expected-fail'])
    expect(r.stages[0]?.summary).toBe('no keys compared (2 negative controls)')
    expect(r.totals.brokenControls).toBe(0)
  })

  test('which files are stages; a failed test or a file error fails the stage', () => {
    const r = buildReport([
      { file: 'unit.test.ts', tests: [{ name: 'u', state: 'passed', checks: [] }] },
      { file: 'b/05-empty.align.test.ts', tests: [{ name: 'e', state: 'skipped', checks: [] }] },
      {
        file: 'a/09-broken.align.test.ts',
        errors: ['Error: Cannot find module ./golden.npy'],
        tests: [],
      },
      {
        file: 'c/plain.test.ts',
        tests: [{ name: 'p', state: 'failed', checks: checks([1], [1]) }],
      },
    ])
    expect(r.stages.map((s) => [s.stage, s.verdict])).toEqual([
      ['broken', 'fail'],
      ['empty', 'empty'],
      ['plain', 'fail'],
    ])
    expect(r.stages[0]?.errors).toEqual(['Error: Cannot find module ./golden.npy'])
    expect(r.stages[0]?.log).toBeUndefined()
    expect(buildReport([]).verdict).toBe('empty')
  })

  test('stages with the same name get distinct log files', () => {
    const r = buildReport([
      {
        file: 'b/forward.align.test.ts',
        tests: [{ name: 't', state: 'passed', checks: checks([1], [1]) }],
      },
      {
        file: 'a/01-forward.align.test.ts',
        tests: [{ name: 't', state: 'passed', checks: checks([1], [1]) }],
      },
      {
        file: 'c/odd name!.test.ts',
        tests: [{ name: 't', state: 'passed', checks: checks([1], [1]) }],
      },
    ])
    expect(r.stages.map((s) => s.log)).toEqual([
      'forward_diff.log',
      'forward-2_diff.log',
      'odd_name_diff.log',
    ])
  })

  test('report.json is the report, with short arrays on one line', () => {
    const text = formatReportJson(report)
    expect(JSON.parse(text)).toEqual(JSON.parse(JSON.stringify(report)))
    expect(text).toContain('"shape": [3]')
    expect(text).toMatch(/"counts": \[\d+(, \d+){16}\]/)
    expect(text.endsWith('}\n')).toBe(true)
  })
})

describe('sequences', () => {
  test('loss_0..2 and lr_0..2 of one-element checks are curves, in order of appearance', () => {
    const { port, ref } = steps(3, 0.5)
    const seqs = findSequences(checks(port, ref))
    expect(seqs.map((s) => s.name)).toEqual(['loss', 'lr'])
    expect(seqs[0]?.points.map((p) => [p.index, p.key, p.pass])).toEqual([
      [0, 'loss_0', true],
      [1, 'loss_1', true],
      [2, 'loss_2', false],
    ])
    expect(seqs[0]?.points[2]?.expected).toBeCloseTo(2 / 3, 12)
    expect(seqs[0]?.points[2]?.actual).toBeCloseTo(2 / 3 + 0.5, 6)
    expect(buildReport([TRAIN]).stages[0]?.sequences.map((s) => s.name)).toEqual(['loss', 'lr'])
  })

  test('indices may start anywhere, keys may be nested; points are sorted by index', () => {
    const seqs = findSequences(
      checks(
        { 'train.acc_3': f32(3), 'train.acc_1': f32(1), 'train.acc_2': f32(2) },
        { 'train.acc_3': [3], 'train.acc_1': [1], 'train.acc_2': [2] },
      ),
    )
    expect(seqs).toHaveLength(1)
    expect(seqs[0]?.name).toBe('train.acc')
    expect(seqs[0]?.points.map((p) => p.index)).toEqual([1, 2, 3])
  })

  test('not a curve: a non-scalar member, a gap, a lone key, a repeated key, a negative control', () => {
    const nonScalar = checks({ loss_0: f32(1), loss_1: f32(1, 2) }, { loss_0: [1], loss_1: [1, 2] })
    const gap = checks({ lr_0: f32(1), lr_2: f32(1) }, { lr_0: [1], lr_2: [1] })
    const lone = checks({ step_0: f32(1) }, { step_0: [1] })
    const repeated = [
      ...checks({ m_0: f32(1), m_1: f32(1) }, { m_0: [1], m_1: [1] }),
      ...checks({ m_1: f32(1) }, { m_1: [1] }),
    ]
    const noName = checks({ _0: f32(1), _1: f32(1), '7': f32(1) }, { _0: [1], _1: [1], '7': [1] })
    for (const c of [nonScalar, gap, lone, repeated, noName]) expect(findSequences(c)).toEqual([])
    const controls = checks(
      { loss_0: f32(1), loss_1: f32(2) },
      { loss_0: [3], loss_1: [4] },
      {},
      true,
    )
    expect(
      buildReport([
        { file: 'x.align.test.ts', tests: [{ name: 't', state: 'passed', checks: controls }] },
      ]).stages[0]?.sequences,
    ).toEqual([])
  })
})

describe('<stage>_diff.log', () => {
  test("reprod_log's lines, byte for byte, for every kind of check", () => {
    const int32 = { shape: [2], dtype: 'int32' } as const
    const lines = stageLogLines([
      check('logits', {
        rule: { method: 'mean', threshold: 1e-5 },
        stats: {
          n: 3,
          meanAbs: 2.308018565599923e-6,
          maxAbs: 4e-6,
          minAbs: 0,
          maxRel: 1e-6,
          mismatches: 0,
        },
      }),
      check('step', {
        pass: false,
        actual: int32,
        expected: int32,
        rule: { method: 'all', threshold: 1e-6 },
        stats: { n: 2, meanAbs: 1.5, maxAbs: 3, minAbs: 0, maxRel: 1, mismatches: 1 },
        failures: [
          { kind: 'threshold', method: 'max', value: 3, threshold: 1e-6 },
          { kind: 'threshold', method: 'mean', value: 1.5, threshold: 1e-6 },
        ],
      }),
      check('probs', {
        pass: false,
        stats: { n: 3, meanAbs: 1e-4, maxAbs: 3e-4, minAbs: 0, maxRel: 1e-3, mismatches: 1 },
        failures: [{ kind: 'allclose', mismatches: 1, n: 3 }],
      }),
      check('head.bias', {
        rule: { method: 'max', threshold: 1e-6 },
        stats: { n: 3, meanAbs: 1e-7, maxAbs: 1e-6, minAbs: 0, maxRel: 1e-7, mismatches: 0 },
      }),
      check('broken', { negated: true, pass: false }),
      check('nan', {
        pass: false,
        rule: { method: 'mean', threshold: 1e-6 },
        stats: { n: 3, minAbs: 0, mismatches: 1 },
        failures: [{ kind: 'threshold', method: 'mean', threshold: 1e-6 }],
      }),
      check('gone', { pass: false, failures: [{ kind: 'missing' }], stats: undefined as never }),
      check('', {
        pass: false,
        rule: { method: 'min', threshold: 1e-6 },
        stats: {
          n: 3,
          meanAbs: 1e-7,
          maxAbs: 2e-7,
          minAbs: 0,
          maxRel: 1e-7,
          mismatches: 0,
          minAbsExpected: 0,
        },
        failures: [{ kind: 'vacuous' }],
      }),
    ])
    expect(formatReprodLog(lines, new Date(2024, 0, 2, 3, 4, 5))).toBe(
      [
        'logits: ',
        '\tmean diff: check passed: True, value: 2.308018565599923e-06',
        'step: ',
        '\tmin diff: check passed: True, value: 0',
        '\tmax diff: check passed: False, value: 3',
        '\tmean diff: check passed: False, value: 1.5',
        'probs: ',
        '\tallclose atol=1e-5 rtol=1.3e-6: check passed: False, value: 1 / 3 elements outside',
        '\tmean diff (not judged): value: 0.0001',
        '\tcheck failed: 1 / 3 (33.3%) elements outside allclose atol=1e-5 rtol=1.3e-6',
        'head.bias: ',
        '\tmax diff: check passed: True, value: 1e-06',
        'nan: ',
        '\tmean diff: check passed: False, value: inf',
        'gone: missing from candidate',
        '(value): ',
        '\tmin diff: check passed: True, value: 0.0',
        '\tcheck failed: vacuous: an all-zero candidate would pass too (min |reference| 0 is within min |Δ| <= 1e-6); tighten the tolerance or set allowVacuous',
        'diff check failed',
      ]
        .map((l) => `[2024/01/02 03:04:05] root INFO: ${l}\n`)
        .join(''),
    )
    expect(stageLogLines([check('a'), check('b', { negated: true, pass: true })])).toEqual([
      'a: ',
      '\tallclose atol=1e-5 rtol=1.3e-6: check passed: True, value: 0 / 3 elements outside',
      '\tmean diff (not judged): value: 1e-07',
      'diff check passed',
    ])
  })
})

describe('summary.md', () => {
  const summary = formatSummary(buildReport([LOSS, FORWARD, TRAIN]))

  test('the verdict, an overview, and one table per stage', () => {
    const lines = summary.split('\n')
    expect(lines[0]).toBe('# vitest-align report')
    expect(summary).toContain(
      '**FAIL: 1 of 3 stages not aligned; 8 of 9 keys aligned; 1 negative control, all failing as expected.**',
    )
    expect(summary).toContain(
      '| forward | stages/01-forward.align.test.ts | 2 | 0 | 0 | 1 | pass |',
    )
    expect(summary).toContain(
      '| loss | stages/03-loss.align.test.ts | 1 | 1 | 0.0417 | 0 | **fail** |',
    )
    expect(summary).toContain(
      '| test | key | shape | mean \\|Δ\\| | max \\|Δ\\| | max rel Δ | tolerance | verdict |',
    )
    expect(summary).toContain(
      '| forward > logits | logits | (3,) | 0 | 0 | 0 | allclose atol=1e-5 rtol=1.3e-6 | pass |',
    )
    // a key with a pipe stays in its cell
    expect(summary).toContain('| forward > logits | a\\|b | (1,) |')
    expect(summary).toContain(
      '| loss | loss | (1,) | 0.1 | 0.1 | 0.0417 | mean \\|Δ\\| &lt;= 1e-6 | **FAIL** |',
    )
    expect(summary).toContain(
      '- loss (loss): mean \\|Δ\\| 0.1 &gt; 1e-6; passes at threshold=0.1'.replace('&gt;', '>'),
    )
    expect(summary).toContain('Sequences, drawn in index.html: loss (0..2), lr (0..2).')
    expect(lines.indexOf('## forward: pass')).toBeLessThan(lines.indexOf('## train: pass'))
    expect(lines.indexOf('## train: pass')).toBeLessThan(lines.indexOf('## loss: fail'))
  })

  test('negative controls are listed apart, and said to be expected to fail', () => {
    const forward = summary.slice(summary.indexOf('## forward'), summary.indexOf('## train'))
    const [positives, controls] = forward.split('### Negative controls')
    expect(positives).not.toContain('fails, as expected')
    expect(controls).toContain('it is expected to fail')
    expect(controls).toContain(
      '| forward > negative control | logits | (3,) | 0.333 | 1 | 0.25 | allclose atol=1e-5 rtol=1.3e-6 | fails, as expected |',
    )
  })

  test('Markdown in user text is escaped', () => {
    expect(escapeMarkdown('a|b*c_d <x> [y](z) `q` snake_case _lead\nnext')).toBe(
      'a\\|b\\*c_d &lt;x> \\[y\\](z) \\`q\\` snake_case \\_lead\\\\nnext',
    )
  })
})

describe('index.html (pure)', () => {
  const evil = '<script>alert("x")</script>&\'"'
  const report: AlignReport = buildReport([
    {
      file: `01-${evil}.align.test.ts`,
      tests: [
        {
          name: `test ${evil}`,
          state: 'passed',
          checks: [
            ...checks({ [evil]: f32(1, 2) }, { [evil]: [1, 2] }),
            ...checks(steps(3).port, steps(3).ref),
          ],
        },
      ],
    },
  ])
  const html = renderHtml(report)

  test('every user text is escaped: no script, no markup from keys or names', () => {
    expect(escapeHtml(evil)).toBe(
      '&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;&quot;',
    )
    expect(html).not.toMatch(/<script/i)
    expect(html).toContain(escapeHtml(evil))
    expect(html).not.toContain('alert("x")')
  })

  test('self-contained: inline CSS and SVG, nothing fetched', () => {
    expect(html.startsWith('<!doctype html>')).toBe(true)
    expect(html).toContain('<style>')
    expect(html).not.toMatch(/<link|<img|<iframe|@import|url\(|src=/i)
    // the only URL is SVG's namespace, which is never fetched
    expect(html.match(/https?:\/\/[^"]+/g)?.every((u) => u === 'http://www.w3.org/2000/svg')).toBe(
      true,
    )
  })

  test('tables, a histogram per key, a curve per sequence with both sides and a legend', () => {
    expect(html).toContain('<table class="stages"')
    expect(html.match(/<table class="keys"/g)).toHaveLength(1)
    // the 2-element key has a histogram; the one-element keys are drawn as curves instead
    expect(html.match(/<svg class="hist"/g)).toHaveLength(1)
    expect(html.match(/<svg class="curve"/g)).toHaveLength(2)
    expect(html).toContain('reference (expected)')
    expect(html).toContain('candidate (actual)')
    expect(html).toContain('loss_0 … loss_2 · 3 steps, all aligned')
    expect(renderHtml(report)).toBe(html)
  })

  test('a failing point is ringed and the legend says so', () => {
    const { port, ref } = steps(3, 0.5)
    const page = renderHtml(
      buildReport([
        {
          file: 't.align.test.ts',
          tests: [{ name: 't', state: 'failed', checks: checks(port, ref) }],
        },
      ]),
    )
    expect(page).toContain('1 of 3 steps not aligned')
    expect(page).toContain('>not aligned</text>')
    expect(page).toContain('loss_2: reference 0.666666667, candidate 1.16666663 (not aligned)')
  })

  test('an empty run still makes a page', () => {
    expect(renderHtml(buildReport([]))).toContain('No key was compared.')
  })
})

test('the terminal line names a broken negative control', () => {
  expect(stageLine('forward', checks([1], [1]))).toBe('forward  1 key aligned, max rel Δ 0')
  expect(
    stageLine('forward', [...checks([1], [1]), ...checks({ x: [1] }, { x: [1] }, {}, true)]),
  ).toBe('forward  1 key aligned, max rel Δ 0 (1 negative control; aligned, so broken: x)')
})

describe('key names with control characters are escaped in every rendering', () => {
  const evil = 'k\u001b]0;owned\u0007\n[2024/01/01 00:00:00] root INFO: diff check passed'
  const shown = 'k\\x1b]0;owned\\x07\\n[2024/01/01 00:00:00] root INFO: diff check passed'
  const recorded = checks({ [evil]: f32(1, 2) }, { [evil]: [1, 3] })
  const report = buildReport([
    {
      file: 'stages/01-x.align.test.ts',
      tests: [{ name: 't', state: 'failed', checks: recorded }],
    },
  ])
  const unsafe = (text: string) =>
    [...text].some((ch) => ch === '\u001b' || ch === '\u0007' || ch === '\r')

  test('the matcher message and the terminal line', () => {
    const result = compare({ [evil]: f32(1, 2) }, { [evil]: [1, 3] })
    const message = matcherMessage('toAlignWith', result, false)
    expect(unsafe(message)).toBe(false)
    expect(message).toContain(shown)
    expect(message.split('\n').filter((l) => l.includes('root INFO'))).toHaveLength(3)
    const line = stageLine('x', recorded)
    expect(line).toBe(`x  1 of 1 key not aligned: ${shown}`)
  })

  test('the annotation', () => {
    const { message } = annotationOf(recorded[0] as AlignCheck, false)
    expect(unsafe(message) || message.includes('\n')).toBe(false)
    expect(message.startsWith(`toAlignWith ${shown}: not aligned: 1 / 2`)).toBe(true)
  })

  test('summary.md, report.json, <stage>_diff.log and index.html', () => {
    const md = formatSummary(report)
    expect(unsafe(md)).toBe(false)
    expect(md.split('\n').some((l) => l.startsWith('[2024/01/01'))).toBe(false)
    const json = formatReportJson(report)
    expect(unsafe(json)).toBe(false)
    expect(JSON.parse(json).stages[0].keys[0].key).toBe(evil)
    const log = formatReprodLog(stageLogLines(report.stages[0]?.keys ?? []), new Date(2024, 0, 1))
    expect(unsafe(log)).toBe(false)
    expect(log.split('\n')).toHaveLength(6) // key, rule line, mean line, allclose reason, verdict, ''
    expect(log.trimEnd().split('\n').at(-1)).toMatch(/root INFO: diff check failed$/)
    const html = renderHtml(report)
    expect(unsafe(html)).toBe(false)
    expect(html).toContain(escapeHtml(shown))
  })
})

describe('one count everywhere: checks, a key compared twice counting twice', () => {
  // the same key in one test, checked twice: once aligned, once not
  const twice = [
    ...checks({ logits: [1, 2] }, { logits: [1, 2] }),
    ...checks({ logits: [1, 2] }, { logits: [1, 3] }),
  ]
  const report = buildReport([
    {
      file: 'stages/02-forward.align.test.ts',
      tests: [{ name: 't', state: 'failed', checks: twice }],
    },
  ])
  const stage = report.stages[0]

  test('the terminal line, report.json, summary.md and index.html all say 1 of 2', () => {
    expect(stageLine('forward', twice)).toBe('forward  1 of 2 keys not aligned: logits')
    expect(stage?.summary).toBe('1 of 2 keys not aligned: logits')
    expect(report.totals).toMatchObject({ keys: 2, failedKeys: 1 })
    const md = formatSummary(report)
    expect(md).toContain('1 of 2 keys aligned')
    expect(md).toContain('| forward | stages/02-forward.align.test.ts | 2 | 1 |')
    expect(md).toContain('1 of 2 keys not aligned: logits.')
    expect(md).not.toMatch(/1 of 1 keys?/)
    const html = renderHtml(report)
    expect(html).toContain('<b>2</b><span>keys compared</span>')
    expect(html).toContain('<b>1</b><span>keys not aligned</span>')
    // the table has one row per check: two rows of logits
    expect(stage?.keys.map((k) => [k.key, k.pass])).toEqual([
      ['logits', true],
      ['logits', false],
    ])
  })

  test('a failing key is named once however often it failed', () => {
    const thrice = [...twice, ...checks({ logits: [0, 2] }, { logits: [1, 3] })]
    expect(stageLine('forward', thrice)).toBe('forward  2 of 3 keys not aligned: logits')
  })
})
