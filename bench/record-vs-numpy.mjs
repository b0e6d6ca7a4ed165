/**
 * The record path against numpy, in one run: a model-sized record (244 float32 tensors of 10,000
 * elements, what a gradient check compares) through compare(), against numpy's
 * `np.abs(a - b).mean()` loop and its mean + max + allclose loop over the same dict; then the
 * fixed cost of a pair (1-element pairs, in a record of 10,000 and as lone calls) and the cost
 * per element of lone pairs of 100k and 1M elements. Both sides get the same data (written as
 * .npy, the same LCG as bench/stats-vs-numpy.mjs), each in its own process, and take turns
 * measurement by measurement (interleave.mjs): best of N after warm-ups, the same N and the same
 * warm-ups on both sides.
 *
 * Warm-ups: 10 calls, then best of 30 (of 10 for the pair loops), on both sides. With 3 warm-ups
 * V8 has not finished optimising both threads' code (a fresh process needs 10-25 calls before
 * the worker's loop and the main thread's batch code are optimised; numpy, compiled ahead of
 * time, needs none). Set BENCH_WARMUPS=3 BENCH_RUNS=20 for the earlier figures (both sides
 * change together).
 *
 * Run with `npm run bench` (after `npm run build`); numpy is Debian's python3-numpy.
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { benchPair } from './data.mjs'
import { bestInTurns, startSide } from './interleave.mjs'

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

  // each side: its data, then one named measurement per stdin line (see interleave.mjs)
  const ours = await startSide(process.execPath, [
    '--input-type=module',
    '-e',
    `
    import { createInterface } from 'node:readline'
    import { compare } from ${JSON.stringify(join(dist, 'index.js'))}
    import { benchPair } from ${JSON.stringify(data)}
    const [a, b] = benchPair(${total})
    // separate arrays, as a state dict holds them
    const ra = {}, rb = {}
    for (let i = 0; i < ${KEYS}; i++) {
      ra['layer' + i + '.weight'] = a.slice(i * ${N}, (i + 1) * ${N})
      rb['layer' + i + '.weight'] = b.slice(i * ${N}, (i + 1) * ${N})
    }
    const check = (r) => { if (!r.pass) throw new Error('verdict') }
    const opts = { atol: 1e-5, rtol: 1e-5 }
    const ones = {}, onesB = {}
    for (let i = 0; i < ${PAIRS}; i++) { ones['k' + i] = a.slice(i, i + 1); onesB['k' + i] = b.slice(i, i + 1) }
    const one = [a.slice(0, 1), b.slice(0, 1)]
    const m = {
      record: () => check(compare(ra, rb, opts)),
      recordMean: () => check(compare(ra, rb, { method: 'mean', threshold: 1e-3 })),
      perPairRecord: () => check(compare(ones, onesB, opts)),
      perPairLone: () => { for (let i = 0; i < ${PAIRS}; i++) compare(one[0], one[1], opts) },
    }
    let off = ${KEYS * N}
    for (const n of ${JSON.stringify(SIZES)}) {
      const x = a.subarray(off, off + n), y = b.subarray(off, off + n)
      off += n
      const reps = Math.max(3, Math.floor(2e7 / n))
      m['perElement' + n] = () => { for (let i = 0; i < reps; i++) check(compare(x, y, opts)) }
    }
    console.log('ready')
    for await (const name of createInterface({ input: process.stdin })) {
      const t = performance.now(); m[name](); console.log(performance.now() - t)
    }`,
  ])
  const numpy = await startSide(PYTHON, [
    '-u',
    '-c',
    `
import sys, time
import numpy as np
a = np.load(${JSON.stringify(join(dir, 'a.npy'))}); b = np.load(${JSON.stringify(join(dir, 'b.npy'))})
K, N = ${KEYS}, ${N}
ra = {f'layer{i}.weight': a[i * N:(i + 1) * N].copy() for i in range(K)}
rb = {f'layer{i}.weight': b[i * N:(i + 1) * N].copy() for i in range(K)}
def absmean():
    for k in ra: np.abs(ra[k] - rb[k]).mean()
def three():
    for k in ra:
        d = np.abs(ra[k] - rb[k]); d.mean(); d.max(); np.allclose(ra[k], rb[k], rtol=1e-5, atol=1e-5)
ones = [(a[i:i + 1].copy(), b[i:i + 1].copy()) for i in range(${PAIRS})]
def per_pair():
    for x, y in ones: np.abs(x - y).mean()
m = {'absmean': absmean, 'three': three, 'perPair': per_pair}
off = K * N
for n in ${JSON.stringify(SIZES)}:
    x = a[off:off + n].copy(); y = b[off:off + n].copy(); off += n
    reps = max(3, int(2e7 // n))
    def f(x=x, y=y, reps=reps):
        for _ in range(reps): np.abs(x - y).mean()
    m[f'perElement{n}'] = f
print('ready')
for line in sys.stdin:
    f = m[line.strip()]; t = time.perf_counter(); f(); print((time.perf_counter() - t) * 1000)
`,
  ])
  const v = execFileSync(PYTHON, ['-c', 'import numpy; print(numpy.__version__)'], {
    encoding: 'utf8',
  }).trim()
  const [record, recordMean, absmean, three] = await bestInTurns(
    [
      { side: ours, name: 'record' },
      { side: ours, name: 'recordMean' },
      { side: numpy, name: 'absmean' },
      { side: numpy, name: 'three' },
    ],
    WARM,
    RUNS,
  )
  const [pairRecord, pairLone, pairNumpy] = await bestInTurns(
    [
      { side: ours, name: 'perPairRecord' },
      { side: ours, name: 'perPairLone' },
      { side: numpy, name: 'perPair' },
    ],
    WARM,
    10,
  )
  const perElement = {}
  for (const n of SIZES) {
    const reps = Math.max(3, Math.floor(2e7 / n))
    const [o, p] = await bestInTurns(
      [
        { side: ours, name: `perElement${n}` },
        { side: numpy, name: `perElement${n}` },
      ],
      WARM,
      10,
    )
    perElement[n] = { ours: (o * 1e6) / reps / n, numpy: (p * 1e6) / reps / n }
  }
  ours.close()
  numpy.close()
  console.log(
    `\nA record of ${KEYS} float32 tensors of ${N.toLocaleString('en')} elements, best of ${RUNS} after ${WARM} warm-ups:\n`,
  )
  console.log('| | time | vs numpy abs-mean loop |')
  console.log('|---|---|---|')
  const row = (name, ms) =>
    console.log(`| ${name} | ${ms.toFixed(2)} ms | ${(ms / absmean).toFixed(2)}x |`)
  row('vitest-align compare(), allclose, every statistic', record)
  row('vitest-align compare(), mean rule, every statistic', recordMean)
  row(`numpy ${v} np.abs(a - b).mean() per key`, absmean)
  row(`numpy ${v} mean + max + allclose per key`, three)
  console.log(`\nFixed cost per pair (1-element pairs, best of 10 after ${WARM} warm-ups):\n`)
  console.log('| | µs per pair |')
  console.log('|---|---|')
  console.log(
    `| vitest-align, in a record of ${PAIRS.toLocaleString('en')} keys | ${((pairRecord * 1000) / PAIRS).toFixed(2)} |`,
  )
  console.log(`| vitest-align, lone compare() calls | ${((pairLone * 1000) / PAIRS).toFixed(2)} |`)
  console.log(`| numpy ${v} np.abs(a - b).mean() | ${((pairNumpy * 1000) / PAIRS).toFixed(2)} |`)
  console.log(`\nPer element, lone float32 pairs (best of 10 after ${WARM} warm-ups):\n`)
  console.log(
    '| elements | vitest-align compare(), allclose, ns/element | numpy np.abs(a - b).mean(), ns/element |',
  )
  console.log('|---|---|---|')
  for (const n of SIZES) {
    console.log(
      `| ${n.toLocaleString('en')} | ${perElement[n].ours.toFixed(2)} | ${perElement[n].numpy.toFixed(2)} |`,
    )
  }
} finally {
  rmSync(dir, { recursive: true, force: true })
}
