/**
 * One training step of MobileNetV3-Small, the TF.js port on wasm against torch on one thread, in
 * one run (a benchmark, never a test). Both sides start from data/mobilenet_v3_small.pth and
 * train on the same batch, the first 32 train images at 32x32 of the reference
 * (data/data_ref.npy, `train_images_0`, as the data pipeline makes them), again and again:
 *
 * a step = train-mode forward (BatchNorm on batch statistics, dropout off), cross-entropy (mean),
 * backward, SGD with momentum 0.9 (lr 0.01, no weight decay), and the BatchNorm running
 * statistics update; the loss is read back (`dataSync` / `item()`) so the time includes it all.
 *
 * 1. TF.js (`tf.variableGrads` through the port, the gradient kernels of model/wasm-grads.ts,
 *    `tf.train.momentum`) in a child process per backend, the model's TypeScript loaded through
 *    Vite's module runner; `tf.memory().numTensors` before and after the timed steps (equal: no
 *    tensor leaked per step). wasm always; cpu too with BENCH_CPU=1 (~30x slower, 2 steps).
 * 2. torch (`/usr/bin/python3`, or VITEST_ALIGN_PYTHON), `torch.set_num_threads(1)`,
 *    torchvision's `mobilenet_v3_small(num_classes=10)`, `torch.optim.SGD(momentum=0.9)`.
 * 3. The ratio TF.js wasm / torch (best; target ≤ 3x), and the losses of the first and last step
 *    on both sides (the same training: they agree to float32 noise at first).
 * Best and median of RUNS timed steps after WARMUP untimed ones (env BENCH_RUNS, BENCH_WARMUP).
 * Prints a markdown table, os.loadavg() before and after, and a JSON line.
 *
 * Run with `npm run build && node examples/mobilenetv3/bench/train-step.mjs`.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { availableParallelism, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { cpuModel, formatLoad, runTfjsChild, runTorch, stats } from './common.mjs'

const here = (p) => fileURLToPath(new URL(p, import.meta.url))
const EXAMPLE = here('../')
const CHECKPOINT = join(EXAMPLE, 'data/mobilenet_v3_small.pth')
const DATA = join(EXAMPLE, 'data/data_ref.npy')
const RUNS = Number(process.env.BENCH_RUNS ?? 10)
const WARMUP = Number(process.env.BENCH_WARMUP ?? 3)
const LR = 0.01
const MOMENTUM = 0.9

// ---- child: one TF.js backend --------------------------------------------------------------
if (process.argv[2] === '--tfjs') {
  const [, , , backend, outPath] = process.argv
  const runs = backend === 'cpu' ? 2 : RUNS
  const warmup = backend === 'cpu' ? 1 : WARMUP
  const { runnerImport } = await import('vite')
  const { module: m } = await runnerImport(join(EXAMPLE, 'model/index.ts'), {
    configFile: false,
    logLevel: 'error',
  })
  const tf = await import('@tensorflow/tfjs')
  const info = await m.useBackend(backend)
  if (tf.getBackend() !== backend) throw new Error('two copies of @tensorflow/tfjs are loaded')
  const { readReprodLog } = await import('vitest-align/files')
  const ref = readReprodLog(new Uint8Array(readFileSync(DATA)))
  const get = (k) => (ref instanceof Map ? ref.get(k) : ref[k])
  const model = await m.loadMobileNetV3(CHECKPOINT)
  const x = m.fromNchw(get('train_images_0'))
  const labels = Array.from(get('train_labels_0').data, Number)
  const onehot = tf.tidy(() => tf.oneHot(tf.tensor1d(labels, 'int32'), 10))
  const vars = [...model.params.values()]
  const optimizer = tf.train.momentum(LR, MOMENTUM)
  const step = () => {
    let batchStats
    const { value, grads } = tf.variableGrads(() => {
      const out = model.forwardTrain(x)
      batchStats = out.batchStats
      // the statistics feed the running-statistics update after the tape is gone
      for (const s of batchStats.values()) {
        tf.keep(s.mean)
        tf.keep(s.variance)
      }
      return tf.losses.softmaxCrossEntropy(onehot, out.logits)
    }, vars)
    optimizer.applyGradients(grads)
    model.updateRunningStats(batchStats)
    m.disposeBatchStats(batchStats)
    tf.dispose(grads)
    const loss = value.dataSync()[0]
    value.dispose()
    return loss
  }
  const times = []
  const losses = []
  let tensorsBefore
  for (let i = 0; i < warmup + runs; i++) {
    if (i === warmup) tensorsBefore = tf.memory().numTensors
    const t = performance.now()
    losses.push(step())
    const dt = performance.now() - t
    if (i >= warmup) times.push(dt)
  }
  const tensorsAfter = tf.memory().numTensors
  const result = {
    ...stats(times),
    warmup,
    tfjs: info.tfjsVersion,
    detail: info.detail,
    losses,
    tensorsBefore,
    tensorsAfter,
    wasmHeapBytes: backend === 'wasm' ? tf.backend().wasm.HEAPU8.length : undefined,
  }
  writeFileSync(join(outPath, `tfjs-${backend}.json`), JSON.stringify(result))
  model.dispose()
  optimizer.dispose()
  tf.dispose([x, onehot])
  process.exit(0)
}

// ---- parent ----------------------------------------------------------------------------------
const TORCH = `
import json, sys, time
try:
    import numpy as np, torch, torchvision
except ImportError as e:
    print(json.dumps({'skipped': f'torch not importable with {sys.executable}: {e}'})); sys.exit(0)
runs, warmup = int(sys.argv[1]), int(sys.argv[2])
torch.set_num_threads(1)
model = torchvision.models.mobilenet_v3_small(num_classes=10)
model.load_state_dict(torch.load(${JSON.stringify(CHECKPOINT)}, weights_only=True), strict=True)
model.train()
for m in model.modules():
    if isinstance(m, torch.nn.Dropout): m.eval()
d = np.load(${JSON.stringify(DATA)}, allow_pickle=True).item()
x = torch.from_numpy(d['train_images_0']); y = torch.from_numpy(d['train_labels_0'])
opt = torch.optim.SGD(model.parameters(), lr=${LR}, momentum=${MOMENTUM})
times, losses = [], []
for i in range(warmup + runs):
    t = time.perf_counter()
    opt.zero_grad(set_to_none=True)
    loss = torch.nn.functional.cross_entropy(model(x), y)
    loss.backward(); opt.step(); losses.append(loss.item())
    dt = (time.perf_counter() - t) * 1000
    if i >= warmup: times.append(dt)
print(json.dumps({'times': times, 'losses': losses, 'torch': torch.__version__,
    'torchvision': torchvision.__version__, 'threads': torch.get_num_threads()}))
`
const load0 = loadavg()
const dir = mkdtempSync(join(tmpdir(), 'va-mnv3-train-'))
const fmt = (ms) => (ms === undefined ? '–' : `${ms.toFixed(1)} ms`)
const note = []
try {
  const tfjs = {}
  for (const backend of ['wasm', ...(process.env.BENCH_CPU === '1' ? ['cpu'] : [])]) {
    const r = runTfjsChild(fileURLToPath(import.meta.url), backend, [dir], dir, note)
    if (r !== undefined) tfjs[backend] = r
  }
  if (process.env.BENCH_CPU !== '1') note.push('cpu backend skipped (BENCH_CPU=1 runs it)')

  const torch = runTorch(TORCH, [String(RUNS), String(WARMUP)], note)
  const load1 = loadavg()
  const w = tfjs.wasm
  const ratio = w && torch ? w.best / torch.best : undefined
  const loss = (l, i) => (l?.[i] === undefined ? '–' : l[i].toPrecision(8))
  const cpu = cpuModel()
  const rows = [
    ['machine', `${availableParallelism()} CPUs (nproc), ${cpu}`],
    ['load avg 1/5/15 min, before / after', `${formatLoad(load0)}  →  ${formatLoad(load1)}`],
    ['node', process.version],
    ['TF.js', w ? `${w.tfjs}, wasm ${w.detail}` : '–'],
    [
      'torch',
      torch
        ? `${torch.torch}, torchvision ${torch.torchvision}, ${torch.threads} thread`
        : 'skipped',
    ],
    ...Object.entries(tfjs).map(([b, r]) => [
      `TF.js ${b}, best / median of ${r.runs} steps (${r.warmup} warm-up)`,
      `${fmt(r.best)} / ${fmt(r.median)}`,
    ]),
    [
      `torch, 1 thread, best / median of ${torch?.times?.length ?? RUNS} steps`,
      torch ? `${fmt(torch.best)} / ${fmt(torch.median)}` : 'skipped',
    ],
    ['ratio TF.js wasm / torch (best; target ≤ 3x)', ratio ? `${ratio.toFixed(2)}x` : '–'],
    ...Object.entries(tfjs).map(([b, r]) => [
      `TF.js ${b}: tf.memory().numTensors before / after the timed steps`,
      `${r.tensorsBefore} / ${r.tensorsAfter}${r.tensorsBefore === r.tensorsAfter ? ' (none leaked)' : ' (LEAK)'}`,
    ]),
    ['loss at step 1, TF.js wasm / torch', `${loss(w?.losses, 0)} / ${loss(torch?.losses, 0)}`],
    [
      `loss at step ${WARMUP + RUNS}, TF.js wasm / torch`,
      `${loss(w?.losses, WARMUP + RUNS - 1)} / ${loss(torch?.losses, WARMUP + RUNS - 1)}`,
    ],
    [
      'wasm heap after the run',
      w?.wasmHeapBytes ? `${(w.wasmHeapBytes / 2 ** 20).toFixed(0)} MiB` : '–',
    ],
  ]
  console.log(
    `\nMobileNetV3-Small training step, batch 32, 32x32, SGD momentum ${MOMENTUM}, lr ${LR}:\n`,
  )
  console.log('| | |\n|---|---|')
  for (const [k, v] of rows) console.log(`| ${k} | ${v} |`)
  for (const n of note) console.log(`\nnote: ${n}`)
  const json = { bench: 'mobilenetv3-train-step', nproc: availableParallelism(), cpu }
  Object.assign(json, {
    node: process.version,
    loadavg: [load0, load1],
    tfjs,
    torch: torch ?? null,
  })
  json.ratioWasmOverTorch = ratio ?? null
  console.log(`\n${JSON.stringify({ ...json, notes: note })}`)
} finally {
  rmSync(dir, { recursive: true, force: true })
}
