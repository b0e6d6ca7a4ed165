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
 * shared memory, takes the JS kernel. Large pairs run on two threads (see "Two threads" in
 * threads.ts; VITEST_ALIGN_THREADS=1 keeps them on one), and so do the pairs of a record, or a
 * lone pair of 64K float32 elements or more, through {@link pairStatsMany} (batch.ts), which
 * compare() calls once per comparison with all its pairs.
 */
import { type KernelStats, type KernelTolerance, type NumericArray, pairStatsJs } from '../stats.js'
import { type Float32Loop, runWasm } from './run.js'
import { type KernelPath, rt, type WorkerState } from './runtime.js'
import { envSingleThread, pollWorker, startWorker, type WorkerHandle } from './threads.js'
import { getKernel, THREADS_MIN_BYTES, WASM_MIN_LENGTH, wasmTolerance } from './wasm.js'

export {
  BATCH_MIN_BYTES,
  type PairInput,
  type PairStatsManyOptions,
  pairStatsMany,
  pieceLength,
} from './batch.js'
export type { Float32Loop } from './run.js'
export { type KernelPath, resetKernelRuntime, type WorkerState } from './runtime.js'
export { startKernelWorker, stopKernelWorker } from './threads.js'
export { THREADS_MIN_BYTES, WASM_MIN_LENGTH } from './wasm.js'

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
  const w = rt.worker === undefined || k === null ? 'none' : pollWorker(k, rt.worker)
  return {
    simd: k !== null,
    lastPath: rt.lastPath,
    threads: rt.lastThreads,
    workerShare: rt.lastWorkerShare,
    worker: w,
    backedOff: performance.now() < rt.backoffUntil,
  }
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
  rt.lastThreads = 1
  rt.lastWorkerShare = 0
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
          performance.now() < rt.backoffUntil
            ? 1
            : 2)
        if (threads === 2) {
          w = startWorker(k)
          if (w.state === 'failed') w = null
        }
        const loop = options.float32Loop ?? 'auto'
        const run = runWasm(k, actual, expected, tol, loop, w, options.split)
        if (run !== null) {
          rt.lastPath = both32 ? 'wasm-f32' : 'wasm-f64'
          if (run.handedOff) rt.lastPath = both32 ? 'wasm-f32+js' : 'wasm-f64+js'
          rt.lastThreads = run.threads
          return run.stats
        }
        rt.lastPath = 'js-nonfinite'
        return pairStatsJs(actual, expected, tol)
      }
    }
  }
  rt.lastPath = 'js'
  return pairStatsJs(actual, expected, tol)
}
