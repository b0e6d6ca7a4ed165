/**
 * The kernel's mutable state, in one place: the wasm instance, the worker thread, the backoff
 * from a busy second core and what the last call did. Everything else in the kernel is
 * functions over it; tests reset it with {@link resetKernelRuntime}.
 */
import type { NodeApis, WorkerHandle } from './threads.js'
import type { Kernel } from './wasm.js'

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

/** The worker thread's state, as kernelInfo reports it. */
export type WorkerState = 'none' | 'starting' | 'ready' | 'failed'

export interface KernelRuntime {
  /** The wasm instances over the shared memory; null when this runtime has none (no SIMD). */
  kernel: Kernel | null | undefined
  lastPath: KernelPath | undefined
  lastThreads: 1 | 2
  /** Fraction of the last call's chunks (since the worker joined it) that the worker ran. */
  lastWorkerShare: number
  worker: WorkerHandle | undefined
  /** startKernelWorker's promise, once asked. */
  workerReady: Promise<boolean> | undefined
  /** The dynamic import of node:worker_threads and node:os where there is no getBuiltinModule. */
  apisLoading: Promise<void> | undefined
  importedApis: NodeApis | undefined
  /** Until when large pairs stay on one thread (performance.now() ms), and the last backoff. */
  backoffUntil: number
  backoffMs: number
  /** Batches (batch.ts) in a row that were not faster on two threads. */
  batchLosses: number
  /** ms per element of each chunk the main thread copied and ran during a two-thread call. */
  chunkMs: Float64Array
}

const fresh = (): KernelRuntime => ({
  kernel: undefined,
  lastPath: undefined,
  lastThreads: 1,
  lastWorkerShare: 0,
  worker: undefined,
  workerReady: undefined,
  apisLoading: undefined,
  importedApis: undefined,
  backoffUntil: 0,
  backoffMs: 0,
  batchLosses: 0,
  chunkMs: new Float64Array(256),
})

/** The one runtime of this module instance. */
export const rt: KernelRuntime = fresh()

/**
 * Forgets the backoff and what the last call did (for tests). The wasm instance and the worker
 * are kept: stop the worker first with stopKernelWorker to start from nothing.
 */
export function resetKernelRuntime(): void {
  const { kernel, worker, workerReady, apisLoading, importedApis } = rt
  Object.assign(rt, fresh(), { kernel, worker, workerReady, apisLoading, importedApis })
}
