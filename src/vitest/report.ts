/**
 * The alignment report as plain data, built from what the matchers recorded on each test
 * (`task.meta.align`, see {@link AlignCheck}), and its text forms: `summary.md` and the
 * reprod_log-style `<stage>_diff.log` lines. Pure: no file, no clock, no Vitest at run time, so
 * the same test modules always give the same report, whether they come from one run or from
 * merged shards. The HTML page is built in `report-html.ts`; the reporter writes the files.
 */
import type { TestModule } from 'vitest/node'
import { describeRule, formatNumber, formatShape, keyName } from '../compare/format.js'
import { pyFloatRepr } from '../io/py-repr.js'
import { stageSummary } from './message.js'
import type { AlignCheck } from './record.js'

/** The version of the report's format (`report.json`'s `version`); raised on any breaking change. */
export const REPORT_VERSION = 1

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
}

/**
 * A family of one-element checks named `<name>_<int>` (`loss_0`...`loss_4`, `lr_0`...): a
 * curve of both sides. Found among a stage's positive checks when every key of the family
 * holds one finite value on both sides, appears once, and the indices are contiguous (at least
 * two of them).
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
// Cells shared by the text forms

/**
 * A statistic of a check for display: the recorded value, +Infinity when the statistic was
 * computed but not recorded (JSON has no Infinity: the core counts an unmatched NaN or ±Inf as
 * an infinite |Δ|), undefined when nothing was compared.
 */
export function statOf(
  c: AlignCheck,
  name: 'meanAbs' | 'maxAbs' | 'minAbs' | 'maxRel',
): number | undefined {
  const s = c.stats
  if (s === undefined || s.n === 0) return undefined
  return s[name] ?? Number.POSITIVE_INFINITY
}

/** The shape column: `(3,)`, or `(3,) vs (4,)` when the sides differ. */
export function shapeOf(c: AlignCheck): string {
  const a = c.actual && formatShape(c.actual.shape)
  const e = c.expected && formatShape(c.expected.shape)
  if (a !== undefined && e !== undefined && a !== e) return `${a} vs ${e}`
  return a ?? e ?? '-'
}

/** The verdict in words. */
export const VERDICT_TEXT: Record<CheckVerdict, string> = {
  pass: 'pass',
  fail: 'FAIL',
  'expected-fail': 'fails, as expected',
  'unexpected-pass': 'ALIGNED: broken control',
}

