/**
 * `vitest-align`: the compare core, the file readers and writers, and their types. No side
 * effects and no test-runner import: usable from scripts, the CLI and any test runner.
 */
export * from './compare/index.js'
export * from './io/index.js'
