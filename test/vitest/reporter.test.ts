import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, test, vi } from 'vitest'
import type { TestModule } from 'vitest/node'
import { AlignOptionsError } from '../../src/compare/errors.js'
import type { AlignCheck } from '../../src/vitest/record.js'
import AlignReporterDefault, {
  type AlignReport,
  AlignReporter,
  checkReporterOptions,
  REPORT_VERSION,
} from '../../src/vitest/reporter.js'
import { runVitestCli } from '../helpers/run-vitest.js'

const project = fileURLToPath(new URL('../fixtures/projects/reports/', import.meta.url))
const tmp = mkdtempSync(join(tmpdir(), 'align-reporter-'))
afterAll(() => rmSync(tmp, { recursive: true, force: true }))

/** Runs the fixture project's CLI with its report written to `reportDir`. */
function run(reportDir: string, args: string[] = []) {
  process.env.ALIGN_REPORT_DIR = reportDir
  try {
    return runVitestCli(project, args)
  } finally {
    delete process.env.ALIGN_REPORT_DIR
  }
}

const DATE = /^\[\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d\] root INFO: /gm
const read = (dir: string, name: string) => readFileSync(join(dir, name), 'utf8')
/** Every file of a report directory, the logs without their dates. */
function files(dir: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (const name of readdirSync(dir).sort()) out[name] = read(dir, name).replace(DATE, '')
  return out
}

const LINES = [
  'forward   5 keys aligned, max rel Δ 5.91e-8 (1 negative control)',
  'train     10 keys aligned, max rel Δ 2.48e-7 (1 negative control)',
  'backward  3 keys aligned, max rel Δ 5.31e-8',
  'loss      2 of 3 keys not aligned: loss, head.b',
]

