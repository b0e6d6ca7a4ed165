/**
 * Accelerated pair statistics.
 *
 * Why hand-written WebAssembly: no library computes these statistics (Σ/max/min |Δ| with the
 * first argmax, max relative error, allclose excess, mismatch count, Σ/max/min |e|) in one pass,
 * and V8 does not vectorise JavaScript loops: the reference kernel {@link pairStatsJs} runs at
 * ~4-5 ns/element or more, a bare `sum += Math.abs(a[i] - b[i])` loop alone at ~0.8-1 ns/element
 * (numpy's `np.abs(a - b).mean()`: 1.01 ns/element), while the target is ≤ 1 ns/element for all
 * of them on two Float32Arrays. The SIMD128 kernel in `pair-stats.wat` (compiled into
 * `pair-stats.generated.ts` by `node scripts/build-wasm.mjs`) gets there, copy into wasm memory
 * included; the header of the .wat says how, and why its results are exact.
 *
 * {@link pairStats} returns exactly what {@link pairStatsJs} returns (the two sums up to
 * summation order). The wasm path takes Float32/Float32 and Float64/Float64 pairs of at least
 * {@link WASM_MIN_LENGTH} elements with a finite atol and rtol = 0 or 2^-60 ≤ rtol ≤ 1; it assumes
 * finite values and hands the pair to the JS kernel when a NaN or an infinity shows up (detected
 * because it poisons Σ|Δ|). Everything else, and every runtime without WebAssembly SIMD or
 * shared memory, takes the JS kernel. Large pairs run on two threads (see "Two threads" below;
 * VITEST_ALIGN_THREADS=1 keeps them on one).
 */
import { type KernelStats, type KernelTolerance, type NumericArray, pairStatsJs } from '../stats.js'
import { PAIR_STATS_WASM_BASE64 } from './pair-stats.generated.js'
import { type KernelExports, type Layout, type WorkerData, workerSource } from './worker.js'

/** Below this length the JS kernel is used: the wasm call and copy overhead does not pay off. */
export const WASM_MIN_LENGTH = 2048

/**
 * Bytes per side from which a pair runs on two threads by default (see "Two threads" below), and
 * the first such pair starts the worker: 16 MiB, i.e. 4M float32 (2M float64) elements. Measured
 * on the 2-core Zen 5 VM with calls a few ms apart (the worker's core idle in between): from 4M
 * float32 elements two threads win every time (median 0.60-0.71 vs 1.00-1.31 ns/element at 4M
 * and 8M); at 1M-2M they win or lose depending on how long the idle core takes to wake up
 * (0.1 ms to several ms in this VM), against a whole call of 1-2 ms; below, the call is shorter
 * than that wake-up. A pair this large takes ~4 ms on one thread, about the cost of creating the
 * worker (5-7 ms on the calling thread; it then boots in ~70 ms on the other core).
 */
export const THREADS_MIN_BYTES = 16 * 2 ** 20

/** Bytes per side copied into wasm memory per chunk: 128 KiB, so that both stay in L2. */
const CHUNK_BYTES = 131072
const SLOT_BYTES = 2 * CHUNK_BYTES
/**
 * The worker's queue: how far the main thread may run ahead of it. 4 slots (1 MiB) measured as
 * good as 6 or 8 and better than 1 or 2 (a shorter queue runs dry while the main thread runs a
 * chunk itself).
 */
const RING_SLOTS = 4

/**
 * The shared memory: control words, parameters and results in the first 64 KiB page, then the
 * main thread's chunk slot and the worker's ring (see worker.ts).
 */
const LAYOUT: Layout = {
  ctl: 0,
  ctlWords: 16,
  params: 256,
  desc: 512,
  mainResult: 1024,
  tailResult: 1152,
  result: 1280,
  mainSlot: 65536,
  ring: 65536 + SLOT_BYTES,
  ringSlots: RING_SLOTS,
  slotBytes: SLOT_BYTES,
  STATE: 0,
  JOB: 1,
  OPEN: 9,
  IS32: 2,
  MODE: 3,
  POSTED: 4,
  CLAIMED: 5,
  WORKED: 6,
  FLAGS: 7,
  ACK: 8,
  BOOTING: 0,
  READY: 1,
  FAILED: 2,
  spinMs: 1,
}
const PAGES = (LAYOUT.ring + RING_SLOTS * SLOT_BYTES) / 65536

/**
 * How long the main thread waits, at the end of a call, for the worker to finish its last
 * chunks (normally tens of microseconds). Past it, the worker is given up for good and the pair
 * is recomputed on the main thread: a call never hangs because of the worker.
 */
const WORKER_TIMEOUT_MS = 2000

/**
 * The part of the WebAssembly JS API used here, read from globalThis: the project compiles
 * without the DOM lib, and a runtime without WebAssembly simply takes the JS path.
 */
