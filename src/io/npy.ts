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

import type { NdArray } from '../compare/dtype.js'
import { AlignInputError, AlignOptionsError } from '../compare/errors.js'
import { type ArrayInput, isRecordNode, normalize } from '../compare/tensor-like.js'
import { NpyFormatError, NpyHeaderError, WriteError } from './errors.js'
import { type FileErrorClass, readFileGated, writeFileGated } from './file-gate.js'
import { maxFileBytes, resolveLimits, sourceOf } from './limits.js'
import {
  MAX_NDIM,
  type NpyHeader,
  npyHeaderLength,
  npyHeaderText,
  parseNpyHeader,
  writeNpyHeader,
} from './npy-header.js'
import { parseDescr, type ResolvedDescr } from './numpy-dtype.js'
import { boundedCount, decodeRawArray, littleEndianBytes, pyShape } from './raw-array.js'
import type { ReadLimits, ReadOptions } from './types.js'

/** Options of {@link encodeNpy}. */
export interface EncodeNpyOptions {
  /** Format version; default 1.0, or 2.0 when the header does not fit in 1.0 (as numpy does). */
  version?: 1 | 2 | 3
}

/**
 * The bytes of the input: a path goes through the file gate (a regular file, at most
 * `maxFileBytes`), a Uint8Array is used as is (no copy), an ArrayBuffer or another view is
 * viewed. Anything else is an `Err` naming `source`.
 */
export function inputBytes(
  input: unknown,
  source: string,
  Err: FileErrorClass,
  maxFileBytes: number,
): Uint8Array {
  if (input instanceof Uint8Array) return input
  if (input instanceof ArrayBuffer) return new Uint8Array(input)
  if (ArrayBuffer.isView(input))
    return new Uint8Array(input.buffer, input.byteOffset, input.byteLength)
  return readFileGated(input, source, Err, maxFileBytes)
}

/**
 * Reads and checks the magic, the version, the header length and the header's syntax. The
 * descr is returned as written (a `|O` pickle header parses too); {@link readNpy} resolves it.
 */
export function readNpyHeader(bytes: Uint8Array, options: ReadOptions = {}): NpyHeader {
  return parseNpyHeader(bytes, sourceOf(bytes, options), resolveLimits(options).maxHeaderBytes)
}

/**
 * Reads an `.npy` from a path, a Uint8Array or an ArrayBuffer. The returned data is a view into
 * the input where the data is aligned for its type and needs no reordering (little endian on
 * this machine, C order or at most one non-trivial axis); otherwise a copy. A view shares
 * memory with the input: writing to one changes the other. An array stored in Fortran order
 * comes back in C order, marked `order: 'F'`.
 */
export function readNpy(
  input: string | Uint8Array | ArrayBuffer,
  options: ReadOptions = {},
): NdArray {
  const source = sourceOf(input, options)
  const limits = resolveLimits(options)
  const bytes = inputBytes(input, source, NpyFormatError, maxFileBytes('npy', limits))
  return decodeNpy(bytes, source, limits)
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
  let resolved: ResolvedDescr
  try {
    resolved = parseDescr(header.descr)
  } catch (e) {
    if (e instanceof NpyHeaderError) return fail(e.message)
    throw e
  }
  const { itemsize } = resolved
  const { shape, dataOffset } = header
  const what = `shape ${pyShape(shape)} of '${header.descr}'`
  const count =
    boundedCount(shape, itemsize, limits.maxArrayBytes) ??
    fail(`${what} needs more than maxArrayBytes (${limits.maxArrayBytes}) bytes`)
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
    return decodeRawArray(bytes, dataOffset, count, resolved, header.fortranOrder, shape)
  } catch (e) {
    // A copy that the memory cannot hold (the sizes were checked; this is the machine's limit).
    if (e instanceof RangeError) {
      return fail(`cannot allocate ${nbytes} bytes for ${what}: ${e.message}`)
    }
    throw e
  }
}

/** A record to write, as the `.npz` and `.safetensors` writers take it. */
export type RecordInput = { readonly [key: string]: ArrayInput } | ReadonlyMap<string, ArrayInput>

/**
 * The entries of a record to write, in its order, each key a non-empty string; anything that is
 * not a plain object or a Map is a WriteError naming `source`.
 */
export function recordEntries(record: RecordInput, source: string): [string, ArrayInput][] {
  if (
    record === null ||
    typeof record !== 'object' ||
    ArrayBuffer.isView(record) ||
    Array.isArray(record)
  ) {
    throw new WriteError(source, undefined, 'expected a record of arrays (a plain object or a Map)')
  }
  const pairs: [string, ArrayInput][] =
    record instanceof Map ? [...record] : Object.entries(record as { [key: string]: ArrayInput })
  for (const [key] of pairs) {
    if (typeof key !== 'string' || key === '')
      throw new WriteError(source, String(key), 'a key must be a non-empty string')
  }
  return pairs
}

/** The input as one NdArray to write, or a WriteError naming `source` (and `key`) and the reason. */
export function arrayToWrite(array: ArrayInput, source: string, key?: string): NdArray {
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
 * Encodes an array as `.npy` bytes, exactly as `np.save` writes it: C order, little endian
 * (`<f4`, `|u1`, `|b1`, `<f2` for float16 bits), the data aligned to 64 bytes.
 */
export function encodeNpy(
  array: ArrayInput,
  options: EncodeNpyOptions = {},
): Uint8Array<ArrayBuffer> {
  return encodeNdArray(arrayToWrite(array, '<bytes>'), options.version, '<bytes>')
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
  let v = version ?? 1
  let headerLength = npyHeaderLength(text, v)
  // numpy's rule: 1.0 unless the header length overflows its uint16, then 2.0. Within 64
  // dimensions the header stays under 1.5 KB, so this only guards a future MAX_NDIM.
  if (v === 1 && headerLength > 0xffff) {
    if (version === 1) {
      const reason = `a header of ${headerLength} bytes does not fit format 1.0`
      throw new WriteError(source, undefined, reason)
    }
    v = 2
    headerLength = npyHeaderLength(text, v)
  }
  const data = littleEndianBytes(nd)
  const byteLength = (v === 1 ? 10 : 12) + headerLength + data.length
  return { version: v, text, headerLength, data, byteLength }
}

/** Writes the parts at `out[at]`, `parts.byteLength` bytes. */
export function writeNpyParts(out: Uint8Array, at: number, parts: NpyParts): void {
  const dataAt = writeNpyHeader(out, at, parts.version, parts.text, parts.headerLength)
  out.set(parts.data, dataAt)
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

/** Writes {@link encodeNpy}'s bytes to `path`; errors are WriteErrors naming the path. */
export function writeNpy(path: string, array: ArrayInput, options: EncodeNpyOptions = {}): void {
  const source = typeof path === 'string' ? path : '<argument>'
  const bytes = encodeNdArray(arrayToWrite(array, source), options.version, source)
  writeFileGated(path, bytes)
}
