import { fileURLToPath } from 'node:url'
import { describe, expect, test } from 'vitest'
import { align } from '../../src/vitest/plugin.js'
import { stageName } from '../../src/vitest/reporter.js'
import { runVitestCli } from '../helpers/run-vitest.js'

const project = fileURLToPath(new URL('../fixtures/projects/stages/', import.meta.url))

describe('align() plugin', () => {
  test('adds the setup entry that registers the matchers', () => {
    const plugin = align()
    expect(plugin.name).toBe('vitest-align')
    const config = (plugin.config as () => { test: { setupFiles: string[] } })()
    expect(config.test.setupFiles).toEqual(['vitest-align/vitest'])
  })

  test('a project with only align() in its config gets the matchers; the reporter prints a line per stage', () => {
    const run = runVitestCli(project)
    expect(run.status).toBe(1) // the loss stage fails on purpose
    expect(run.output).toMatch(/Tests {2}1 failed \| 2 passed \(3\)/)
    expect(run.stdout).toContain('forward  3 keys aligned, max rel Δ 0 (1 negative control)')
    expect(run.stdout).toContain('loss     1 of 1 keys not aligned: loss')
    // the failure's first line stays plain text with the numbers
    expect(run.output).toContain(
      'toHaveMeanDiffBelow: expected received to align with expected, but 1 of 1 key not aligned: loss: mean |Δ| 0.1 > 1e-6',
    )
  }, 60_000)
})

test('stage names come from the spec file name', () => {
  expect(stageName('/x/stages/02-forward.align.test.ts')).toBe('forward')
  expect(stageName('C:\\x\\05_training.spec.mts')).toBe('training')
  expect(stageName('metric.test.js')).toBe('metric')
})
