/**
 * compare() against numpy on the same two 50M-element float32 arrays, in one run: our whole
 * pipeline (every statistic, one pass) against numpy's `np.abs(a - b).mean()` alone and
 * `np.allclose`. Best of 5 after 2 warm-ups, each side in its own process.
 *
 * Run with `npm run bench` (after `npm run build`); numpy is Debian's python3-numpy.
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { benchPair } from './data.mjs'

const N = 50_000_000
const PYTHON = process.env.VITEST_ALIGN_PYTHON ?? '/usr/bin/python3'
const dist = fileURLToPath(new URL('../dist/', import.meta.url))

const dir = mkdtempSync(join(tmpdir(), 'va-bench-'))
try {
  const { encodeNpy } = await import(join(dist, 'io/index.js'))
  const [a, b] = benchPair(N)
  const pa = join(dir, 'a.npy')
  const pb = join(dir, 'b.npy')
  writeFileSync(pa, encodeNpy(a))
  writeFileSync(pb, encodeNpy(b))

  const ours = JSON.parse(
    execFileSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `
        import { compare } from ${JSON.stringify(join(dist, 'index.js'))}
        import { benchPair } from ${JSON.stringify(fileURLToPath(new URL('./data.mjs', import.meta.url)))}
        // the same arrays, made here rather than read back, so no first-touch page faults count
        const [a, b] = benchPair(${N})
        const best = (f) => { let m = Infinity; for (let i = 0; i < 7; i++) { const t = performance.now(); f(); if (i >= 2) m = Math.min(m, performance.now() - t) } return m }
        const allclose = best(() => { if (!compare(a, b, { atol: 1e-5, rtol: 1e-5 }).pass) throw new Error('verdict') })
        const mean = best(() => { if (!compare(a, b, { method: 'mean', threshold: 1e-3 }).pass) throw new Error('verdict') })
        console.log(JSON.stringify({ allclose, mean }))`,
      ],
      { encoding: 'utf8' },
    ),
  )
  const numpy = JSON.parse(
    execFileSync(
      PYTHON,
      [
        '-c',
        `
import json, time
import numpy as np
a = np.load(${JSON.stringify(pa)}); b = np.load(${JSON.stringify(pb)})
def best(f):
    m = float('inf')
    for i in range(7):
        t = time.perf_counter(); f()
        if i >= 2: m = min(m, time.perf_counter() - t)
    return m * 1000
print(json.dumps({'mean': best(lambda: np.abs(a - b).mean()), 'allclose': best(lambda: np.allclose(a, b, rtol=1e-5, atol=1e-5)), 'version': np.__version__}))
`,
      ],
      { encoding: 'utf8' },
    ),
  )
  const ns = (ms) => ((ms * 1e6) / N).toFixed(2)
  console.log(`\nTwo float32 arrays of ${N.toLocaleString('en')} elements, best of 5:\n`)
  console.log('| | time | ns/element |')
  console.log('|---|---|---|')
  console.log(
    `| vitest-align compare(), allclose, every statistic | ${ours.allclose.toFixed(1)} ms | ${ns(ours.allclose)} |`,
  )
  console.log(
    `| vitest-align compare(), mean rule, every statistic | ${ours.mean.toFixed(1)} ms | ${ns(ours.mean)} |`,
  )
  console.log(
    `| numpy ${numpy.version} np.abs(a - b).mean() alone | ${numpy.mean.toFixed(1)} ms | ${ns(numpy.mean)} |`,
  )
  console.log(
    `| numpy ${numpy.version} np.allclose(a, b) alone | ${numpy.allclose.toFixed(1)} ms | ${ns(numpy.allclose)} |`,
  )
} finally {
  rmSync(dir, { recursive: true, force: true })
}
