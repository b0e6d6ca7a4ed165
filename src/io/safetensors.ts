/**
 * `.safetensors`, the format users share weights in: a little-endian u64 `N`, `N` bytes of a
 * UTF-8 JSON header (`{"name": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]},
 * "__metadata__": {"k": "v"}}`), then the tensors' bytes, little endian and C order, offsets
 * relative to the end of the header. Read with the reference reader's rules (huggingface/
 * safetensors `tensor.rs`): the header at most 100,000,000 bytes and within the file, every
 * entry well formed, the tensors laid end to end from 0 with no hole and no overlap, each
 * exactly `numel * itemsize` bytes, and no byte after the last one.
 *
 * Why our own code: the npm package `safetensors` (0.0.1) validates nothing and throws on any
 * `__metadata__`; the format is a JSON header and raw arrays, which the raw-array codec reads.
 */
import type { DType } from '../compare/dtype.js'
import { withKeyOrder } from '../compare/key-order.js'
import { SafetensorsFormatError, WriteError } from './errors.js'
import { clip, quote } from './excerpt.js'
import { writeFileGated } from './file-gate.js'
import { maxFileBytes, resolveLimits, SAFETENSORS_MAX_HEADER, sourceOf } from './limits.js'
import { arrayToWrite, inputBytes, type RecordInput, recordEntries } from './npy.js'
import { itemsizeOf } from './numpy-dtype.js'
import { boundedCount, decodeRawArray, littleEndianBytes, widenBf16 } from './raw-array.js'
import type { NdRecord, ReadOptions } from './types.js'

/** Dtypes of the format that have no array type here: refused by name. */
const UNSUPPORTED = [
  'F8_E5M2',
  'F8_E4M3',
  'F8_E8M0',
  'F8_E4M3FNUZ',
  'F8_E5M2FNUZ',
  'F4',
  'F6_E2M3',
  'F6_E3M2',
  'C64',
]

/** This package's dtypes to the format's codes: what is written, and read back. */
const WRITE_CODES: { readonly [D in DType]: string } = {
  bool: 'BOOL',
  uint8: 'U8',
  int8: 'I8',
  int16: 'I16',
  uint16: 'U16',
  float16: 'F16',
  int32: 'I32',
  uint32: 'U32',
  float32: 'F32',
  int64: 'I64',
  uint64: 'U64',
  float64: 'F64',
}

/**
 * The format's codes this package reads: every written one, plus BF16, which is read as its
 * bytes (2 per element) and widened to float32 (see readSafetensors).
 */
const READ_DTYPES: { readonly [code: string]: { dtype: DType; itemsize: 1 | 2 | 4 | 8 } } =
  Object.assign(
    Object.create(null),
    Object.fromEntries(
      (Object.entries(WRITE_CODES) as [DType, string][]).map(([dtype, code]) => [
        code,
        { dtype, itemsize: itemsizeOf(dtype) },
      ]),
    ),
    { BF16: { dtype: 'float32', itemsize: 2 } },
  )

interface Entry {
  readonly key: string
  readonly code: string
  readonly shape: number[]
  readonly begin: number
  readonly end: number
}

const isObject = (v: unknown): v is { [k: string]: unknown } =>
  typeof v === 'object' && v !== null && !Array.isArray(v)

const isIndex = (v: unknown): v is number =>
  typeof v === 'number' && Number.isSafeInteger(v) && v >= 0

/**
 * Whether the bytes start as a `.safetensors` does, for `load`'s choice of reader: a u64 header
 * length within the format's bound and the bytes present, then (after any spaces, which the
 * reference reader accepts) `{`. The npy and zip magics cannot pass: both read as lengths far
 * over the bound.
 */
export function looksLikeSafetensors(bytes: Uint8Array): boolean {
  if (bytes.length < 10) return false
  const n = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true)
  if (n < 2n || n > BigInt(SAFETENSORS_MAX_HEADER) || 8 + Number(n) > bytes.length) return false
  let i = 8
  while (i < 8 + Number(n) && bytes[i] === 0x20) i++
  return bytes[i] === 0x7b
}

/** The header's text and where the data starts; every length checked against the bytes. */
function headerOf(bytes: Uint8Array, source: string): { text: string; dataStart: number } {
  const fail = (reason: string) => new SafetensorsFormatError(source, undefined, reason)
  if (bytes.length < 8) throw fail(`${bytes.length} bytes: too short for the header length`)
  const view = new DataView(bytes.buffer, bytes.byteOffset, 8)
  const n = view.getBigUint64(0, true)
  if (n > BigInt(SAFETENSORS_MAX_HEADER))
    throw fail(`header length ${n} is over the format's bound of ${SAFETENSORS_MAX_HEADER} bytes`)
  const length = Number(n)
  if (8 + length > bytes.length)
    throw fail(`header length ${length} runs past the end of the file (${bytes.length} bytes)`)
  let text: string
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + length))
  } catch {
    throw fail('the header is not valid UTF-8')
  }
  return { text, dataStart: 8 + length }
}

