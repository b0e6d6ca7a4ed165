/**
 * `.npy` reading and writing: format versions 1.0, 2.0 and 3.0, every numeric dtype and bool,
 * either byte order, C and Fortran order, 0-d and empty arrays. Untrusted bytes are checked
 * (magic, version, header length, header syntax, dtype, shape, size against the limits and
 * against the bytes present) before anything is allocated; every failure is an
 * {@link NpyFormatError} naming the source and the reason.
 *
 * What npyjs 1.2.0 does, and why this module does not call it at run time:
 * - `parse(buf)` needs an ArrayBuffer that starts at the file's magic. A Node Buffer from
 *   `readFileSync` (pooled, non-zero byteOffset) or a stored `.npz` member is a view at an
 *   offset, so calling it would first copy the whole file: the opposite of the no-copy rule.
 * - Its header parsing is three regexes that accept a missing key, a NaN or negative dimension
 *   and duplicate keys (see `npy-header.ts`); version 3.0 headers are decoded as latin1, not utf8.
 *   The header is parsed here by a strict parser instead.
 * - Its data view is `new Float32Array(buf, dataOffset)`: not bounded by the shape (it runs to
 *   the end of the buffer), a RangeError when the offset is not aligned or the trailing byte
 *   count is not a multiple of the item size, `Unsupported dtype` for big endian, a plain
 *   `boolean[]` for bool, float16 converted to float32 by default, and Fortran-order data left
 *   column-major. Once the header is validated, building the bounded view is one line here
 *   (`new Ctor(buffer, offset, count)`); wrapping npyjs would mean slicing its view and still
 *   handling every one of those cases ourselves.
 * - `dump()` pads the header to a multiple of 8, not 64 as numpy does (64 keeps the data of
 *   every dtype aligned, so a reader can view it without a copy), writes `<b1` for bool where
 *   numpy writes `|b1`, and formats the dict differently from numpy. The writer below is ~30
 *   lines and writes the very bytes `np.save` writes for the same array.
 * npyjs stays the reference the tests compare against where it is right (little endian, C order).
 */

import { Buffer } from 'node:buffer'
import { readFileSync, statSync, writeFileSync } from 'node:fs'
import {
  type DType,
  type NdArray,
  STORAGE,
  type StorageOf,
  type TypedArray,
} from '../compare/dtype.js'
import { AlignInputError, AlignOptionsError } from '../compare/errors.js'
import { type ArrayInput, isRecordNode, normalize } from '../compare/tensor-like.js'
import { type FileFormatError, NpyFormatError, WriteError } from './errors.js'
import {
  descrOf,
  itemsizeOf,
  MAX_NDIM,
  NpyHeaderError,
  nativeLittleEndian,
  parseDescr,
  parseHeaderDict,
} from './npy-header.js'
import { DEFAULT_LIMITS, type ReadLimits, type ReadOptions } from './types.js'

/** The six bytes every `.npy` starts with. */
export const NPY_MAGIC: Uint8Array = Uint8Array.of(0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59)

/** numpy aligns the start of the data to this many bytes. */
export const NPY_ALIGN = 64

/** What an `.npy` header says, once its syntax is checked (the descr is not yet resolved). */
export interface NpyHeader {
  /** Format major version: 1 (uint16 header length), 2 (uint32), 3 (uint32, utf8 header). */
  readonly version: 1 | 2 | 3
  readonly descr: string
  readonly fortranOrder: boolean
  readonly shape: readonly number[]
  /** Where the data starts, counted from the magic. */
  readonly dataOffset: number
}

/** Options of {@link encodeNpy}. */
export interface EncodeNpyOptions {
  /** Format version; default 1.0, or 2.0 when the header does not fit in 1.0 (as numpy does). */
  version?: 1 | 2 | 3
}

type ErrorClass = new (source: string, key: string | undefined, reason: string) => FileFormatError

/** The limits with every default filled in; refuses a limit that is not a number >= 0. */
export function resolveLimits(options: ReadLimits = {}): Required<ReadLimits> {
  const out = { ...DEFAULT_LIMITS }
  for (const name of Object.keys(DEFAULT_LIMITS) as (keyof ReadLimits)[]) {
    const v = options[name]
    if (v === undefined) continue
    // NaN would make every `size > limit` test false, i.e. no limit at all.
    if (typeof v !== 'number' || Number.isNaN(v) || v < 0) {
      throw new AlignOptionsError(name, `must be a number >= 0 (Infinity for no limit), got ${v}`)
    }
    out[name] = v
  }
  return out
}

