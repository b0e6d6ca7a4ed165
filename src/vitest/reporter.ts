/**
 * `vitest-align/reporter`: `AlignReporter`. At the end of a run it prints one line per
 * alignment stage (a spec file) and writes the report of what the matchers recorded on each
 * test into its report directory:
 *
 * - `summary.md`: the verdict, an overview, one table per stage, negative controls apart;
 * - `report.json`: the same as data ({@link AlignReport}, typed in `report.ts`);
 * - `<stage>_diff.log`: reprod_log's diff report of each stage's positive checks, with its
 *   logger's `[date] root INFO: ` prefix (the date is the run's);
 * - `index.html`: one self-contained page with the tables, the |Δ| histograms and the curves.
 *
 * The report depends on the checks only (sorted by file, no timestamp), so merging sharded blob
 * reports (`vitest --merge-reports --reporter=vitest-align/reporter`) writes the same files as
 * one unsharded run, but for the dates in the logs; a run that writes a blob report
 * (`--reporter=blob`, one shard) writes no report of its own. `*_diff.log` files of stages that are no
 * longer reported are removed from the directory; other files there are left alone.
 *
 * @example
 * // vitest.config.ts
 * import AlignReporter from 'vitest-align/reporter'
 * export default defineConfig({
 *   test: { reporters: ['default', new AlignReporter({ reportDir: 'align-out' })] },
 * })
 * // or by name, with options: reporters: ['default', ['vitest-align/reporter', { terminal: false }]]
 */
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { join, relative, resolve } from 'node:path'
import type { Reporter, TestModule, Vitest } from 'vitest/node'
import { AlignOptionsError } from '../compare/errors.js'
import { escapeText } from '../compare/format.js'
import { unknownName } from '../compare/suggest.js'
import { formatReprodLog } from '../io/reprod-diff.js'
import type { AlignCheck } from './record.js'
import { type AlignReport, buildReport, formatReportJson, stageInput } from './report.js'
import { renderHtml } from './report-html.js'
import { stageLogLines } from './report-log.js'
import { formatSummary } from './report-markdown.js'

export type {
  AlignReport,
  CheckVerdict,
  KeyReport,
  ReportTotals,
  SequencePoint,
  SequenceReport,
  StageReport,
  StageVerdict,
  TestCounts,
} from './report.js'
export { REPORT_VERSION, stageName } from './report.js'

/** Options of {@link AlignReporter}. */
export interface AlignReporterOptions {
  /**
   * Where the report is written, relative to Vitest's root (an absolute path is taken as is).
   * Default `'align-out'`.
   */
  reportDir?: string
  /** Print one line per stage at the end of the run. Default `true`. */
  terminal?: boolean
}

/** The default report directory. */
export const DEFAULT_REPORT_DIR = 'align-out'

const OPTIONS = ['reportDir', 'terminal'] as const

/** Checks the reporter's options; throws an {@link AlignOptionsError} naming the bad one. */
export function checkReporterOptions(options: unknown): AlignReporterOptions {
  if (options === undefined || options === null) return {}
  if (typeof options !== 'object' || Array.isArray(options)) {
    throw new AlignOptionsError('reporter', `options must be an object, got ${String(options)}`)
  }
  const o = options as Record<string, unknown>
  for (const name of Object.keys(o)) {
    if (!(OPTIONS as readonly string[]).includes(name)) {
      throw new AlignOptionsError(
        `reporter.${name}`,
        unknownName(name, OPTIONS, 'option of AlignReporter'),
      )
    }
  }
  if (o.reportDir !== undefined && (typeof o.reportDir !== 'string' || o.reportDir.trim() === '')) {
    throw new AlignOptionsError(
      'reporter.reportDir',
      `must be a non-empty string (a directory, relative to the Vitest root), got ${typeof o.reportDir === 'string' ? "''" : String(o.reportDir)}`,
    )
  }
  if (o.terminal !== undefined && typeof o.terminal !== 'boolean') {
    throw new AlignOptionsError(
      'reporter.terminal',
      `must be true or false, got ${String(o.terminal)}`,
    )
  }
  return o as AlignReporterOptions
}

