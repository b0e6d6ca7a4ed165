/**
 * The alignment report as plain data, built from what the matchers recorded on each test
 * (`task.meta.align`, see {@link AlignCheck}), and `report.json`, its text. Pure: no file, no
 * clock, no Vitest at run time, so the same test modules always give the same report, whether
 * they come from one run or from merged shards. Its renderings: `summary.md`
 * (`report-markdown.ts`), `<stage>_diff.log` (`report-log.ts`), `index.html`
 * (`report-html.ts`); the reporter writes the files.
 */
import type { TestModule } from 'vitest/node'
import { describeRule } from '../compare/format.js'
import { stageSummary } from './message.js'
import type { AlignCheck } from './record.js'

/**
 * The version of the report's format (`report.json`'s `version`); raised on any breaking change.
 * 2: a check's `failures` are data (`CheckFailure`), not sentences; `nonFinite` is a census per
 * side; `stats` has `meanAbsExpected` and `minAbsExpected`; `wouldPass: {}` when none would.
 */
export const REPORT_VERSION = 2

// ---------------------------------------------------------------------------------------------
// Input: what a test module holds, as plain data

/** One test of a stage, as the report reads it. */
export interface TestInput {
  /** The test's full name (`describe > test`). */
  readonly name: string
  readonly state: 'passed' | 'failed' | 'skipped' | 'pending'
  /** What its matchers recorded, in the order they ran. */
  readonly checks: readonly AlignCheck[]
}

/** One spec file (one stage), as the report reads it. */
export interface StageInput {
  /** The file's path relative to the root, with `/` separators. */
  readonly file: string
  /** The Vitest project that ran it ('' or absent for the only one). */
  readonly project?: string
  /** Errors of the file itself (one that failed to load has no tests), first lines only. */
  readonly errors?: readonly string[]
  /** Its tests, in file order. */
  readonly tests: readonly TestInput[]
}

/** `id` relative to `root`, when it lies under it. */
function relativeTo(id: string, root: string | undefined): string | undefined {
  if (root === undefined || !id.startsWith(root)) return undefined
  const rest = id.slice(root.length)
  return /^[\\/]/.test(rest) || root.endsWith('/') ? rest.replace(/^[\\/]+/, '') : undefined
}

/**
 * A test module as plain data: its tests in file order with their recorded checks.
 *
 * @param root Vitest's root: the file is named relative to it (else relative to its project).
 */
export function stageInput(module: TestModule, root?: string): StageInput {
  const relative = relativeTo(module.moduleId, root) ?? module.relativeModuleId
  const project = module.project.name
  const errors = module.errors().map((e) => firstLine(`${e.name ?? 'Error'}: ${e.message}`))
  return {
    file: relative.replaceAll('\\', '/'),
    ...(project !== '' && { project }),
    ...(errors.length > 0 && { errors }),
    tests: [...module.children.allTests()].map((t) => ({
      name: t.fullName,
      state: t.result().state,
      checks: t.meta().align ?? [],
    })),
  }
}

const firstLine = (s: string): string => s.split('\n', 1)[0] ?? ''

/** The stage a spec file stands for: `stages/02-forward.align.test.ts` is `forward`. */
export function stageName(moduleId: string): string {
  const base = moduleId.split(/[\\/]/).pop() ?? moduleId
  return base.replace(/\.(align\.)?(test|spec)\.[cm]?[jt]sx?$/, '').replace(/^\d+[-_]/, '')
}

// ---------------------------------------------------------------------------------------------
// The report

/**
 * The verdict of one check. A positive check `pass`es or `fail`s; a negative control (a check
 * made under `.not`, on a deliberately broken candidate) is expected to fail: `expected-fail`
 * when it did, `unexpected-pass` when it aligned (the control proves nothing, and its test fails).
 */
export type CheckVerdict = 'pass' | 'fail' | 'expected-fail' | 'unexpected-pass'

/**
 * A stage's (or the run's) verdict: `fail` when a key did not align, a negative control aligned,
 * a test failed or the file did not load; `pass` when at least one key was compared and none of
 * that happened; `empty` when nothing was compared.
 */
export type StageVerdict = 'pass' | 'fail' | 'empty'

/** One compared key: everything the matcher recorded, plus where it comes from and its verdict. */
export interface KeyReport extends AlignCheck {
  /** The full name of the test that made the check. */
  readonly test: string
  readonly verdict: CheckVerdict
  /** The rule as {@link describeRule} prints it: `allclose atol=1e-5 rtol=1.3e-6`, `mean |Δ| <= 1e-6`. */
  readonly tolerance?: string
}

/** One point of a sequence: the one-element check `<name>_<index>`. */
export interface SequencePoint {
  readonly index: number
  readonly key: string
  /** The candidate's value (the port). */
  readonly actual: number
  /** The reference's value. */
  readonly expected: number
  readonly pass: boolean
  /**
   * Under the noise rule: the pass band around the reference (expected ∓ factor·spread + floor)
   * and the noise runs' envelope (min and max over the runs and the reference).
   */
  readonly band?: {
    readonly lo: number
    readonly hi: number
    readonly runsLo: number
    readonly runsHi: number
  }
}