/** The name errors give the bytes: `options.source`, else the path, else `<bytes>`. */
export function sourceOf(input: unknown, options: ReadOptions = {}): string {
  return options.source ?? (typeof input === 'string' ? input : '<bytes>')
}

/**
 * The bytes of a path, a Uint8Array (used as is, no copy) or an ArrayBuffer. A file larger than
 * `maxFileBytes` is refused from its size, before it is read. Read errors become `Err`.
 */
export function readInputBytes(
  input: string | Uint8Array | ArrayBuffer,
  source: string,
  Err: ErrorClass,
  maxFileBytes = Number.POSITIVE_INFINITY,
): Uint8Array {
  if (typeof input === 'string') {
    let bytes: Uint8Array
    try {
      const size = statSync(input).size
      if (size > maxFileBytes) {
        throw new Err(source, undefined, `file of ${size} bytes is larger than the limits allow`)
      }
      bytes = readFileSync(input)
    } catch (e) {
      if (e instanceof Err) throw e
      const err = new Err(source, undefined, `cannot read the file: ${(e as Error).message}`)
      err.cause = e
      throw err
    }
    return bytes
  }
  if (input instanceof Uint8Array) return input
  if (input instanceof ArrayBuffer) return new Uint8Array(input)
  if (ArrayBuffer.isView(input)) {
    const v = input as ArrayBufferView
    return new Uint8Array(v.buffer, v.byteOffset, v.byteLength)
  }
  const got = input === null ? 'null' : typeof input
  throw new Err(source, undefined, `expected a path, a Uint8Array or an ArrayBuffer, got ${got}`)
}

