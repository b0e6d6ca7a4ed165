/**
 * Pair statistics on two 50M-element Float32Arrays: the SIMD kernel, the JS reference kernel and
 * a bare `Σ|a - b|` loop as the floor of what plain JS can do. ns/element = mean time / N.
 * Run: npx vitest bench --run bench/stats.bench.ts
 */
import { bench, describe } from 'vitest'
import { compare } from '../src/compare/compare.js'
import { kernelInfo, pairStats } from '../src/compare/kernel/index.js'
import { pairStatsJs } from '../src/compare/stats.js'

const N = 50_000_000
const tol = { atol: 1e-5, rtol: 1e-5, equalNan: false }

// b = a·(1 ± 2e-6) with a random sign: every element is within tolerance, nothing can stop early.
const a = new Float32Array(N)
const b = new Float32Array(N)
let seed = 12345
const rand = (): number => {
  seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0
  return seed / 4294967296
}
for (let i = 0; i < N; i++) {
  const v = (rand() - 0.5) * 200
  a[i] = v
  b[i] = v * (1 + (rand() < 0.5 ? -2e-6 : 2e-6))
}

const options = { iterations: 5, warmupIterations: 2, time: 0, warmupTime: 0 }

describe(`pair statistics, 2 × Float32Array(${N})`, () => {
  bench(
    'pairStats (wasm SIMD)',
    () => {
      const s = pairStats(a, b, tol)
      if (kernelInfo().lastPath !== 'wasm-f32') throw new Error('wasm path not taken')
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
