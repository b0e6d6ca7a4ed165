/**
 * MobileNetV3-Small forward pass, the TF.js port against torch, in one run (a benchmark, never a
 * test). Every side runs in its own process, on the same input: a fixed-LCG batch (8, 3, 224, 224)
 * written once as .npy (the port takes it as NHWC) and the same checkpoint, data/mobilenet_v3_small.pth.
 *
 * 1. TF.js eval-mode `predict(x)` + `dataSync()` (so the time includes the computation, not only
 *    the dispatch) on wasm, cpu and, if `@tensorflow/tfjs-node` resolves, tensorflow; the model's
 *    TypeScript is loaded through Vite's module runner (`runnerImport`), no build step.
 * 2. torch (`/usr/bin/python3`, or VITEST_ALIGN_PYTHON), `torch.set_num_threads(1)`, eval mode,
 *    `no_grad`, torchvision's `mobilenet_v3_small(num_classes=10)` with the .pth as its state_dict;
 *    skipped, saying so, when torch is not importable.
 * 3. The ratio TF.js wasm / torch, and the largest |logit difference| (both ran the same model).
 * 4. Wall time of `npx vitest run --config examples/mobilenetv3/vitest.config.ts`, a fresh child
 *    process each time, 3 times, the first after `vitest --clearCache`: first and best (only if
 *    stages/*.align.test.ts exist).
 * Best and median of RUNS timed calls after WARMUP untimed ones (env BENCH_RUNS, BENCH_WARMUP;
 * the cpu backend, ~15x slower, does a third of them). BENCH_STAGES=0 skips part 4.
 * Prints a markdown table, os.loadavg() before and after, and a JSON line.
 *
 * Run with `npm run build && node examples/mobilenetv3/bench/forward.mjs` (the port imports
 * vitest-align from dist).
 */
