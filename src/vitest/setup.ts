/**
 * `vitest-align/vitest`: registers the matchers on Vitest's `expect` and types them. Put it in
 * `setupFiles` (the `align()` plugin does so for you).
 *
 * The matchers registered here are the pure ones of `vitest-align/matchers` with two additions:
 *
 * - the project's defaults (`align(options)` provides them; read here once per test file with
 *   `inject`) lie under each call's options, merged per field, `tolerances` per dtype and `keys`
 *   per pattern ({@link withProjectDefaults}); without the plugin, nothing changes;
 * - in every test of a file this setup runs in (plain `test` from 'vitest' as well as
 *   `defineAlignment`'s), each key a call compares is annotated on the test
 *   (`context.annotate`: `notice` when it aligned, `error` when it failed the test), so JUnit
 *   shows a `<property>` per key and GitHub Actions an annotation at the `expect` line. Vitest
 *   gives matchers no `annotate`; a `beforeEach` registered here reaches each test's context.
 */
import { beforeEach, expect, inject, type MatcherState } from 'vitest'
import { validateOptions } from '../compare/options.js'
import {
  annotateChecksOf,
  annotateNewChecks,
  meanDiffDefaults,
  noiseDefaults,
  PROVIDE_KEY,
  type ProvidedAlign,
  projectDefaults,
  setProjectDefaults,
  settleAnnotations,
  withProjectDefaults,
} from './defaults.js'
import {
  toAlignLayerwise,
  toAlignWith,
  toHaveMeanDiffBelow,
  toStayWithinNoise,
} from './matchers/index.js'
// the matcher types on Vitest's `expect`, for projects that use this entry without the plugin
import './augment.js'
import type { MeanDiffOptions, NoiseMatcherOptions, SyncMatcherResult } from './matchers/types.js'

setProjectDefaults((inject(PROVIDE_KEY) as ProvidedAlign | undefined)?.defaults)

// Every test's checks are annotated while it runs, and its annotations are awaited when it ends
// (a failed assertion throws before Vitest awaits them itself).
beforeEach(({ task, onTestFinished }) => {
  annotateChecksOf(task)
  onTestFinished(() => settleAnnotations(task))
})

/** The number of checks already recorded on the running test. */
const recorded = (state: MatcherState): number => state.task?.meta.align?.length ?? 0

/** Validated before merging, so a bad call option is named as the call's own. */
function callOptions<T>(options: T | undefined): T | undefined {
  if (options !== undefined && projectDefaults() !== undefined) validateOptions(options)
  return options
}

/**
 * A call's options with its matcher's own fields (`noise`, `factor`, `growthFactor`) kept out
 * of the merge with the project's defaults, then put back.
 */
function mergeOwn<T extends object>(
  defaults: Parameters<typeof withProjectDefaults>[0],
  options: T | undefined,
  own: readonly string[],
): T {
  const call: Record<string, unknown> = { ...(options ?? {}) }
  const kept: Record<string, unknown> = {}
  for (const name of own) {
    if (name in call) kept[name] = call[name]
    delete call[name]
  }
  const merged = withProjectDefaults(defaults, callOptions(call) as never)
  return { ...merged, ...kept } as T
}

expect.extend({
  toAlignWith(this: MatcherState, received: unknown, expected: unknown, options?: unknown) {
    const from = recorded(this)
    const merged = withProjectDefaults(projectDefaults(), callOptions(options) as never)
    const result: SyncMatcherResult = toAlignWith.call(this, received, expected, merged)
    annotateNewChecks(this, from, result.pass)
    return result
  },
  toHaveMeanDiffBelow(
    this: MatcherState,
    received: unknown,
    expected: unknown,
    threshold: number,
    options?: unknown,
  ) {
    const from = recorded(this)
    const defaults = meanDiffDefaults(projectDefaults())
    const merged = withProjectDefaults(defaults, callOptions(options) as never) as MeanDiffOptions
    const result: SyncMatcherResult = toHaveMeanDiffBelow.call(
      this,
      received,
      expected,
      threshold,
      merged,
    )
    annotateNewChecks(this, from, result.pass)
    return result
  },
  toStayWithinNoise(this: MatcherState, received: unknown, expected: unknown, options?: unknown) {
    const from = recorded(this)
    const merged =
      typeof options === 'object' && options !== null
        ? mergeOwn<NoiseMatcherOptions>(noiseDefaults(projectDefaults()), options as never, [
            'noise',
            'factor',
          ])
        : (options as NoiseMatcherOptions)
    const result: SyncMatcherResult = toStayWithinNoise.call(this, received, expected, merged)
    annotateNewChecks(this, from, result.pass)
    return result
  },
  toAlignLayerwise(this: MatcherState, received: unknown, expected: unknown, options?: unknown) {
    const from = recorded(this)
    const merged = mergeOwn(projectDefaults(), options as object | undefined, ['growthFactor'])
    const result: SyncMatcherResult = toAlignLayerwise.call(this, received, expected, merged)
    annotateNewChecks(this, from, result.pass)
    return result
  },
})