/** Every check recorded by the tests of one spec file. */
export function checksOf(module: TestModule): AlignCheck[] {
  return [...module.children.allTests()].flatMap((t) => t.meta().align ?? [])
}

/** The files of a report: name → content, in writing order. */
export function reportFiles(report: AlignReport, date: Date): Map<string, string> {
  const files = new Map<string, string>()
  files.set('report.json', formatReportJson(report))
  files.set('summary.md', formatSummary(report))
  for (const s of report.stages) {
    if (s.log !== undefined) files.set(s.log, formatReprodLog(stageLogLines(s.keys), date))
  }
  files.set('index.html', renderHtml(report))
  return files
}

/**
 * Prints `forward  3 keys aligned, max rel Δ 1.2e-6` for each stage and writes `summary.md`,
 * `report.json`, `<stage>_diff.log` and `index.html` into `reportDir`.
 */
export class AlignReporter implements Reporter {
  /** The options, checked. */
  readonly options: Readonly<Required<AlignReporterOptions>>
  private vitest: Vitest | undefined
  private started = new Date()

  /**
   * @param options `{ reportDir?: string = 'align-out', terminal?: boolean = true }`.
   * @throws {AlignOptionsError} for an unknown option or a value of the wrong type.
   */
  constructor(options: AlignReporterOptions = {}) {
    const o = checkReporterOptions(options)
    this.options = {
      reportDir: o.reportDir ?? DEFAULT_REPORT_DIR,
      terminal: o.terminal ?? true,
    }
  }

  onInit(vitest: Vitest): void {
    this.vitest = vitest
    this.started = new Date()
  }

  /** The report directory, resolved against Vitest's root. */
  get reportDir(): string {
    return resolve(this.vitest?.config.root ?? process.cwd(), this.options.reportDir)
  }

  /**
   * Whether this run writes a blob report (`--reporter=blob`, a shard to be merged): its report
   * would be partial, so it writes none; `--merge-reports` writes the whole one.
   */
  private writesBlob(): boolean {
    const reporters: readonly unknown[] = this.vitest?.config.reporters ?? []
    return reporters.some((r) =>
      Array.isArray(r)
        ? r[0] === 'blob'
        : r === 'blob' || (r as object | null)?.constructor?.name === 'BlobReporter',
    )
  }

  onTestRunEnd(modules: ReadonlyArray<TestModule>): void {
    const root = this.vitest?.config.root
    const report = buildReport(modules.map((m) => stageInput(m, root)))
    const log = (line: string) => (this.vitest ? this.vitest.logger.log(line) : console.log(line))
    if (this.options.terminal && report.stages.length > 0) {
      // a stage is named after its file, whose name may hold anything
      const names = report.stages.map((s) => escapeText(s.stage))
      const width = Math.max(...names.map((n) => n.length))
      log('')
      for (const [i, s] of report.stages.entries()) {
        log(`${(names[i] as string).padEnd(width)}  ${s.summary}`)
      }
    }
    if (this.writesBlob()) {
      if (this.options.terminal) {
        log(
          'vitest-align: a blob run writes no report; merge the blobs (--merge-reports) to get it',
        )
      }
      return
    }
    this.write(report)
    if (this.options.terminal && report.stages.length > 0) {
      const dir = relative(process.cwd(), this.reportDir) || '.'
      log(`vitest-align: report in ${join(dir, 'index.html')} (and ${join(dir, 'summary.md')})`)
    }
  }

  /** Writes the report's files, and removes the logs of stages no longer reported. */
  write(report: AlignReport): void {
    const dir = this.reportDir
    const files = reportFiles(report, this.started)
    mkdirSync(dir, { recursive: true })
    for (const name of readdirSync(dir)) {
      if (name.endsWith('_diff.log') && !files.has(name)) rmSync(join(dir, name), { force: true })
    }
    for (const [name, content] of files) writeFileSync(join(dir, name), content)
  }
}

export default AlignReporter
