/**
 * What numpy computes for reprod_log's statistics, bit for bit: `np.abs(a - b)` in numpy's
 * result dtype (float32 stays float32, uint8 wraps around), then `.mean()` with numpy's pairwise
 * summation, `.max()` and `.min()`.
 *
 * The summation is numpy's `pairwise_sum` (`numpy/core/src/umath/loops_utils.h.src`): below 8
 * elements a plain loop; up to 128 elements eight interleaved accumulators combined as
 * `((r0+r1)+(r2+r3))+((r4+r5)+(r6+r7))`, then the remaining elements one by one; above 128 the
 * two halves (the first a multiple of 8 long) summed recursively and added. The accumulator has
 * the sum's dtype (float32 for float32), so every addition rounds to it. `np.add.reduce` starts
 * from 0 and runs that loop once per chunk of the iterator's 8192-element buffer, adding each
 * chunk's sum to the total. The mean is then `sum / n` in the same dtype. All of it is checked
 * bit for bit against numpy 1.24 in test/io/numpy-sum.test.ts.
 */

import { type DType, decodeFloat16, float32ToHalf, type NdArray } from '../compare/dtype.js'

/** numpy's unroll block (`PW_BLOCKSIZE`). */
const BLOCK = 128
/** numpy's default buffer size, in elements (`np.getbufsize()`). */
export const NUMPY_BUFSIZE = 8192

type Values = ArrayLike<number>

/** Rounds a sum to the accumulator's precision: float32 (`Math.fround`) or float64 (as is). */
type Round = (x: number) => number
const F32: Round = Math.fround
const F64: Round = (x) => x

/** numpy's pairwise sum of `a[start, start + n)`, every addition rounded by `f`. */
function pairwise(a: Values, start: number, n: number, f: Round): number {
  if (n < 8) {
    let res = 0
    for (let i = 0; i < n; i++) res = f(res + (a[start + i] as number))
    return res
  }
  if (n <= BLOCK) {
    let r0 = a[start] as number
    let r1 = a[start + 1] as number
    let r2 = a[start + 2] as number
    let r3 = a[start + 3] as number
    let r4 = a[start + 4] as number
    let r5 = a[start + 5] as number
    let r6 = a[start + 6] as number
    let r7 = a[start + 7] as number
    const end = n - (n % 8)
    let i = 8
    for (; i < end; i += 8) {
      const p = start + i
      r0 = f(r0 + (a[p] as number))
      r1 = f(r1 + (a[p + 1] as number))
      r2 = f(r2 + (a[p + 2] as number))
      r3 = f(r3 + (a[p + 3] as number))
      r4 = f(r4 + (a[p + 4] as number))
      r5 = f(r5 + (a[p + 5] as number))
      r6 = f(r6 + (a[p + 6] as number))
      r7 = f(r7 + (a[p + 7] as number))
    }
    let res = f(f(f(r0 + r1) + f(r2 + r3)) + f(f(r4 + r5) + f(r6 + r7)))
    for (; i < n; i++) res = f(res + (a[start + i] as number))
    return res
  }
  let n2 = Math.floor(n / 2)
  n2 -= n2 % 8
  return f(pairwise(a, start, n2, f) + pairwise(a, start + n2, n - n2, f))
}

/** The accumulator of a sum: numpy sums float32 (and float16) in float32, the rest in float64. */
export type Accumulator = 'float32' | 'float64'

/**
 * One call of numpy's pairwise summation over all of `values` (the inner loop of
 * `np.add.reduce` on one chunk): every addition rounded to the accumulator's precision.
 */
export function pairwiseSum(values: Values, accumulator: Accumulator): number {
  return pairwise(values, 0, values.length, accumulator === 'float32' ? F32 : F64)
}

/**
 * `np.add.reduce` of a contiguous array, as numpy computes it: the total starts at 0 and the
 * pairwise sum of each `bufsize`-element chunk is added to it, in the accumulator's precision.
 * (numpy chunks through its buffer whether or not the reduction casts: checked against numpy
 * 1.24 on arrays up to 250,000 elements, and under `np.setbufsize(4096)`.)
 */
export function numpySum(values: Values, accumulator: Accumulator, bufsize = NUMPY_BUFSIZE) {
  const f = accumulator === 'float32' ? F32 : F64
  let total = 0
  for (let start = 0; start < values.length; start += bufsize) {
    const n = Math.min(bufsize, values.length - start)
    total = f(total + pairwise(values, start, n, f))
  }
  return total
}

