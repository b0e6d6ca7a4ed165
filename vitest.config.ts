import { configDefaults, defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // fixture projects are run by the tests themselves, under their own config
    exclude: [...configDefaults.exclude, 'test/fixtures/**'],
    setupFiles: ['./src/vitest/setup.ts'],
    typecheck: {
      include: ['test/**/*.test-d.ts'],
      exclude: [...configDefaults.exclude, 'test/fixtures/**'],
      tsconfig: './tsconfig.json',
    },
    benchmark: { include: ['bench/**/*.bench.ts'] },
  },
})