interface WasmApi {
  Module: new (bytes: Uint8Array) => object
  Instance: new (module: object, imports: object) => { exports: unknown }
  Memory: new (desc: {
    initial: number
    maximum: number
    shared: boolean
  }) => {
    buffer: SharedArrayBuffer
  }
}

interface Kernel {
  exports: KernelExports
  /** A second instance, for the chunks the main thread takes back from the worker's queue. */
  tail: KernelExports
  module: object
  memory: { buffer: SharedArrayBuffer }
  ctl: Int32Array
  f64: Float64Array
  /** Byte view of the memory that chunks are copied into: a Node Buffer when there is one. */
  bytes: Uint8Array
  fillCopy: boolean
}

/**
 * Which path the last {@link pairStats} call took: `wasm-f32+js` / `wasm-f64+js` when the wasm
 * kernel handed the rest of the pair to the JS kernel (record-heavy data, see runWasm).
 */
export type KernelPath =
  | 'wasm-f32'
  | 'wasm-f64'
  | 'wasm-f32+js'
  | 'wasm-f64+js'
  | 'js'
  | 'js-nonfinite'

/**
 * Which loop runs float32 chunks: `fast` (f32 pre-filter, best when extremes are rarely tied),
 * `exact` (exact f64 filter, best when many elements tie with an extreme or mismatch), or `auto`
 * (the default: fast, switching to exact for a while after a chunk where more than 1/8 of the
 * groups needed the exact check; see step32 in pair-stats.wat). Forcing one is for tests and
 * benchmarks.
 */
export type Float32Loop = 'auto' | 'fast' | 'exact'
const LOOP_MODE: Record<Float32Loop, number> = { auto: 0, fast: 1, exact: 2 }

/** The worker thread's state, as {@link kernelInfo} reports it. */
export type WorkerState = 'none' | 'starting' | 'ready' | 'failed'

let kernel: Kernel | null | undefined
let lastPath: KernelPath | undefined
let lastThreads: 1 | 2 = 1

function decodeBase64(b64: string): Uint8Array {
  const bin = atob(b64)
  const out = new Uint8Array(bin.length)
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i)
  return out
}

/**
 * Node's Buffer, when there is one: `Buffer.prototype.fill(uint8array, start, end)` is a plain
 * memcpy, while `TypedArray.prototype.set` into a SharedArrayBuffer copies word by word with
 * relaxed atomics (V8): 0.27-0.31 vs 0.65-0.75 ns/element for two Float32 chunks, measured here.
 */
interface BufferApi {
  from(buffer: SharedArrayBuffer): Uint8Array & {
    fill(value: Uint8Array, start: number, end: number): unknown
  }
}

/** Instantiates the module on first use, synchronously; null when it cannot (no SIMD). */
function getKernel(): Kernel | null {
  if (kernel !== undefined) return kernel
  try {
    const wasm = (globalThis as { WebAssembly?: WasmApi }).WebAssembly
    if (wasm === undefined) throw new Error('no WebAssembly')
    // Throws (CompileError) where SIMD128 is not supported.
    const module = new wasm.Module(decodeBase64(PAIR_STATS_WASM_BASE64))
    // Throws where shared memory is not available (a browser page without cross-origin
    // isolation): the JS kernel then does the work. Fixed size: the views stay valid.
    const memory = new wasm.Memory({ initial: PAGES, maximum: PAGES, shared: true })
    const exports = new wasm.Instance(module, { env: { memory } }).exports as KernelExports
    const tail = new wasm.Instance(module, { env: { memory } }).exports as KernelExports
    const buffer = (globalThis as { Buffer?: BufferApi }).Buffer
    kernel = {
      exports,
      tail,
      module,
      memory,
      ctl: new Int32Array(memory.buffer, LAYOUT.ctl, LAYOUT.ctlWords),
      f64: new Float64Array(memory.buffer),
      bytes: buffer !== undefined ? buffer.from(memory.buffer) : new Uint8Array(memory.buffer),
      fillCopy: buffer !== undefined,
    }
  } catch {
    kernel = null
  }
  return kernel
}

/** Copies `len` elements of `src` from element `off` to byte `addr` of the kernel's memory. */
function copyChunk(
  k: Kernel,
  addr: number,
  src: Float32Array | Float64Array,
  off: number,
  len: number,
): void {
  const w = src.BYTES_PER_ELEMENT
  const from = new Uint8Array(src.buffer, src.byteOffset + off * w, len * w)
  if (k.fillCopy) {
    // a Node Buffer (see BufferApi): fill with a source exactly as long as the range = memcpy
    ;(k.bytes as ReturnType<BufferApi['from']>).fill(from, addr, addr + len * w)
  } else {
    k.bytes.set(from, addr)
  }
}

