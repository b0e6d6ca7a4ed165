/**
 * `vitest-align/vitest`: registers the matchers on Vitest's `expect` and types them. Put it in
 * `setupFiles` (the plugin does so for you).
 */
import { expect } from 'vitest'
import { toAlignWith, toHaveMeanDiffBelow } from './matchers/index.js'
import type { AlignMatchers } from './matchers/types.js'

expect.extend({ toAlignWith, toHaveMeanDiffBelow })

declare module 'vitest' {
  // biome-ignore lint/suspicious/noExplicitAny: the type parameter must match Vitest's own declaration
  interface Matchers<T = any> extends AlignMatchers<T> {}
  // `expect.not.toAlignWith(...)`; `any` as `expect.toAlignWith(...)` gets through Matchers<any>
  // biome-ignore lint/suspicious/noExplicitAny: must equal what ExpectStatic inherits from Matchers
  interface AsymmetricMatchersContaining extends AlignMatchers<any> {}
}
