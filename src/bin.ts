#!/usr/bin/env node
// The `vitest-align` command; everything it does is in cli.ts.
import { runCli } from './cli.js'

process.exitCode = runCli(process.argv.slice(2), {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
})
