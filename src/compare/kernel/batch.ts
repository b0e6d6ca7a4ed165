/**
 * Many pairs at once (a record's, or one mid-size pair): the worker computes some pieces while
 * the main thread copies and computes the others.
 *
 * A record's pairs are mostly too small for pairStats' own split (from THREADS_MIN_BYTES per
 * side), yet a model-sized record (hundreds of tensors of 10^4-10^6 elements) is millions of
 * elements: on one thread ~0.35 ns per element of copy into wasm memory and ~0.65 of SIMD loop.
 * Here the pairs are cut into pieces of at most one chunk, each computed by one instance with its
 * own init and finish (flat indices from the pair's element 0), and the pieces of a pair are
 * merged with mergeThreads, whatever thread ran them and in whatever order (a larger max wins, a
 * tie goes to the smaller index). The main thread copies every piece, either into a free slot of
 * the worker's queue or, when the queue is full, into its own slot, and runs it itself; at the
 * end it takes back the pieces the worker has not started. So the statistics are those of one
 * pass in element order, exactly, except the order of the two sums (identical for pairs of one
 * chunk). A piece with a non-finite value sends its pair to the JS kernel, as pairStats does.
 *
 * The worker is used when it is ready (pairStatsMany starts it, never waits for it to boot), the
 * batch has BATCH_MIN_BYTES per side or more, and neither VITEST_ALIGN_THREADS nor the backoff
 * (noteThreadsGain) says one thread; otherwise every pair goes through pairStats.
 */
import { type KernelStats, type KernelTolerance, type NumericArray, pairStatsJs } from '../stats.js'
import { pairStats } from './index.js'
import { mergeThreads } from './merge.js'
import { rt } from './runtime.js'
import {
  envSingleThread,
  noteThreadsGain,
  pollWorker,
  startJob,
  startWorker,
  type WorkerHandle,
  waitForSlot,
  waitForWorker,
  workerIdle,
} from './threads.js'
import {
  CHUNK_BYTES,
  copyChunk,
  getKernel,
  type Kernel,
  LAYOUT,
  readResult,
  THREADS_MIN_BYTES,
  WASM_MIN_LENGTH,
  wasmTolerance,
} from './wasm.js'

/** One pair of {@link pairStatsMany}. */
export interface PairInput {
  actual: NumericArray
  expected: NumericArray
  tol: KernelTolerance
}

/**
 * Bytes per side (over the batch's pairs of WASM_MIN_LENGTH elements up to THREADS_MIN_BYTES)
 * from which the worker takes part: 256 KiB, i.e. 64K float32 elements (two pieces).
 */
export const BATCH_MIN_BYTES = 256 * 1024

/**
 * The length of the pieces a pair of n elements is cut into (the last one may be shorter): one
 * chunk (32768 float32, 16384 float64 elements), or for a pair of a few chunks an eighth of it,
 * rounded up to a multiple of 8, but at least 8192 elements, so that both threads get some.
 */
export function pieceLength(n: number, bytesPerElement: number): number {
  const whole = CHUNK_BYTES / bytesPerElement
  return n <= whole ? whole : Math.min(whole, Math.max(8192, 8 * Math.ceil(n / 64)))
}

/** Options of {@link pairStatsMany}; tests and benchmarks use them. */
export interface PairStatsManyOptions {
  /** 1: every pair through pairStats; 2: batched with the worker once it is ready, any size. */
  threads?: 1 | 2
  /**
   * For tests: which thread runs piece number p (counted over the batch, from 0; pieces of at
   * most 32768 float32 or 16384 float64 elements) with `threads: 2`. The main thread then waits
   * for a free slot when needed, takes nothing back and waits for the worker at the end.
   */
  split?: (piece: number) => 'main' | 'worker'
}

const batchable = (p: PairInput): boolean => {
  const { actual, expected } = p
  const n = actual.length
  if (n < WASM_MIN_LENGTH || expected.length !== n || !wasmTolerance(p.tol)) return false
  const both32 = actual instanceof Float32Array && expected instanceof Float32Array
  const both64 = actual instanceof Float64Array && expected instanceof Float64Array
  return (both32 || both64) && n * actual.BYTES_PER_ELEMENT < THREADS_MIN_BYTES
}

