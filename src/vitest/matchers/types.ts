import type { AlignOptions } from '../../compare/options.js'
import type { AlignInput } from '../../compare/tensor-like.js'

/** Options of `toHaveMeanDiffBelow`: everything but the rule, which is reprod_log's mean. */
export type MeanDiffOptions = Omit<AlignOptions, 'method' | 'threshold' | 'atol' | 'rtol'>

/**
 * The matchers vitest-align adds to `expect`. Both are synchronous, so they work with `.not`,
 * `expect.soft`, `expect.poll` and as asymmetric matchers inside `toEqual`.
 */
export interface AlignMatchers<R = unknown> {
  /**
   * Every key of `received` aligns with `expected`: by default allclose, each element within
   * `|a - e| <= atol + rtol·|e|` (tolerances by dtype, as torch), equal shapes, no NaN or Inf
   * where the other side differs, and not vacuous (an all-zero received would not pass too).
   *
   * @example expect(tfjsLogits).toAlignWith(torchLogits, { rtol: 1e-4 })
   */
  toAlignWith(expected: AlignInput, options?: AlignOptions): R
  /**
   * reprod_log's check: mean |received - expected| of every key does not exceed `threshold`
   * (equal passes, as in reprod_log; unlike it, NaN and Inf fail and shapes must match).
   *
   * @example expect(logits).toHaveMeanDiffBelow(reference.forward.logits, 1e-5)
   */
  toHaveMeanDiffBelow(expected: AlignInput, threshold: number, options?: MeanDiffOptions): R
}

/** What a synchronous matcher returns (Vitest's SyncExpectationResult, which it does not export). */
export interface SyncMatcherResult {
  pass: boolean
  message: () => string
}