/*
 * Two threads
 *
 * The copy of each chunk into wasm memory (~0.3 ns/element, bound by DRAM bandwidth) has to be
 * done by the main thread: a worker cannot read the caller's (non-shared) ArrayBuffers. The SIMD
 * loop over the copied chunk (~0.6 ns/element, on L2-resident data) can run anywhere. So, for
 * pairs of at least THREADS_MIN_BYTES per side, a worker thread runs a second instance of the
 * module over the same shared memory (worker.ts has the protocol): the main thread copies every
 * chunk, either into a free slot of the worker's queue (RING_SLOTS slots) or, when the queue is
 * full, into its own slot and runs it itself. The split follows the speed of each thread (on
 * the benchmark pair three chunks in four or more go to the worker, the main thread being busy
 * copying), without any tuning. At the end the main thread takes back the chunks the worker
 * has not started and runs them, so it only waits for the one the worker is running (tens of
 * microseconds). Each instance keeps its own statistics (wasm globals are per instance) and
 * gets its chunks in increasing index order; the main thread merges them (mergeThreads): sums
 * add, a max wins when larger and, on a tie, when its index is smaller (the indices are flat:
 * each chunk carries the index of its first element), mins and counts likewise. So the result
 * is the single-thread one, exactly, except the summation order of the two sums. Measured on
 * the benchmark pair (50M float32 elements): 0.55-0.65 ns/element on two threads, 0.95-1.3 on
 * one (the VM's single-thread figure varies with the load on its host).
 *
 * The worker is started lazily by the first pair of THREADS_MIN_BYTES or more, kept for the
 * process and unref'd (it never keeps the process alive; it blocks in Atomics.wait when idle).
 * A call never waits for it to boot (~70 ms): it joins the call in progress as soon as it says
 * it is ready, and until then the main thread does everything (measured: the first call on 50M
 * float32 elements, which creates the worker, takes 85-127 ms instead of 74-84 ms on one thread:
 * the creation, and the boot competing with the call). Nor does a call wait for it to wake up:
 * if the main thread has run every chunk before the worker took the job, it cancels the job. If
 * the worker fails to start, it is not used; if it ever does not finish within
 * WORKER_TIMEOUT_MS, it is dropped and the call recomputed on the main thread, so a call can
 * neither hang nor throw because of it. When the other core turns out to be busy, calls stay on
 * one thread for a while (see noteThreadsGain). Pairs with a non-finite value (rerun by the JS
 * kernel), record-heavy pairs handed over to the JS kernel and float64 pairs work as on one
 * thread.
 *
 * VITEST_ALIGN_THREADS=1 (or 0, off, false) in the environment keeps the kernel on the main
 * thread (no worker is started); the `threads` option of pairStats overrides it per call.
 * kernelInfo() tells how many threads the last call used, the worker's share and state.
 */

interface WorkerHandle {
  state: WorkerState
  /** Jobs it was given. */
  jobs: number
  /** Marks it failed and terminates the thread. */
  terminate(): Promise<unknown>
}

interface WorkerThreadsApi {
  Worker: new (
    code: string,
    options: { eval: true; workerData: WorkerData; execArgv: string[] },
  ) => {
    unref(): void
    terminate(): unknown
    on(event: 'error' | 'exit', listener: (arg: unknown) => void): unknown
  }
}

let worker: WorkerHandle | undefined
let workerReady: Promise<boolean> | undefined

interface OsApi {
  availableParallelism?: () => number
  cpus(): unknown[]
}

interface NodeApis {
  wt: WorkerThreadsApi
  os: OsApi
}

/** The dynamic import of the fallback in nodeApis, and its result. */
let apisLoading: Promise<void> | undefined
let importedApis: NodeApis | undefined

/**
 * node:worker_threads and node:os when this is Node, else null; undefined while they load. This
 * module is imported anywhere (its import graph has no Node built-in), so it gets them at run
 * time: synchronously with process.getBuiltinModule (Node >= 20.16), else by a dynamic import
 * started by the first call that wants them (that call and those before it resolves stay on
 * one thread).
 */
function nodeApis(): NodeApis | null | undefined {
  const proc = (
    globalThis as {
      process?: { getBuiltinModule?: (id: string) => unknown; versions?: { node?: string } }
    }
  ).process
  if (proc?.getBuiltinModule !== undefined) {
    const wt = proc.getBuiltinModule('node:worker_threads') as WorkerThreadsApi | undefined
    const os = proc.getBuiltinModule('node:os') as OsApi | undefined
    return wt?.Worker !== undefined && os !== undefined ? { wt, os } : null
  }
  if (proc?.versions?.node === undefined) return null
  apisLoading ??= Promise.all([import('node:worker_threads'), import('node:os')]).then(
    ([wt, os]) => {
      importedApis = { wt: wt as unknown as WorkerThreadsApi, os }
    },
    () => {},
  )
  return importedApis
}

