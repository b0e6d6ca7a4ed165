/**
 * numpy's names for the dtypes this library holds: the type codes (`f4`), the descrs an `.npy`
 * header or a pickled dtype writes (`<f4`, `|b1`), and their item sizes. The tables read with
 * file content are Maps, so that a descr such as `'constructor'` or `'__proto__'` is an unknown
 * code like any other and never reaches `Object.prototype`.
 */
import type { DType } from '../compare/dtype.js'
import { NpyHeaderError } from './errors.js'
import { clip } from './excerpt.js'

/** A `descr` resolved to a dtype: its size in bytes and the byte order of the stored data. */
export interface ResolvedDescr {
  readonly dtype: DType
  readonly itemsize: 1 | 2 | 4 | 8
  /** Whether the file stores the elements little endian (always true for one-byte types). */
  readonly littleEndian: boolean
}

/** numpy's type codes (a descr without its byte order), to dtypes; `?` is numpy's bool too. */
const TYPE_CODES: ReadonlyMap<string, DType> = new Map<string, DType>([
  ['b1', 'bool'],
  ['?', 'bool'],
  ['i1', 'int8'],
  ['i2', 'int16'],
  ['i4', 'int32'],
  ['i8', 'int64'],
  ['u1', 'uint8'],
  ['u2', 'uint16'],
  ['u4', 'uint32'],
  ['u8', 'uint64'],
  ['f2', 'float16'],
  ['f4', 'float32'],
  ['f8', 'float64'],
])

// Keyed by DType (checked code, never file content), so plain objects are safe here.
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

const TYPE_CODE_OF: { readonly [D in DType]: string } = {
  bool: 'b1',
  int8: 'i1',
  uint8: 'u1',
  int16: 'i2',
  uint16: 'u2',
  float16: 'f2',
  int32: 'i4',
  uint32: 'u4',
  float32: 'f4',
  int64: 'i8',
  uint64: 'u8',
  float64: 'f8',
}

/** numpy's type code of `dtype` (`f4`), as `dtype.__reduce__` pickles it. */
export function typeCodeOf(dtype: DType): string {
  return TYPE_CODE_OF[dtype]
}

/** The descr numpy writes for `dtype` (little endian; `|` for one-byte types). */
export function descrOf(dtype: DType): string {
  return `${ITEMSIZE[dtype] === 1 ? '|' : '<'}${TYPE_CODE_OF[dtype]}`
}

const NATIVE_LITTLE = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1

/** Whether this machine is little endian (every platform Node runs on but s390x). */
export const nativeLittleEndian: boolean = NATIVE_LITTLE

/**
 * Resolves a numeric `descr` (`<f4`, `>i8`, `|b1`, `?`, ...); throws NpyHeaderError naming what
 * the descr is when it is a type this reader does not hold (strings, objects, complex, dates).
 */
export function parseDescr(descr: string): ResolvedDescr {
  const first = descr[0]
  const hasOrder = first === '<' || first === '>' || first === '|' || first === '='
  const order = hasOrder ? first : ''
  const code = hasOrder ? descr.slice(1) : descr
  const dtype = TYPE_CODES.get(code)
  if (dtype === undefined) throw new NpyHeaderError(unsupported(descr, code))
  const itemsize = ITEMSIZE[dtype]
  // Like numpy: '=', '|' or no order character means the native order (numpy writes '|' only
  // for one-byte types, where the order does not matter, and '<' or '>' for the others).
  const littleEndian =
    itemsize === 1 || (order === '<' ? true : order === '>' ? false : NATIVE_LITTLE)
  return { dtype, itemsize, littleEndian }
}

function unsupported(descr: string, code: string): string {
  const d = `descr '${clip(descr)}'`
  const not = 'which this reader does not support (only bool, int, uint and float arrays)'
  if (code[0] === 'O') {
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
