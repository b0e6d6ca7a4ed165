/**
 * `vitest-align/plugin`: `align()`, a Vite plugin for `vitest.config.ts` that registers the
 * matchers in every test file, so no one writes `setupFiles` by hand.
 */
/// <reference types="vitest/config" />
import type { Vite } from 'vitest/node'

/** The setup entry the plugin adds; resolved through the package's own `exports`. */
export const SETUP_ENTRY = 'vitest-align/vitest'

/**
 * The vitest-align plugin.
 *
 * @example
 * // vitest.config.ts
 * import { defineConfig } from 'vitest/config'
 * import { align } from 'vitest-align/plugin'
 * export default defineConfig({ plugins: [align()] })
 */
export function align(): Vite.Plugin {
  return {
    name: 'vitest-align',
    config: () => ({ test: { setupFiles: [SETUP_ENTRY] } }),
  }
}