/** Whether VITEST_ALIGN_THREADS asks for one thread. */
function envSingleThread(): boolean {
  const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process
    ?.env
  const v = env?.VITEST_ALIGN_THREADS?.trim().toLowerCase()
  return v === '1' || v === '0' || v === 'off' || v === 'false'
}

/** Starts the worker once per process; never throws (a failure leaves state 'failed'). */
function startWorker(k: Kernel): WorkerHandle {
  if (worker !== undefined) return worker
  const handle: WorkerHandle = { state: 'failed', jobs: 0, terminate: () => Promise.resolve() }
  const apis = nodeApis()
  // still loading: not started, the next call tries again
  if (apis === undefined) return handle
  worker = handle
  try {
    if (apis === null) return handle
    const cpus = apis.os.availableParallelism?.() ?? apis.os.cpus().length
    if (cpus < 2) return handle
    Atomics.store(k.ctl, LAYOUT.STATE, LAYOUT.BOOTING)
    const w = new apis.wt.Worker(workerSource(), {
      eval: true,
      workerData: { module: k.module, memory: k.memory, layout: LAYOUT },
      // not the parent's flags: under `node --input-type=module` the worker's script (plain
      // script code) was parsed as a module, failed, and left every call on one thread
      execArgv: [],
    })
    w.unref()
    const fail = () => {
      handle.state = 'failed'
      // the STATE word belongs to the current worker (stopKernelWorker may have replaced it)
      if (worker === handle) Atomics.store(k.ctl, LAYOUT.STATE, LAYOUT.FAILED)
    }
    w.on('error', fail)
    w.on('exit', fail)
    handle.state = 'starting'
    handle.terminate = () => {
      fail()
      return Promise.resolve(w.terminate()).catch(() => {})
    }
  } catch {
    handle.state = 'failed'
  }
  return handle
}

/** The worker's state, read from the shared memory (it needs no event loop turn). */
function pollWorker(k: Kernel, w: WorkerHandle): WorkerState {
  if (w.state === 'starting') {
    const s = Atomics.load(k.ctl, LAYOUT.STATE)
    if (s === LAYOUT.READY) w.state = 'ready'
    else if (s === LAYOUT.FAILED) w.state = 'failed'
  }
  return w.state
}

/**
 * Starts the worker thread now, if this runtime has one to start, and resolves to whether it is
 * ready (false when it failed, is disabled or not ready within 5 s). pairStats does not need
 * this (it starts the worker itself and never waits for it): it is for tests, benchmarks and
 * whoever wants the very first large comparison to use two threads.
 */
export async function startKernelWorker(): Promise<boolean> {
  const k = getKernel()
  if (k === null || envSingleThread()) return false
  if (workerReady !== undefined) return workerReady
  if (nodeApis() === undefined) await apisLoading
  if (workerReady !== undefined) return workerReady
  const w = startWorker(k)
  workerReady = new Promise((resolve) => {
    const t0 = Date.now()
    const poll = () => {
      const s = pollWorker(k, w)
      if (s === 'ready' || s === 'failed' || Date.now() - t0 > 5000) resolve(s === 'ready')
      else setTimeout(poll, 2)
    }
    poll()
  })
  return workerReady
}

/**
 * Terminates the worker thread, if there is one; a later large pair (or startKernelWorker)
 * starts a new one. Not needed to let the process exit (the thread is unref'd).
 */
export async function stopKernelWorker(): Promise<void> {
  const w = worker
  if (w === undefined) return
  worker = undefined
  workerReady = undefined
  await w.terminate()
}

/**
 * Whether the SIMD kernel is available here, which path the last call took, how many threads it
 * used (2 when the worker took part) and the state of the worker thread.
 */
export function kernelInfo(): {
  simd: boolean
  lastPath: KernelPath | undefined
  threads: 1 | 2
  /** Fraction of the last call's chunks (since the worker joined it) that the worker ran. */
  workerShare: number
  worker: WorkerState
  /** Whether large pairs stay on one thread for now, the other core having been found busy. */
  backedOff: boolean
} {
  const k = getKernel()
  const w = worker === undefined || k === null ? 'none' : pollWorker(k, worker)
  return {
    simd: k !== null,
    lastPath,
    threads: lastThreads,
    workerShare: lastWorkerShare,
    worker: w,
    backedOff: performance.now() < backoffUntil,
  }
}

/**
 * The statistics of the whole pair from those of its first `head.n` elements and of the rest, as
 * one pass over all of them would give (strict `>`: a tie keeps the earlier index).
 */
