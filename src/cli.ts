/**
 * `vitest-align diff REFERENCE CANDIDATE [options]`: diffs two files with the compare core.
 * Exit status 0 when aligned, 1 when not, 2 on bad input or usage. `runCli` is the whole
 * command with its output passed in, so it is tested in-process; `bin.ts` calls it.
 */
import { readFileSync, writeFileSync } from 'node:fs'
import { basename } from 'node:path'
import { parseArgs } from 'node:util'
import { compare } from './compare/compare.js'
import { AlignError } from './compare/errors.js'
import { escapeText, formatReport } from './compare/format.js'
import type { AlignOptions, Method } from './compare/options.js'
import { unknownName, valueHint } from './compare/suggest.js'
import { WriteError } from './io/errors.js'
import { formatInspect, inspectRows } from './io/inspect.js'
import { load } from './io/load.js'
import { formatReprodLog, reprodDiffOf } from './io/reprod-diff.js'

export const USAGE = `Usage: vitest-align diff REFERENCE CANDIDATE [options]
       vitest-align inspect FILE [--json]

Diffs two files (.npy, .npz, reprod_log records or .safetensors, told apart by their
bytes), the reference first as reprod_log does, and prints one table of every key.

Rule (default: reprod_log's, mean |candidate - reference| <= 1e-6):
  --method M        mean | max | min | all | allclose
  --threshold T     bound of mean, max, min, all (default 1e-6)
  --atol A          allclose absolute tolerance (implies --method allclose)
  --rtol R          allclose relative tolerance (implies --method allclose)
Checks (fail closed by default):
  --shape S         strict (default) | squeeze: ignore size-1 dimensions, () vs (1,)
  --equal-nan       NaN against NaN counts as equal
  --check-dtype     fail when dtypes differ
  --allow-vacuous   pass a check an all-zero candidate would pass too
Output:
  --log FILE        also write reprod_log's report of the same result (reprod_log rules only)
  --json            print the result as JSON instead of the table
  -h, --help        this text
  --version         the package's version

inspect lists every array of FILE (any file diff reads): key, dtype, shape, elements and
bytes, then the totals; --json prints them as data.

Exit status: 0 aligned (inspect: read), 1 not aligned, 2 bad input or usage.`

/** Where the command writes. */
export interface CliOutput {
  stdout: (text: string) => void
  stderr: (text: string) => void
}

class UsageError extends Error {}

/** The one line a usage error ends with, instead of the whole help. */
export const SEE_HELP = "Run 'vitest-align --help' for usage."

/** The flags, one table: the parser, the unknown-flag hint and the value checks read it. */
const FLAGS = {
  method: { type: 'string' },
  threshold: { type: 'string' },
  atol: { type: 'string' },
  rtol: { type: 'string' },
  shape: { type: 'string' },
  'equal-nan': { type: 'boolean' },
  'check-dtype': { type: 'boolean' },
  'allow-vacuous': { type: 'boolean' },
  log: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean' },
} as const

/**
 * Parses `args` leniently, then checks every flag against {@link FLAGS} itself: Node's strict
 * mode names an unknown flag in a sentence of its own (with unbalanced quotes) and has no
 * "did you mean", which the package's other validators all give.
 */
function parse(args: readonly string[]) {
  const parsed = parseArgs({
    args: [...args],
    allowPositionals: true,
    strict: false,
    tokens: true,
    options: FLAGS,
  })
  const names = Object.keys(FLAGS)
  for (const token of parsed.tokens) {
    if (token.kind !== 'option') continue
    const flag = (FLAGS as Record<string, { type: 'string' | 'boolean' }>)[token.name]
    if (flag === undefined) {
      const known = names.map((n) => `--${n}`)
      throw new UsageError(`${token.rawName}: ${unknownName(`--${token.name}`, known, 'flag')}`)
    }
    if (flag.type === 'string' && token.value === undefined)
      throw new UsageError(`${token.rawName} needs a value`)
    if (flag.type === 'boolean' && token.value !== undefined)
      throw new UsageError(`${token.rawName} takes no value, got '${token.value}'`)
  }
  return parsed
}

/** The installed package's version, from its package.json (one folder above src/ and dist/). */
function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'))
  return String(pkg.version)
}

const REPROD_METHODS = ['mean', 'max', 'min', 'all'] as const

function number(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined
  const n = Number(value)
  if (value.trim() === '' || Number.isNaN(n))
    throw new UsageError(`--${name} needs a number, got '${value}'`)
  return n
}

