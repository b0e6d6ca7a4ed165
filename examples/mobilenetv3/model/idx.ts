/**
 * The IDX format of MNIST and Fashion-MNIST, read safely: the files are the ones torchvision
 * reads, so the port reads the very same bytes.
 *
 * An IDX file is a big-endian header, `00 00 TT NN` (TT the element type, NN the number of
 * dimensions), then NN u32 dimensions, then the elements, row-major. Only `TT = 0x08` (uint8)
 * is accepted: it is the type of every (Fashion-)MNIST file, and the others would need a
 * byte-order conversion nothing here exercises. A gzip file (magic `1f 8b`) is inflated first.
 *
 * The bytes are untrusted, so nothing they claim is allocated before it is checked against
 * `maxBytes`: the header is parsed from the first inflated bytes and its declared size checked
 * before the element buffer is allocated, and the inflate is fed small chunks so no single step
 * can inflate far past the bound (deflate expands at most ~1032:1, so one chunk adds at most
 * about {@link INFLATE_CHUNK} x 1032 bytes of transient buffer).
 */
import { readFileSync, type Stats, statSync } from 'node:fs'
import * as zlib from 'node:zlib'
import { Gunzip } from 'fflate'
import { FileFormatError } from 'vitest-align/files'

/** A bad IDX file: not a regular file, bad magic, unsupported type, over the bound, truncated... */
export class IdxFormatError extends FileFormatError {
  override name = 'IdxFormatError'
}

/** An IDX array: its dimensions and its uint8 elements, row-major. */
export interface Idx {
  readonly shape: number[]
  readonly data: Uint8Array
}

/** Options of {@link readIdx} and {@link decodeIdx}. */
export interface IdxOptions {
  /**
   * Most bytes read from the file and most bytes of IDX (header and elements) after inflating.
   * Default {@link IDX_MAX_BYTES}.
   */
  maxBytes?: number
}

/** The default bound: 256 MiB, over 5x the full 60,000-image training set (47 MB). */
export const IDX_MAX_BYTES = 256 * 2 ** 20

/** The only element type accepted: `0x08`, unsigned byte. */
export const IDX_UINT8 = 0x08

/** Compressed bytes given to the inflate per step: bounds its transient output to ~4 MiB. */
export const INFLATE_CHUNK = 4096

const MAX_NDIM = 4

/**
 * Reads the IDX file at `path`, gzipped or not.
 *
 * @throws {IdxFormatError} naming the path, when it is missing or not a regular file, larger
 *   than `maxBytes`, or its bytes are refused by {@link decodeIdx}.
 */
export function readIdx(path: string, options: IdxOptions = {}): Idx {
  const maxBytes = options.maxBytes ?? IDX_MAX_BYTES
  let stats: Stats
  try {
    stats = statSync(path)
  } catch (e) {
    throw withCause(new IdxFormatError(path, undefined, `cannot read the file: ${message(e)}`), e)
  }
  if (!stats.isFile()) throw new IdxFormatError(path, undefined, 'not a regular file')
  // refused from its size, before reading: a gzip is smaller than its content, so a file over
  // the bound could only inflate to more than the bound
  if (stats.size > maxBytes) {
    throw new IdxFormatError(path, undefined, `file of ${stats.size} bytes is over ${maxBytes}`)
  }
  let bytes: Uint8Array
  try {
    bytes = readFileSync(path)
  } catch (e) {
    throw withCause(new IdxFormatError(path, undefined, `cannot read the file: ${message(e)}`), e)
  }
  return decodeIdx(bytes, path, options)
}

/**
 * Decodes IDX bytes (gzipped when they start with `1f 8b`); `source` names them in errors.
 * The elements are a copy: the result does not hold `bytes`.
 *
 * @throws {IdxFormatError} for a bad magic, an element type other than uint8, a number of
 *   dimensions outside 1..4, a declared size over `maxBytes`, too few or too many element
 *   bytes, and a corrupt or multi-member gzip.
 */
export function decodeIdx(bytes: Uint8Array, source = '<bytes>', options: IdxOptions = {}): Idx {
  const maxBytes = options.maxBytes ?? IDX_MAX_BYTES
  const parser = new IdxParser(source, maxBytes)
  if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) gunzipInto(bytes, parser)
  else parser.push(bytes)
  return parser.finish()
}

/** An IDX parsed as its bytes arrive: the header first, then the elements into one buffer. */
class IdxParser {
  #header = new Uint8Array(4 + 4 * MAX_NDIM)
  #headerFilled = 0
  #headerSize = 4
  #shape: number[] | undefined
  #data: Uint8Array | undefined
  #filled = 0
  /** Every byte pushed, to name the total in the trailing-bytes error. */
  #total = 0

  constructor(
    readonly source: string,
    readonly maxBytes: number,
  ) {}