function mergeStats(head: KernelStats, rest: KernelStats): KernelStats {
  const off = head.n
  const later = (h: number, r: number) => rest.n > 0 && r > h
  return {
    n: off + rest.n,
    sumAbs: head.sumAbs + rest.sumAbs,
    maxAbs: later(head.maxAbs, rest.maxAbs) ? rest.maxAbs : head.maxAbs,
    argMaxAbs: later(head.maxAbs, rest.maxAbs) ? rest.argMaxAbs + off : head.argMaxAbs,
    minAbs: rest.n > 0 ? Math.min(head.minAbs, rest.minAbs) : head.minAbs,
    maxRel: later(head.maxRel, rest.maxRel) ? rest.maxRel : head.maxRel,
    argMaxRel: later(head.maxRel, rest.maxRel) ? rest.argMaxRel + off : head.argMaxRel,
    maxExcess: later(head.maxExcess, rest.maxExcess) ? rest.maxExcess : head.maxExcess,
    argMaxExcess: later(head.maxExcess, rest.maxExcess)
      ? rest.argMaxExcess + off
      : head.argMaxExcess,
    mismatches: head.mismatches + rest.mismatches,
    sumAbsExpected: head.sumAbsExpected + rest.sumAbsExpected,
    maxAbsExpected: Math.max(head.maxAbsExpected, rest.maxAbsExpected),
    minAbsExpected:
      rest.n > 0 ? Math.min(head.minAbsExpected, rest.minAbsExpected) : head.minAbsExpected,
    // the wasm kernel only keeps finite heads
    actual: rest.actual,
    expected: rest.expected,
  }
}

/** The 12 statistics `finish` wrote at byte `addr` (see pair-stats.wat), for `n` elements. */
function readResult(k: Kernel, addr: number, n: number): KernelStats {
  const r = k.f64
  const o = addr / 8
  return {
    n,
    sumAbs: r[o] as number,
    maxAbs: r[o + 1] as number,
    argMaxAbs: r[o + 2] as number,
    minAbs: r[o + 3] as number,
    maxRel: r[o + 4] as number,
    argMaxRel: r[o + 5] as number,
    maxExcess: r[o + 6] as number,
    argMaxExcess: r[o + 7] as number,
    mismatches: r[o + 8] as number,
    sumAbsExpected: r[o + 9] as number,
    maxAbsExpected: r[o + 10] as number,
    minAbsExpected: r[o + 11] as number,
    actual: { nan: 0, posInf: 0, negInf: 0 },
    expected: { nan: 0, posInf: 0, negInf: 0 },
  }
}

/**
 * The statistics of the union of two disjoint sets of chunks, each run in increasing order by
 * one thread, as one pass in element order would give: a larger max wins, a tie goes to the
 * smaller (flat) index. A thread that ran no chunk has every max at -Infinity with index -1, and
 * a thread that ran some has every max above -Infinity, so it never wins against one.
 */
function mergeThreads(a: KernelStats, b: KernelStats): KernelStats {
  const pick = (va: number, ia: number, vb: number, ib: number): [number, number] =>
    vb > va || (vb === va && ib < ia) ? [vb, ib] : [va, ia]
  const [maxAbs, argMaxAbs] = pick(a.maxAbs, a.argMaxAbs, b.maxAbs, b.argMaxAbs)
  const [maxRel, argMaxRel] = pick(a.maxRel, a.argMaxRel, b.maxRel, b.argMaxRel)
  const [maxExcess, argMaxExcess] = pick(a.maxExcess, a.argMaxExcess, b.maxExcess, b.argMaxExcess)
  return {
    n: a.n + b.n,
    sumAbs: a.sumAbs + b.sumAbs,
    maxAbs,
    argMaxAbs,
    minAbs: Math.min(a.minAbs, b.minAbs),
    maxRel,
    argMaxRel,
    maxExcess,
    argMaxExcess,
    mismatches: a.mismatches + b.mismatches,
    sumAbsExpected: a.sumAbsExpected + b.sumAbsExpected,
    maxAbsExpected: Math.max(a.maxAbsExpected, b.maxAbsExpected),
    minAbsExpected: Math.min(a.minAbsExpected, b.minAbsExpected),
    actual: a.actual,
    expected: a.expected,
  }
}

/** What runWasm gives back: null when a non-finite value (or a float64 overflow) showed up. */
type WasmRun = { stats: KernelStats; handedOff: boolean; threads: 1 | 2 } | null

/**
 * Runs the wasm kernel over the pair, with the worker when `w` is given (see "Two threads");
 * null when a non-finite value (or a float64 overflow) showed up, so that the caller reruns the
 * JS kernel. In `auto` mode, when the exact loop still needs the exact check for most groups
 * (nearly every element is a new record, e.g. a ramp against zeros: there the JS kernel's
 * branches are all predictable and it is faster), the rest of the pair goes to the JS kernel and
 * the two parts are merged; `handedOff` tells.
 */
