/**
 * One pair through the wasm kernel: chunk by chunk into wasm memory, on one thread or with the
 * worker (see threads.ts), handing the rest to the JS kernel where that is faster.
 */
import { type KernelStats, type KernelTolerance, pairStatsJs } from '../stats.js'
import { mergeStats, mergeThreads } from './merge.js'
import { rt } from './runtime.js'
import {
  noteThreadsGain,
  pollWorker,
  runQueueTail,
  startJob,
  type WorkerHandle,
  waitForSlot,
  waitForWorker,
  workerIdle,
} from './threads.js'
import { CHUNK_BYTES, copyChunk, type Kernel, LAYOUT, PAIR_AHEAD, readResult } from './wasm.js'

/**
 * Which loop runs float32 chunks: `fast` (f32 pre-filter, best when extremes are rarely tied),
 * `exact` (exact f64 filter, best when many elements tie with an extreme or mismatch), or `auto`
 * (the default: fast, switching to exact for a while after a chunk where more than 1/8 of the
 * groups needed the exact check; see step32 in pair-stats.wat). Forcing one is for tests and
 * benchmarks.
 */
export type Float32Loop = 'auto' | 'fast' | 'exact'
export const LOOP_MODE: Record<Float32Loop, number> = { auto: 0, fast: 1, exact: 2 }

/** What runWasm gives back: null when a non-finite value (or a float64 overflow) showed up. */
export type WasmRun = { stats: KernelStats; handedOff: boolean; threads: 1 | 2 } | null

/**
 * Runs the wasm kernel over the pair, with the worker when `w` is given (see "Two threads");
 * null when a non-finite value (or a float64 overflow) showed up, so that the caller reruns the
 * JS kernel. In `auto` mode, when the exact loop still needs the exact check for most groups
 * (nearly every element is a new record, e.g. a ramp against zeros: there the JS kernel's
 * branches are all predictable and it is faster), the rest of the pair goes to the JS kernel and
 * the two parts are merged; `handedOff` tells.
 */
export function runWasm(
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
    if (w !== null && !joined && pollWorker(k, w) === 'ready' && workerIdle(k)) {
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
      if (forced === 'worker' && !waitForSlot(k, w, posted, PAIR_AHEAD)) {
        void w.terminate()
        return runWasm(k, actual, expected, tol, loop, null)
      }
      if (forced !== 'main' && posted - Atomics.load(ctl, L.WORKED) < PAIR_AHEAD) {
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
      if (mainSteps === rt.chunkMs.length) {
        const grown = new Float64Array(2 * mainSteps)
        grown.set(rt.chunkMs)
        rt.chunkMs = grown
      }
      rt.chunkMs[mainSteps++] = (t1 - t0) / len + (performance.now() - t1) / len
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
      rt.lastWorkerShare = shared > 0 ? Atomics.load(ctl, L.WORKED) / shared : 0
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
  if (!joined) rt.lastWorkerShare = 0
  if (done === n) return { stats, handedOff: false, threads }
  const rest = pairStatsJs(actual.subarray(done), expected.subarray(done), tol)
  return { stats: mergeStats(stats, rest), handedOff: true, threads }
}
