/**
 * `vitest-align/reporter`: `AlignReporter`, which prints one line per alignment stage (a spec
 * file) after the run, from what the matchers recorded on each test.
 *
 * @example
 * // vitest.config.ts
 * export default defineConfig({ test: { reporters: ['default', new AlignReporter()] } })
 */
import type { Reporter, TestModule, Vitest } from 'vitest/node'
import { stageLine } from './message.js'
import type { AlignCheck } from './record.js'

/** The stage a spec file stands for: `stages/02-forward.align.test.ts` is `forward`. */
export function stageName(moduleId: string): string {
  const base = moduleId.split(/[\\/]/).pop() ?? moduleId
  return base.replace(/\.(align\.)?(test|spec)\.[cm]?[jt]sx?$/, '').replace(/^\d+[-_]/, '')
}

/** Every check recorded by the tests of one spec file. */
export function checksOf(module: TestModule): AlignCheck[] {
  return [...module.children.allTests()].flatMap((t) => t.meta().align ?? [])
}

/** Prints `forward  3 keys aligned, max rel Δ 1.2e-6` for each spec file that compared keys. */
export class AlignReporter implements Reporter {
  private vitest: Vitest | undefined

  onInit(vitest: Vitest): void {
    this.vitest = vitest
  }

  onTestRunEnd(modules: ReadonlyArray<TestModule>): void {
    const stages = modules
      .map((m) => ({ stage: stageName(m.moduleId), checks: checksOf(m) }))
      .filter((s) => s.checks.length > 0)
    if (stages.length === 0) return
    const width = Math.max(...stages.map((s) => s.stage.length))
    const log = (line: string) => (this.vitest ? this.vitest.logger.log(line) : console.log(line))
    log('')
    for (const s of stages) log(stageLine(s.stage.padEnd(width), s.checks))
  }
}

export default AlignReporter