/** The dtype numpy's `.mean()` returns for an array of `dtype` (integers and bools: float64). */
export function meanDtype(dtype: DType): 'float16' | 'float32' | 'float64' {
  return dtype === 'float16' || dtype === 'float32' ? dtype : 'float64'
}

/**
 * `ndarray.mean()` of a contiguous array of `dtype` whose elements are `values` (as doubles),
 * as numpy computes it (`numpy/core/_methods.py` `_mean`): float32 summed and divided by n in
 * float32; float16 summed in float32, divided in float32, then rounded to float16; float64,
 * integers and bools summed and divided in float64. NaN when empty, as numpy (which warns).
 */
export function numpyMean(values: Values, dtype: DType): number {
  const n = values.length
  if (dtype === 'float32') return Math.fround(numpySum(values, 'float32') / Math.fround(n))
  if (dtype === 'float16') {
    return halfToNumber(float32ToHalf(Math.fround(numpySum(values, 'float32') / Math.fround(n))))
  }
  return numpySum(values, 'float64') / n
}

let halfTable: Float32Array | undefined

/** The value of float16 bits, as a double. */
export function halfToNumber(bits: number): number {
  halfTable ??= decodeFloat16(Uint16Array.from({ length: 65536 }, (_, i) => i))
  return halfTable[bits & 0xffff] as number
}

/** The statistics reprod_log takes of |reference - candidate|, as numpy computes them. */
export interface AbsDiffStats {
  /** numpy's dtype of `np.abs(a - b)`. */
  readonly dtype: DType
  /** Number of elements. */
  readonly n: number
  /** `.mean()`, a float of {@link meanDtype}`(dtype)` as a double; NaN when empty. */
  readonly mean: number
  /** `.max()` in `dtype`: a number, a bigint for int64/uint64; undefined when empty. */
  readonly max: number | bigint | undefined
  /** `.min()` in `dtype`, as `max`. */
  readonly min: number | bigint | undefined
}

interface IntInfo {
  readonly bits: 8 | 16 | 32 | 64
  readonly signed: boolean
}

const INT_INFO: Partial<Record<DType, IntInfo>> = {
  int8: { bits: 8, signed: true },
  int16: { bits: 16, signed: true },
  int32: { bits: 32, signed: true },
  int64: { bits: 64, signed: true },
  uint8: { bits: 8, signed: false },
  uint16: { bits: 16, signed: false },
  uint32: { bits: 32, signed: false },
  uint64: { bits: 64, signed: false },
}

const FLOAT_BITS: Partial<Record<DType, number>> = { float16: 16, float32: 32, float64: 64 }

type Kind = 'b' | 'i' | 'f'
const kindOf = (d: DType): Kind => (d === 'bool' ? 'b' : FLOAT_BITS[d] ? 'f' : 'i')
const RANK: Record<Kind, number> = { b: 0, i: 1, f: 2 }

const intDtype = (bits: number, signed: boolean): DType =>
  `${signed ? 'int' : 'uint'}${bits}` as DType

/** numpy's `np.promote_types` over the dtypes this project reads. */
export function promoteTypes(a: DType, b: DType): DType {
  if (a === b) return a
  if (a === 'bool') return b
  if (b === 'bool') return a
  const fa = FLOAT_BITS[a]
  const fb = FLOAT_BITS[b]
  if (fa !== undefined && fb !== undefined) return fa >= fb ? a : b
  if (fa !== undefined || fb !== undefined) {
    // an integer and a float: the smallest float that holds both
    const int = INT_INFO[fa !== undefined ? b : a] as IntInfo
    const need = int.bits === 8 ? 16 : int.bits === 16 ? 32 : 64
    return `float${Math.max(need, (fa ?? fb) as number)}` as DType
  }
  const ia = INT_INFO[a] as IntInfo
  const ib = INT_INFO[b] as IntInfo
  if (ia.signed === ib.signed) return intDtype(Math.max(ia.bits, ib.bits), ia.signed)
  const signed = ia.signed ? ia : ib
  const unsigned = ia.signed ? ib : ia
  if (signed.bits > unsigned.bits) return intDtype(signed.bits, true)
  return unsigned.bits === 64 ? 'float64' : intDtype(unsigned.bits * 2, true)
}

