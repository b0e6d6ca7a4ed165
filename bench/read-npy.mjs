/**
 * Reading a 400 MB float32 .npy and comparing it with another, side by side with numpy's
 * `np.load` on the same files: read time (best of 5, files in the page cache) and extra memory
 * per file (peak RSS growth over a fresh process's baseline, divided by the file size).
 *
 * Run with `npm run bench` (after `npm run build`); numpy is Debian's python3-numpy.
 * Each measurement runs in a fresh process so that peak RSS belongs to that measurement only.
 */
import { execFileSync, spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const N = 100_000_000 // 400 MB of float32
const RUNS = 5
const PYTHON = process.env.VITEST_ALIGN_PYTHON ?? '/usr/bin/python3'
const dist = fileURLToPath(new URL('../dist/', import.meta.url))

/** Read time (best of RUNS) and compare time, in one process; memory in a fresh one. */
function measureNode(a, b, env = {}) {
  const imports = `
    import { readNpy } from ${JSON.stringify(join(dist, 'io/index.js'))}
    import { compare } from ${JSON.stringify(join(dist, 'index.js'))}`
  const time = `${imports}
    let best = Infinity, x
    for (let i = 0; i < ${RUNS}; i++) {
      x = undefined; globalThis.gc() // the previous array is freed before the next read
      const t = performance.now(); x = readNpy(${JSON.stringify(a)}); best = Math.min(best, performance.now() - t)
    }
    const y = readNpy(${JSON.stringify(b)})
    const t = performance.now()
    const r = compare(x, y, { atol: 1e-5, rtol: 1e-5 })
    console.log(JSON.stringify({ read: best, compare: performance.now() - t, pass: r.pass }))`
  const memory = `${imports}
    const rss0 = process.memoryUsage().rss
    const x = readNpy(${JSON.stringify(a)}), y = readNpy(${JSON.stringify(b)})
    console.log(JSON.stringify({ rss0, peak: process.resourceUsage().maxRSS * 1024, n: x.data.length + y.data.length }))`
  const run = (script) =>
    JSON.parse(
      execFileSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', script], {
        encoding: 'utf8',
        env: { ...process.env, ...env },
      }),
    )
  return { ...run(time), ...run(memory) }
}

function measureNumpy(a, b, hugepages = true) {
  const setup = `
import json, resource, time
import numpy as np
np.core.multiarray._set_madvise_hugepage(${hugepages ? 'True' : 'False'})
`
  const time = `${setup}
best = float('inf')
for i in range(${RUNS}):
    x = None
    t = time.perf_counter(); x = np.load(${JSON.stringify(a)}); best = min(best, time.perf_counter() - t)
y = np.load(${JSON.stringify(b)})
t = time.perf_counter(); ok = np.allclose(x, y, rtol=1e-5, atol=1e-5); cmp = time.perf_counter() - t
print(json.dumps({'read': best * 1000, 'compare': cmp * 1000, 'pass': bool(ok)}))
`
  const memory = `${setup}
rss0 = int(open('/proc/self/statm').read().split()[1]) * 4096
x = np.load(${JSON.stringify(a)}); y = np.load(${JSON.stringify(b)})
print(json.dumps({'rss0': rss0, 'peak': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}))
`
  const run = (py) => {
    const r = spawnSync(PYTHON, ['-c', py], { encoding: 'utf8' })
    if (r.status !== 0) throw new Error(`numpy run failed: ${r.stderr}`)
    return JSON.parse(r.stdout)
  }
  return { ...run(time), ...run(memory) }
}

const dir = mkdtempSync(join(tmpdir(), 'va-bench-'))
try {
  const { encodeNpy } = await import(join(dist, 'io/index.js'))
  const a = join(dir, 'a.npy')
  const b = join(dir, 'b.npy')
  const x = new Float32Array(N)
  for (let i = 0; i < N; i++) x[i] = Math.sin(i) // deterministic, no allocation per element
  writeFileSync(a, encodeNpy(x))
  for (let i = 0; i < N; i++) x[i] *= 1 + 1e-7
  writeFileSync(b, encodeNpy(x))
  const size = statSync(a).size
  const rows = [
    ['vitest-align readNpy + compare (4 KiB pages)', measureNode(a, b)],
    ['numpy np.load + np.allclose, huge pages off', measureNumpy(a, b, false)],
    [
      'vitest-align, GLIBC_TUNABLES=glibc.malloc.hugetlb=1',
      measureNode(a, b, { GLIBC_TUNABLES: 'glibc.malloc.hugetlb=1' }),
    ],
    ['numpy np.load + np.allclose (its default: huge pages)', measureNumpy(a, b, true)],
  ]
  const mb = (bytes) => `${(bytes / 2 ** 20).toFixed(0)} MiB`
  // two files were loaded (a, then b), so the extra memory per file is half the growth
  const perFile = (m) => (m.peak - m.rss0) / 2 / size
  console.log(
    `\n.npy read of a ${mb(size)} float32 file (${N.toLocaleString('en')} elements), best of ${RUNS}:\n`,
  )
  console.log('| | read | compare (allclose, every element) | extra memory per file |')
  console.log('|---|---|---|---|')
  for (const [name, m] of rows) {
    console.log(
      `| ${name} | ${m.read.toFixed(0)} ms | ${m.compare.toFixed(0)} ms | ${perFile(m).toFixed(2)}x the file |`,
    )
  }
  const [ours, numpyNoHuge, oursHuge, numpy] = rows.map((r) => r[1])
  console.log(
    `\nread time, ours / numpy: ${(ours.read / numpyNoHuge.read).toFixed(2)} with 4 KiB pages on both sides, ${(oursHuge.read / numpy.read).toFixed(2)} with huge pages on both sides`,
  )
} finally {
  rmSync(dir, { recursive: true, force: true })
}