/**
 * A family of one-element checks named `<name>_<int>` (`loss_0`...`loss_4`, `lr_0`...): a
 * curve of both sides. Found among a stage's positive checks when every key of the family
 * holds one finite value on both sides, appears once, and the indices are contiguous (at least
 * two of them). A 1-D key checked under the noise rule (`toStayWithinNoise`) is a curve too,
 * named by its key, its points by index, with the noise band.
 */
export interface SequenceReport {
  /** The family's name: `loss` for `loss_0..n`. */
  readonly name: string
  /** The points, by index. */
  readonly points: readonly SequencePoint[]
}

/** Counts of a stage's tests by state. */
export interface TestCounts {
  readonly total: number
  readonly passed: number
  readonly failed: number
  readonly skipped: number
}

/** One stage: one spec file. */
export interface StageReport {
  /** The stage's name, from its file name: `02-forward.align.test.ts` is `forward`. */
  readonly stage: string
  /** The spec file, relative to the root, `/`-separated. */
  readonly file: string
  /** The Vitest project, when there are several. */
  readonly project?: string
  readonly verdict: StageVerdict
  /** The terminal line, without the stage's name: `3 keys aligned, max rel Δ 1.2e-6`. */
  readonly summary: string
  /** The name of its reprod_log-style log (`forward_diff.log`), when it has positive checks. */
  readonly log?: string
  readonly tests: TestCounts
  /** Full names of its failed tests. */
  readonly failedTests: readonly string[]
  /** Errors of the file itself (one that did not load), first lines. */
  readonly errors: readonly string[]
  /** The largest max rel Δ of its positive checks (0 when none is finite). */
  readonly maxRel: number
  /** Its positive checks: tests in file order, checks in the order they were made. */
  readonly keys: readonly KeyReport[]
  /** Its negative controls (checks made under `.not`), expected to fail. */
  readonly controls: readonly KeyReport[]
  /** Curves found among its positive checks. */
  readonly sequences: readonly SequenceReport[]
}

/** Totals of the run. */
export interface ReportTotals {
  readonly stages: number
  readonly failedStages: number
  /** Positive checks. */
  readonly keys: number
  readonly failedKeys: number
  readonly controls: number
  /** Negative controls that aligned (so failed at their job). */
  readonly brokenControls: number
}

/**
 * `report.json`: every stage of a run, sorted by file path, with every check recorded. No
 * timestamp and no duration: the same checks give the same report, sharded or not.
 */
export interface AlignReport {
  /** {@link REPORT_VERSION}. */
  readonly version: typeof REPORT_VERSION
  readonly verdict: StageVerdict
  readonly totals: ReportTotals
  readonly stages: readonly StageReport[]
}

/** A spec file named as a stage (`*.align.test.ts`) is reported even when it recorded nothing. */
const STAGE_FILE = /\.align\.(test|spec)\.[cm]?[jt]sx?$/

/** `02-forward` → a file-name-safe stem. */
const safeStem = (s: string): string =>
  s.replace(/[^\w.-]+/g, '_').replace(/^[._]+|_+$/g, '') || 'stage'

function keyReport(test: string, c: AlignCheck): KeyReport {
  // a control holds when its whole call failed (one key off is enough), whatever this key did
  const verdict: CheckVerdict = c.negated
    ? c.callPass
      ? 'unexpected-pass'
      : 'expected-fail'
    : c.pass
      ? 'pass'
      : 'fail'
  return { ...c, test, verdict, ...(c.rule && { tolerance: describeRule(c.rule) }) }
}

const SEQUENCE_KEY = /^(.+)_(\d+)$/

/** The `<name>_<int>` families of one-element checks, in order of first appearance. */
export function findSequences(checks: readonly AlignCheck[]): SequenceReport[] {
  const families = new Map<string, AlignCheck[]>()
  for (const c of checks) {
    const m = SEQUENCE_KEY.exec(c.key)
    if (!m) continue
    const name = m[1] as string
    const members = families.get(name) ?? []
    members.push(c)
    families.set(name, members)
  }
  const out: SequenceReport[] = []
  for (const [name, members] of families) {
    if (members.length < 2 || members.some((c) => c.values === undefined)) continue
    const points = members
      .map((c) => ({
        index: Number(SEQUENCE_KEY.exec(c.key)?.[2]),
        key: c.key,
        actual: c.values?.actual as number,
        expected: c.values?.expected as number,
        pass: c.pass,
      }))
      .sort((a, b) => a.index - b.index)
    const first = points[0]?.index ?? 0
    if (points.every((p, i) => p.index === first + i)) out.push({ name, points })
  }
  for (const c of checks) {
    const q = c.noise?.curve
    if (q === undefined || q.expected.length < 2) continue
    const name = c.key === '' ? '(value)' : c.key
    // each point's verdict is the core's: the indices it found outside the band
    const failing = new Set(q.outside)
    const points = q.expected.map((e, i): SequencePoint => {
      const a = q.actual[i] as number
      const b = q.bound[i] as number
      return {
        index: i,
        key: `${name}[${i}]`,
        actual: a,
        expected: e,
        pass: !failing.has(i),
        band: { lo: e - b, hi: e + b, runsLo: q.lo[i] as number, runsHi: q.hi[i] as number },
      }
    })
    out.push({ name, points })
  }
  return out
}