describe('a run of the fixture project, through the Vitest CLI', () => {
  const full = join(tmp, 'full')
  let output = ''

  beforeAll(() => {
    // leftovers of an earlier run: a stale stage log goes, anything else stays
    mkdirSync(full, { recursive: true })
    writeFileSync(join(full, 'gone_diff.log'), 'stale')
    writeFileSync(join(full, 'notes.txt'), 'mine')
    const r = run(full)
    expect(r.status, r.output).toBe(1) // the loss stage fails on purpose
    output = r.stdout
  }, 60_000)

  test('one terminal line per stage, after the run, in file order', () => {
    const lines = output.split('\n')
    const at = lines.indexOf(LINES[0] as string)
    expect(at, output).toBeGreaterThan(0)
    expect(lines.slice(at, at + 4)).toEqual(LINES)
  })

  test('ends by saying where the report is, relative to the working directory', () => {
    const dir = relative(project, full)
    expect(output).toContain(
      `vitest-align: report in ${join(dir, 'index.html')} (and ${join(dir, 'summary.md')})`,
    )
  })

  test('writes summary.md, report.json, a log per stage and index.html; stale logs go', () => {
    expect(readdirSync(full).sort()).toEqual([
      'backward_diff.log',
      'forward_diff.log',
      'index.html',
      'loss_diff.log',
      'notes.txt',
      'report.json',
      'summary.md',
      'train_diff.log',
    ])
  })

  test('summary.md: the verdict, the stages, a table per stage, negative controls apart', () => {
    const md = read(full, 'summary.md')
    expect(md).toContain(
      '**FAIL: 1 of 4 stages not aligned; 19 of 21 keys aligned; 2 negative controls, all failing as expected.**',
    )
    expect(md).toContain('| forward | 01-forward.align.test.ts | 5 | 0 | 5.91e-8 | 1 | pass |')
    expect(md).toContain('| loss | 04-loss.align.test.ts | 3 | 2 | 0.476 | 0 | **fail** |')
    expect(md).toContain(
      '| forward > every activation aligns | encoder.attn.weight | (16, 16) | 1.13e-9 | 3.71e-9 | 5.91e-8 | allclose atol=1e-5 rtol=1.3e-6 | pass |',
    )
    expect(md).toContain(
      '| loss: a broken candidate | loss | (1,) | 0.1 | 0.1 | 0.0417 | mean \\|Δ\\| &lt;= 1e-6 | **FAIL** |',
    )
    expect(md).toContain(
      '| backward: integer step counters are exact | step | (2,) | 0 | 0 | 0 | min, max and mean \\|Δ\\| &lt;= 0 | pass |',
    )
    // the key with markup stays one escaped cell
    expect(md).toContain('| probs&lt;τ=1>\\|"x" | (3,) |')
    expect(md).toContain('Sequences, drawn in index.html: loss (0..4), lr (0..4).')
    const train = md.slice(md.indexOf('## train'), md.indexOf('## backward'))
    expect(train.split('### Negative controls')[1]).toContain(
      '| training: negative control, a wrong learning rate | lr_0 | (1,) | 0.001 | 0.001 | 1 | mean \\|Δ\\| &lt;= 1e-6 | fails, as expected |',
    )
    expect(md).toContain(
      '- head.b (loss: heads): 3 / 12 (25.0%) elements outside allclose atol=1e-5 rtol=1.3e-6, worst at \\[8\\]: 0.031029474 vs 0.0210294745; passes at atol=0.01',
    )
  })

  test('report.json: typed data, stages by file, keys in recorded order, sequences found', () => {
    const report = JSON.parse(read(full, 'report.json')) as AlignReport
    expect(report.version).toBe(REPORT_VERSION)
    expect(report.verdict).toBe('fail')
    expect(report.totals).toEqual({
      stages: 4,
      failedStages: 1,
      keys: 21,
      failedKeys: 2,
      controls: 2,
      brokenControls: 0,
    })
    expect(report.stages.map((s) => [s.stage, s.file, s.verdict, s.log])).toEqual([
      ['forward', '01-forward.align.test.ts', 'pass', 'forward_diff.log'],
      ['train', '02-train.align.test.ts', 'pass', 'train_diff.log'],
      ['backward', '03-backward.align.test.ts', 'pass', 'backward_diff.log'],
      ['loss', '04-loss.align.test.ts', 'fail', 'loss_diff.log'],
    ])
    const [forward, train, backward, loss] = report.stages
    expect(forward?.keys.map((k) => k.key)).toEqual([
      'embeddings',
      'encoder.attn.weight',
      'encoder.mlp.out',
      'logits',
      'probs<τ=1>|"x"',
    ])
    expect(forward?.controls.map((k) => [k.key, k.verdict, k.negated])).toEqual([
      ['logits', 'expected-fail', true],
    ])
    const logits = forward?.keys[3]
    expect(logits?.actual).toEqual({ shape: [2, 10], dtype: 'float32' })
    expect(logits?.rule).toEqual({ method: 'allclose', atol: 1e-5, rtol: 1.3e-6 })
    expect(logits?.histogram?.counts.reduce((a, b) => a + b, 0)).toBe(20)
    expect(train?.sequences.map((s) => [s.name, s.points.map((p) => p.index)])).toEqual([
      ['loss', [0, 1, 2, 3, 4]],
      ['lr', [0, 1, 2, 3, 4]],
    ])
    expect(train?.sequences[1]?.points[0]).toMatchObject({
      key: 'lr_0',
      expected: 0.001,
      pass: true,
    })
    expect(backward?.keys.map((k) => k.tolerance)).toEqual([
      'max |Δ| <= 1e-7',
      'max |Δ| <= 1e-7',
      'min, max and mean |Δ| <= 0',
    ])
    expect(loss?.failedTests).toEqual(['loss: a broken candidate', 'loss: heads'])
    expect(loss?.keys.map((k) => k.verdict)).toEqual(['fail', 'pass', 'fail'])
    expect(loss?.keys[0]?.failures).toMatchObject([
      { kind: 'threshold', method: 'mean', threshold: 1e-6 },
    ])
    expect(loss?.keys[0]?.wouldPass?.threshold).toBeCloseTo(0.1, 12)
  })

  test("each <stage>_diff.log is reprod_log's report, with its logger's prefix", () => {
    const train = read(full, 'train_diff.log')
    expect(train.split('\n')[0]).toMatch(
      /^\[\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d\] root INFO: loss_0: $/,
    )
    expect(train.replace(DATE, '').split('\n').slice(0, 4)).toEqual([
      'loss_0: ',
      '\tmean diff: check passed: True, value: 9.536743172944284e-08',
      'lr_0: ',
      '\tmean diff: check passed: True, value: 4.749745128457272e-11',
    ])
    expect(train.endsWith('root INFO: diff check passed\n')).toBe(true)
    // negative controls are not in the log
    expect(train.match(/lr_0: /g)).toHaveLength(1)
    expect(read(full, 'loss_diff.log').replace(DATE, '')).toBe(
      [
        'loss: ',
        '\tmean diff: check passed: False, value: 0.10000000000000009',
        'head.a: ',
        // an allclose check: its line names the rule that judged, the mean follows unjudged
        '\tallclose atol=1e-5 rtol=1.3e-6: check passed: True, value: 0 / 12 elements outside',
        '\tmean diff (not judged): value: 6.382087020898967e-09',
        'head.b: ',
        '\tallclose atol=1e-5 rtol=1.3e-6: check passed: False, value: 3 / 12 elements outside',
        '\tmean diff (not judged): value: 0.0025000059753295992',
        '\tcheck failed: 3 / 12 (25.0%) elements outside allclose atol=1e-5 rtol=1.3e-6, worst at [8]: 0.031029474 vs 0.0210294745',
        'diff check failed',
        '',
      ].join('\n'),
    )
    expect(read(full, 'backward_diff.log').replace(DATE, '')).toContain(
      'step: \n\tmin diff: check passed: True, value: 0\n\tmax diff: check passed: True, value: 0\n\tmean diff: check passed: True, value: 0.0\n',
    )
  })

  test('index.html: the stage tables, histograms and the curves', () => {
    const html = read(full, 'index.html')
    expect(html.match(/<section class="stage"/g)).toHaveLength(4)
    expect(html.match(/<table class="keys"/g)).toHaveLength(6) // 4 stages, 2 with controls
    expect(html.match(/<svg class="curve"/g)).toHaveLength(2)
    // one histogram per key, but for the 10 points of the curves
    expect(html.match(/<svg class="hist"/g)).toHaveLength(21 + 2 - 10)
    expect(html).toContain('probs&lt;τ=1&gt;|&quot;x&quot;')
    expect(html).not.toContain('probs<τ')
  })

  test('a 2-shard run merged with --merge-reports writes the same report', () => {
    const blobs = join(tmp, 'blobs')
    for (const i of [1, 2]) {
      const r = run(join(tmp, 'unused'), [
        `--shard=${i}/2`,
        '--reporter=blob',
        `--outputFile=${join(blobs, `blob-${i}.json`)}`,
      ])
      expect(r.status, r.output).not.toBeNull()
      // the plugin adds the reporter to a shard's run too: it says where the report will be
      expect(r.stdout).toContain('vitest-align: a blob run writes no report; merge the blobs')
    }
    // each shard ran some of the stages, and wrote no report itself
    expect(existsSync(join(tmp, 'unused'))).toBe(false)
    for (const i of [1, 2]) {
      const blob = read(blobs, `blob-${i}.json`)
      const ran = ['01-forward', '02-train', '03-backward', '04-loss'].filter((f) =>
        blob.includes(`${f}.align.test.ts`),
      )
      expect(ran.length).toBeGreaterThan(0)
      expect(ran.length).toBeLessThan(4)
    }
    const merged = join(tmp, 'merged')
    const r = run(merged, [`--merge-reports=${blobs}`])
    expect(r.status, r.output).toBe(1)
    const lines = r.stdout.split('\n')
    expect(
      lines.slice(lines.indexOf(LINES[0] as string), lines.indexOf(LINES[0] as string) + 4),
    ).toEqual(LINES)
    const { 'notes.txt': _, ...unsharded } = files(full)
    expect(files(merged)).toEqual(unsharded)
  }, 60_000)
})

