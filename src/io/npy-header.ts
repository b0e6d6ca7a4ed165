/**
 * A small, strict parser of the `.npy` header: the Python dict literal numpy writes, such as
 * `{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }`, and of its `descr`.
 *
 * Why not npyjs's header parsing: npyjs 1.2.0 runs three independent regexes over the header
 * text. It accepts a header with a key missing (the shape then defaults to `()`), a shape entry
 * that is not a number (`Number('x')` gives NaN), a negative or fractional dimension, duplicate
 * keys and any junk around them, so a damaged or hostile header yields a silently wrong array
 * or an error from deep inside. numpy itself reads the header with `ast.literal_eval` and then
 * checks the keys and the types; this parser accepts the same literals numpy writes and reads
 * (any key order, either quote, any whitespace, trailing commas) and refuses everything else
 * with a reason. It is deliberately stricter than numpy in two places: a duplicate key (Python
 * silently keeps the last) and a dimension that is not a safe JS integer are refused.
 */

import { Buffer } from 'node:buffer'
import type { DType } from '../compare/dtype.js'
import { NpyFormatError, NpyHeaderError } from './errors.js'
import { clip } from './excerpt.js'
import { descrOf } from './numpy-dtype.js'
import { pyShape } from './raw-array.js'

export { NpyHeaderError }

/** The three entries of an `.npy` header, as written. */
export interface NpyHeaderDict {
  /** The dtype descriptor, such as `<f4` (not yet checked; see {@link parseDescr}). */
  readonly descr: string
  readonly fortranOrder: boolean
  readonly shape: readonly number[]
}

/** The most dimensions accepted (numpy 2's NPY_MAXDIMS; numpy 1.x allows 32). */
export const MAX_NDIM = 64

/** The six bytes every `.npy` starts with. */
export const NPY_MAGIC: Uint8Array = Uint8Array.of(0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59)

/** numpy aligns the start of the data to this many bytes. */
export const NPY_ALIGN = 64

const KEYS = ['descr', 'fortran_order', 'shape'] as const
type Key = (typeof KEYS)[number]
type Value = string | boolean | number[]

/** Parses the header text (already decoded) into its three entries; throws NpyHeaderError. */
export function parseHeaderDict(text: string): NpyHeaderDict {
  let pos = 0
  const snippet = (): string => {
    const s = text.slice(pos, pos + 24)
    return pos >= text.length ? 'the end of the header' : JSON.stringify(s)
  }
  const fail = (what: string): never => {
    throw new NpyHeaderError(`bad header at character ${pos}: ${what}, found ${snippet()}`)
  }
  const ws = (): void => {
    while (pos < text.length) {
      const c = text.charCodeAt(pos)
      // space, \t, \n, \r (numpy pads with spaces and ends with \n)
      if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) pos++
      else break
    }
  }
  const eat = (ch: string): boolean => {
    ws()
    if (text[pos] === ch) {
      pos++
      return true
    }
    return false
  }
  const expect = (ch: string, what: string): void => {
    if (!eat(ch)) fail(`expected ${what}`)
  }
  const str = (): string => {
    ws()
    const q = text[pos]
    if (q !== "'" && q !== '"') return fail('expected a quoted string')
    const start = ++pos
    while (pos < text.length && text[pos] !== q) {
      const c = text[pos]
      // numpy never writes escapes or line breaks inside a string; refuse rather than guess.
      if (c === '\\' || c === '\n' || c === '\r') return fail('unsupported character in a string')
      pos++
    }
    if (pos >= text.length) return fail('unterminated string')
    const s = text.slice(start, pos)
    pos++
    return s
  }
  const int = (): number => {
    ws()
    const start = pos
    if (text[pos] === '-') pos++
    while (pos < text.length && text.charCodeAt(pos) >= 0x30 && text.charCodeAt(pos) <= 0x39) pos++
    const digits = text.slice(start, pos)
    if (digits === '' || digits === '-') {
      pos = start
      return fail('expected an integer')
    }
    if (digits.startsWith('-')) {
      pos = start
      return fail(`negative dimension ${digits}`)
    }
    if (digits.length > 1 && digits.startsWith('0')) {
      pos = start
      return fail(`integer with a leading zero (${digits}), which Python refuses`)
    }
    const n = digits.length > 16 ? Number.POSITIVE_INFINITY : Number(digits)
    if (!Number.isSafeInteger(n)) {
      pos = start
      return fail(`dimension ${digits} is larger than 2^53 - 1`)
    }
    return n
  }
  const tuple = (): number[] => {
    // '(' already eaten. Python: () is empty, (3,) one entry, (3) is the int 3 (refused).
    const out: number[] = []
    if (eat(')')) return out
    for (;;) {
      out.push(int())
      if (out.length > MAX_NDIM) fail(`more than ${MAX_NDIM} dimensions`)
      if (eat(')')) {
        if (out.length === 1) {
          pos--
          fail(`shape (${out[0]}) is an int, not a tuple: a 1-d shape is written (${out[0]},)`)
        }
        return out
      }
      expect(',', "',' or ')' in the shape tuple")
      if (eat(')')) return out
    }
  }
  const value = (): Value => {
    ws()
    const c = text[pos]
    if (c === "'" || c === '"') return str()
    if (c === '(') {
      pos++
      return tuple()
    }
    if (c === '[') return fail('a list, such as the descr of a structured dtype (not supported)')
    if (text.startsWith('True', pos)) {
      pos += 4
      return true
    }
    if (text.startsWith('False', pos)) {
      pos += 5
      return false
    }
    return fail('expected a string, True, False or a tuple')
  }

  const seen = new Map<Key, Value>()
  expect('{', "'{'")
  while (!eat('}')) {
    const keyStart = pos
    const key = str()
    if (!(KEYS as readonly string[]).includes(key)) {
      pos = keyStart
      fail(`unexpected key '${clip(key)}' (the keys are 'descr', 'fortran_order', 'shape')`)
    }
    if (seen.has(key as Key)) {
      pos = keyStart
      fail(`duplicate key '${key}'`)
    }
    expect(':', `':' after the key '${key}'`)
    seen.set(key as Key, value())
    if (!eat(',')) {
      expect('}', "',' or '}'")
      break
    }
  }
  ws()
  if (pos !== text.length) fail('junk after the closing brace')

  const missing = KEYS.filter((k) => !seen.has(k))
  if (missing.length > 0) {
    throw new NpyHeaderError(`bad header: missing ${missing.map((k) => `'${k}'`).join(', ')}`)
  }
  const descr = seen.get('descr')
  const fortran = seen.get('fortran_order')
  const shape = seen.get('shape')
  if (typeof descr !== 'string') throw new NpyHeaderError("bad header: 'descr' is not a string")
  if (typeof fortran !== 'boolean') {
    throw new NpyHeaderError("bad header: 'fortran_order' is not True or False")
  }
  if (!Array.isArray(shape)) throw new NpyHeaderError("bad header: 'shape' is not a tuple")
  return { descr, fortranOrder: fortran, shape }
}

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

