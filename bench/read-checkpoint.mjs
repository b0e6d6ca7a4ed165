/**
 * Reading torch checkpoints, side by side with torch 1.13's own `torch.load(weights_only=True)`
 * in one run: the MobileNetV3 example's `.pth` (6.2 MB, 244 tensors) in a warm process (median
 * of 30 reads after 5 warm-up reads, three rounds alternating the two sides), and a 400 MB
 * `.pth` (100 float32 tensors of 1M elements, written by torch here) for time and extra memory
 * (peak RSS growth over a fresh process's baseline, divided by the file size).
 *
 * Run with `npm run bench` (after `npm run build`); torch is Debian's python3-torch.
 */
import { execFileSync, spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const PYTHON = process.env.VITEST_ALIGN_PYTHON ?? '/usr/bin/python3'
const dist = fileURLToPath(new URL('../dist/', import.meta.url))
const MV3 = fileURLToPath(
  new URL('../examples/mobilenetv3/data/mobilenet_v3_small.pth', import.meta.url),
)
const WARMUP = 5
const RUNS = 30
const ROUNDS = 3

const node = (script) =>
  JSON.parse(
    execFileSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', script], {
      encoding: 'utf8',
      maxBuffer: 2 ** 24,
    }),
  )
const python = (script, args = []) => {
  const r = spawnSync(PYTHON, ['-c', script, ...args], { encoding: 'utf8' })
  if (r.status !== 0) throw new Error(`torch run failed: ${r.stderr}`)
  return JSON.parse(r.stdout)
}
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)]
}

const IMPORT = `import { readTorch } from ${JSON.stringify(join(dist, 'io/index.js'))}`

/** ms per read of `file`, warm: each read after WARMUP reads. */
function oursWarm(file) {
  return node(`${IMPORT}
    const times = []
    for (let i = 0; i < ${WARMUP + RUNS}; i++) {
      const t = performance.now(); readTorch(${JSON.stringify(file)}); times.push(performance.now() - t)
    }
    console.log(JSON.stringify(times.slice(${WARMUP})))`)
}

function torchWarm(file) {
  return python(
    `import json, sys, time, torch
torch.set_num_threads(1)
times = []
for i in range(${WARMUP + RUNS}):
    t = time.perf_counter(); torch.load(sys.argv[1], weights_only=True); times.append((time.perf_counter() - t) * 1000)
print(json.dumps(times[${WARMUP}:]))`,
    [file],
  )
}

/** One read of `file` in a fresh process: its time and its peak RSS over the baseline. */
function oursMemory(file) {
  return node(`${IMPORT}
    const rss0 = process.memoryUsage().rss
    const t = performance.now(); const c = readTorch(${JSON.stringify(file)}); const ms = performance.now() - t
    console.log(JSON.stringify({ ms, rss0, peak: process.resourceUsage().maxRSS * 1024, n: Object.keys(c.value).length }))`)
}

function torchMemory(file) {
  return python(
    `import json, resource, sys, time, torch
rss0 = int(open('/proc/self/statm').read().split()[1]) * 4096
t = time.perf_counter(); sd = torch.load(sys.argv[1], weights_only=True); ms = (time.perf_counter() - t) * 1000
print(json.dumps({'ms': ms, 'rss0': rss0, 'peak': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, 'n': len(sd)}))`,
    [file],
  )
}

const probe = spawnSync(PYTHON, ['-c', 'import torch'], { encoding: 'utf8' })
if (probe.status !== 0) {
  console.log(`read-checkpoint: skipped, ${PYTHON} cannot import torch`)
  process.exit(0)
}

const ours = []
const theirs = []
for (let r = 0; r < ROUNDS; r++) {
  ours.push(median(oursWarm(MV3)))
  theirs.push(median(torchWarm(MV3)))
}
const mb = (bytes) => `${(bytes / 2 ** 20).toFixed(1)} MiB`
console.log(
  `\nMobileNetV3 .pth (${mb(statSync(MV3).size)}, 244 tensors), warm, median of ${RUNS} reads per round:\n`,
)
console.log('| round | vitest-align readTorch | torch.load(weights_only=True) | ours / torch |')
console.log('|---|---|---|---|')
for (let r = 0; r < ROUNDS; r++) {
  console.log(
    `| ${r + 1} | ${ours[r].toFixed(2)} ms | ${theirs[r].toFixed(2)} ms | ${(ours[r] / theirs[r]).toFixed(2)}x |`,
  )
}

const dir = mkdtempSync(join(tmpdir(), 'va-bench-pth-'))
try {
  const big = join(dir, 'big.pth')
  execFileSync(PYTHON, [
    '-c',
    `import collections, sys, torch
torch.manual_seed(0)
sd = collections.OrderedDict((f'layer{i}.weight', torch.randn(1000, 1000)) for i in range(100))
torch.save(sd, sys.argv[1])`,
    big,
  ])
  const size = statSync(big).size
  const rows = [
    ['vitest-align readTorch', oursMemory(big)],
    ['torch.load(weights_only=True)', torchMemory(big)],
  ]
  console.log(`\nA ${mb(size)} .pth (100 float32 tensors of 1M), one read in a fresh process:\n`)
  console.log('| | read | extra memory (peak RSS growth / file size) |')
  console.log('|---|---|---|')
  for (const [name, m] of rows) {
    console.log(
      `| ${name} | ${m.ms.toFixed(0)} ms | ${((m.peak - m.rss0) / size).toFixed(2)}x the file |`,
    )
  }
} finally {
  rmSync(dir, { recursive: true, force: true })
}