function runWasm(
  k: Kernel,
  actual: Float32Array | Float64Array,
  expected: Float32Array | Float64Array,
  tol: KernelTolerance,
  loop: Float32Loop,
  w: WorkerHandle | null,
  split?: (chunk: number) => 'main' | 'worker',
): WasmRun {
  const { exports, ctl, f64 } = k
  const L = LAYOUT
  const is32 = actual instanceof Float32Array
  const chunk = CHUNK_BYTES / actual.BYTES_PER_ELEMENT
  const n = actual.length
  const mode = LOOP_MODE[loop]
  exports.init(tol.atol, tol.rtol, mode)
  const step = (addr: number, len: number, base: number): number =>
    is32 ? exports.step32(addr, len, base) : exports.step64(addr, len, base)
  let joined = false
  let posted = 0
  /** Chunks since the worker joined; then when it joined, and how long this thread's took. */
  let shared = 0
  let joinedAt = 0
  let joinedOff = 0
  let mainSteps = 0
  let done = n
  let poisoned = false
  let off = 0
  while (off < n) {
    const len = Math.min(n - off, chunk)
    if (w !== null && !joined && pollWorker(k, w) === 'ready') {
      startJob(k, tol, is32, mode)
      w.jobs++
      joined = true
      joinedAt = performance.now()
      joinedOff = off
    }
    if (joined && w !== null) {
      shared++
      const flags = Atomics.load(ctl, L.FLAGS)
      if (flags !== 0) {
        // the worker met a non-finite value, or asks for the hand-off after its chunk
        poisoned = (flags & 1) !== 0
        done = off
        break
      }
      const forced = split?.(off / chunk)
      if (forced === 'worker' && !waitForSlot(k, w, posted)) {
        void w.terminate()
        return runWasm(k, actual, expected, tol, loop, null)
      }
      if (forced !== 'main' && posted - Atomics.load(ctl, L.WORKED) < L.ringSlots) {
        // a free slot (only the worker takes entries before the close): post the chunk
        const slot = posted % L.ringSlots
        const addr = L.ring + slot * L.slotBytes
        copyChunk(k, addr, actual, off, len)
        copyChunk(k, addr + CHUNK_BYTES, expected, off, len)
        f64[L.desc / 8 + 2 * slot] = len
        f64[L.desc / 8 + 2 * slot + 1] = off
        posted++
        Atomics.store(ctl, L.POSTED, posted << 1)
        Atomics.notify(ctl, L.POSTED)
        off += len
        continue
      }
      // the queue is full: run the chunk here
    }
    let status: number
    if (joined) {
      // timed: see noteThreadsGain
      const t0 = performance.now()
      copyChunk(k, L.mainSlot, actual, off, len)
      copyChunk(k, L.mainSlot + CHUNK_BYTES, expected, off, len)
      const t1 = performance.now()
      status = step(L.mainSlot, len, off)
      if (mainSteps === chunkMs.length) {
        const grown = new Float64Array(2 * mainSteps)
        grown.set(chunkMs)
        chunkMs = grown
      }
      chunkMs[mainSteps++] = (t1 - t0) / len + (performance.now() - t1) / len
    } else {
      copyChunk(k, L.mainSlot, actual, off, len)
      copyChunk(k, L.mainSlot + CHUNK_BYTES, expected, off, len)
      status = step(L.mainSlot, len, off)
    }
    if (status === 1) {
      poisoned = true
      break
    }
    if (status === 2) {
      done = off + len
      break
    }
    off += len
  }
  let stats: KernelStats
  if (joined && w !== null) {
    // close the queue, run what the worker has not taken, wait for the chunk it is running
    Atomics.store(ctl, L.POSTED, (posted << 1) | 1)
    Atomics.notify(ctl, L.POSTED)
    // (with a forced split, the worker runs all its chunks)
    const tail = split === undefined
    if (tail && runQueueTail(k, is32, tol, mode, posted)) poisoned = true
    // every chunk done here and the worker not awake yet: cancel its job rather than wait
    const job = Atomics.load(ctl, L.JOB)
    const cancelled =
      Atomics.load(ctl, L.CLAIMED) >= posted && Atomics.compareExchange(ctl, L.OPEN, job, 0) === job
    if (!cancelled && !waitForWorker(k, w)) {
      // the worker did not finish in time: drop it, redo the pair on this thread
      void w.terminate()
      return runWasm(k, actual, expected, tol, loop, null)
    }
    if (!cancelled && (Atomics.load(ctl, L.FLAGS) & 1) !== 0) poisoned = true
    if (poisoned) return null
    exports.finish(L.mainResult)
    stats = readResult(k, L.mainResult, done)
    if (tail) stats = mergeThreads(stats, readResult(k, L.tailResult, 0))
    if (cancelled) {
      joined = false
    } else {
      stats = mergeThreads(stats, readResult(k, L.result, 0))
      lastWorkerShare = shared > 0 ? Atomics.load(ctl, L.WORKED) / shared : 0
      // (a forced split says nothing about the other core, nor does the worker's first job,
      // which it joined fresh from its boot: code and caches cold)
      if (tail && w.jobs > 1 && joinedOff === 0) {
        noteThreadsGain(done, mainSteps, performance.now() - joinedAt)
      }
    }
  } else {
    if (poisoned) return null
    exports.finish(L.mainResult)
    stats = readResult(k, L.mainResult, done)
  }
  if (!Number.isFinite(stats.sumAbs) || !Number.isFinite(stats.sumAbsExpected)) return null
  const threads = joined ? 2 : 1
  if (!joined) lastWorkerShare = 0
  if (done === n) return { stats, handedOff: false, threads }
  const rest = pairStatsJs(actual.subarray(done), expected.subarray(done), tol)
  return { stats: mergeStats(stats, rest), handedOff: true, threads }
}