/**
 * The report of a run: one {@link StageReport} per spec file that recorded checks (or that is
 * named `*.align.test.*`), sorted by file path (then project), so that the order in which files
 * ran or shards were merged does not show.
 */
export function buildReport(inputs: readonly StageInput[]): AlignReport {
  const sorted = inputs
    .filter((s) => STAGE_FILE.test(s.file) || s.tests.some((t) => t.checks.length > 0))
    .sort((a, b) => compareText(a.file, b.file) || compareText(a.project, b.project))
  const logNames = new Set<string>()
  const stages = sorted.map((s): StageReport => {
    const stage = stageName(s.file)
    const all = s.tests.flatMap((t) => t.checks.map((c) => keyReport(t.name, c)))
    const keys = all.filter((c) => !c.negated)
    const controls = all.filter((c) => c.negated)
    const failedTests = s.tests.filter((t) => t.state === 'failed').map((t) => t.name)
    const errors = s.errors ?? []
    const failed =
      keys.some((k) => !k.pass) ||
      controls.some((k) => k.verdict === 'unexpected-pass') ||
      failedTests.length > 0 ||
      errors.length > 0
    let log: string | undefined
    if (keys.length > 0) {
      const stem = safeStem(stage)
      log = `${stem}_diff.log`
      for (let i = 2; logNames.has(log); i++) log = `${stem}-${i}_diff.log`
      logNames.add(log)
    }
    return {
      stage,
      file: s.file,
      ...(s.project !== undefined && s.project !== '' && { project: s.project }),
      verdict: failed ? 'fail' : keys.length > 0 ? 'pass' : 'empty',
      summary: stageSummary(all),
      ...(log !== undefined && { log }),
      tests: {
        total: s.tests.length,
        passed: s.tests.filter((t) => t.state === 'passed').length,
        failed: failedTests.length,
        skipped: s.tests.filter((t) => t.state === 'skipped').length,
      },
      failedTests,
      errors,
      maxRel: Math.max(0, ...keys.map((k) => k.stats?.maxRel ?? 0)),
      keys,
      controls,
      sequences: findSequences(keys),
    }
  })
  const verdicts = stages.map((s) => s.verdict)
  return {
    version: REPORT_VERSION,
    verdict: verdicts.includes('fail') ? 'fail' : verdicts.includes('pass') ? 'pass' : 'empty',
    totals: {
      stages: stages.length,
      failedStages: verdicts.filter((v) => v === 'fail').length,
      keys: stages.reduce((n, s) => n + s.keys.length, 0),
      failedKeys: stages.reduce((n, s) => n + s.keys.filter((k) => !k.pass).length, 0),
      controls: stages.reduce((n, s) => n + s.controls.length, 0),
      brokenControls: stages.reduce(
        (n, s) => n + s.controls.filter((k) => k.verdict === 'unexpected-pass').length,
        0,
      ),
    },
    stages,
  }
}

/** Code-point order, independent of the locale. */
function compareText(a = '', b = ''): number {
  return a < b ? -1 : a > b ? 1 : 0
}

// ---------------------------------------------------------------------------------------------
// report.json

/**
 * `report.json`'s text: JSON indented by two spaces, except that an array of numbers or strings
 * (a shape, a histogram's counts) stays on one line. Ends with a newline.
 */
export function formatReportJson(report: AlignReport): string {
  const write = (value: unknown, indent: string): string => {
    if (Array.isArray(value)) {
      if (value.length === 0) return '[]'
      if (value.every((v) => typeof v !== 'object' || v === null)) {
        return `[${value.map((v) => JSON.stringify(v)).join(', ')}]`
      }
      const inner = `${indent}  `
      return `[\n${value.map((v) => inner + write(v, inner)).join(',\n')}\n${indent}]`
    }
    if (typeof value === 'object' && value !== null) {
      const entries = Object.entries(value).filter(([, v]) => v !== undefined)
      if (entries.length === 0) return '{}'
      const inner = `${indent}  `
      const body = entries.map(([k, v]) => `${inner}${JSON.stringify(k)}: ${write(v, inner)}`)
      return `{\n${body.join(',\n')}\n${indent}}`
    }
    return JSON.stringify(value) ?? 'null'
  }
  return `${write(report, '')}\n`
}
