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

import type { DType } from '../compare/dtype.js'

/** The three entries of an `.npy` header, as written. */
export interface NpyHeaderDict {
  /** The dtype descriptor, such as `<f4` (not yet checked; see {@link parseDescr}). */
  readonly descr: string
  readonly fortranOrder: boolean
  readonly shape: readonly number[]
}

/** A header the parser refuses; the reader turns it into an `NpyFormatError`. */
export class NpyHeaderError extends Error {
  override name = 'NpyHeaderError'
}

/** The most dimensions accepted (numpy 2's NPY_MAXDIMS; numpy 1.x allows 32). */
export const MAX_NDIM = 64

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
      fail(`unexpected key '${key}' (the keys are 'descr', 'fortran_order', 'shape')`)
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

/** A `descr` resolved to a dtype: its size in bytes and the byte order of the stored data. */
export interface ResolvedDescr {
  readonly dtype: DType
  readonly itemsize: 1 | 2 | 4 | 8
  /** Whether the file stores the elements little endian (always true for one-byte types). */
  readonly littleEndian: boolean
}

/** numpy's type codes (the descr without its byte order), as dtypes. */
export const CODES: { readonly [code: string]: DType } = {
  b1: 'bool',
  '?': 'bool',
  i1: 'int8',
  i2: 'int16',
  i4: 'int32',
  i8: 'int64',
  u1: 'uint8',
  u2: 'uint16',
  u4: 'uint32',
  u8: 'uint64',
  f2: 'float16',
  f4: 'float32',
  f8: 'float64',
}

const ITEMSIZE: { readonly [D in DType]: 1 | 2 | 4 | 8 } = {
  bool: 1,
  int8: 1,
  uint8: 1,
  int16: 2,
  uint16: 2,
  float16: 2,
  int32: 4,
  uint32: 4,
  float32: 4,
  int64: 8,
  uint64: 8,
  float64: 8,
}

/** The size in bytes of one element of `dtype`. */
export function itemsizeOf(dtype: DType): 1 | 2 | 4 | 8 {
  return ITEMSIZE[dtype]
}

const DESCR: { readonly [D in DType]: string } = {
  bool: '|b1',
  int8: '|i1',
  uint8: '|u1',
  int16: '<i2',
  uint16: '<u2',
  float16: '<f2',
  int32: '<i4',
  uint32: '<u4',
  float32: '<f4',
  int64: '<i8',
  uint64: '<u8',
  float64: '<f8',
}

/** The descr numpy writes for `dtype` (little endian; `|` for one-byte types). */
export function descrOf(dtype: DType): string {
  return DESCR[dtype]
}

const NATIVE_LITTLE = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1

/** Whether this machine is little endian (every platform Node runs on but s390x). */
export const nativeLittleEndian: boolean = NATIVE_LITTLE

/**
 * Resolves a numeric `descr` (`<f4`, `>i8`, `|b1`, `?`, ...); throws NpyHeaderError naming what
 * the descr is when it is a type this reader does not hold (strings, objects, complex, dates).
 */
export function parseDescr(descr: string): ResolvedDescr {
  const m = /^([<>|=]?)(.*)$/s.exec(descr) as RegExpExecArray
  const order = m[1] as string
  const code = m[2] as string
  const dtype = CODES[code]
  if (dtype === undefined) throw new NpyHeaderError(unsupported(descr, code))
  const itemsize = ITEMSIZE[dtype]
  // Like numpy: '=', '|' or no order character means the native order (numpy writes '|' only
  // for one-byte types, where the order does not matter, and '<' or '>' for the others).
  const littleEndian =
    itemsize === 1 || (order === '<' ? true : order === '>' ? false : NATIVE_LITTLE)
  return { dtype, itemsize, littleEndian }
}

function unsupported(descr: string, code: string): string {
  const d = `descr '${descr}'`
  const kind = code[0]
  const not = 'which this reader does not support (only bool, int, uint and float arrays)'
  if (kind === 'O') {
    return `${d} is a pickled object array: use readReprodLog / load for reprod_log records`
  }
  if (/^[Sa]\d*$/.test(code)) return `${d} is a byte-string array (numpy 'S'), ${not}`
  if (/^U\d*$/.test(code)) return `${d} is a unicode string array (numpy 'U'), ${not}`
  if (/^c\d+$/.test(code)) return `${d} is a complex array, ${not}`
  if (/^M8/.test(code)) return `${d} is a datetime64 array, ${not}`
  if (/^m8/.test(code)) return `${d} is a timedelta64 array, ${not}`
  if (/^V\d*$/.test(code)) return `${d} is a raw void (numpy 'V') array, ${not}`
  if (/^f(1[026]|12)$/.test(code) || code === 'g') return `${d} is a long double array, ${not}`
  if (/^[biuf]\d+$/.test(code)) return `${d} has an unsupported item size, ${not}`
  return `unknown ${d} (expected a numpy dtype such as '<f4', '>i8' or '|b1')`
}
