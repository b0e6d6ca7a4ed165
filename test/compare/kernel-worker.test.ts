import { execFileSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { expect, test } from 'vitest'

const kernel = fileURLToPath(new URL('../../dist/compare/kernel/index.js', import.meta.url))

test('the worker starts whatever flags the parent process has (here --input-type=module)', () => {
  const script = `
    import { pairStats, kernelInfo } from ${JSON.stringify(kernel)}
    const a = new Float32Array(1 << 23).map((_, i) => Math.sin(i)), b = a.map((x) => x * (1 + 1e-7))
    const until = Date.now() + 5000
    while (kernelInfo().worker !== 'ready' && Date.now() < until) pairStats(a, b, { atol: 1e-5, rtol: 1e-5, equalNan: false })
    pairStats(a, b, { atol: 1e-5, rtol: 1e-5, equalNan: false }, { threads: 2 })
    console.log(JSON.stringify(kernelInfo()))`
  const info = JSON.parse(
    execFileSync(process.execPath, ['--input-type=module', '-e', script], {
      encoding: 'utf8',
      env: { ...process.env, VITEST_ALIGN_THREADS: '' },
    }),
  )
  expect(info).toMatchObject({ worker: 'ready', threads: 2 })
}, 30_000)
