/**
 * The raw-array codec every format shares (`.npy`, `.npz` members, pickled ndarrays): bytes of
 * a dtype in a byte order and a memory order, to and from an {@link NdArray}. Reading gives C
 * order data in native byte order, as a view of the input where it can (aligned, native, C
 * order), else one copy; an array the file held in Fortran order is marked `order: 'F'` (its
 * data is still C order) so that renderers can sum in numpy's memory order.
 */
import {
  type DType,
  type NdArray,
  STORAGE,
  type StorageOf,
  type TypedArray,
} from '../compare/dtype.js'
import { itemsizeOf, nativeLittleEndian, type ResolvedDescr } from './numpy-dtype.js'

/** `(2, 3)`, `(5,)`, `()`: a shape as Python writes a tuple. */
export function pyShape(shape: readonly number[]): string {
  return shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`
}

/**
 * The element count of `shape` when `count * itemsize` stays within `maxBytes`, else
 * `undefined`. Checked dimension by dimension, so no product is ever inexact below the limit;
 * a zero dimension makes the array empty whatever the others are. With no limit, a count
 * beyond 2^53 is `Infinity` (no such array can be present).
 */
export function boundedCount(
  shape: readonly number[],
  itemsize: number,
  maxBytes: number,
): number | undefined {
  if (shape.includes(0)) return 0
  let count = 1
  for (const d of shape) {
    count *= d
    if (count * itemsize > maxBytes) return undefined
    if (!Number.isSafeInteger(count)) return Number.POSITIVE_INFINITY
  }
  return count
}

/** A copy with every `itemsize`-byte element reversed. */
export function byteswap(src: Uint8Array, itemsize: number): Uint8Array {
  const out = new Uint8Array(src.length)
  const last = itemsize - 1
  for (let i = 0; i < src.length; i += itemsize) {
    for (let b = 0; b < itemsize; b++) out[i + b] = src[i + last - b] as number
  }
  return out
}

/** `count` lanes of `size` bytes (1, 2 or 4) over a buffer. */
function lanesOf(buffer: ArrayBufferLike, offset: number, count: number, size: number) {
  if (size === 1) return new Uint8Array(buffer, offset, count)
  if (size === 2) return new Uint16Array(buffer, offset, count)
  return new Uint32Array(buffer, offset, count)
}

/** Column-major data of `shape` copied into row-major order (a new buffer). */
function fortranToC(
  buffer: ArrayBufferLike,
  offset: number,
  count: number,
  itemsize: number,
  shape: readonly number[],
): ArrayBufferLike {
  // Fortran strides in elements: the first axis varies fastest.
  const stride: number[] = []
  for (let k = 0, s = 1; k < shape.length; k++) {
    stride.push(s)
    s *= shape[k] as number
  }
  return gatherStrided(new Uint8Array(buffer, offset, count * itemsize), 0, shape, stride, itemsize)
    .buffer
}

type ViewCtor<D extends DType> = new (
  buffer: ArrayBufferLike,
  byteOffset: number,
  length: number,
) => StorageOf[D]

/** The constructor that views each dtype's storage over a buffer (the core's table). */
const VIEW = STORAGE as unknown as { readonly [D in DType]: ViewCtor<D> }

/**
 * numpy stores bool as one byte, 0 or 1. Any other byte (a hand-made file) is True to numpy;
 * the NdArray contract is 0/1, so such data is copied and set to 1 (the input is not changed).
 */
function boolBytes(data: Uint8Array): Uint8Array {
  let i = 0
  while (i < data.length && (data[i] as number) <= 1) i++
  if (i === data.length) return data
  const out = new Uint8Array(data)
  for (; i < out.length; i++) if ((out[i] as number) > 1) out[i] = 1
  return out
}

/**
 * The array of `count` elements at `bytes[offset]` (the caller checked that they are present):
 * a view when aligned, native and C order (or Fortran order with at most one axis longer than
 * 1, where both orders lay the elements out alike), else one copy.
 */
export function decodeRawArray(
  bytes: Uint8Array,
  offset: number,
  count: number,
  { dtype, itemsize, littleEndian }: ResolvedDescr,
  fortranOrder: boolean,
  shape: readonly number[],
): NdArray {
  const nbytes = count * itemsize
  const swap = itemsize > 1 && littleEndian !== nativeLittleEndian
  let buffer: ArrayBufferLike = bytes.buffer
  let at = bytes.byteOffset + offset
  if (swap) {
    buffer = byteswap(bytes.subarray(offset, offset + nbytes), itemsize).buffer
    at = 0
  } else if (at % itemsize !== 0) {
    // `new Uint8Array(view)` copies; `bytes.slice` would not for a Node Buffer (it is subarray).
    buffer = new Uint8Array(bytes.subarray(offset, offset + nbytes)).buffer
    at = 0
  }
  if (fortranOrder && shape.filter((d) => d > 1).length > 1) {
    buffer = fortranToC(buffer, at, count, itemsize, shape)
    at = 0
  }
  let data = new VIEW[dtype](buffer, at, count) as TypedArray
  if (dtype === 'bool') data = boolBytes(data as Uint8Array)
  const nd = { data, shape: [...shape], dtype } as NdArray
  return fortranOrder ? ({ ...nd, order: 'F' } as NdArray) : nd
}

/** The data's bytes, little endian and C order, bools as 0/1: the data itself where it is. */
export function littleEndianBytes(nd: NdArray): Uint8Array {
  const d = nd.data
  let bytes = new Uint8Array(d.buffer, d.byteOffset, d.byteLength)
  if (nd.dtype === 'bool' && bytes.some((b) => b > 1)) bytes = bytes.map((b) => (b ? 1 : 0))
  const itemsize = itemsizeOf(nd.dtype)
  return itemsize > 1 && !nativeLittleEndian ? byteswap(bytes, itemsize) : bytes
}

/**
 * The elements of a strided view (`offset` and `stride` in elements, as torch pickles them;
 * Fortran order is one such view) copied into a new row-major buffer, element by element as
 * whole lanes where `src` is aligned. The caller checked that every element lies in `src`.
 */
export function gatherStrided(
  src: Uint8Array,
  offset: number,
  shape: readonly number[],
  stride: readonly number[],
  itemsize: number,
): Uint8Array {
  const count = shape.reduce((a, b) => a * b, 1)
  const out = new Uint8Array(count * itemsize)
  if (count === 0) return out
  // 8-byte elements move as two Uint32 lanes (no BigInt per element); misaligned ones as bytes
  const aligned = src.byteOffset % Math.min(itemsize, 4) === 0
  const lanes = aligned ? (itemsize === 8 ? 2 : 1) : itemsize
  const unit = itemsize / lanes
  const from = aligned
    ? lanesOf(src.buffer, src.byteOffset, Math.floor(src.length / unit), unit)
    : src
  const to = aligned ? lanesOf(out.buffer, 0, count * lanes, unit) : out
  const nd = shape.length
  const idx = new Float64Array(nd)
  let s = offset
  for (let i = 0; i < count; i++) {
    for (let b = 0; b < lanes; b++) to[i * lanes + b] = from[s * lanes + b] as number
    // Next row-major index: the last axis varies fastest.
    for (let k = nd - 1; k >= 0; k--) {
      s += stride[k] as number
      idx[k] = (idx[k] as number) + 1
      if ((idx[k] as number) < (shape[k] as number)) break
      s -= (stride[k] as number) * (shape[k] as number)
      idx[k] = 0
    }
  }
  return out
}

/**
 * bfloat16 bits as float32 values: each is the top 16 bits of the float32, so exact. The value
 * is composed from the bytes in the stated order, so any host's byte order gives the same numbers.
 */
export function widenBf16(
  bytes: Uint8Array,
  offset: number,
  count: number,
  shape: readonly number[],
  littleEndian = true,
): NdArray {
  const out = new Float32Array(count)
  const bits = new Uint32Array(out.buffer)
  const [lo, hi] = littleEndian ? [0, 1] : [1, 0]
  for (let i = 0; i < count; i++) {
    const a = bytes[offset + 2 * i + lo] as number
    const b = bytes[offset + 2 * i + hi] as number
    bits[i] = ((b << 24) | (a << 16)) >>> 0
  }
  return { data: out, shape: [...shape], dtype: 'float32' }
}