/**
 * Backing off from a busy second core. When the other core is busy with something else (e.g.
 * another Vitest worker), two threads can be slower than one: the main thread loses CPU time to
 * its own worker when both land on one core, and waits for it at the end of a call if it was
 * preempted. (A worker that merely gets half a core still helps: the main thread, which copies
 * everything, is the bottleneck.) So each two-thread call compares its time since the worker
 * joined with what one thread would have taken for those `elements`: the median time per element
 * of the chunks the main thread copied and ran itself (chunkMs: the median ignores those during
 * which it was preempted) times `elements`. When it was not faster, the next calls (without an
 * explicit `threads` option) stay on one thread for a while: 250 ms, doubled each time it
 * happens again, up to 8 s; a call that was faster resets that. When the main thread ran fewer
 * than 4 chunks itself, the worker kept up with the copies: faster by far.
 */
let backoffUntil = 0
let backoffMs = 0
let lastWorkerShare = 0
/** ms per element of each chunk the main thread copied and ran during a two-thread call. */
let chunkMs = new Float64Array(256)
const BACKOFF_MIN_MS = 250
const BACKOFF_MAX_MS = 8000

function noteThreadsGain(elements: number, mainSteps: number, elapsedMs: number): void {
  const median = mainSteps < 4 ? 0 : (chunkMs.slice(0, mainSteps).sort()[mainSteps >> 1] as number)
  if (mainSteps < 4 || elapsedMs < median * elements) {
    backoffMs = 0
    return
  }
  backoffMs = Math.min(Math.max(2 * backoffMs, BACKOFF_MIN_MS), BACKOFF_MAX_MS)
  backoffUntil = performance.now() + backoffMs
}

/**
 * After the close: takes the queue entries the worker has not taken, in queue order, and runs
 * them on this thread with the kernel's second instance (the main instance has run later chunks
 * already: its first-index ties need increasing indices), which writes its statistics at
 * tailResult. True when one of them met a non-finite value.
 */
function runQueueTail(
  k: Kernel,
  is32: boolean,
  tol: KernelTolerance,
  mode: number,
  posted: number,
): boolean {
  const { ctl, f64, tail } = k
  const L = LAYOUT
  let poisoned = false
  tail.init(tol.atol, tol.rtol, mode)
  for (;;) {
    const q = Atomics.load(ctl, L.CLAIMED)
    if (q >= posted) break
    if (Atomics.compareExchange(ctl, L.CLAIMED, q, q + 1) !== q) continue
    const slot = q % L.ringSlots
    const addr = L.ring + slot * L.slotBytes
    const len = f64[L.desc / 8 + 2 * slot] as number
    const base = f64[L.desc / 8 + 2 * slot + 1] as number
    if ((is32 ? tail.step32(addr, len, base) : tail.step64(addr, len, base)) === 1) poisoned = true
  }
  tail.finish(L.tailResult)
  return poisoned
}

/**
 * For a chunk the `split` option gives to the worker: waits until the queue has a free slot;
 * false when the worker failed or did not free one within WORKER_TIMEOUT_MS.
 */
function waitForSlot(k: Kernel, w: WorkerHandle, posted: number): boolean {
  const t0 = performance.now()
  while (posted - Atomics.load(k.ctl, LAYOUT.WORKED) >= LAYOUT.ringSlots) {
    if (w.state === 'failed' || Atomics.load(k.ctl, LAYOUT.STATE) === LAYOUT.FAILED) return false
    if (performance.now() - t0 > WORKER_TIMEOUT_MS) return false
  }
  return true
}