/** The header's entries, each well formed, and its metadata. */
function entriesOf(
  text: string,
  source: string,
): { entries: Entry[]; metadata?: Record<string, string> } {
  let header: unknown
  try {
    header = JSON.parse(text)
  } catch (e) {
    throw new SafetensorsFormatError(
      source,
      undefined,
      // the parser's message can quote the text: a bounded excerpt only
      `the header is not JSON (${clip((e as Error).message, 120)})`,
    )
  }
  if (!isObject(header))
    throw new SafetensorsFormatError(source, undefined, 'the header is not a JSON object')
  const entries: Entry[] = []
  let metadata: Record<string, string> | undefined
  for (const key of Object.keys(header)) {
    const value = header[key]
    const fail = (reason: string) => new SafetensorsFormatError(source, key, reason)
    if (key === '__metadata__') {
      if (!isObject(value)) throw fail('__metadata__ must map strings to strings')
      metadata = Object.create(null) as Record<string, string>
      for (const [k, v] of Object.entries(value)) {
        if (typeof v !== 'string')
          throw fail(`__metadata__ must map strings to strings; ${quote(k)} is not a string`)
        metadata[k] = v
      }
      continue
    }
    if (!isObject(value)) throw fail('a tensor entry must be an object')
    const { dtype, shape, data_offsets: offsets } = value
    if (typeof dtype !== 'string') throw fail('dtype must be a string')
    if (!Object.hasOwn(READ_DTYPES, dtype)) {
      throw fail(
        UNSUPPORTED.includes(dtype)
          ? `dtype ${dtype} has no array type here (read F16, BF16, F32, F64, integers and BOOL)`
          : `unknown dtype ${quote(dtype)}`,
      )
    }
    if (!Array.isArray(shape) || !shape.every(isIndex))
      throw fail('shape must be a list of integers >= 0')
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isIndex))
      throw fail('data_offsets must be [begin, end], integers >= 0')
    const [begin, end] = offsets as [number, number]
    if (end < begin) throw fail(`data_offsets [${begin}, ${end}] end before they begin`)
    entries.push({ key, code: dtype, shape: shape as number[], begin, end })
  }
  return metadata === undefined ? { entries } : { entries, metadata }
}

/**
 * Reads a `.safetensors` file (a path, or its bytes) into a record of arrays, keyed by tensor
 * name, in the order of their data in the file (the JSON object's order cannot be kept: JSON
 * parsers put integer-like keys first). F16 comes back as `float16` (its bits, as every
 * reader here holds float16); BF16, which no JS typed array holds, comes back as `float32`,
 * exactly (a bfloat16 is the top half of a float32). int64 and uint64 come back as BigInt64 and
 * BigUint64 arrays, exact. The file's `__metadata__` is not part of the record: use
 * {@link readSafetensorsMetadata}.
 *
 * @throws {SafetensorsFormatError} naming the file, the tensor and the reason, for any header
 *   or layout the reference reader refuses, an FP8/FP4/FP6/complex dtype, or a tensor over
 *   `maxArrayBytes`.
 */
export function readSafetensors(
  input: string | Uint8Array | ArrayBuffer,
  options: ReadOptions = {},
): NdRecord {
  return parseSafetensors(input, options).record
}

/** The `__metadata__` strings of a `.safetensors` file (an empty object when it has none). */
export function readSafetensorsMetadata(
  input: string | Uint8Array | ArrayBuffer,
  options: ReadOptions = {},
): Record<string, string> {
  return parseSafetensors(input, options).metadata ?? Object.create(null)
}

