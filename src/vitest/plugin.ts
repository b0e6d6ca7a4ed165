/**
 * `vitest-align/plugin`: `align(options)`, a Vite plugin for `vitest.config.ts` that
 *
 * - registers the matchers in every test file (adds the `vitest-align/vitest` setup file), so no
 *   one writes `setupFiles` by hand;
 * - provides the project's default comparison options to the tests, where the registered
 *   matchers lay each call's own options over them (see `withProjectDefaults`);
 * - adds {@link AlignReporter}, unless `reporter: false` or the config lists it already.
 *
 * The options are checked when the config loads: a misspelt name or a value out of range throws
 * an {@link AlignOptionsError} naming it.
 */
/// <reference types="vitest/config" />
import { isAbsolute, resolve as resolvePath } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { TestProject, Vite, Vitest } from 'vitest/node'
import { AlignOptionsError } from '../compare/errors.js'
import { validateOptions } from '../compare/options.js'
import { unknownName } from '../compare/suggest.js'
import { PROVIDE_KEY, type ProjectDefaults, type ProvidedAlign } from './defaults.js'
import { AlignReporter, DEFAULT_REPORT_DIR } from './reporter.js'
// the matcher types, so `plugins: [align()]` alone types `expect(...).toAlignWith` (see augment.ts)
import './augment.js'

export type { ProjectDefaults, ProvidedAlign } from './defaults.js'

/** The setup entry the plugin adds; resolved through the package's own `exports`. */
export const SETUP_ENTRY = 'vitest-align/vitest'

/** The reporter's entry, as a config may list it by name. */
const REPORTER_ENTRY = 'vitest-align/reporter'

/** Options of {@link align}: the project's default comparison options, and where to report. */
export interface AlignPluginOptions extends ProjectDefaults {
  /**
   * Where the reporter writes its report and the fixtures their `<stage>_candidate.npy`
   * records, relative to Vitest's root. Default `'align-out'`.
   */
  reportDir?: string
  /** Add {@link AlignReporter} to the run's reporters. Default `true`. */
  reporter?: boolean
}

/** Every option name, checked at compile time to be exactly the interface's. */
const OPTION_NAMES = Object.keys({
  method: true,
  atol: true,
  rtol: true,
  threshold: true,
  equalNan: true,
  shape: true,
  checkDtype: true,
  allowVacuous: true,
  tolerances: true,
  keys: true,
  maxKeys: true,
  maxElements: true,
  reportDir: true,
  reporter: true,
} satisfies Record<keyof AlignPluginOptions, true>)

/** The options resolved: defaults filled in, the comparison options apart. */
export interface ResolvedPluginOptions {
  readonly defaults: ProjectDefaults
  readonly reportDir: string
  readonly reporter: boolean
}

const inPlugin = (reason: string) => `${reason} (in align() options)`

/**
 * Checks the plugin's options (from untyped code too) and fills in the defaults.
 *
 * @throws {AlignOptionsError} naming a misspelt option or a value out of range.
 */
export function resolvePluginOptions(options: unknown): ResolvedPluginOptions {
  if (options === undefined) return { defaults: {}, reportDir: DEFAULT_REPORT_DIR, reporter: true }
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new AlignOptionsError('options', inPlugin(`must be an object, got ${String(options)}`))
  }
  for (const name of Object.keys(options)) {
    if (!OPTION_NAMES.includes(name)) {
      throw new AlignOptionsError(name, inPlugin(unknownName(name, OPTION_NAMES)))
    }
  }
  const { reportDir, reporter, ...defaults } = options as AlignPluginOptions
  if (reportDir !== undefined && (typeof reportDir !== 'string' || reportDir === '')) {
    throw new AlignOptionsError('reportDir', inPlugin('must be a non-empty path'))
  }
  if (reporter !== undefined && typeof reporter !== 'boolean') {
    throw new AlignOptionsError('reporter', inPlugin(`must be true or false, got ${reporter}`))
  }
  if (typeof defaults.keys === 'function') {
    throw new AlignOptionsError(
      'keys',
      inPlugin(
        'must be an object of patterns here: a function cannot be sent to the test workers (pass it in the call options instead)',
      ),
    )
  }
  try {
    validateOptions(defaults)
  } catch (e) {
    if (e instanceof AlignOptionsError) throw new AlignOptionsError(e.option, inPlugin(e.reason))
    throw e
  }
  return { defaults, reportDir: reportDir ?? DEFAULT_REPORT_DIR, reporter: reporter ?? true }
}

const REPORTER_FILE = fileURLToPath(new URL('./reporter.js', import.meta.url))

/** Whether a resolved reporter entry is vitest-align's reporter (by instance, name or path). */
function isAlignReporter(entry: unknown, project: TestProject): boolean {
  const r = Array.isArray(entry) ? entry[0] : entry
  if (typeof r === 'string') {
    if (r === REPORTER_ENTRY) return true
    const isPath = isAbsolute(r) || r.startsWith('.')
    return isPath && resolvePath(project.config.root, r) === REPORTER_FILE
  }
  return r instanceof AlignReporter || (r as object | null)?.constructor?.name === 'AlignReporter'
}

/** Adds the reporter, once, to the run's reporters. */
function addReporter(vitest: Vitest, project: TestProject, reportDir: string): void {
  const reporters = vitest.config.reporters as unknown[]
  if (reporters.some((r) => isAlignReporter(r, project))) return
  reporters.push(new AlignReporter({ reportDir }))
}

/**
 * The vitest-align plugin.
 *
 * @example
 * // vitest.config.ts
 * import { defineConfig } from 'vitest/config'
 * import { align } from 'vitest-align/plugin'
 * export default defineConfig({
 *   plugins: [align({ tolerances: { float32: { atol: 1e-5, rtol: 1e-4 } }, reportDir: 'align-out' })],
 * })
 */
export function align(options: AlignPluginOptions = {}): Vite.Plugin {
  const resolved = resolvePluginOptions(options)
  return {
    name: 'vitest-align',
    config: () => ({ test: { setupFiles: [SETUP_ENTRY] } }),
    configureVitest({ vitest, project }) {
      const provided: ProvidedAlign = {
        defaults: resolved.defaults,
        // where the reporter writes too: it resolves reportDir against Vitest's root
        reportDir: resolvePath(vitest.config.root, resolved.reportDir),
        root: project.config.root,
      }
      project.provide(PROVIDE_KEY, provided)
      if (resolved.reporter) addReporter(vitest, project, resolved.reportDir)
    },
  }
}
