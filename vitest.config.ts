import { configDefaults, defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // fixture projects are run by the tests themselves, under their own config
    exclude: [...configDefaults.exclude, 'test/fixtures/**'],
    setupFiles: ['./src/vitest/setup.ts'],
    // sized for a shared 2-core machine under load (2x slower or worse), never a verdict on speed:
    // a test that needs more says so itself
    testTimeout: 30_000,
    hookTimeout: 60_000,
    typecheck: {
      include: ['test/**/*.test-d.ts'],
      exclude: [...configDefaults.exclude, 'test/fixtures/**'],
      tsconfig: './tsconfig.json',
    },
    benchmark: { include: ['bench/**/*.bench.ts'] },
  },
})