/** The record and the `__metadata__` (when the header has one), in one parse. */
export function parseSafetensors(
  input: string | Uint8Array | ArrayBuffer,
  options: ReadOptions,
): { record: NdRecord; metadata?: Record<string, string> } {
  const source = sourceOf(input, options)
  const limits = resolveLimits(options)
  const bytes = inputBytes(
    input,
    source,
    SafetensorsFormatError,
    maxFileBytes('safetensors', limits),
  )
  const { text, dataStart } = headerOf(bytes, source)
  const { entries, metadata } = entriesOf(text, source)
  const dataBytes = bytes.length - dataStart
  // laid end to end from 0, in offset order, as the reference reader validates them
  const sorted = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end)
  let at = 0
  const record: NdRecord = {}
  const keys: string[] = []
  for (const e of sorted) {
    const fail = (reason: string) => new SafetensorsFormatError(source, e.key, reason)
    if (e.begin !== at) {
      throw fail(
        e.begin > at
          ? `its data begins at ${e.begin}, leaving a hole after byte ${at}`
          : `its data [${e.begin}, ${e.end}) overlaps the tensor before it (which ends at ${at})`,
      )
    }
    const { dtype, itemsize } = READ_DTYPES[e.code] as { dtype: DType; itemsize: 1 | 2 | 4 | 8 }
    const count = boundedCount(e.shape, itemsize, limits.maxArrayBytes)
    if (count === undefined)
      throw fail(
        `shape [${e.shape.join(', ')}] is over maxArrayBytes (${limits.maxArrayBytes} bytes)`,
      )
    if (count * itemsize !== e.end - e.begin) {
      throw fail(
        `shape [${e.shape.join(', ')}] of ${e.code} needs ${count * itemsize} bytes, its data_offsets give ${e.end - e.begin}`,
      )
    }
    if (e.end > dataBytes)
      throw fail(`its data ends at ${e.end}, past the ${dataBytes} data bytes of the file`)
    const array =
      e.code === 'BF16'
        ? widenBf16(bytes, dataStart + e.begin, count, e.shape)
        : decodeRawArray(
            bytes,
            dataStart + e.begin,
            count,
            { dtype, itemsize, littleEndian: true },
            false,
            e.shape,
          )
    // defineProperty: a tensor named `__proto__` must become a key, not a prototype
    Object.defineProperty(record, e.key, {
      value: array,
      enumerable: true,
      writable: true,
      configurable: true,
    })
    keys.push(e.key)
    at = e.end
  }
  if (at !== dataBytes) {
    throw new SafetensorsFormatError(
      source,
      undefined,
      `${dataBytes - at} bytes after the last tensor's data (the format allows none)`,
    )
  }
  const ordered = withKeyOrder(record, keys)
  return metadata === undefined ? { record: ordered } : { record: ordered, metadata }
}

/** Options of {@link encodeSafetensors}. */
export interface EncodeSafetensorsOptions {
  /** The header's `__metadata__`: strings to strings (`{ format: 'pt' }` is what torch users expect). */
  metadata?: { readonly [key: string]: string }
}

const encoder = new TextEncoder()

/**
 * Encodes a record of arrays as `.safetensors` bytes, deterministically and in the order the
 * reference writer uses: tensors sorted by alignment (itemsize, largest first), then by name;
 * the header `{"__metadata__": ..., "name": {"dtype", "shape", "data_offsets"}, ...}` in that
 * order, padded with spaces to a multiple of 8 bytes. Keys are flat, non-empty names; a nested
 * record, an empty key or `__metadata__` as a tensor name is a WriteError.
 */
export function encodeSafetensors(
  record: RecordInput,
  options: EncodeSafetensorsOptions = {},
): Uint8Array<ArrayBuffer> {
  return encodeRecord(record, options, '<bytes>')
}

/** Writes {@link encodeSafetensors}'s bytes to `path`; errors are WriteErrors naming the path. */
export function writeSafetensors(
  path: string,
  record: RecordInput,
  options: EncodeSafetensorsOptions = {},
): void {
  const source = typeof path === 'string' ? path : '<argument>'
  writeFileGated(path, encodeRecord(record, options, source))
}

function encodeRecord(
  record: RecordInput,
  options: EncodeSafetensorsOptions,
  source: string,
): Uint8Array<ArrayBuffer> {
  const pairs = recordEntries(record, source)
  const tensors = pairs.map(([key, value]) => {
    if (key === '__metadata__')
      throw new WriteError(
        source,
        key,
        "'__metadata__' is the header's metadata, not a tensor name",
      )
    const nd = arrayToWrite(value, source, key)
    return { key, nd, bytes: littleEndianBytes(nd), itemsize: itemsizeOf(nd.dtype) }
  })
  // the reference writer's order: alignment descending, then the name (by UTF-16 code units,
  // as Rust compares strings by bytes; both agree for the BMP without surrogates)
  tensors.sort((a, b) => b.itemsize - a.itemsize || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
  for (const [k, v] of Object.entries(options.metadata ?? {}))
    if (typeof v !== 'string')
      throw new WriteError(source, k, '__metadata__ values must be strings')
  let at = 0
  const entries: string[] = []
  if (options.metadata !== undefined)
    entries.push(`"__metadata__":${JSON.stringify(options.metadata)}`)
  for (const t of tensors) {
    const entry = {
      dtype: WRITE_CODES[t.nd.dtype],
      shape: t.nd.shape,
      data_offsets: [at, at + t.bytes.length],
    }
    entries.push(`${JSON.stringify(t.key)}:${JSON.stringify(entry)}`)
    at += t.bytes.length
  }
  let text = `{${entries.join(',')}}`
  const raw = encoder.encode(text)
  const pad = (8 - (raw.length % 8)) % 8
  text += ' '.repeat(pad)
  const head = encoder.encode(text)
  const out = new Uint8Array(8 + head.length + at)
  new DataView(out.buffer).setBigUint64(0, BigInt(head.length), true)
  out.set(head, 8)
  let pos = 8 + head.length
  for (const t of tensors) {
    out.set(t.bytes, pos)
    pos += t.bytes.length
  }
  return out
}
