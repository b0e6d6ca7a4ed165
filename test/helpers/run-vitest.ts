import { Writable } from 'node:stream'
import type { CliOptions } from 'vitest/node'
import { startVitest } from 'vitest/node'

/** A sink that keeps what Vitest printed, without colour codes. */
function sink(): { stream: Writable; text: () => string } {
  const chunks: string[] = []
  const stream = new Writable({
    write(chunk, _enc, done) {
      chunks.push(String(chunk))
      done()
    },
  })
  // biome-ignore lint/suspicious/noControlCharactersInRegex: stripping ANSI colour codes
  return { stream, text: () => chunks.join('').replace(/\u001b\[[0-9;]*m/g, '') }
}

/**
 * Runs Vitest programmatically on a fixture project and returns the per-file test states and
 * everything it printed. Colours are off, as a CI log would read them.
 */
export async function runVitest(root: string, options: CliOptions = {}) {
  const out = sink()
  const err = sink()
  process.env.NO_COLOR = '1'
  const vitest = await startVitest(
    'test',
    [],
    { root, watch: false, ...options },
    {},
    { stdout: out.stream, stderr: err.stream },
  )
  await vitest.close()
  const modules = vitest.state.getTestModules()
  return { vitest, modules, stdout: out.text(), stderr: err.text() }
}