function optionsFrom(values: Record<string, string | boolean | undefined>): AlignOptions {
  const atol = number('atol', values.atol as string | undefined)
  const rtol = number('rtol', values.rtol as string | undefined)
  const threshold = number('threshold', values.threshold as string | undefined)
  const allclose = atol !== undefined || rtol !== undefined
  const method = (values.method as string | undefined) ?? (allclose ? 'allclose' : 'mean')
  if (!(['allclose', ...REPROD_METHODS] as string[]).includes(method)) {
    const hint = valueHint(method, ['allclose', ...REPROD_METHODS])
    throw new UsageError(
      `--method must be one of allclose, mean, max, min, all; got '${method}'${hint}`,
    )
  }
  if (allclose && method !== 'allclose')
    throw new UsageError('--atol/--rtol go with --method allclose')
  if (threshold !== undefined && method === 'allclose') {
    throw new UsageError('--threshold goes with --method mean, max, min or all')
  }
  const shape = (values.shape as string | undefined) ?? 'strict'
  if (shape !== 'strict' && shape !== 'squeeze')
    throw new UsageError(
      `--shape must be strict or squeeze; got '${shape}'${valueHint(shape, ['strict', 'squeeze'])}`,
    )
  return {
    method: method as Method,
    shape,
    ...(atol !== undefined && { atol }),
    ...(rtol !== undefined && { rtol }),
    ...(threshold !== undefined && { threshold }),
    ...(values['equal-nan'] === true && { equalNan: true }),
    ...(values['check-dtype'] === true && { checkDtype: true }),
    ...(values['allow-vacuous'] === true && { allowVacuous: true }),
  }
}

/** What the log calls a lone pair of arrays: the reference file's name, without `.npy`. */
const pairName = (path: string): string => basename(path).replace(/\.npy$/, '')

/** Writes the `--log` file; a folder, a missing folder or no permission is a {@link WriteError}. */
function writeLog(path: string, text: string): void {
  try {
    writeFileSync(path, text)
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code
    const why =
      code === 'EISDIR'
        ? 'is a directory: --log takes a file name'
        : code === 'ENOENT' || code === 'ENOTDIR'
          ? 'its folder does not exist'
          : code === 'EACCES' || code === 'EPERM'
            ? 'permission denied'
            : `cannot be written (${code ?? (e as Error).message})`
    throw new WriteError(path, undefined, `--log ${why}`)
  }
}

const COMMANDS = ['diff', 'inspect']

/** `inspect FILE`: the file's arrays, or a usage error for a diff option or a second file. */
function inspect(
  files: readonly string[],
  values: Record<string, string | boolean | undefined>,
  out: CliOutput,
): number {
  if (files.length !== 1) throw new UsageError('inspect takes one file: FILE')
  const diffOnly = Object.keys(values).filter((k) => k !== 'json' && values[k] !== undefined)
  if (diffOnly.length > 0) throw new UsageError(`--${diffOnly[0]} goes with diff, not inspect`)
  const rows = inspectRows(load(files[0] as string))
  out.stdout(values.json ? `${JSON.stringify(rows, null, 2)}\n` : `${formatInspect(rows)}\n`)
  return 0
}

/** Runs `vitest-align <args>`; returns the exit status. */
export function runCli(args: readonly string[], out: CliOutput): number {
  try {
    const { values, positionals } = parse(args)
    if (values.help) {
      out.stdout(`${USAGE}\n`)
      return 0
    }
    if (values.version) {
      out.stdout(`${version()}\n`)
      return 0
    }
    const [command, reference, candidate, ...rest] = positionals
    if (command === 'inspect') return inspect(positionals.slice(1), values, out)
    if (command !== 'diff') {
      const hint = command ? valueHint(command, COMMANDS) : ''
      throw new UsageError(command ? `unknown command '${command}'${hint}` : 'no command')
    }
    if (reference === undefined || candidate === undefined || rest.length > 0) {
      throw new UsageError('diff takes two files: REFERENCE CANDIDATE')
    }
    const options = optionsFrom(values)
    if (values.log !== undefined && options.method === 'allclose') {
      throw new UsageError(
        '--log writes reprod_log lines, which exist for mean, max, min and all only',
      )
    }
    const expected = load(reference)
    const actual = load(candidate)
    // the one verdict: the table, the log and the exit status all render this result
    const result = compare(actual, expected, options)
    out.stdout(values.json ? `${JSON.stringify(result, null, 2)}\n` : `${formatReport(result)}\n`)
    if (values.log !== undefined) {
      const report = reprodDiffOf(result, expected, actual, pairName(reference))
      writeLog(values.log as string, formatReprodLog(report.lines))
    }
    return result.pass ? 0 : 1
  } catch (e) {
    if (e instanceof UsageError) {
      out.stderr(`vitest-align: ${escapeText(e.message)}\n${SEE_HELP}\n`)
      return 2
    }
    if (e instanceof AlignError) {
      out.stderr(`vitest-align: ${e.name}: ${escapeText(e.message)}\n`)
      return 2
    }
    out.stderr(`vitest-align: unexpected error: ${(e as Error).stack ?? String(e)}\n`)
    return 2
  }
}