/** The failure sentences of a check and, for a failure, the tolerance that would pass. */
export function reasonOf(c: AlignCheck): string {
  const w = c.wouldPass
  const at =
    w === undefined
      ? ''
      : `; passes at ${w.atol !== undefined ? 'atol' : 'threshold'}=${formatNumber(w.atol ?? w.threshold ?? Number.NaN)}`
  return c.failures.join('; ') + at
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

// ---------------------------------------------------------------------------------------------
// summary.md

/**
 * Text for Markdown (a table cell, a list item): no line breaks; `\\`, `|`, `` ` ``, `*`, `[`,
 * `]`, `~` and a `_` that could start emphasis backslash-escaped; `&` and `<` as entities, so
 * nothing in a user's key becomes markup or HTML.
 */
export function escapeMarkdown(text: string): string {
  const word = (ch: string | undefined) => ch !== undefined && /[\p{L}\p{N}]/u.test(ch)
  return text
    .replace(/[\r\n]+/g, ' ')
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
        `| ${md(k.test)} | ${md(keyName(k.key))} | ${shapeOf(k)} | ${num(statOf(k, 'meanAbs'))} | ${num(statOf(k, 'maxAbs'))} | ${num(statOf(k, 'maxRel'))} | ${md(k.tolerance ?? '-')} | ${verdict(k)} |`,
    ),
  ]
}

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`

/** The run's verdict in one sentence. */
export function headline(report: AlignReport): string {
  const t = report.totals
  if (report.verdict === 'empty') return 'No key was compared.'
  const stages =
    t.failedStages === 0
      ? `all ${plural(t.stages, 'stage')} aligned`
      : `${t.failedStages} of ${plural(t.stages, 'stage')} not aligned`
  const keys = `${t.keys - t.failedKeys} of ${plural(t.keys, 'key')} aligned`
  const controls =
    t.controls === 0
      ? 'no negative controls'
      : t.brokenControls === 0
        ? `${plural(t.controls, 'negative control')}, all failing as expected`
        : `${plural(t.controls, 'negative control')}, ${t.brokenControls} aligned when it should not`
  return `${report.verdict === 'pass' ? 'PASS' : 'FAIL'}: ${stages}; ${keys}; ${controls}.`
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

// ---------------------------------------------------------------------------------------------
// <stage>_diff.log

const INTEGER_DTYPE = /^(u?int\d+|bool)$/
const REPROD_STATS = {
  mean: ['mean'],
  max: ['max'],
  min: ['min'],
  all: ['min', 'max', 'mean'],
  allclose: ['mean'],
} as const
const THRESHOLD_SENTENCE = /^(mean|max|min) \|Δ\| \S+ > \S+$/

/**
 * The lines of reprod_log's `ReprodDiffHelper.report` for a stage's positive checks (without
 * the logger's prefix: see `formatReprodLog`): per check `key: ` then one line per statistic,
 * `\tmean diff: check passed: True, value: 2.308018565599923e-06`, and finally `diff check
 * passed` or `diff check failed`.
 *
 * - The statistics printed are the rule's where it is one of reprod_log's methods (`mean`,
 *   `max`, `min`; `all` prints min, max and mean, in reprod_log's order), each passing when it is
 *   at most the threshold. An `allclose` check prints its mean |Δ| line with the verdict of the
 *   check itself (reprod_log has no allclose line), then a `check failed:` line per reason.
 * - Values are the check's own statistics, computed in float64 (reprod_log's numpy computes in
 *   the arrays' dtype, so float32 values may differ in their last digits), printed as Python
 *   prints a float; an integer pair's max and min print as integers, as numpy's would.
 * - Keys are flat dotted paths (`encoder.weight: `; reprod_log nests dicts), `(value)` for a
 *   lone array; a statistic that is not finite prints `inf` and fails.
 * - Like `diffReprodLogs`, a key missing on one side is a line (`loss_3: missing from
 *   candidate`), and a failure reprod_log has no line for gets a `check failed: ...` line.
 */
export function stageLogLines(checks: readonly AlignCheck[]): string[] {
  const lines: string[] = []
  for (const c of checks) {
    if (c.negated) continue
    const name = keyName(c.key)
    if (c.stats === undefined && c.failures.length === 1) {
      const only = c.failures[0]
      if (only === 'missing from actual' || only === 'not in expected') {
        lines.push(
          `${name}: missing from ${only === 'missing from actual' ? 'candidate' : 'reference'}`,
        )
        continue
      }
    }
    lines.push(`${name}: `)
    const printedFalse = new Set<string>()
    if (c.stats !== undefined && c.stats.n > 0 && c.rule !== undefined) {
      const integer =
        INTEGER_DTYPE.test(c.actual?.dtype ?? '') && INTEGER_DTYPE.test(c.expected?.dtype ?? '')
      const rule = c.rule
      for (const stat of REPROD_STATS[rule.method]) {
        const value = statOf(c, `${stat}Abs`) as number
        const ok = rule.method === 'allclose' ? c.pass : value <= rule.threshold
        if (!ok) printedFalse.add(stat)
        const text = integer && stat !== 'mean' ? String(value) : pyFloatRepr(value)
        lines.push(`\t${stat} diff: check passed: ${ok ? 'True' : 'False'}, value: ${text}`)
      }
    }
    for (const f of c.failures) {
      const m = THRESHOLD_SENTENCE.exec(f)
      if (m && printedFalse.has(m[1] as string)) continue
      lines.push(`\tcheck failed: ${f}`)
    }
  }
  const pass = checks.every((c) => c.negated || c.pass)
  lines.push(pass ? 'diff check passed' : 'diff check failed')
  return lines
}
