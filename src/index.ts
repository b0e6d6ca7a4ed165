/**
 * `vitest-align`: the compare core and its types. No side effects and no test-runner import:
 * usable from scripts, the CLI and any test runner.
 */
export * from './compare/index.js'
