/**
 * `vitest-align/matchers`: the matcher functions, for `expect.extend`; no side effects.
 * `vitest-align/vitest` registers them.
 */
export { toAlignWith } from './to-align-with.js'
export { toHaveMeanDiffBelow } from './to-have-mean-diff-below.js'
export type { AlignMatchers, MeanDiffOptions } from './types.js'