/** `(2, 3)`, `(5,)`, `()`: a shape as Python writes a tuple. */
export function pyShape(shape: readonly number[]): string {
  return shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`
}

function printable(bytes: Uint8Array): string {
  let s = ''
  for (const b of bytes) s += b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : `\\x${hex2(b)}`
  return s
}
const hex2 = (b: number): string => b.toString(16).padStart(2, '0')

/**
 * Reads and checks the magic, the version, the header length and the header's syntax. The
 * descr is returned as written (a `|O` pickle header parses too); {@link readNpy} resolves it.
 */
export function readNpyHeader(bytes: Uint8Array, options: ReadOptions = {}): NpyHeader {
  return parseNpyHeader(bytes, options.source ?? '<bytes>', resolveLimits(options).maxHeaderBytes)
}

/** {@link readNpyHeader} with its parameters resolved; errors name `source` and `key`. */
export function parseNpyHeader(
  bytes: Uint8Array,
  source: string,
  maxHeaderBytes: number,
  key?: string,
): NpyHeader {
  const fail = (reason: string): never => {
    throw new NpyFormatError(source, key, reason)
  }
  const head = bytes.subarray(0, 8)
  if (bytes.length < 6 || !NPY_MAGIC.every((b, i) => bytes[i] === b)) {
    const zip = bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 3 && bytes[3] === 4
    fail(
      bytes.length === 0
        ? 'not an .npy file: empty'
        : `not an .npy file: it starts with "${printable(head)}", not the magic "\\x93NUMPY"${zip ? ' (it is a zip archive: read it with readNpz)' : ''}`,
    )
  }
  if (bytes.length < 8) fail(`truncated: ${bytes.length} bytes, the magic and version need 8`)
  const major = bytes[6] as number
  const minor = bytes[7] as number
  if (!(major === 1 || major === 2 || major === 3) || minor !== 0) {
    fail(`unsupported .npy format version ${major}.${minor} (numpy writes 1.0, 2.0 and 3.0)`)
  }
  const lenSize = major === 1 ? 2 : 4
  const preamble = 8 + lenSize
  if (bytes.length < preamble) {
    fail(
      `truncated: ${bytes.length} bytes, the header length of version ${major}.0 ends at ${preamble}`,
    )
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, preamble)
  const headerLength = major === 1 ? dv.getUint16(8, true) : dv.getUint32(8, true)
  if (headerLength > maxHeaderBytes) {
    fail(`header of ${headerLength} bytes is over maxHeaderBytes (${maxHeaderBytes})`)
  }
  if (preamble + headerLength > bytes.length) {
    fail(
      `truncated header: it claims ${headerLength} bytes but only ${bytes.length - preamble} follow the header length`,
    )
  }
  const raw = bytes.subarray(preamble, preamble + headerLength)
  let text: string
  if (major === 3) {
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(raw)
    } catch {
      return fail('the version 3.0 header is not valid utf-8')
    }
  } else {
    // Real latin1 (TextDecoder('latin1') is windows-1252 in WHATWG); only quoted strings could
    // hold non-ASCII characters anyway.
    text = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('latin1')
  }
  let dict: ReturnType<typeof parseHeaderDict>
  try {
    dict = parseHeaderDict(text)
  } catch (e) {
    if (e instanceof NpyHeaderError) return fail(e.message)
    throw e
  }
  return { version: major as 1 | 2 | 3, ...dict, dataOffset: preamble + headerLength }
}

type ViewCtor<D extends DType> = new (
  buffer: ArrayBufferLike,
  byteOffset: number,
  length: number,
) => StorageOf[D]

/** The constructor that views each dtype's storage over a buffer (the core's table). */
const VIEW = STORAGE as unknown as { readonly [D in DType]: ViewCtor<D> }

/**
 * Reads an `.npy` from a path, a Uint8Array or an ArrayBuffer. The returned data is a view into
 * the input where the data is aligned for its type and needs no reordering (little endian on
 * this machine, C order or at most one non-trivial axis); otherwise a copy. A view shares
 * memory with the input: writing to one changes the other.
 */
export function readNpy(
  input: string | Uint8Array | ArrayBuffer,
  options: ReadOptions = {},
): NdArray {
  const source = sourceOf(input, options)
  const limits = resolveLimits(options)
  // A file cannot be longer than the largest header plus the largest array.
  const maxFile = 12 + limits.maxHeaderBytes + limits.maxArrayBytes
  return decodeNpy(readInputBytes(input, source, NpyFormatError, maxFile), source, limits)
}

/**
 * {@link readNpy} of bytes already in memory, with the limits resolved. Errors are
 * NpyFormatErrors naming `source` and `key` (the `.npz` reader passes the member's key).
 */
export function decodeNpy(
  bytes: Uint8Array,
  source: string,
  limits: Required<ReadLimits>,
  key?: string,
): NdArray {
  const header = parseNpyHeader(bytes, source, limits.maxHeaderBytes, key)
  const fail = (reason: string): never => {
    throw new NpyFormatError(source, key, reason)
  }

  let resolved: ReturnType<typeof parseDescr>
  try {
    resolved = parseDescr(header.descr)
  } catch (e) {
    if (e instanceof NpyHeaderError) return fail(e.message)
    throw e
  }
  const { itemsize } = resolved
  const { shape, dataOffset } = header
  const what = `shape ${pyShape(shape)} of '${header.descr}'`

  // Element count, checked against maxArrayBytes step by step so no product is ever inexact
  // below the limit; a zero dimension makes the array empty whatever the others are.
  let count = shape.includes(0) ? 0 : 1
  if (count > 0) {
    for (const d of shape) {
      count *= d
      if (count * itemsize > limits.maxArrayBytes) {
        fail(`${what} needs more than maxArrayBytes (${limits.maxArrayBytes}) bytes`)
      }
    }
  }
  const nbytes = count * itemsize
  const present = bytes.length - dataOffset
  if (present < nbytes) {
    const needs = Number.isSafeInteger(nbytes) ? `${nbytes}` : 'more than 2^53'
    fail(`truncated data: ${what} needs ${needs} bytes after the header, ${present} are present`)
  }
  if (present > nbytes) {
    fail(
      `${present - nbytes} trailing bytes: ${what} needs exactly ${nbytes} bytes after the header, ${present} are present`,
    )
  }

  try {
    return arrayOf(bytes, dataOffset, count, resolved, header.fortranOrder, shape)
  } catch (e) {
    // A copy that the memory cannot hold (the sizes were checked; this is the machine's limit).
    if (e instanceof RangeError)
      return fail(`cannot allocate ${nbytes} bytes for ${what}: ${e.message}`)
    throw e
  }
}

/** The array of `count` elements at `bytes[dataOffset]`: a view when possible, else a copy. */
function arrayOf(
  bytes: Uint8Array,
  dataOffset: number,
  count: number,
  { dtype, itemsize, littleEndian }: ReturnType<typeof parseDescr>,
  fortranOrder: boolean,
  shape: readonly number[],
): NdArray {
  const nbytes = count * itemsize
  // Aligned bytes in native order: a view when possible, else one copy.
  const swap = itemsize > 1 && littleEndian !== nativeLittleEndian
  let buffer: ArrayBufferLike = bytes.buffer
  let offset = bytes.byteOffset + dataOffset
  if (swap) {
    buffer = byteswap(bytes.subarray(dataOffset, dataOffset + nbytes), itemsize).buffer
    offset = 0
  } else if (offset % itemsize !== 0) {
    // `new Uint8Array(view)` copies; `bytes.slice` would not for a Node Buffer (it is subarray).
    buffer = new Uint8Array(bytes.subarray(dataOffset, dataOffset + nbytes)).buffer
    offset = 0
  }
  // Fortran order: transpose into C order. Needless when at most one axis is longer than 1.
  if (fortranOrder && shape.filter((d) => d > 1).length > 1) {
    buffer = fortranToC(buffer, offset, count, itemsize, shape)
    offset = 0
  }
  let data = new VIEW[dtype](buffer, offset, count) as TypedArray
  if (dtype === 'bool') data = boolBytes(data as Uint8Array)
  return { data, shape: [...shape], dtype } as NdArray
}

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

/** A copy with every `itemsize`-byte element reversed. */
function byteswap(src: Uint8Array, itemsize: number): Uint8Array {
  const out = new Uint8Array(src.length)
  const last = itemsize - 1
  for (let i = 0; i < src.length; i += itemsize) {
    for (let b = 0; b < itemsize; b++) out[i + b] = src[i + last - b] as number
  }
  return out
}

/** Lanes of one element: 8-byte elements move as two Uint32 lanes (no BigInt per element). */
function lanesOf(buffer: ArrayBufferLike, offset: number, count: number, itemsize: number) {
  if (itemsize === 1) return new Uint8Array(buffer, offset, count)
  if (itemsize === 2) return new Uint16Array(buffer, offset, count)
  return new Uint32Array(buffer, offset, count * (itemsize / 4))
}

/** Column-major data of `shape` copied into row-major order (a new buffer). */
function fortranToC(
  buffer: ArrayBufferLike,
  offset: number,
  count: number,
  itemsize: number,
  shape: readonly number[],
): ArrayBuffer {
  const src = lanesOf(buffer, offset, count, itemsize)
  const out = new ArrayBuffer(count * itemsize)
  const dst = lanesOf(out, 0, count, itemsize)
  const nd = shape.length
  const dims = Float64Array.from(shape)
  // Fortran strides in elements: the first axis varies fastest.
  const stride = new Float64Array(nd)
  for (let k = 0, s = 1; k < nd; k++) {
    stride[k] = s
    s *= dims[k] as number
  }
  const idx = new Float64Array(nd)
  let s = 0
  const wide = itemsize === 8
  for (let i = 0; i < count; i++) {
    if (wide) {
      dst[2 * i] = src[2 * s] as number
      dst[2 * i + 1] = src[2 * s + 1] as number
    } else dst[i] = src[s] as number
    // Next C-order index: the last axis varies fastest.
    for (let k = nd - 1; k >= 0; k--) {
      s += stride[k] as number
      idx[k] = (idx[k] as number) + 1
      if ((idx[k] as number) < (dims[k] as number)) break
      s -= (stride[k] as number) * (dims[k] as number)
      idx[k] = 0
    }
  }
  return out
}

/** The input as one NdArray, or a WriteError naming `source` (and `key`) and the reason. */
export function toNdArray(array: ArrayInput, source: string, key?: string): NdArray {
  let node: ReturnType<typeof normalize>
  try {
    node = normalize(array)
  } catch (e) {
    if (e instanceof AlignInputError) {
      const at = e.key === '' ? '' : ` (at '${e.key}')`
      throw new WriteError(source, key, `${e.reason}${at}`)
    }
    throw e
  }
  if (isRecordNode(node)) {
    throw new WriteError(
      source,
      key,
      key === undefined
        ? 'a record of arrays, not one array: write it with encodeNpz / writeNpz'
        : 'a nested record: an .npz holds flat names; flatten it (for instance to dotted keys) first',
    )
  }
  return node
}

/**
 * The header text numpy 1.24+ writes (before the alignment padding): the dict with its keys in
 * sorted order and a trailing ', ', then room for the growth axis to reach 21 digits.
 */
export function npyHeaderText(dtype: DType, shape: readonly number[]): string {
  const dict = `{'descr': '${descrOf(dtype)}', 'fortran_order': False, 'shape': ${pyShape(shape)}, }`
  return shape.length > 0 ? dict + ' '.repeat(21 - String(shape[0]).length) : dict
}

/**
 * Encodes an array as `.npy` bytes, exactly as `np.save` writes it: C order, little endian
 * (`<f4`, `|u1`, `|b1`, `<f2` for float16 bits), the data aligned to 64 bytes.
 */
export function encodeNpy(
  array: ArrayInput,
  options: EncodeNpyOptions = {},
): Uint8Array<ArrayBuffer> {
  return encodeNdArray(toNdArray(array, '<bytes>'), options.version, '<bytes>')
}

/**
 * An `.npy` laid out but not yet written: its header (ASCII text, padded) and its data bytes in
 * little-endian order (the input's own bytes where they already are). Lets the `.npz` writer
 * put the file straight into the archive, without an intermediate copy.
 */
export interface NpyParts {
  readonly version: 1 | 2 | 3
  /** The header dict text, before its padding. */
  readonly text: string
  /** The header length field: the text, the padding and the final newline. */
  readonly headerLength: number
  readonly data: Uint8Array
  /** The whole file's length. */
  readonly byteLength: number
}

/** Lays out the `.npy` of an already normalized array; `source` names it in errors. */
export function npyParts(nd: NdArray, version: 1 | 2 | 3 | undefined, source: string): NpyParts {
  if (version !== undefined && version !== 1 && version !== 2 && version !== 3) {
    throw new AlignOptionsError('version', `must be 1, 2 or 3, got ${String(version)}`)
  }
  if (nd.shape.length > MAX_NDIM) {
    throw new WriteError(
      source,
      undefined,
      `${nd.shape.length} dimensions: numpy reads at most ${MAX_NDIM} (32 before numpy 2)`,
    )
  }
  const text = npyHeaderText(nd.dtype, nd.shape)
  // The header is ASCII: its length in characters is its length in bytes. numpy pads it with
  // spaces and a final '\n' so that the data starts at a multiple of 64 (`_wrap_header`).
  const lengthFor = (v: 1 | 2 | 3) => {
    const unpadded = (v === 1 ? 10 : 12) + text.length + 1
    return text.length + 1 + (NPY_ALIGN - (unpadded % NPY_ALIGN))
  }
  let v = version ?? 1
  let headerLength = lengthFor(v)
  // numpy's rule: 1.0 unless the header length overflows its uint16, then 2.0. Within 64
  // dimensions the header stays under 1.5 KB, so this only guards a future MAX_NDIM.
  if (v === 1 && headerLength > 0xffff) {
    if (version === 1) {
      const reason = `a header of ${headerLength} bytes does not fit format 1.0`
      throw new WriteError(source, undefined, reason)
    }
    v = 2
    headerLength = lengthFor(v)
  }
  const data = littleEndianBytes(nd)
  const byteLength = (v === 1 ? 10 : 12) + headerLength + data.length
  return { version: v, text, headerLength, data, byteLength }
}

/** Writes the parts at `out[at]`, `parts.byteLength` bytes. */
export function writeNpyParts(out: Uint8Array, at: number, parts: NpyParts): void {
  const { version, text, headerLength } = parts
  out.set(NPY_MAGIC, at)
  out[at + 6] = version
  out[at + 7] = 0
  const dv = new DataView(out.buffer, out.byteOffset + at, 12)
  if (version === 1) dv.setUint16(8, headerLength, true)
  else dv.setUint32(8, headerLength, true)
  const start = at + (version === 1 ? 10 : 12)
  for (let i = 0; i < headerLength - 1; i++) {
    out[start + i] = i < text.length ? text.charCodeAt(i) : 0x20
  }
  out[start + headerLength - 1] = 0x0a
  out.set(parts.data, start + headerLength)
}

/** {@link encodeNpy} for an already normalized array; `source` names it in errors. */
export function encodeNdArray(
  nd: NdArray,
  version: 1 | 2 | 3 | undefined,
  source: string,
): Uint8Array<ArrayBuffer> {
  const parts = npyParts(nd, version, source)
  const out = new Uint8Array(parts.byteLength)
  writeNpyParts(out, 0, parts)
  return out
}

/** The data's bytes in little-endian order: the data itself where it already is. */
function littleEndianBytes(nd: NdArray): Uint8Array {
  const d = nd.data
  let bytes = new Uint8Array(d.buffer, d.byteOffset, d.byteLength)
  if (nd.dtype === 'bool' && bytes.some((b) => b > 1)) bytes = bytes.map((b) => (b ? 1 : 0))
  const itemsize = itemsizeOf(nd.dtype)
  return itemsize > 1 && !nativeLittleEndian ? byteswap(bytes, itemsize) : bytes
}

/** Writes {@link encodeNpy}'s bytes to `path`; errors are WriteErrors naming the path. */
export function writeNpy(path: string, array: ArrayInput, options: EncodeNpyOptions = {}): void {
  const bytes = encodeNdArray(toNdArray(array, path), options.version, path)
  writeBytes(path, bytes)
}

/** Writes bytes to a path; a failure is a WriteError naming the path. */
export function writeBytes(path: string, bytes: Uint8Array): void {
  try {
    writeFileSync(path, bytes)
  } catch (e) {
    const err = new WriteError(path, undefined, `cannot write the file: ${(e as Error).message}`)
    err.cause = e
    throw err
  }
}
