import { spawnSync } from 'node:child_process'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { Writable } from 'node:stream'
import { type CliOptions, startVitest } from 'vitest/node'

const require = createRequire(import.meta.url)
/** Vitest's own CLI script (its package `bin`), so a fixture project runs as a user's would. */
const VITEST_CLI = join(dirname(require.resolve('vitest/package.json')), 'vitest.mjs')

/**
 * Runs the Vitest CLI on a fixture project (its own `vitest.config.ts`) in a child process, and
 * returns its exit code and output. Colours are off, as a CI log would read them.
 */
export function runVitestCli(root: string, args: string[] = []) {
  const r = spawnSync(process.execPath, [VITEST_CLI, 'run', ...args], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0', CI: 'true', VITEST: undefined },
    timeout: 120_000,
  })
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, output: r.stdout + r.stderr }
}

/**
 * Runs Vitest programmatically (`startVitest` from `vitest/node`) on a fixture project, its
 * output sent to a sink, and returns the Vitest instance after the run for its state (test
 * modules, results, meta). What the run printed is not read here: with custom streams Vitest's
 * end-of-run output did not reach them reliably; `runVitestCli` is for assertions on output.
 */
export async function runVitestProgrammatic(root: string, options: CliOptions = {}) {
  const sink = () => new Writable({ write: (_chunk, _enc, done) => done() })
  const vitest = await startVitest(
    'test',
    [],
    { root, watch: false, ...options },
    {},
    { stdout: sink(), stderr: sink() },
  )
  await vitest.close()
  return vitest
}