/** Hands a new job to the (idle) worker: every job is acknowledged before the next starts. */
function startJob(k: Kernel, tol: KernelTolerance, is32: boolean, mode: number): void {
  const { ctl } = k
  const L = LAYOUT
  k.f64[L.params / 8] = tol.atol
  k.f64[L.params / 8 + 1] = tol.rtol
  Atomics.store(ctl, L.IS32, is32 ? 1 : 0)
  Atomics.store(ctl, L.MODE, mode)
  for (const word of [L.POSTED, L.CLAIMED, L.WORKED, L.FLAGS]) Atomics.store(ctl, word, 0)
  const job = Atomics.load(ctl, L.JOB) + 1
  Atomics.store(ctl, L.OPEN, job)
  Atomics.store(ctl, L.JOB, job)
  Atomics.notify(ctl, L.JOB)
}

/**
 * Waits until the worker has finished the closed job and written its statistics; false when it
 * failed or did not within WORKER_TIMEOUT_MS.
 */
function waitForWorker(k: Kernel, w: WorkerHandle): boolean {
  const { ctl } = k
  const L = LAYOUT
  const job = Atomics.load(ctl, L.JOB)
  const t0 = performance.now()
  try {
    // it has at most one chunk left (tens of microseconds): poll for spinMs, then sleep, which
    // also frees this core for it if it was waiting for one
    for (let ack = Atomics.load(ctl, L.ACK); ack !== job; ack = Atomics.load(ctl, L.ACK)) {
      if (Atomics.load(ctl, L.STATE) === L.FAILED || w.state === 'failed') return false
      const waited = performance.now() - t0
      if (waited > WORKER_TIMEOUT_MS) return false
      if (waited > L.spinMs) Atomics.wait(ctl, L.ACK, ack, 20)
    }
    return true
  } catch {
    // Atomics.wait not allowed on this thread
    return false
  }
}

/**
 * Whether the wasm kernel's level-1 filter is proven for this tolerance (see pair-stats.wat):
 * atol finite and rtol 0 or in [2^-60, 1]. Anything else (NaN, negative or huge rtol) goes to JS.
 */
function wasmTolerance(tol: KernelTolerance): boolean {
  const { atol, rtol } = tol
  return Number.isFinite(atol) && (rtol === 0 || (rtol >= 2 ** -60 && rtol <= 1))
}

/** Options of {@link pairStats}; tests and benchmarks use them, callers need none. */
export interface PairStatsOptions {
  /** See {@link Float32Loop}; default `auto`. */
  float32Loop?: Float32Loop
  /**
   * 1: the main thread only; 2: with the worker, once it is ready, whatever the length (for
   * tests and benchmarks). Default: 2 for pairs of THREADS_MIN_BYTES or more per side, unless
   * VITEST_ALIGN_THREADS says 1 or the other core was found busy (see noteThreadsGain).
   */
  threads?: 1 | 2
  /**
   * For tests: which thread runs chunk number c (chunks of 32768 float32 or 16384 float64
   * elements, counted from 0) once the worker has joined; the main thread then waits for a free
   * slot when needed, and leaves every posted chunk to the worker. Default: the main thread
   * posts to the worker whenever a slot is free, runs the chunk itself otherwise, and at the end
   * takes back what the worker has not started.
   */
  split?: (chunk: number) => 'main' | 'worker'
}

/**
 * The statistics of a pair of equally long arrays: {@link pairStatsJs}'s result, computed by the
 * SIMD kernel when the pair allows it, on two threads when it is large (see "Two threads").
 */
export function pairStats(
  actual: NumericArray,
  expected: NumericArray,
  tol: KernelTolerance,
  options: PairStatsOptions = {},
): KernelStats {
  const n = actual.length
  if (expected.length !== n) throw new RangeError(`length ${n} != ${expected.length}`)
  lastThreads = 1
  lastWorkerShare = 0
  if (n >= WASM_MIN_LENGTH) {
    const both32 = actual instanceof Float32Array && expected instanceof Float32Array
    const both64 = actual instanceof Float64Array && expected instanceof Float64Array
    if ((both32 || both64) && wasmTolerance(tol)) {
      const k = getKernel()
      if (k !== null) {
        let w: WorkerHandle | null = null
        const threads =
          options.threads ??
          (n * actual.BYTES_PER_ELEMENT < THREADS_MIN_BYTES ||
          envSingleThread() ||
          performance.now() < backoffUntil
            ? 1
            : 2)
        if (threads === 2) {
          w = startWorker(k)
          if (w.state === 'failed') w = null
        }
        const loop = options.float32Loop ?? 'auto'
        const run = runWasm(k, actual, expected, tol, loop, w, options.split)
        if (run !== null) {
          lastPath = both32 ? 'wasm-f32' : 'wasm-f64'
          if (run.handedOff) lastPath = both32 ? 'wasm-f32+js' : 'wasm-f64+js'
          lastThreads = run.threads
          return run.stats
        }
        lastPath = 'js-nonfinite'
        return pairStatsJs(actual, expected, tol)
      }
    }
  }
  lastPath = 'js'
  return pairStatsJs(actual, expected, tol)
}