function printable(bytes: Uint8Array): string {
  let s = ''
  for (const b of bytes) {
    s += b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : `\\x${b.toString(16).padStart(2, '0')}`
  }
  return s
}

/**
 * Reads and checks the magic, the version, the header length (against `maxHeaderBytes` and the
 * bytes present) and the header's syntax: the one npy header parser, for arrays and reprod_log
 * records alike. The descr is returned as written (a `|O` record header parses too). Errors are
 * {@link NpyFormatError}s naming `source` and `key`.
 */
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
  let dict: NpyHeaderDict
  try {
    dict = parseHeaderDict(text)
  } catch (e) {
    if (e instanceof NpyHeaderError) return fail(e.message)
    throw e
  }
  return { version: major as 1 | 2 | 3, ...dict, dataOffset: preamble + headerLength }
}

/** The header dict text numpy writes for `descr` and `shape` (C order), before any padding. */
export function npyDictText(descr: string, shape: readonly number[]): string {
  return `{'descr': '${descr}', 'fortran_order': False, 'shape': ${pyShape(shape)}, }`
}

/**
 * The header text numpy 1.24+ writes (before the alignment padding): the dict with its keys in
 * sorted order and a trailing ', ', then room for the growth axis to reach 21 digits.
 */
export function npyHeaderText(dtype: DType, shape: readonly number[]): string {
  const dict = npyDictText(descrOf(dtype), shape)
  return shape.length > 0 ? dict + ' '.repeat(21 - String(shape[0]).length) : dict
}

/**
 * The header length field numpy writes for `text` in format `version`: the text, spaces and a
 * final newline, so that the data starts at a multiple of {@link NPY_ALIGN} (`_wrap_header`).
 * The text is ASCII: its length in characters is its length in bytes.
 */
export function npyHeaderLength(text: string, version: 1 | 2 | 3): number {
  const unpadded = (version === 1 ? 10 : 12) + text.length + 1
  return text.length + 1 + (NPY_ALIGN - (unpadded % NPY_ALIGN))
}

/** Writes the magic, version, header length and padded header text at `out[at]`; returns the data offset. */
export function writeNpyHeader(
  out: Uint8Array,
  at: number,
  version: 1 | 2 | 3,
  text: string,
  headerLength: number,
): number {
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
  return start + headerLength
}