/** numpy 1.x `np.min_scalar_type` of one value of `dtype`. */
function minScalarType(dtype: DType, value: number | bigint): DType {
  const kind = kindOf(dtype)
  if (kind === 'b') return 'bool'
  if (kind === 'f') {
    // the smallest float that holds the value without overflow; NaN and ±Inf fit in float16
    const v = Math.abs(Number(value))
    if (!Number.isFinite(v) || v < 65000) return 'float16'
    return v < 3.4e38 ? 'float32' : 'float64'
  }
  const v = BigInt(value)
  if (v >= 0n) {
    for (const bits of [8, 16, 32]) if (v < 1n << BigInt(bits)) return intDtype(bits, false)
    return 'uint64'
  }
  for (const bits of [8, 16, 32]) if (v >= -(1n << BigInt(bits - 1))) return intDtype(bits, true)
  return 'int64'
}

function firstValue(a: NdArray): number | bigint {
  const v = a.data[0]
  if (v === undefined) return 0
  return a.dtype === 'float16' ? halfToNumber(v as number) : v
}

/**
 * The dtype numpy 1.x gives `a - b`: `promote_types`, except that a 0-d operand against an
 * array of one or more dimensions counts by its value when its kind (bool < int < float) is not
 * above the array's (numpy 1.x value-based casting; numpy 2 dropped it).
 */
export function subtractDtype(a: NdArray, b: NdArray): DType {
  const scalarA = a.shape.length === 0
  if (scalarA !== (b.shape.length === 0)) {
    const [s, arr] = scalarA ? [a, b] : [b, a]
    if (RANK[kindOf(s.dtype)] <= RANK[kindOf(arr.dtype)]) {
      return promoteTypes(arr.dtype, minScalarType(s.dtype, firstValue(s)))
    }
  }
  return promoteTypes(a.dtype, b.dtype)
}

/** Every element as a double (float16 decoded, bigints rounded to the nearest double). */
function asNumbers(a: NdArray): ArrayLike<number> {
  if (a.dtype === 'float16') return decodeFloat16(a.data as Uint16Array)
  if (a.data instanceof BigInt64Array || a.data instanceof BigUint64Array) {
    return Float64Array.from(a.data, Number)
  }
  return a.data as ArrayLike<number>
}

function asBigInts(a: NdArray): ArrayLike<bigint> {
  if (a.data instanceof BigInt64Array || a.data instanceof BigUint64Array) return a.data
  return Array.from(asNumbers(a), (v) => BigInt(v))
}

/**
 * reprod_log's `np.abs(a - b)` and its mean, max and min, as numpy computes them, for two
 * arrays with the same number of elements, paired in flat row-major order (numpy's broadcast
 * whenever {@link broadcastShape} keeps the element count: see {@link pairsLikeNumpy}). `a` is
 * the reference: the order matters where unsigned integers wrap around. The mean sums in
 * numpy's memory order: Fortran order when both arrays are (`NdArray.order`, see
 * {@link fortranDims}). A max or min is NaN when any |Δ| is NaN, as in numpy. bool pairs,
 * which numpy refuses to subtract, are taken as int8 0/1.
 */
export function absDiffStats(a: NdArray, b: NdArray): AbsDiffStats {
  const n = a.data.length
  if (b.data.length !== n) throw new RangeError(`sizes differ: ${n} and ${b.data.length}`)
  let dtype = subtractDtype(a, b)
  if (dtype === 'bool') dtype = 'int8'
  const int = INT_INFO[dtype]
  if (int === undefined) return floatStats(a, b, dtype, n)
  // integers: subtract modulo 2^bits, then abs (the most negative value stays negative)
  const wrap = (v: bigint) =>
    int.signed ? BigInt.asIntN(int.bits, v) : BigInt.asUintN(int.bits, v)
  const x = asBigInts(a)
  const y = asBigInts(b)
  const diff = new Float64Array(n)
  let max: bigint | undefined
  let min: bigint | undefined
  for (let i = 0; i < n; i++) {
    let d = wrap((x[i] as bigint) - (y[i] as bigint))
    if (d < 0n) d = wrap(-d)
    diff[i] = Number(d)
    if (max === undefined || d > max) max = d
    if (min === undefined || d < min) min = d
  }
  const out = (v: bigint | undefined) => (v === undefined || int.bits === 64 ? v : Number(v))
  return {
    dtype,
    n,
    mean: numpyMean(inMemoryOrder(diff, a, b), dtype),
    max: out(max),
    min: out(min),
  }
}

const squeezed = (shape: readonly number[]) => shape.filter((d) => d !== 1)

