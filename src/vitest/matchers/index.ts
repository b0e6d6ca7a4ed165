/**
 * `vitest-align/matchers`: the matcher functions, for `expect.extend`; no side effects.
 * `vitest-align/vitest` registers them.
 */

export { toAlignLayerwise } from './to-align-layerwise.js'
export { toAlignWith } from './to-align-with.js'
export { toHaveMeanDiffBelow } from './to-have-mean-diff-below.js'
export { toStayWithinNoise } from './to-stay-within-noise.js'
export type { AlignMatchers, MeanDiffOptions, NoiseMatcherOptions } from './types.js'
