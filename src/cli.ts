/**
 * `vitest-align diff REFERENCE CANDIDATE [options]`: diffs two files with the compare core.
 * Exit status 0 when aligned, 1 when not, 2 on bad input or usage. `runCli` is the whole
 * command with its output passed in, so it is tested in-process; `bin.ts` calls it.
 */
import { writeFileSync } from 'node:fs'
import { basename } from 'node:path'
import { parseArgs } from 'node:util'
import { compare } from './compare/compare.js'
import { AlignError } from './compare/errors.js'
import { escapeText, formatReport } from './compare/format.js'
import type { AlignOptions, Method } from './compare/options.js'
import { WriteError } from './io/errors.js'
import { load } from './io/load.js'
import { formatReprodLog, reprodDiffOf } from './io/reprod-diff.js'

export const USAGE = `Usage: vitest-align diff REFERENCE CANDIDATE [options]

Diffs two files (.npy, .npz or reprod_log records, told apart by their bytes), the reference
first as reprod_log does, and prints one table of every key.

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

Exit status: 0 aligned, 1 not aligned, 2 bad input or usage.`

/** Where the command writes. */
export interface CliOutput {
  stdout: (text: string) => void
  stderr: (text: string) => void
}

class UsageError extends Error {}

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
    throw new UsageError(`--method must be one of allclose, mean, max, min, all; got '${method}'`)
  }
  if (allclose && method !== 'allclose')
    throw new UsageError('--atol/--rtol go with --method allclose')
  if (threshold !== undefined && method === 'allclose') {
    throw new UsageError('--threshold goes with --method mean, max, min or all')
  }
  const shape = (values.shape as string | undefined) ?? 'strict'
  if (shape !== 'strict' && shape !== 'squeeze')
    throw new UsageError(`--shape must be strict or squeeze; got '${shape}'`)
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

/** Runs `vitest-align <args>`; returns the exit status. */
export function runCli(args: readonly string[], out: CliOutput): number {
  try {
    const { values, positionals } = parseArgs({
      args: [...args],
      allowPositionals: true,
      options: {
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
      },
    })
    if (values.help) {
      out.stdout(`${USAGE}\n`)
      return 0
    }
    const [command, reference, candidate, ...rest] = positionals
    if (command !== 'diff')
      throw new UsageError(command ? `unknown command '${command}'` : 'no command')
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
      writeLog(values.log, formatReprodLog(report.lines))
    }
    return result.pass ? 0 : 1
  } catch (e) {
    if (e instanceof UsageError || (e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      out.stderr(`vitest-align: ${escapeText((e as Error).message)}\n\n${USAGE}\n`)
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
