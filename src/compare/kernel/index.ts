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
 * because it poisons Σ|Δ|). Everything else, and every runtime without WebAssembly SIMD, takes
 * the JS kernel.
 */
import { type KernelStats, type KernelTolerance, type NumericArray, pairStatsJs } from '../stats.js'
import { PAIR_STATS_WASM_BASE64 } from './pair-stats.generated.js'

/** Below this length the JS kernel is used: the wasm call and copy overhead does not pay off. */
export const WASM_MIN_LENGTH = 2048

/** Elements per side copied into wasm memory per call: 128 KiB per side, so both stay in L2. */
const CHUNK32 = 32768
const CHUNK64 = 16384
/** Byte offset of the expected chunk and of the results in wasm memory (see pair-stats.wat). */
const E_OFFSET = 131072
const RESULT_OFFSET = 262144

/**
 * The part of the WebAssembly JS API used here, read from globalThis: the project compiles
 * without the DOM lib, and a runtime without WebAssembly simply takes the JS path.
 */
interface WasmApi {
  Module: new (bytes: Uint8Array) => object
  Instance: new (module: object) => { exports: unknown }
}

interface KernelExports {
  memory: { buffer: ArrayBuffer }
  init(atol: number, rtol: number): void
  chunk32(len: number): number
  chunk32x(len: number): number
  chunk64(len: number): number
  finish(): void
}

interface Kernel {
  exports: KernelExports
  f32: Float32Array
  f64: Float64Array
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
 * groups needed the exact check). Forcing one is for tests and benchmarks.
 */
export type Float32Loop = 'auto' | 'fast' | 'exact'

/**
 * After a fast chunk with many exact checks, the next chunks run the exact loop: 16 of them, then
 * twice as many each time the fast loop, tried again, still needs many checks (up to 1024).
 */
const EXACT_CHUNKS = 16
const EXACT_CHUNKS_MAX = 1024

let kernel: Kernel | null | undefined
let lastPath: KernelPath | undefined

function decodeBase64(b64: string): Uint8Array {
  const bin = atob(b64)
  const out = new Uint8Array(bin.length)
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i)
  return out
}

/** Instantiates the module on first use, synchronously; null when it cannot (no SIMD). */
function getKernel(): Kernel | null {
  if (kernel !== undefined) return kernel
  try {
    const wasm = (globalThis as { WebAssembly?: WasmApi }).WebAssembly
    if (wasm === undefined) throw new Error('no WebAssembly')
    // Throws (CompileError) where SIMD128 is not supported.
    const module = new wasm.Module(decodeBase64(PAIR_STATS_WASM_BASE64))
    const exports = new wasm.Instance(module).exports as KernelExports
    // The memory is declared with a fixed size (no memory.grow), so these views stay valid.
    kernel = {
      exports,
      f32: new Float32Array(exports.memory.buffer),
      f64: new Float64Array(exports.memory.buffer),
    }
  } catch {
    kernel = null
  }
  return kernel
}

