/**
 * The WebAssembly side of the kernel: the shared memory's layout, the module's instantiation,
 * the copy of a chunk into wasm memory and the read-back of the statistics `finish` writes.
 */
import type { KernelStats, KernelTolerance } from '../stats.js'
import { PAIR_STATS_WASM_BASE64 } from './pair-stats.generated.js'
import { rt } from './runtime.js'
import type { KernelExports, Layout } from './worker.js'

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
export const CHUNK_BYTES = 131072
const SLOT_BYTES = 2 * CHUNK_BYTES
/**
 * The worker's queue: how far the main thread may run ahead of it. 64 slots (16 MiB of address
 * space; a slot's pages are only touched as far as the pieces it gets: a 10k-element piece uses
 * 80 KiB of its 256). Measured on the 2-core EPYC VM, a record of 244 float32 pairs of 10k
 * elements, best of 80, five alternating runs: 4 slots 2.45-3.23 ms, 16 slots 2.16-2.28, 32 slots
 * 2.07-2.20, 64 slots 1.79-1.93 (three runs). The main thread writes each piece into a slot the
 * worker read a few pieces earlier, and the cache lines still held by the worker's core must be
 * taken back first: with more slots in rotation, they have left its caches by then. (On the
 * earlier Zen 5 host, 4 slots measured as good as 6 or 8.)
 */
const RING_SLOTS = 64

/**
 * How many chunks of one large pair (run.ts, chunk by chunk) the main thread may have queued
 * for the worker at once: 4, as measured on the Zen 5 host (as good as 6 or 8, better than 1 or
 * 2: a shorter queue runs dry while the main thread runs a chunk itself). The chunks still rotate
 * through all the ring's slots. Kept short so that the worker's request to hand the rest of a
 * pair to the JS kernel (record-heavy data, see run.ts) is seen while most of the pair is left.
 */
export const PAIR_AHEAD = 4

/**
 * The shared memory: control words, parameters and results in the first 64 KiB page, then the
 * main thread's chunk slot and the worker's ring (see worker.ts).
 */
export const LAYOUT: Layout = {
  ctl: 0,
  ctlWords: 16,
  params: 256,
  desc: 2048,
  bdesc: 4096,
  bresult: 8192,
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
  KIND: 10,
  POSTED: 4,
  CLAIMED: 5,
  WORKED: 6,
  FLAGS: 7,
  ACK: 8,
  BOOTING: 0,
  READY: 1,
  FAILED: 2,
  spinMs: 1,
  idleSpinMs: 3,
}
const PAGES = (LAYOUT.ring + RING_SLOTS * SLOT_BYTES) / 65536

/**
 * How long the main thread waits, at the end of a call, for the worker to finish its last
 * chunks (normally tens of microseconds). Past it, the worker is given up for good and the pair
 * is recomputed on the main thread: a call never hangs because of the worker.
 */
export const WORKER_TIMEOUT_MS = 2000

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

export interface Kernel {
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
export function getKernel(): Kernel | null {
  if (rt.kernel !== undefined) return rt.kernel
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
    rt.kernel = {
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
    rt.kernel = null
  }
  return rt.kernel
}

/** Copies `len` elements of `src` from element `off` to byte `addr` of the kernel's memory. */
export function copyChunk(
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

/** The 12 statistics `finish` wrote at byte `addr` (see pair-stats.wat), for `n` elements. */
export function readResult(k: Kernel, addr: number, n: number): KernelStats {
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
 * Whether the wasm kernel's level-1 filter is proven for this tolerance (see pair-stats.wat):
 * atol finite and rtol 0 or in [2^-60, 1]. Anything else (NaN, negative or huge rtol) goes to JS.
 */
export function wasmTolerance(tol: KernelTolerance): boolean {
  const { atol, rtol } = tol
  return Number.isFinite(atol) && (rtol === 0 || (rtol >= 2 ** -60 && rtol <= 1))
}
