/**
 * The second thread: starting the worker, handing it jobs, waiting for it, and backing off when
 * the other core is busy. The protocol itself is in worker.ts.
 */
import type { KernelTolerance } from '../stats.js'
import { rt, type WorkerState } from './runtime.js'
import { getKernel, type Kernel, LAYOUT, WORKER_TIMEOUT_MS } from './wasm.js'
import { type WorkerData, workerSource } from './worker.js'

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

export interface WorkerHandle {
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

interface OsApi {
  availableParallelism?: () => number
  cpus(): unknown[]
}

export interface NodeApis {
  wt: WorkerThreadsApi
  os: OsApi
}

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
  rt.apisLoading ??= Promise.all([import('node:worker_threads'), import('node:os')]).then(
    ([wt, os]) => {
      rt.importedApis = { wt: wt as unknown as WorkerThreadsApi, os }
    },
    () => {},
  )
  return rt.importedApis
}

/** Whether VITEST_ALIGN_THREADS asks for one thread. */
export function envSingleThread(): boolean {
  const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process
    ?.env
  const v = env?.VITEST_ALIGN_THREADS?.trim().toLowerCase()
  return v === '1' || v === '0' || v === 'off' || v === 'false'
}

/** Starts the worker once per process; never throws (a failure leaves state 'failed'). */
export function startWorker(k: Kernel): WorkerHandle {
  if (rt.worker !== undefined) return rt.worker
  const handle: WorkerHandle = { state: 'failed', jobs: 0, terminate: () => Promise.resolve() }
  const apis = nodeApis()
  // still loading: not started, the next call tries again
  if (apis === undefined) return handle
  rt.worker = handle
  try {
    if (apis === null) return handle
    const cpus = apis.os.availableParallelism?.() ?? apis.os.cpus().length
    if (cpus < 2) return handle
    Atomics.store(k.ctl, LAYOUT.STATE, LAYOUT.BOOTING)
    // no job of a previous worker (dropped in the middle of one) is pending for this one
    Atomics.store(k.ctl, LAYOUT.OPEN, 0)
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
      if (rt.worker === handle) Atomics.store(k.ctl, LAYOUT.STATE, LAYOUT.FAILED)
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
export function pollWorker(k: Kernel, w: WorkerHandle): WorkerState {
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
  if (rt.workerReady !== undefined) return rt.workerReady
  if (nodeApis() === undefined) await rt.apisLoading
  if (rt.workerReady !== undefined) return rt.workerReady
  const w = startWorker(k)
  rt.workerReady = new Promise((resolve) => {
    const t0 = Date.now()
    const poll = () => {
      const s = pollWorker(k, w)
      if (s === 'ready' || s === 'failed' || Date.now() - t0 > 5000) resolve(s === 'ready')
      else setTimeout(poll, 2)
    }
    poll()
  })
  return rt.workerReady
}

/**
 * Terminates the worker thread, if there is one; a later large pair (or startKernelWorker)
 * starts a new one. Not needed to let the process exit (the thread is unref'd).
 */
export async function stopKernelWorker(): Promise<void> {
  const w = rt.worker
  if (w === undefined) return
  rt.worker = undefined
  rt.workerReady = undefined
  await w.terminate()
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
const BACKOFF_MIN_MS = 250
const BACKOFF_MAX_MS = 8000

export function noteThreadsGain(elements: number, mainSteps: number, elapsedMs: number): void {
  const median =
    mainSteps < 4 ? 0 : (rt.chunkMs.slice(0, mainSteps).sort()[mainSteps >> 1] as number)
  if (mainSteps < 4 || elapsedMs < median * elements) {
    rt.backoffMs = 0
    return
  }
  rt.backoffMs = Math.min(Math.max(2 * rt.backoffMs, BACKOFF_MIN_MS), BACKOFF_MAX_MS)
  rt.backoffUntil = performance.now() + rt.backoffMs
}

/**
 * After the close: takes the queue entries the worker has not taken, in queue order, and runs
 * them on this thread with the kernel's second instance (the main instance has run later chunks
 * already: its first-index ties need increasing indices), which writes its statistics at
 * tailResult. True when one of them met a non-finite value.
 */
export function runQueueTail(
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
 * For a chunk the `split` option gives to the worker: waits until fewer than `ahead` entries
 * are queued (the whole ring by default; a pair's chunks use PAIR_AHEAD of it); false when the
 * worker failed or did not free one within WORKER_TIMEOUT_MS.
 */
export function waitForSlot(
  k: Kernel,
  w: WorkerHandle,
  posted: number,
  ahead: number = LAYOUT.ringSlots,
): boolean {
  const t0 = performance.now()
  while (posted - Atomics.load(k.ctl, LAYOUT.WORKED) >= ahead) {
    if (w.state === 'failed' || Atomics.load(k.ctl, LAYOUT.STATE) === LAYOUT.FAILED) return false
    if (performance.now() - t0 > WORKER_TIMEOUT_MS) return false
  }
  return true
}

/**
 * Whether the worker is done with its last job (acknowledged, or cancelled before it took it).
 * A batch (batch.ts) does not wait for a preempted worker's last piece: it computes the piece
 * itself and leaves the worker to finish it; until then no call hands it a new job.
 */
export function workerIdle(k: Kernel): boolean {
  const { ctl } = k
  return (
    Atomics.load(ctl, LAYOUT.ACK) === Atomics.load(ctl, LAYOUT.JOB) ||
    Atomics.load(ctl, LAYOUT.OPEN) === 0
  )
}

/** Hands a new job to the (idle) worker: every job is acknowledged before the next starts. */
export function startJob(
  k: Kernel,
  tol: KernelTolerance,
  is32: boolean,
  mode: number,
  kind: 0 | 1 = 0,
): void {
  const { ctl } = k
  const L = LAYOUT
  k.f64[L.params / 8] = tol.atol
  k.f64[L.params / 8 + 1] = tol.rtol
  Atomics.store(ctl, L.IS32, is32 ? 1 : 0)
  Atomics.store(ctl, L.MODE, mode)
  Atomics.store(ctl, L.KIND, kind)
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
export function waitForWorker(k: Kernel, w: WorkerHandle): boolean {
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