describe('options', () => {
  test('defaults, and a clear error for an unknown option or a bad value', () => {
    expect(new AlignReporter().options).toEqual({ reportDir: 'align-out', terminal: true })
    expect(new AlignReporterDefault({ reportDir: 'out', terminal: false }).options).toEqual({
      reportDir: 'out',
      terminal: false,
    })
    expect(checkReporterOptions(undefined)).toEqual({})
    expect(() => new AlignReporter({ reportdir: 'x' } as never)).toThrow(
      new AlignOptionsError(
        'reporter.reportdir',
        "unknown option of AlignReporter; did you mean 'reportDir'? known: reportDir, terminal",
      ),
    )
    expect(() => new AlignReporter({ reportDir: 3 } as never)).toThrow(
      "option 'reporter.reportDir': must be a non-empty string (a directory, relative to the Vitest root), got 3",
    )
    expect(() => new AlignReporter({ reportDir: ' ' })).toThrow(
      /reportDir': must be a non-empty string/,
    )
    expect(() => new AlignReporter({ terminal: 'yes' } as never)).toThrow(
      "option 'reporter.terminal': must be true or false, got yes",
    )
    expect(() => new AlignReporter('align-out' as never)).toThrow(AlignOptionsError)
  })

  test('a misspelt option in vitest.config stops the run with that error', () => {
    const r = runVitestCli(project, ['--config', 'vitest.bad-options.config.ts'])
    expect(r.status).not.toBe(0)
    expect(r.output).toContain("option 'reporter.reportdir': unknown option of AlignReporter")
  }, 60_000)

  test('terminal: false prints nothing; reportDir is where the files go', () => {
    const dir = join(tmp, 'quiet')
    const check: AlignCheck = {
      matcher: 'toAlignWith',
      key: 'x',
      pass: true,
      negated: false,
      callPass: true,
      failures: [],
    }
    const module = {
      moduleId: '/root/01-quiet.align.test.ts',
      relativeModuleId: '01-quiet.align.test.ts',
      project: { name: '' },
      errors: () => [],
      children: {
        allTests: () => [
          { fullName: 't', result: () => ({ state: 'passed' }), meta: () => ({ align: [check] }) },
        ],
      },
    } as unknown as TestModule
    const log = vi.spyOn(console, 'log').mockImplementation(() => {})
    try {
      new AlignReporter({ reportDir: dir, terminal: false }).onTestRunEnd([module])
      expect(log).not.toHaveBeenCalled()
      new AlignReporter({ reportDir: dir }).onTestRunEnd([module])
      expect(log).toHaveBeenCalledWith('quiet  1 key aligned, max rel Δ 0')
    } finally {
      log.mockRestore()
    }
    expect(readdirSync(dir).sort()).toEqual([
      'index.html',
      'quiet_diff.log',
      'report.json',
      'summary.md',
    ])
  })
})
