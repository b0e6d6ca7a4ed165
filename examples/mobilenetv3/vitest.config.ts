import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vitest/config'
import { align } from 'vitest-align/plugin'

// The MobileNetV3 example: `npm run align` from the repository's root runs this config.
export default defineConfig({
  // relative paths (the report directory, the spec globs) are this folder's, wherever it runs from
  root: fileURLToPath(new URL('.', import.meta.url)),
  plugins: [align({ reportDir: 'align-out' })],
  test: {
    include: ['stages/**/*.align.test.ts'],
    // picks the TF.js backend once (option or VITEST_ALIGN_BACKEND), checks it and prints it
    globalSetup: ['./stages/backend.setup.ts'],
    // and starts it in every worker before the first test (the leak guard counts its tensors)
    setupFiles: ['./stages/backend.worker.ts'],
    // sized for a loaded 2-core machine (a stage takes 2 to 10 s on a quiet one), never a verdict
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
})
