import type { LayerwiseOptions } from '../../compare/layerwise.js'
import type { NoiseOptions } from '../../compare/noise.js'
import type { AlignOptions } from '../../compare/options.js'
import type { AlignInput } from '../../compare/tensor-like.js'

/** Options of `toStayWithinNoise`: the reference's own noise runs, and {@link NoiseOptions}. */
export interface NoiseMatcherOptions extends NoiseOptions {
  /**
   * Runs of the reference that should agree with it but differ by its numerical noise (the
   * same training in float64, perturbed at the last bit...), each of the reference's structure
   * and shapes. At least one.
   */
  noise: readonly AlignInput[]
}

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
  /**
   * The noise-floor rule: every element of every key is within `factor` times the reference's
   * own spread there (the largest |run_k - expected| over the noise runs) plus the allclose
   * floor `atol + rtol·|expected|`. Fails on NaN, a shape mismatch, a bad noise run, and when
   * the band is so wide that an all-zero received would pass too.
   *
   * @example expect({ loss: tfjsLosses }).toStayWithinNoise({ loss: torchLosses }, { noise: [{ loss: f64 }, { loss: perturbed }], factor: 3 })
   */
  toStayWithinNoise(expected: AlignInput, options: NoiseMatcherOptions): R
  /**
   * Two records of module outputs (or of gradients), keyed by module path in execution order
   * (the expected record's key order), compared module by module: fails at the first module
   * over its tolerance whose error (max |Δ| / max |expected|) is more than `growthFactor` (10)
   * times the largest error before it, and names it in a module tree.
   *
   * @example expect(tfjsLayers).toAlignLayerwise(torchLayers, { rtol: 1e-3, growthFactor: 10 })
   */
  toAlignLayerwise(expected: AlignInput, options?: LayerwiseOptions): R
}

/** What a synchronous matcher returns (Vitest's SyncExpectationResult, which it does not export). */
export interface SyncMatcherResult {
  pass: boolean
  message: () => string
}
