/**
 * Element types, named as numpy names them (TF.js uses the same names where they overlap), and
 * the TypedArray each is stored in.
 */

import type { NumericArray } from './stats.js'

/** Every dtype the compare core reads. */
export const DTYPES = [
  'bool',
  'int8',
  'int16',
  'int32',
  'int64',
  'uint8',
  'uint16',
  'uint32',
  'uint64',
  'float16',
  'float32',
  'float64',
] as const

/** An element type, as numpy names it. */
export type DType = (typeof DTYPES)[number]

/** Every TypedArray an {@link NdArray} may hold. */
export type TypedArray = NumericArray | BigInt64Array | BigUint64Array

/**
 * The storage of each dtype. float16 is held as its raw bits in a Uint16Array (Node 20 has no
 * Float16Array) and bool as 0/1 bytes in a Uint8Array, as numpy and TF.js store them.
 */
export interface StorageOf {
  bool: Uint8Array
  int8: Int8Array
  int16: Int16Array
  int32: Int32Array
  int64: BigInt64Array
  uint8: Uint8Array
  uint16: Uint16Array
  uint32: Uint32Array
  uint64: BigUint64Array
  float16: Uint16Array
  float32: Float32Array
  float64: Float64Array
}

/** The normalized array every input becomes: flat row-major data, a shape and a dtype. */
export interface NdArray<D extends DType = DType> {
  readonly data: StorageOf[D]
  readonly shape: readonly number[]
  readonly dtype: D
  /**
   * `'F'` when the file held the array in Fortran (column-major) order. `data` is always C
   * order; this only tells renderers that reproduce numpy's arithmetic (whose sums run in memory
   * order) which order numpy would have summed in.
   */
  readonly order?: 'C' | 'F'
}

/** A TypedArray constructor: a new array of a length, or a view of a buffer. */
type Ctor = {
  new (length: number): TypedArray
  new (buffer: ArrayBufferLike, byteOffset: number, length: number): TypedArray
  readonly name: string
}

/** The TypedArray constructor that stores each dtype. */
export const STORAGE: { readonly [D in DType]: Ctor } = {
  bool: Uint8Array,
  int8: Int8Array,
  int16: Int16Array,
  int32: Int32Array,
  int64: BigInt64Array,
  uint8: Uint8Array,
  uint16: Uint16Array,
  uint32: Uint32Array,
  uint64: BigUint64Array,
  float16: Uint16Array,
  float32: Float32Array,
  float64: Float64Array,
}

/** The dtype a TypedArray holds when nothing says otherwise (Uint8Array is uint8, not bool). */
export function dtypeOfStorage(data: TypedArray): DType | undefined {
  if (data instanceof Float32Array) return 'float32'
  if (data instanceof Float64Array) return 'float64'
  if (data instanceof Int32Array) return 'int32'
  if (data instanceof Uint8Array || data instanceof Uint8ClampedArray) return 'uint8'
  if (data instanceof Int8Array) return 'int8'
  if (data instanceof Int16Array) return 'int16'
  if (data instanceof Uint16Array) return 'uint16'
  if (data instanceof Uint32Array) return 'uint32'
  if (data instanceof BigInt64Array) return 'int64'
  if (data instanceof BigUint64Array) return 'uint64'
  return undefined
}

export function isDType(name: unknown): name is DType {
  return typeof name === 'string' && (DTYPES as readonly string[]).includes(name)
}

export function isFloat(dtype: DType): boolean {
  return dtype === 'float16' || dtype === 'float32' || dtype === 'float64'
}

export function isTypedArray(value: unknown): value is TypedArray {
  return ArrayBuffer.isView(value) && !(value instanceof DataView)
}

/**
 * Decodes IEEE 754 half-precision bits. Written here because Node 20 has neither Float16Array
 * nor Math.f16round; every float16 value is exact in float32.
 */
export function decodeFloat16(bits: Uint16Array): Float32Array {
  const out = new Float32Array(bits.length)
  for (let i = 0; i < bits.length; i++) {
    const h = bits[i] as number
    const sign = h & 0x8000 ? -1 : 1
    const exp = (h >> 10) & 0x1f
    const frac = h & 0x3ff
    if (exp === 0) out[i] = sign * frac * 2 ** -24
    else if (exp === 0x1f) out[i] = frac ? Number.NaN : sign * Number.POSITIVE_INFINITY
    else out[i] = sign * (1 + frac / 1024) * 2 ** (exp - 15)
  }
  return out
}

const f32Scratch = new Float32Array(1)
const u32Scratch = new Uint32Array(f32Scratch.buffer)

/**
 * The float16 bits nearest a float32 value (ties to even, overflow to ±Infinity, NaN kept a
 * NaN), as numpy's `npy_floatbits_to_halfbits`. `x` must be a float32 value (`Math.fround`).
 */
export function float32ToHalf(x: number): number {
  f32Scratch[0] = x
  const f = u32Scratch[0] as number
  const sign = (f >>> 16) & 0x8000
  const fexp = f & 0x7f800000
  let fsig = f & 0x007fffff
  if (fexp >= 0x47800000) {
    // Inf, NaN, or too large for a half
    if (fexp === 0x7f800000 && fsig !== 0) {
      // NaN: keep the top payload bits and make sure it stays a NaN
      const sig = fsig >>> 13
      return sign | 0x7c00 | (sig === 0 ? 1 : sig)
    }
    return sign | 0x7c00
  }
  if (fexp <= 0x38000000) {
    // a subnormal half, or zero
    if (fexp < 0x33000000) return sign
    fsig |= 0x00800000
    const shift = 126 - (fexp >>> 23)
    let sig = fsig >>> shift
    const rem = fsig & ((1 << shift) - 1)
    const half = 1 << (shift - 1)
    if (rem > half || (rem === half && (sig & 1) === 1)) sig++
    return sign | sig
  }
  // a normal half; a carry out of the significand rightly bumps the exponent (up to Inf)
  let bits = ((fexp - 0x38000000) >>> 13) | (fsig >>> 13)
  const rem = fsig & 0x1fff
  if (rem > 0x1000 || (rem === 0x1000 && (bits & 1) === 1)) bits++
  return sign | bits
}

/**
 * The array the statistics kernel reads: the data itself where it is a number TypedArray,
 * a decoded copy for float16 and a float64 copy for int64/uint64 (exact up to 2^53).
 */
export function numericView(array: NdArray): NumericArray {
  const { data, dtype } = array
  if (dtype === 'float16') return decodeFloat16(data as Uint16Array)
  if (data instanceof BigInt64Array || data instanceof BigUint64Array) {
    const out = new Float64Array(data.length)
    for (let i = 0; i < data.length; i++) out[i] = Number(data[i])
    return out
  }
  return data
}

/** One element as a JS number (bigints converted, float16 decoded). */
export function elementAt(array: NdArray, flat: number): number {
  const v = array.data[flat]
  if (v === undefined) return Number.NaN
  if (typeof v === 'bigint') return Number(v)
  return array.dtype === 'float16' ? (decodeFloat16(Uint16Array.of(v))[0] as number) : (v as number)
}
