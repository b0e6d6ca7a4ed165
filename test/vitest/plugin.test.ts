import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, test } from 'vitest'
import { AlignOptionsError } from '../../src/compare/errors.js'
import { align, resolvePluginOptions } from '../../src/vitest/plugin.js'
import { AlignReporter, stageName } from '../../src/vitest/reporter.js'
import { runVitestCli, runVitestProgrammatic } from '../helpers/run-vitest.js'

const stages = fileURLToPath(new URL('../fixtures/projects/stages/', import.meta.url))
const pluginProject = fileURLToPath(new URL('../fixtures/projects/plugin/', import.meta.url))

/** Runs the plugin hooks against stand-ins of Vitest's objects; returns what they received. */
function configure(options: Parameters<typeof align>[0], reporters: unknown[] = []) {
  const provided: Record<string, unknown> = {}
  const plugin = align(options)
  const root = '/work/project'
  const hook = plugin.configureVitest as (ctx: unknown) => void
  hook({
    vitest: { config: { root, reporters } },
    project: {
      config: { root },
      provide: (key: string, value: unknown) => {
        provided[key] = structuredClone(value)
      },
    },
  })
  return { provided, reporters }
}

describe('align() plugin', () => {
  test('adds the setup entry that registers the matchers', () => {
    const plugin = align()
    expect(plugin.name).toBe('vitest-align')
    const config = (plugin.config as () => { test: { setupFiles: string[] } })()
    expect(config.test.setupFiles).toEqual(['vitest-align/vitest'])
  })

  test('provides the project defaults, the report dir and the root; adds the reporter once', () => {
    const { provided, reporters } = configure({ tolerances: { float32: { rtol: 1e-4 } } })
    expect(provided['vitest-align']).toEqual({
      defaults: { tolerances: { float32: { rtol: 1e-4 } } },
      reportDir: '/work/project/align-out',
      root: '/work/project',
    })
    expect(reporters).toHaveLength(1)
    expect(reporters[0]).toBeInstanceOf(AlignReporter)
    // not again when the config lists it already, by name, path or instance
    for (const listed of [
      ['vitest-align/reporter', {}],
      [fileURLToPath(new URL('../../src/vitest/reporter.js', import.meta.url)), {}],
      new AlignReporter(),
    ]) {
      expect(configure({}, [['default', {}], listed]).reporters).toHaveLength(2)
    }
  })

  test('reporter: false leaves the reporter out; reportDir is taken from the root', () => {
    const { provided, reporters } = configure({ reporter: false, reportDir: 'out/align' })
    expect(reporters).toEqual([])
    expect(provided['vitest-align']).toMatchObject({ reportDir: '/work/project/out/align' })
  })

  test('refuses a misspelt option or a bad value at once, naming it', () => {
    const bad = (o: unknown) => () => align(o as never)
    expect(bad({ tolerance: { atol: 1 } })).toThrow(AlignOptionsError)
    expect(bad({ tolerance: { atol: 1 } })).toThrow(
      "option 'tolerance': unknown option; did you mean 'tolerances'? known: method, atol,",
    )
    expect(bad({ atol: -1 })).toThrow("option 'atol': must be a finite number >= 0, got -1")
    expect(bad({ tolerances: { float32: { rtol: -1e-4 } } })).toThrow(
      "option 'tolerances.float32.rtol': must be a finite number >= 0",
    )
    expect(bad({ keys: { 'loss*': { atoll: 1 } } })).toThrow("option 'keys.loss*.atoll'")
    expect(bad({ keys: () => ({}) })).toThrow(
      "option 'keys': must be an object of patterns here: a function cannot be sent to the test workers",
    )
    expect(bad({ reporter: 'yes' })).toThrow("option 'reporter': must be true or false")
    expect(bad({ reportDir: '' })).toThrow("option 'reportDir'")
    expect(resolvePluginOptions(undefined)).toEqual({
      defaults: {},
      reportDir: 'align-out',
      reporter: true,
    })
  })

  test('a project with only align() in its config gets the matchers; the reporter prints a line per stage, once', () => {
    const run = runVitestCli(stages)
    expect(run.status).toBe(1) // the loss stage fails on purpose
    expect(run.output).toMatch(/Tests {2}1 failed \| 2 passed \(3\)/)
    // listed in the config and added by the plugin: one reporter, one line
    const line = 'forward  3 keys aligned, max rel Δ 0 (1 negative control)'
    expect(run.stdout.split(line)).toHaveLength(2)
    expect(run.stdout).toContain('loss     1 of 1 key not aligned: loss')
    // the failure's first line stays plain text with the numbers
    expect(run.output).toContain(
      'toHaveMeanDiffBelow: expected received to align with expected, but 1 of 1 key not aligned: loss: mean |Δ| 0.1 > 1e-6',
    )
  }, 60_000)
})

