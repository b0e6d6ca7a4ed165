/**
 * Types the matchers on Vitest's `expect`. Its own module, imported by both `vitest-align/vitest`
 * and `vitest-align/plugin`, so that a project whose only mention of vitest-align is
 * `plugins: [align()]` in its `vitest.config.ts` (part of its TS program) gets the types: a
 * side-effect import survives declaration emit, so each entry's `.d.ts` imports this one's.
 */
import type { AlignMatchers } from './matchers/types.js'

declare module 'vitest' {
  // biome-ignore lint/suspicious/noExplicitAny: the type parameter must match Vitest's own declaration
  interface Matchers<T = any> extends AlignMatchers<T> {}
  // `expect.not.toAlignWith(...)`; `any` as `expect.toAlignWith(...)` gets through Matchers<any>
  // biome-ignore lint/suspicious/noExplicitAny: must equal what ExpectStatic inherits from Matchers
  interface AsymmetricMatchersContaining extends AlignMatchers<any> {}
}