  push(chunk: Uint8Array): void {
    this.#total += chunk.length
    let at = 0
    while (this.#data === undefined && at < chunk.length) {
      const take = Math.min(this.#headerSize - this.#headerFilled, chunk.length - at)
      this.#header.set(chunk.subarray(at, at + take), this.#headerFilled)
      this.#headerFilled += take
      at += take
      if (this.#headerFilled === this.#headerSize) this.#parseHeader()
    }
    if (this.#data === undefined || at === chunk.length) return
    const rest = chunk.length - at
    if (this.#filled + rest > this.#data.length) {
      throw this.error(
        `trailing bytes: the header declares ${this.#data.length} element bytes, ` +
          `more follow (at least ${this.#headerSize + this.#filled + rest} bytes in all)`,
      )
    }
    this.#data.set(chunk.subarray(at), this.#filled)
    this.#filled += rest
  }

  finish(): Idx {
    if (this.#data === undefined || this.#shape === undefined) {
      throw this.error(
        `truncated header: ${this.#total} bytes, the header needs ${this.#headerSize}`,
      )
    }
    if (this.#filled < this.#data.length) {
      throw this.error(
        `truncated data: the header declares ${this.#data.length} element bytes, ` +
          `${this.#filled} present`,
      )
    }
    return { shape: this.#shape, data: this.#data }
  }

  error(reason: string): IdxFormatError {
    return new IdxFormatError(this.source, undefined, reason)
  }

  /** Called when the magic (4 bytes), then again when the dimensions, are all in. */
  #parseHeader(): void {
    const h = this.#header
    const view = new DataView(h.buffer, h.byteOffset, h.byteLength)
    if (this.#headerSize === 4) {
      if (h[0] !== 0 || h[1] !== 0) {
        throw this.error(`bad magic ${hex(h.subarray(0, 4))}: an IDX file starts with 00 00`)
      }
      if (h[2] !== IDX_UINT8) {
        throw this.error(
          `unsupported element type 0x${hex(h.subarray(2, 3))}: only 0x08 (uint8) is read`,
        )
      }
      const ndim = h[3] as number
      if (ndim < 1 || ndim > MAX_NDIM) {
        throw this.error(`${ndim} dimensions: 1 to ${MAX_NDIM} are read`)
      }
      this.#headerSize = 4 + 4 * ndim
      return
    }
    const shape: number[] = []
    let size = 1
    for (let i = 4; i < this.#headerSize; i += 4) {
      const d = view.getUint32(i, false)
      shape.push(d)
      size *= d // exact: at most (2^32)^4 = 2^128, compared below before any use
    }
    if (this.#headerSize + size > this.maxBytes) {
      throw this.error(
        `shape (${shape.join(', ')}) declares ${size} bytes, over the bound of ${this.maxBytes}`,
      )
    }
    this.#shape = shape
    this.#data = new Uint8Array(size)
  }
}

/**
 * Inflates a single-member gzip into `parser`, chunk by chunk, and checks its trailer (CRC-32
 * and size): fflate's streaming Gunzip checks neither, and a flipped bit in a deflate stream
 * often still inflates.
 */
function gunzipInto(bytes: Uint8Array, parser: IdxParser): void {
  let crc = 0
  let size = 0
  const gunzip = new Gunzip((chunk) => {
    size += chunk.length
    crc = crc32(chunk, crc)
    parser.push(chunk)
  })
  gunzip.onmember = () => {
    throw parser.error('corrupt gzip: more than one gzip member, or bytes after the first')
  }
  try {
    for (let at = 0; at < bytes.length; at += INFLATE_CHUNK) {
      const end = Math.min(at + INFLATE_CHUNK, bytes.length)
      gunzip.push(bytes.subarray(at, end), end === bytes.length)
    }
  } catch (e) {
    if (e instanceof IdxFormatError) throw e
    throw withCause(parser.error(`corrupt gzip: ${message(e)}`), e)
  }
  if (bytes.length < 18) throw parser.error('corrupt gzip: shorter than a gzip header and trailer')
  const trailer = new DataView(bytes.buffer, bytes.byteOffset + bytes.length - 8, 8)
  const wantCrc = trailer.getUint32(0, true)
  const wantSize = trailer.getUint32(4, true)
  if (wantCrc !== crc >>> 0 || wantSize !== size % 2 ** 32) {
    throw parser.error(
      `corrupt gzip: trailer says CRC-32 ${wantCrc.toString(16)} and ${wantSize} bytes, ` +
        `the inflated data has ${(crc >>> 0).toString(16)} and ${size}`,
    )
  }
}

const nativeCrc = (zlib as { crc32?: (data: Uint8Array, value?: number) => number }).crc32

/** CRC-32 (IEEE) of `data` continuing from `value`: Node's, or a table for Node < 20.15. */
function crc32(data: Uint8Array, value: number): number {
  if (nativeCrc) return nativeCrc(data, value)
  let c = ~value
  for (let i = 0; i < data.length; i++) {
    c = (CRC_TABLE[(c ^ (data[i] as number)) & 0xff] as number) ^ (c >>> 8)
  }
  return ~c >>> 0
}

const CRC_TABLE = Int32Array.from({ length: 256 }, (_, n) => {
  let c = n
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
  return c
})

const hex = (b: Uint8Array): string =>
  Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(' ')

const message = (e: unknown): string => (e instanceof Error ? e.message : String(e))

function withCause<E extends Error>(err: E, cause: unknown): E {
  err.cause = cause
  return err
}