describe('a programmatic run (startVitest from vitest/node)', () => {
  test('the matchers ran and recorded every compared key on its test', async () => {
    const reportDir = mkdtempSync(join(tmpdir(), 'va-prog-'))
    process.env.ALIGN_REPORT_DIR = reportDir
    try {
      const vitest = await runVitestProgrammatic(stages, {
        reporters: [new AlignReporter({ reportDir, terminal: false })],
      })
      const tests = vitest.state
        .getTestModules()
        .flatMap((m) =>
          [...m.children.allTests()].map((t) => ({ stage: stageName(m.moduleId), t })),
        )
        .sort((a, b) => a.t.fullName.localeCompare(b.t.fullName))
      expect(tests.map(({ stage, t }) => [stage, t.name, t.result().state])).toEqual([
        ['forward', 'forward: logits align', 'passed'],
        ['forward', 'forward: negative control', 'passed'],
        ['loss', 'loss: a broken candidate fails', 'failed'],
      ])
      const checks = tests.map(({ t }) =>
        (t.meta().align ?? []).map((c) => [c.key, c.pass, c.negated]),
      )
      expect(checks).toEqual([
        [
          ['', true, false],
          ['logits', true, false],
          ['loss', true, false],
        ],
        [['', false, true]],
        [['loss', false, false]],
      ])
      // the reporter given to the run wrote its report
      expect(existsSync(join(reportDir, 'report.json'))).toBe(true)
    } finally {
      delete process.env.ALIGN_REPORT_DIR
      rmSync(reportDir, { recursive: true, force: true })
    }
  }, 60_000)
})

describe('align() options in a project (Vitest CLI)', () => {
  test('project defaults reach the matchers and call options win; the reporter writes its report', () => {
    const out = mkdtempSync(join(tmpdir(), 'vitest-align-plugin-'))
    process.env.ALIGN_OUT = out
    try {
      const run = runVitestCli(pluginProject)
      expect(run.status, run.output).toBe(0)
      expect(run.output).toMatch(/Tests {2}7 passed \(7\)/)
      expect(run.stdout).toMatch(/^defaults +\d+ keys aligned/m)
      expect(run.stdout).toMatch(/^noise-layers +2 keys aligned.*\(3 negative controls\)$/m)
      // the newer matchers reach the report through the plugin alone, with their own data
      const report = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8'))
      const stage = report.stages.find((s: { stage: string }) => s.stage === 'noise-layers')
      const noise = stage.keys.find((k: { matcher: string }) => k.matcher === 'toStayWithinNoise')
      expect(noise.rule).toMatchObject({ method: 'noise', factor: 3, rtol: 1e-4 })
      expect(noise.noise.curve.bound).toHaveLength(4)
      expect(stage.sequences.map((q: { name: string }) => q.name)).toContain('curve')
      const broken = stage.controls.find(
        (k: { matcher: string }) => k.matcher === 'toAlignLayerwise',
      )
      expect(broken.layerwise.firstBreak).toBe('features.1')
      expect(broken.layerwise.modules.map((m: { status: string }) => m.status)).toEqual([
        'aligned',
        'break',
        'drift',
      ])
      expect(readFileSync(join(out, 'index.html'), 'utf8')).toContain('features.1')
    } finally {
      delete process.env.ALIGN_OUT
      rmSync(out, { recursive: true, force: true })
    }
  }, 60_000)

  test('plain tests get a JUnit <property> and a GitHub annotation per compared key', () => {
    const out = mkdtempSync(join(tmpdir(), 'vitest-align-plugin-ci-'))
    process.env.ALIGN_OUT = join(out, 'align-out')
    try {
      const junit = join(out, 'junit.xml')
      const run = runVitestCli(pluginProject, [
        '--reporter=github-actions',
        '--reporter=junit',
        `--outputFile.junit=${junit}`,
      ])
      expect(run.status, run.output).toBe(0)
      // `test` from 'vitest', no defineAlignment: the plugin's setup file annotates
      const xml = readFileSync(junit, 'utf8')
      const testCase = xml
        .split('<testcase ')
        .find((c) =>
          /^classname="[^"]*" name="the project(&apos;|&#39;|')s key patterns apply/.test(c),
        )
      expect(testCase).toBeDefined()
      const properties = [
        ...(testCase ?? '').matchAll(/<property name="(\w+)" value="([^"]*)"/g),
      ].map((m) => `${m[1]}: ${m[2]?.split(':')[0]}`)
      expect(properties).toEqual([
        'notice: toAlignWith logits',
        'notice: toAlignWith loss',
        'notice: toAlignWith logits (negative control)',
        'notice: toAlignWith loss (negative control)',
      ])
      expect(run.stdout).toMatch(
        /^::notice file=.*02-defaults\.align\.test\.ts,line=\d+,column=\d+::toAlignWith loss: aligned, max \|Δ\| 0\.25/m,
      )
      expect(run.stdout).toMatch(
        /^::notice file=.*03-noise-layers\.align\.test\.ts.*::toStayWithinNoise curve: aligned/m,
      )
    } finally {
      delete process.env.ALIGN_OUT
      rmSync(out, { recursive: true, force: true })
    }
  }, 60_000)

  test('reporter: false leaves the reporter out', () => {
    const run = runVitestCli(pluginProject, ['--config', 'vitest.no-reporter.config.ts'])
    expect(run.status, run.output).toBe(0)
    expect(run.output).toMatch(/Tests {2}7 passed \(7\)/)
    expect(run.stdout).not.toMatch(/^defaults +\d/m)
  }, 60_000)

  test('a misspelt plugin option fails start-up with the message', () => {
    const run = runVitestCli(pluginProject, ['--config', 'vitest.misspelt.config.ts'])
    expect(run.status).not.toBe(0)
    expect(run.output).toContain(
      "AlignOptionsError: option 'tolerance': unknown option; did you mean 'tolerances'?",
    )
    expect(run.output).not.toMatch(/Tests {2}\d/)
  }, 60_000)
})

test('stage names come from the spec file name', () => {
  expect(stageName('/x/stages/02-forward.align.test.ts')).toBe('forward')
  expect(stageName('C:\\x\\05_training.spec.mts')).toBe('training')
  expect(stageName('metric.test.js')).toBe('metric')
})