/** The statistics of every pair, {@link pairStats}'s for each (see the header for how). */
export function pairStatsMany(
  pairs: readonly PairInput[],
  options: PairStatsManyOptions = {},
): KernelStats[] {
  const out = new Array<KernelStats | undefined>(pairs.length)
  const k = getKernel()
  if (k !== null && options.threads !== 1 && !envSingleThread()) {
    const mid: number[] = []
    let bytes = 0
    for (let i = 0; i < pairs.length; i++) {
      const p = pairs[i] as PairInput
      if (batchable(p)) {
        mid.push(i)
        bytes += p.actual.byteLength
      }
    }
    const wanted =
      options.threads === 2 || (bytes >= BATCH_MIN_BYTES && performance.now() >= rt.backoffUntil)
    if (mid.length > 0 && wanted) {
      const w = startWorker(k)
      if (
        pollWorker(k, w) === 'ready' &&
        workerIdle(k) &&
        !runBatch(k, w, pairs, mid, out, options.split)
      ) {
        for (const i of mid) out[i] = undefined
      }
    }
  }
  for (let i = 0; i < pairs.length; i++) {
    if (out[i] === undefined) {
      const p = pairs[i] as PairInput
      out[i] = pairStats(p.actual, p.expected, p.tol, options.threads === 1 ? { threads: 1 } : {})
    }
  }
  return out as KernelStats[]
}

/**
 * The batch with the worker; fills `out` for the pairs `mid`. False when the worker failed or
 * timed out (the caller then recomputes those pairs on this thread).
 */
