/**
 * Pair statistics on two 50M-element Float32Arrays: the SIMD kernel on two threads (the default
 * for pairs this large) and on one, the JS reference kernel and a bare `Σ|a - b|` loop as the
 * floor of what plain JS can do. ns/element = time / N, i.e. ms / 50.
 * Run: npx vitest bench --run bench/stats.bench.ts
 */
import { bench, describe } from 'vitest'
import { compare } from '../src/compare/compare.js'
import { kernelInfo, pairStats, startKernelWorker } from '../src/compare/kernel/index.js'
import { pairStatsJs } from '../src/compare/stats.js'
import { benchPair } from './data.mjs'

const N = 50_000_000
const tol = { atol: 1e-5, rtol: 1e-5, equalNan: false }

// b = a·(1 ± 2e-6) with a random sign: every element is within tolerance, nothing can stop early.
const [a, b] = benchPair(N)

const options = { iterations: 5, warmupIterations: 2, time: 0, warmupTime: 0 }

// Boot the worker thread now (pairStats never waits for it: the first large call would run on
// the main thread until it is ready).
if (!(await startKernelWorker())) throw new Error('no worker thread here')

/** Throws unless the last call took the wasm path on `threads` threads. */
function expectPath(threads: 1 | 2): void {
  const info = kernelInfo()
  if (info.lastPath !== 'wasm-f32' || info.threads !== threads) {
    throw new Error(`expected wasm-f32 on ${threads} thread(s), got ${JSON.stringify(info)}`)
  }
}

describe(`pair statistics, 2 × Float32Array(${N})`, () => {
  bench(
    'pairStats (wasm SIMD, 2 threads)',
    () => {
      const s = pairStats(a, b, tol, { threads: 2 })
      expectPath(2)
      if (s.mismatches !== 0 || !(s.sumAbs > 0)) throw new Error('unexpected statistics')
    },
    options,
  )

  bench(
    'pairStats (wasm SIMD, 1 thread: VITEST_ALIGN_THREADS=1)',
    () => {
      const s = pairStats(a, b, tol, { threads: 1 })
      expectPath(1)
      if (s.mismatches !== 0 || !(s.sumAbs > 0)) throw new Error('unexpected statistics')
    },
    options,
  )

  bench(
    'compare() (the whole pipeline: normalize, kernel, verdict)',
    () => {
      const r = compare(a, b, { atol: 1e-5, rtol: 1e-5 })
      if (!r.pass) throw new Error('unexpected verdict')
    },
    options,
  )

  bench(
    'pairStatsJs (reference)',
    () => {
      const s = pairStatsJs(a, b, tol)
      if (s.mismatches !== 0 || !(s.sumAbs > 0)) throw new Error('unexpected statistics')
    },
    options,
  )

  bench(
    'plain JS sum += Math.abs(a[i] - b[i]) (floor)',
    () => {
      let sum = 0
      for (let i = 0; i < N; i++) sum += Math.abs((a[i] as number) - (b[i] as number))
      if (!(sum > 0)) throw new Error('unexpected sum')
    },
    options,
  )
})