import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { availableParallelism, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { cpuModel, formatLoad, ROOT, runTfjsChild, runTorch, stats } from './common.mjs'

const here = (p) => fileURLToPath(new URL(p, import.meta.url))
const EXAMPLE = here('../')
const CHECKPOINT = join(EXAMPLE, 'data/mobilenet_v3_small.pth')
const RUNS = Number(process.env.BENCH_RUNS ?? 10)
const WARMUP = Number(process.env.BENCH_WARMUP ?? 3)
const SHAPE = [8, 3, 224, 224]

// ---- child: one TF.js backend --------------------------------------------------------------
if (process.argv[2] === '--tfjs') {
  const [, , , backend, xPath, outPath] = process.argv
  const runs = backend === 'cpu' ? Math.max(1, Math.ceil(RUNS / 3)) : RUNS
  const warmup = backend === 'cpu' ? Math.min(1, WARMUP) : WARMUP
  // which .wasm the backend reads (Emscripten's Node path goes through require('fs'))
  const fs = createRequire(import.meta.url)('node:fs')
  const binaries = []
  const readFileSync0 = fs.readFileSync
  fs.readFileSync = (p, ...rest) => {
    if (String(p).endsWith('.wasm')) binaries.push(String(p).split(/[\\/]/).pop())
    return readFileSync0(p, ...rest)
  }
  const { runnerImport } = await import('vite')
  const { module: m } = await runnerImport(join(EXAMPLE, 'model/index.ts'), {
    configFile: false,
    logLevel: 'error',
  })
  const tf = await import('@tensorflow/tfjs')
  const info = await m.useBackend(backend)
  fs.readFileSync = readFileSync0
  if (tf.getBackend() !== backend) throw new Error('two copies of @tensorflow/tfjs are loaded')
  const { readNpy, writeNpy } = await import('vitest-align/files')
  const model = await m.loadMobileNetV3(CHECKPOINT)
  const x = m.fromNchw(readNpy(xPath))
  const times = []
  let logits
  for (let i = 0; i < warmup + runs; i++) {
    const t = performance.now()
    const y = model.predict(x)
    const data = y.dataSync()
    const dt = performance.now() - t
    y.dispose()
    if (i >= warmup) times.push(dt)
    logits = data
  }
  writeNpy(join(outPath, `logits-${backend}.npy`), { data: logits, shape: [SHAPE[0], 10] })
  const wasm = {}
  if (backend === 'wasm') {
    const w = await import('@tensorflow/tfjs-backend-wasm')
    wasm.threads = w.getThreadsCount()
    wasm.simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT')
    wasm.multithread = await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT')
    wasm.binary = binaries.join(', ') || '(not seen)'
  }
  const result = { ...stats(times), warmup, tfjs: info.tfjsVersion, detail: info.detail, ...wasm }
  writeFileSync(join(outPath, `tfjs-${backend}.json`), JSON.stringify(result))
  model.dispose()
  x.dispose()
  process.exit(0)
}

// ---- parent ----------------------------------------------------------------------------------
const TORCH = `
import json, sys, time
try:
    import numpy as np, torch, torchvision
except ImportError as e:
    print(json.dumps({'skipped': f'torch not importable with {sys.executable}: {e}'})); sys.exit(0)
x_path, out, runs, warmup = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
torch.set_num_threads(1)
model = torchvision.models.mobilenet_v3_small(num_classes=10)
model.load_state_dict(torch.load(${JSON.stringify(CHECKPOINT)}, weights_only=True), strict=True)
model.eval()
x = torch.from_numpy(np.load(x_path))
times = []
with torch.no_grad():
    for i in range(warmup + runs):
        t = time.perf_counter(); y = model(x); dt = (time.perf_counter() - t) * 1000
        if i >= warmup: times.append(dt)
np.save(out + '/logits-torch.npy', y.numpy())
print(json.dumps({'times': times, 'warmup': warmup, 'torch': torch.__version__,
    'torchvision': torchvision.__version__, 'threads': torch.get_num_threads(),
    'interop': torch.get_num_interop_threads(), 'mkldnn': torch.backends.mkldnn.is_available()}))
`
const load0 = loadavg()
const dir = mkdtempSync(join(tmpdir(), 'va-mnv3-bench-'))
const fmt = (ms) => (ms === undefined ? '–' : `${ms.toFixed(1)} ms`)
const note = []
try {
  const { encodeNpy, readNpy } = await import('vitest-align/files')
  const n = SHAPE.reduce((a, b) => a * b)
  const x = new Float32Array(n)
  let seed = 12345
  for (let i = 0; i < n; i++) {
    seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0
    x[i] = (seed / 4294967296 - 0.5) * 4 // uniform in [-2, 2), a normalised image's range
  }
  const xPath = join(dir, 'x.npy')
  writeFileSync(xPath, encodeNpy({ data: x, shape: SHAPE }))

  const tfjs = {}
  let hasTfjsNode = true
  try {
    createRequire(import.meta.url).resolve('@tensorflow/tfjs-node')
  } catch {
    hasTfjsNode = false
    note.push('tensorflow backend skipped: @tensorflow/tfjs-node is not installed (optional)')
  }
  for (const backend of ['wasm', 'cpu', ...(hasTfjsNode ? ['tensorflow'] : [])]) {
    const r = runTfjsChild(fileURLToPath(import.meta.url), backend, [xPath, dir], dir, note)
    if (r !== undefined) tfjs[backend] = r
  }

  const torch = runTorch(TORCH, [xPath, dir, String(RUNS), String(WARMUP)], note)

  const maxDiff = {}
  if (torch) {
    const ref = readNpy(join(dir, 'logits-torch.npy')).data
    for (const b of Object.keys(tfjs)) {
      const y = readNpy(join(dir, `logits-${b}.npy`)).data
      maxDiff[b] = ref.reduce((m, v, i) => Math.max(m, Math.abs(v - y[i])), 0)
    }
  }
  const ratio = tfjs.wasm && torch ? tfjs.wasm.best / torch.best : undefined

  // part 4: the alignment stages, cold then warm
  const stageFiles = existsSync(join(EXAMPLE, 'stages'))
    ? readdirSync(join(EXAMPLE, 'stages')).filter((f) => f.endsWith('.align.test.ts'))
    : []
  let stagesRun
  if (process.env.BENCH_STAGES === '0') note.push('stages wall time skipped (BENCH_STAGES=0)')
  else if (stageFiles.length === 0) {
    note.push('stages wall time not measured: no examples/mobilenetv3/stages/*.align.test.ts yet')
  } else {
    const npx = process.platform === 'win32' ? 'npx.cmd' : 'npx'
    const config = ['--config', 'examples/mobilenetv3/vitest.config.ts']
    spawnSync(npx, ['vitest', '--clearCache', ...config], { cwd: ROOT, encoding: 'utf8' })
    const times = []
    const exits = []
    let summary = ''
    for (let i = 0; i < 3; i++) {
      const t = performance.now()
      const r = spawnSync(npx, ['vitest', 'run', ...config], {
        cwd: ROOT,
        encoding: 'utf8',
        env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' },
      })
      times.push((performance.now() - t) / 1000)
      exits.push(r.status)
      summary = /^\s*Tests\s+(.*)$/m.exec(`${r.stdout}\n${r.stderr}`)?.[1]?.trim() ?? '?'
    }
    const [first, best] = [times[0], Math.min(...times)]
    stagesRun = { files: stageFiles.length, first, best, times, exits, summary }
    if (exits.some((c) => c !== 0)) {
      note.push(`stages: vitest exited ${exits.join(', ')} (not 0); last run: Tests ${summary}`)
    }
  }
  const load1 = loadavg()

  const cpu = cpuModel()
  const w = tfjs.wasm
  const rows = [
    ['machine', `${availableParallelism()} CPUs (nproc), ${cpu}`],
    ['load avg 1/5/15 min, before / after', `${formatLoad(load0)}  →  ${formatLoad(load1)}`],
    ['node', process.version],
    ['TF.js', w?.tfjs ?? tfjs.cpu?.tfjs ?? '–'],
    ['TF.js wasm', w ? `${w.detail}; binary ${w.binary}; multithread flag ${w.multithread}` : '–'],
    [
      'torch',
      torch
        ? `${torch.torch}, torchvision ${torch.torchvision}, ${torch.threads} thread (interop ${torch.interop}), mkldnn ${torch.mkldnn}`
        : 'skipped',
    ],
    ...Object.entries(tfjs).map(([b, r]) => [
      `TF.js ${b}, batch 8, best / median of ${r.runs} (${r.warmup} warm-up)`,
      `${fmt(r.best)} / ${fmt(r.median)}` +
        (b in maxDiff ? `; max abs diff vs torch ${maxDiff[b].toExponential(1)}` : ''),
    ]),
    [
      `torch, 1 thread, batch 8, best / median of ${torch?.runs ?? RUNS}`,
      torch ? `${fmt(torch.best)} / ${fmt(torch.median)}` : 'skipped',
    ],
    ['ratio TF.js wasm / torch (best; target ≤ 1.0x)', ratio ? `${ratio.toFixed(2)}x` : '–'],
    [
      'stages wall time, first / best of 3 (target < 30 s)',
      stagesRun
        ? `${stagesRun.first.toFixed(1)} s / ${stagesRun.best.toFixed(1)} s (${stagesRun.files} files)`
        : 'not measured',
    ],
  ]
  console.log('\nMobileNetV3-Small forward, input (8, 3, 224, 224) float32, eval mode:\n')
  console.log('| | |\n|---|---|')
  for (const [k, v] of rows) console.log(`| ${k} | ${v} |`)
  for (const n of note) console.log(`\nnote: ${n}`)
  const [nproc, node, load] = [availableParallelism(), process.version, [load0, load1]]
  const json = { bench: 'mobilenetv3-forward', nproc, cpu, node, loadavg: load, tfjs }
  Object.assign(json, { torch: torch ?? null, maxAbsDiffVsTorch: maxDiff })
  json.ratioWasmOverTorch = ratio ?? null
  console.log(`\n${JSON.stringify({ ...json, stages: stagesRun ?? null, notes: note })}`)
} finally {
  rmSync(dir, { recursive: true, force: true })
}