/** Whether the SIMD kernel is available here, and which path the last call took. */
export function kernelInfo(): { simd: boolean; lastPath: KernelPath | undefined } {
  return { simd: getKernel() !== null, lastPath }
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

/**
 * Runs the wasm kernel over the pair; null when a non-finite value (or a float64 overflow) showed
 * up, so that the caller reruns the JS kernel. In `auto` mode, when the exact loop still needs
 * the exact check for most groups (nearly every element is a new record, e.g. a ramp against
 * zeros: there the JS kernel's branches are all predictable and it is faster), the rest of the
 * pair goes to the JS kernel and the two parts are merged; `handedOff` tells.
 */
function runWasm(
  k: Kernel,
  actual: Float32Array | Float64Array,
  expected: Float32Array | Float64Array,
  tol: KernelTolerance,
  loop: Float32Loop,
): { stats: KernelStats; handedOff: boolean } | null {
  const { exports } = k
  const is32 = actual instanceof Float32Array
  const view = is32 ? k.f32 : k.f64
  const chunk = is32 ? CHUNK32 : CHUNK64
  const eStart = E_OFFSET / view.BYTES_PER_ELEMENT
  const n = actual.length
  exports.init(tol.atol, tol.rtol)
  let exactLeft = loop === 'exact' ? Number.POSITIVE_INFINITY : 0
  let exactSpan = EXACT_CHUNKS
  let done = n
  for (let off = 0; off < n; off += chunk) {
    const len = Math.min(n - off, chunk)
    view.set(actual.subarray(off, off + len), 0)
    view.set(expected.subarray(off, off + len), eStart)
    // status: 1 = poisoned; status >>> 1 = level-2 checks, out of len / 8 groups
    let status: number
    if (!is32 || exactLeft > 0) {
      if (is32) exactLeft--
      status = is32 ? exports.chunk32x(len) : exports.chunk64(len)
      if (status & 1) return null
      if (loop === 'auto' && (status >>> 1) * 16 > len) {
        done = off + len
        break
      }
    } else {
      status = exports.chunk32(len)
      if (status & 1) return null
      // more than 1/8 of the groups checked costs more than the exact loop
      if (loop === 'auto' && (status >>> 1) * 64 > len) {
        exactLeft = exactSpan
        exactSpan = Math.min(2 * exactSpan, EXACT_CHUNKS_MAX)
      } else {
        exactSpan = EXACT_CHUNKS
      }
    }
  }
  exports.finish()
  const r = k.f64
  const o = RESULT_OFFSET / 8
  const sumAbs = r[o] as number
  const sumAbsExpected = r[o + 9] as number
  if (!Number.isFinite(sumAbs) || !Number.isFinite(sumAbsExpected)) return null
  const head: KernelStats = {
    n: done,
    sumAbs,
    maxAbs: r[o + 1] as number,
    argMaxAbs: r[o + 2] as number,
    minAbs: r[o + 3] as number,
    maxRel: r[o + 4] as number,
    argMaxRel: r[o + 5] as number,
    maxExcess: r[o + 6] as number,
    argMaxExcess: r[o + 7] as number,
    mismatches: r[o + 8] as number,
    sumAbsExpected,
    maxAbsExpected: r[o + 10] as number,
    minAbsExpected: r[o + 11] as number,
    actual: { nan: 0, posInf: 0, negInf: 0 },
    expected: { nan: 0, posInf: 0, negInf: 0 },
  }
  if (done === n) return { stats: head, handedOff: false }
  const rest = pairStatsJs(actual.subarray(done), expected.subarray(done), tol)
  return { stats: mergeStats(head, rest), handedOff: true }
}

/**
 * Whether the wasm kernel's level-1 filter is proven for this tolerance (see pair-stats.wat):
 * atol finite and rtol 0 or in [2^-60, 1]. Anything else (NaN, negative or huge rtol) goes to JS.
 */
function wasmTolerance(tol: KernelTolerance): boolean {
  const { atol, rtol } = tol
  return Number.isFinite(atol) && (rtol === 0 || (rtol >= 2 ** -60 && rtol <= 1))
}

/**
 * The statistics of a pair of equally long arrays: {@link pairStatsJs}'s result, computed by the
 * SIMD kernel when the pair allows it.
 */
export function pairStats(
  actual: NumericArray,
  expected: NumericArray,
  tol: KernelTolerance,
  options: { float32Loop?: Float32Loop } = {},
): KernelStats {
  const n = actual.length
  if (expected.length !== n) throw new RangeError(`length ${n} != ${expected.length}`)
  if (n >= WASM_MIN_LENGTH) {
    const both32 = actual instanceof Float32Array && expected instanceof Float32Array
    const both64 = actual instanceof Float64Array && expected instanceof Float64Array
    if ((both32 || both64) && wasmTolerance(tol)) {
      const k = getKernel()
      if (k !== null) {
        const run = runWasm(k, actual, expected, tol, options.float32Loop ?? 'auto')
        if (run !== null) {
          lastPath = both32 ? 'wasm-f32' : 'wasm-f64'
          if (run.handedOff) lastPath = both32 ? 'wasm-f32+js' : 'wasm-f64+js'
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
