/**
 * The record path against numpy, in one run: a model-sized record (244 float32 tensors of 10,000
 * elements, what a gradient check compares) through compare(), against numpy's
 * `np.abs(a - b).mean()` loop and its mean + max + allclose loop over the same dict; then the
 * fixed cost of a pair (1-element pairs, in a record of 10,000 and as lone calls) and the cost
 * per element of lone pairs of 100k and 1M elements. Both sides get the same data (written as
 * .npy, the same LCG as bench/stats-vs-numpy.mjs), each in its own process; best of N after
 * warm-ups, the same N and the same warm-ups on both sides.
 *
 * Warm-ups: 10 calls, then best of 30 (of 10 for the pair loops), on both sides. With 3 warm-ups
 * V8 has not finished optimising both threads' code (a fresh process needs 10-25 calls before
 * the worker's loop and the main thread's batch code are optimised; numpy, compiled ahead of
 * time, needs none), and on a shared 2-core VM where the other core is often busy, best of 20
 * leaves few runs where both cores were free. Set BENCH_WARMUPS=3 BENCH_RUNS=20 for the earlier
 * figures (both sides change together).
 *
 * Run with `npm run bench` (after `npm run build`); numpy is Debian's python3-numpy.
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { benchPair } from './data.mjs'

const KEYS = 244
const N = 10_000
const PAIRS = 10_000
const SIZES = [100_000, 1_000_000]
const WARM = Number(process.env.BENCH_WARMUPS ?? 10)
const RUNS = Number(process.env.BENCH_RUNS ?? 30)
const PYTHON = process.env.VITEST_ALIGN_PYTHON ?? '/usr/bin/python3'
const dist = fileURLToPath(new URL('../dist/', import.meta.url))
const data = fileURLToPath(new URL('./data.mjs', import.meta.url))

const dir = mkdtempSync(join(tmpdir(), 'va-bench-'))
try {
  const { encodeNpy } = await import(join(dist, 'io/index.js'))
  // every array of the run, end to end in two files: the record, then the lone pairs
  const total = KEYS * N + SIZES.reduce((s, n) => s + n, 0)
  const [a, b] = benchPair(total)
  writeFileSync(join(dir, 'a.npy'), encodeNpy(a))
  writeFileSync(join(dir, 'b.npy'), encodeNpy(b))

  const ours = JSON.parse(
    execFileSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `
        import { compare } from ${JSON.stringify(join(dist, 'index.js'))}
        import { benchPair } from ${JSON.stringify(data)}
        const [a, b] = benchPair(${total})
        // separate arrays, as a state dict holds them
        const ra = {}, rb = {}
        for (let i = 0; i < ${KEYS}; i++) {
          ra['layer' + i + '.weight'] = a.slice(i * ${N}, (i + 1) * ${N})
          rb['layer' + i + '.weight'] = b.slice(i * ${N}, (i + 1) * ${N})
        }
        const best = (f, runs = ${RUNS}, warm = ${WARM}) => { let m = Infinity; for (let i = 0; i < runs + warm; i++) { const t = performance.now(); f(); if (i >= warm) m = Math.min(m, performance.now() - t) } return m }
        const check = (r) => { if (!r.pass) throw new Error('verdict') }
        const opts = { atol: 1e-5, rtol: 1e-5 }
        const record = best(() => check(compare(ra, rb, opts)))
        const recordMean = best(() => check(compare(ra, rb, { method: 'mean', threshold: 1e-3 })))
        const ones = {}, onesB = {}
        for (let i = 0; i < ${PAIRS}; i++) { ones['k' + i] = a.slice(i, i + 1); onesB['k' + i] = b.slice(i, i + 1) }
        const perPairRecord = best(() => check(compare(ones, onesB, opts)), 10) * 1000 / ${PAIRS}
        const one = [a.slice(0, 1), b.slice(0, 1)]
        const perPairLone = best(() => { for (let i = 0; i < ${PAIRS}; i++) compare(one[0], one[1], opts) }, 10) * 1000 / ${PAIRS}
        const perElement = {}
        let off = ${KEYS * N}
        for (const n of ${JSON.stringify(SIZES)}) {
          const x = a.subarray(off, off + n), y = b.subarray(off, off + n)
          off += n
          const reps = Math.max(3, Math.floor(2e7 / n))
          perElement[n] = best(() => { for (let i = 0; i < reps; i++) check(compare(x, y, opts)) }, 10) * 1e6 / reps / n
        }
        console.log(JSON.stringify({ record, recordMean, perPairRecord, perPairLone, perElement }))`,
      ],
      { encoding: 'utf8', maxBuffer: 1 << 20 },
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
a = np.load(${JSON.stringify(join(dir, 'a.npy'))}); b = np.load(${JSON.stringify(join(dir, 'b.npy'))})
K, N = ${KEYS}, ${N}
ra = {f'layer{i}.weight': a[i * N:(i + 1) * N].copy() for i in range(K)}
rb = {f'layer{i}.weight': b[i * N:(i + 1) * N].copy() for i in range(K)}
def best(f, runs=${RUNS}, warm=${WARM}):
    m = float('inf')
    for i in range(runs + warm):
        t = time.perf_counter(); f()
        if i >= warm: m = min(m, time.perf_counter() - t)
    return m * 1000
def absmean():
    for k in ra: np.abs(ra[k] - rb[k]).mean()
def three():
    for k in ra:
        d = np.abs(ra[k] - rb[k]); d.mean(); d.max(); np.allclose(ra[k], rb[k], rtol=1e-5, atol=1e-5)
ones = [(a[i:i + 1].copy(), b[i:i + 1].copy()) for i in range(${PAIRS})]
def per_pair():
    for x, y in ones: np.abs(x - y).mean()
per_element = {}
off = K * N
for n in ${JSON.stringify(SIZES)}:
    x = a[off:off + n].copy(); y = b[off:off + n].copy(); off += n
    reps = max(3, int(2e7 // n))
    def f():
        for _ in range(reps): np.abs(x - y).mean()
    per_element[n] = best(f, 10) * 1e6 / reps / n
print(json.dumps({'absmean': best(absmean), 'three': best(three), 'perPair': best(per_pair, 10) * 1000 / ${PAIRS}, 'perElement': per_element, 'version': np.__version__}))
`,
      ],
      { encoding: 'utf8' },
    ),
  )
  const v = numpy.version
  console.log(
    `\nA record of ${KEYS} float32 tensors of ${N.toLocaleString('en')} elements, best of ${RUNS} after ${WARM} warm-ups:\n`,
  )
  console.log('| | time | vs numpy abs-mean loop |')
  console.log('|---|---|---|')
  const row = (name, ms) =>
    console.log(`| ${name} | ${ms.toFixed(2)} ms | ${(ms / numpy.absmean).toFixed(2)}x |`)
  row('vitest-align compare(), allclose, every statistic', ours.record)
  row('vitest-align compare(), mean rule, every statistic', ours.recordMean)
  row(`numpy ${v} np.abs(a - b).mean() per key`, numpy.absmean)
  row(`numpy ${v} mean + max + allclose per key`, numpy.three)
  console.log(`\nFixed cost per pair (1-element pairs, best of 10 after ${WARM} warm-ups):\n`)
  console.log('| | µs per pair |')
  console.log('|---|---|')
  console.log(
    `| vitest-align, in a record of ${PAIRS.toLocaleString('en')} keys | ${ours.perPairRecord.toFixed(2)} |`,
  )
  console.log(`| vitest-align, lone compare() calls | ${ours.perPairLone.toFixed(2)} |`)
  console.log(`| numpy ${v} np.abs(a - b).mean() | ${numpy.perPair.toFixed(2)} |`)
  console.log(`\nPer element, lone float32 pairs (best of 10 after ${WARM} warm-ups):\n`)
  console.log(
    '| elements | vitest-align compare(), allclose, ns/element | numpy np.abs(a - b).mean(), ns/element |',
  )
  console.log('|---|---|---|')
  for (const n of SIZES) {
    console.log(
      `| ${n.toLocaleString('en')} | ${ours.perElement[n].toFixed(2)} | ${numpy.perElement[n].toFixed(2)} |`,
    )
  }
} finally {
  rmSync(dir, { recursive: true, force: true })
}