/**
 * The axes longer than 1 of `a - b` when numpy lays it out in Fortran order, else undefined.
 * numpy's iterator (order 'K') follows its operands' strides and keeps C order whenever one
 * operand is in C order, so the result is Fortran-ordered only when both are (and have at
 * least two axes longer than 1: with fewer, C and Fortran order are one order).
 */
export function fortranDims(a: NdArray, b: NdArray): readonly number[] | undefined {
  const dims = squeezed(a.shape)
  const other = squeezed(b.shape)
  if (dims.length < 2 || a.order !== 'F' || b.order !== 'F') return undefined
  return dims.length === other.length && dims.every((d, i) => d === other[i]) ? dims : undefined
}

/** `values` (row-major over `dims`) in column-major order: a new array of the same type. */
function columnMajor<T extends Float32Array | Float64Array>(values: T, dims: readonly number[]): T {
  const out = new (values.constructor as { new (n: number): T })(values.length)
  const strides = new Array<number>(dims.length)
  let stride = 1
  for (let i = dims.length - 1; i >= 0; i--) {
    strides[i] = stride
    stride *= dims[i] as number
  }
  const index = new Array<number>(dims.length).fill(0)
  for (let p = 0; p < values.length; p++) {
    let at = 0
    for (let i = 0; i < dims.length; i++) at += (index[i] as number) * (strides[i] as number)
    out[p] = values[at] as number
    // the next column-major index: the first axis varies fastest
    for (let i = 0; i < dims.length; i++) {
      index[i] = (index[i] as number) + 1
      if ((index[i] as number) < (dims[i] as number)) break
      index[i] = 0
    }
  }
  return out
}

function inMemoryOrder<T extends Float32Array | Float64Array>(diff: T, a: NdArray, b: NdArray): T {
  const dims = fortranDims(a, b)
  return dims === undefined ? diff : columnMajor(diff, dims)
}

/** numpy's broadcast of two shapes, or undefined when numpy refuses them. */
export function broadcastShape(a: readonly number[], b: readonly number[]): number[] | undefined {
  const n = Math.max(a.length, b.length)
  const out = new Array<number>(n)
  for (let i = 1; i <= n; i++) {
    const x = a[a.length - i] ?? 1
    const y = b[b.length - i] ?? 1
    if (x !== y && x !== 1 && y !== 1) return undefined
    out[n - i] = x === 1 ? y : x
  }
  return out
}

/**
 * Whether numpy pairs `a - b` element by element as {@link absDiffStats} does: the same shape,
 * or shapes whose broadcast has no more elements (`()` with `(1,)`, `(1, 3)` with `(3,)`).
 * `(3, 1)` with `(3,)` broadcasts to `(3, 3)`, `(2, 1, 3)` with `(2, 3)` to `(2, 2, 3)`.
 */
export function pairsLikeNumpy(a: readonly number[], b: readonly number[]): boolean {
  const shape = broadcastShape(a, b)
  const size = (s: readonly number[]) => s.reduce((p, d) => p * d, 1)
  return shape !== undefined && size(shape) === size(a) && size(a) === size(b)
}

function floatStats(a: NdArray, b: NdArray, dtype: DType, n: number): AbsDiffStats {
  const x = asNumbers(a)
  const y = asNumbers(b)
  // Both sides are cast to the result dtype (exact when it widens them), subtracted in it;
  // float16 is subtracted in float32 and rounded to float16, as numpy's HALF_subtract.
  const round: (v: number) => number =
    dtype === 'float64'
      ? (v) => v
      : dtype === 'float32'
        ? Math.fround
        : (v) => halfToNumber(float32ToHalf(Math.fround(v)))
  const diff = dtype === 'float64' ? new Float64Array(n) : new Float32Array(n)
  let max = Number.NEGATIVE_INFINITY
  let min = Number.POSITIVE_INFINITY
  let nan = false
  for (let i = 0; i < n; i++) {
    const d = Math.abs(round(round(x[i] as number) - round(y[i] as number)))
    diff[i] = d
    if (Number.isNaN(d)) nan = true
    if (d > max) max = d
    if (d < min) min = d
  }
  return {
    dtype,
    n,
    mean: numpyMean(inMemoryOrder(diff, a, b), dtype),
    max: n === 0 ? undefined : nan ? Number.NaN : max,
    min: n === 0 ? undefined : nan ? Number.NaN : min,
  }
}