function runBatch(
  k: Kernel,
  w: WorkerHandle,
  pairs: readonly PairInput[],
  mid: readonly number[],
  out: (KernelStats | undefined)[],
  split?: (piece: number) => 'main' | 'worker',
): boolean {
  const { exports: ex, ctl, f64 } = k
  const L = LAYOUT
  const R = L.ringSlots
  const parts = new Array<KernelStats | undefined>(pairs.length)
  const poisoned = new Uint8Array(pairs.length)
  /** The pair of the entry in each slot. */
  const owner = new Int32Array(R)
  const add = (i: number, s: KernelStats) => {
    const p = parts[i]
    parts[i] = p === undefined ? s : mergeThreads(p, s)
  }
  let drained = 0
  /** Reads the results of the entries before `upTo` (done, by either thread). */
  const drain = (upTo: number) => {
    for (; drained < upTo; drained++) {
      const slot = drained % R
      const d = L.bdesc / 8 + 6 * slot
      const i = owner[slot] as number
      if (f64[d + 5] === 1) poisoned[i] = 1
      else add(i, readResult(k, L.bresult + 96 * slot, f64[d] as number))
    }
  }
  startJob(k, { atol: 0, rtol: 0, equalNan: false }, true, 0, 1)
  w.jobs++
  const t0 = performance.now()
  let posted = 0
  let mainSteps = 0
  let elements = 0
  let piece = 0
  for (const i of mid) {
    const { actual, expected, tol } = pairs[i] as PairInput
    const a = actual as Float32Array | Float64Array
    const e = expected as Float32Array | Float64Array
    const is32 = a instanceof Float32Array
    const n = a.length
    const chunk = pieceLength(n, a.BYTES_PER_ELEMENT)
    elements += n
    for (let off = 0; off < n && poisoned[i] === 0; off += chunk) {
      const len = Math.min(n - off, chunk)
      const forced = split?.(piece++)
      if (forced === 'worker' && !waitForSlot(k, w, posted)) {
        void w.terminate()
        return false
      }
      const worked = Atomics.load(ctl, L.WORKED)
      if (forced !== 'main' && posted - worked < R) {
        // a free slot (only the worker takes entries before the close): post the piece
        drain(worked)
        const slot = posted % R
        const addr = L.ring + slot * L.slotBytes
        copyChunk(k, addr, a, off, len)
        copyChunk(k, addr + CHUNK_BYTES, e, off, len)
        const d = L.bdesc / 8 + 6 * slot
        f64[d] = len
        f64[d + 1] = off
        f64[d + 2] = tol.atol
        f64[d + 3] = tol.rtol
        f64[d + 4] = is32 ? 1 : 0
        owner[slot] = i
        posted++
        Atomics.store(ctl, L.POSTED, posted << 1)
        Atomics.notify(ctl, L.POSTED)
        continue
      }
      // the queue is full: run the piece here (timed: see noteThreadsGain)
      const s0 = performance.now()
      copyChunk(k, L.mainSlot, a, off, len)
      copyChunk(k, L.mainSlot + CHUNK_BYTES, e, off, len)
      ex.init(tol.atol, tol.rtol, 0)
      const status = is32 ? ex.step32(L.mainSlot, len, off) : ex.step64(L.mainSlot, len, off)
      if (status === 1) {
        poisoned[i] = 1
        break
      }
      ex.finish(L.mainResult)
      add(i, readResult(k, L.mainResult, len))
      if (mainSteps === rt.chunkMs.length) {
        const grown = new Float64Array(2 * mainSteps)
        grown.set(rt.chunkMs)
        rt.chunkMs = grown
      }
      rt.chunkMs[mainSteps++] = (performance.now() - s0) / len
    }
  }
  // close the queue, run what the worker has not taken
  Atomics.store(ctl, L.POSTED, (posted << 1) | 1)
  Atomics.notify(ctl, L.POSTED)
  if (split !== undefined && !waitForWorker(k, w)) {
    void w.terminate()
    return false
  }
  // after the close both threads take entries: which ones this thread took, by slot (they are
  // among the last R: the others were run before)
  const taken = new Uint8Array(R)
  let takenCount = 0
  for (;;) {
    const q = Atomics.load(ctl, L.CLAIMED)
    if (q >= posted) break
    if (Atomics.compareExchange(ctl, L.CLAIMED, q, q + 1) !== q) continue
    taken[q % R] = 1
    takenCount++
    runSlot(k, q % R, L.bresult + 96 * (q % R))
  }
  const job = Atomics.load(ctl, L.JOB)
  const cancelled = Atomics.compareExchange(ctl, L.OPEN, job, 0) === job
  const byWorker = cancelled ? 0 : posted - takenCount
  let workerRan = Atomics.load(ctl, L.WORKED)
  if (workerRan < byWorker) {
    // the worker is running its last entry (the last one this thread did not take): wait about
    // as long as this thread would take to run it; past that (the worker preempted), run it
    // here and leave the worker to finish it (no call hands it a new job until then: workerIdle)
    let last = posted - 1
    while (taken[last % R] === 1) last--
    const slot = last % R
    const budget = 2 * median(mainSteps) * (f64[L.bdesc / 8 + 6 * slot] as number) + 0.02
    const s0 = performance.now()
    while (workerRan < byWorker && performance.now() - s0 < budget) {
      workerRan = Atomics.load(ctl, L.WORKED)
    }
    if (workerRan < byWorker) {
      drain(last)
      runSlot(k, slot, L.mainResult)
      const i = owner[slot] as number
      if (f64[L.mainResult / 8 + 12] === 1) poisoned[i] = 1
      else add(i, readResult(k, L.mainResult, f64[L.bdesc / 8 + 6 * slot] as number))
      drained = last + 1
    }
  }
  if (w.state === 'failed' || Atomics.load(ctl, L.STATE) === L.FAILED) return false
  drain(posted)
  for (const i of mid) {
    const p = pairs[i] as PairInput
    const s = parts[i]
    if (
      poisoned[i] === 1 ||
      s === undefined ||
      !Number.isFinite(s.sumAbs) ||
      !Number.isFinite(s.sumAbsExpected)
    ) {
      rt.lastPath = 'js-nonfinite'
      out[i] = pairStatsJs(p.actual, p.expected, p.tol)
    } else {
      rt.lastPath = p.actual instanceof Float32Array ? 'wasm-f32' : 'wasm-f64'
      out[i] = s
    }
  }
  rt.lastThreads = workerRan > 0 ? 2 : 1
  rt.lastWorkerShare = posted + mainSteps > 0 ? workerRan / (posted + mainSteps) : 0
  // (not the first jobs: the code of both threads is still warming up, V8 compiling it on the
  // other core; two threads measured slower than one for the first dozen or so)
  if (workerRan > 0 && w.jobs > 16) {
    // a batch is short (a few ms): back off only after two slower ones in a row
    const elapsed = performance.now() - t0
    if (mainSteps < 4 || elapsed < median(mainSteps) * elements) rt.batchLosses = 0
    else if (++rt.batchLosses < 2) return true
    rt.batchLosses = 0
    noteThreadsGain(elements, mainSteps, elapsed)
  }
  return true
}

/** The median ms per element of the pieces the main thread ran in the batch (0 if none). */
function median(steps: number): number {
  if (steps === 0) return 0
  return rt.chunkMs.slice(0, steps).sort()[steps >> 1] as number
}

/**
 * Runs the ring entry in `slot` on this thread (the main instance, init to finish), its
 * statistics at `out` and its status in the f64 after them (out = mainResult) or in the slot's
 * descriptor (out = the slot's bresult).
 */
function runSlot(k: Kernel, slot: number, out: number): void {
  const { exports: ex, f64 } = k
  const L = LAYOUT
  const d = L.bdesc / 8 + 6 * slot
  const addr = L.ring + slot * L.slotBytes
  ex.init(f64[d + 2] as number, f64[d + 3] as number, 0)
  const len = f64[d] as number
  const base = f64[d + 1] as number
  const status = f64[d + 4] === 1 ? ex.step32(addr, len, base) : ex.step64(addr, len, base)
  ex.finish(out)
  if (out === L.mainResult) f64[out / 8 + 12] = status
  else f64[d + 5] = status
}
