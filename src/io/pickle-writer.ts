/**
 * A pickle writer for numpy records: the bytes numpy 1.x writes after the `.npy` header of
 * `np.save(path, dict)` (pickle protocol 3), opcode for opcode and memo slot for memo slot.
 *
 * Layout: the record is a 0-d object array, `_reconstruct(ndarray, (0,), b'b')` then BUILD
 * `(1, (), dtype('O8', False, True), False, [dict])`; each array in the dict is
 * `_reconstruct(ndarray, (0,), b'b')` then BUILD `(1, shape, dtype, False, raw bytes)`, its
 * dtype `dtype('f4', False, True)` then BUILD `(3, '<', None, None, None, -1, -1, 0)` (`'|'` for
 * one-byte types). The globals are `numpy.core.multiarray _reconstruct`, `numpy ndarray` and
 * `numpy dtype`, which numpy 1.x and 2.x both load. Objects Python shares (the globals, each
 * dtype, the `b'b'` typecode, one-character strings, empty and one-byte bytes) are written once
 * and fetched from the memo after, as Python's pickler does, so numpy re-saving a loaded record
 * reproduces these bytes exactly.
 */

import type { NdArray } from '../compare/dtype.js'
import { AlignInputError } from '../compare/errors.js'
import {
  type AlignNode,
  type AlignRecord,
  isRecordNode,
  normalize,
  type RecordNode,
} from '../compare/tensor-like.js'
import { WriteError } from './errors.js'
import { typeCodeOf } from './numpy-dtype.js'
import { littleEndianBytes } from './raw-array.js'
import { checkRecordGraph } from './record-graph.js'
import { DEFAULT_LIMITS } from './types.js'

/** Python pickler's batch size for SETITEMS. */
const BATCH = 1000

/** A growable byte buffer. */
class Out {
  #buf = new Uint8Array(1024)
  #len = 0
  #reserve(n: number): void {
    if (this.#len + n <= this.#buf.length) return
    let size = this.#buf.length * 2
    while (size < this.#len + n) size *= 2
    const next = new Uint8Array(size)
    next.set(this.#buf.subarray(0, this.#len))
    this.#buf = next
  }
  byte(...bytes: number[]): void {
    this.#reserve(bytes.length)
    for (const b of bytes) this.#buf[this.#len++] = b
  }
  u32(v: number): void {
    this.#reserve(4)
    new DataView(this.#buf.buffer).setUint32(this.#len, v, true)
    this.#len += 4
  }
  i32(v: number): void {
    this.#reserve(4)
    new DataView(this.#buf.buffer).setInt32(this.#len, v, true)
    this.#len += 4
  }
  bytes(b: Uint8Array): void {
    this.#reserve(b.length)
    this.#buf.set(b, this.#len)
    this.#len += b.length
  }
  result(): Uint8Array {
    return this.#buf.slice(0, this.#len)
  }
}

const utf8 = new TextEncoder()

/** Writes one record as numpy 1.x's `np.save` pickles it. */
class RecordPickler {
  readonly out = new Out()
  /** Memo slots of the objects Python would share, by a key naming the object. */
  readonly #memo = new Map<string, number>()
  #next = 0

  constructor(readonly source: string) {}

  #put(key?: string): void {
    const i = this.#next++
    if (key !== undefined) this.#memo.set(key, i)
    if (i < 256)
      this.out.byte(0x71, i) // BINPUT
    else {
      this.out.byte(0x72) // LONG_BINPUT
      this.out.u32(i)
    }
  }

  /** Emits a BINGET for a shared object already written; false when it is not written yet. */
  #get(key: string): boolean {
    const i = this.#memo.get(key)
    if (i === undefined) return false
    if (i < 256)
      this.out.byte(0x68, i) // BINGET
    else {
      this.out.byte(0x6a) // LONG_BINGET
      this.out.u32(i)
    }
    return true
  }

  #global(module: string, name: string): void {
    const key = `global:${module}\n${name}`
    if (this.#get(key)) return
    this.out.byte(0x63) // GLOBAL
    this.out.bytes(utf8.encode(`${module}\n${name}\n`))
    this.#put(key)
  }

  /** A Python int, as `save_long` (protocol 2+). */
  int(v: number): void {
    if (v >= 0 && v <= 0xff)
      this.out.byte(0x4b, v) // BININT1
    else if (v >= 0 && v <= 0xffff)
      this.out.byte(0x4d, v & 0xff, v >> 8) // BININT2
    else if (v >= -(2 ** 31) && v < 2 ** 31) {
      this.out.byte(0x4a) // BININT
      this.out.i32(v)
    } else {
      // LONG1: little-endian two's complement in the fewest bytes that keep the sign
      let n = BigInt(v)
      const bytes: number[] = []
      for (;;) {
        const b = Number(BigInt.asUintN(8, n))
        bytes.push(b)
        n >>= 8n
        if ((n === 0n && b < 0x80) || (n === -1n && b >= 0x80)) break
      }
      this.out.byte(0x8a, bytes.length, ...bytes)
    }
  }

  /** A str; one-character (latin-1) and empty strings are shared objects in CPython. */
  str(s: string): void {
    const shared = s.length === 0 || (s.length === 1 && s.charCodeAt(0) < 256)
    if (shared && this.#get(`str:${s}`)) return
    const b = utf8.encode(s)
    this.out.byte(0x58) // BINUNICODE
    this.out.u32(b.length)
    this.out.bytes(b)
    this.#put(shared ? `str:${s}` : undefined)
  }

  /** A bytes; empty and one-byte bytes are shared objects in CPython. */
  pybytes(b: Uint8Array, key: string): void {
    const shared = b.length <= 1
    const memoKey = `bytes:${b.length === 0 ? '' : b[0]}`
    if (shared && this.#get(memoKey)) return
    if (b.length > 0xffffffff) {
      throw new WriteError(
        this.source,
        key || undefined,
        'an array over 4 GiB cannot be pickled with protocol 3',
      )
    }
    if (b.length < 256)
      this.out.byte(0x43, b.length) // SHORT_BINBYTES
    else {
      this.out.byte(0x42) // BINBYTES
      this.out.u32(b.length)
    }
    this.out.bytes(b)
    this.#put(shared ? memoKey : undefined)
  }

  /** A tuple of ints (a shape): EMPTY_TUPLE, TUPLE1-3, or MARK ... TUPLE; memoized if not empty. */
  #shape(shape: readonly number[]): void {
    if (shape.length === 0) {
      this.out.byte(0x29) // EMPTY_TUPLE
      return
    }
    if (shape.length > 3) this.out.byte(0x28) // MARK
    for (const d of shape) this.int(d)
    this.out.byte(shape.length > 3 ? 0x74 : 0x84 + shape.length) // TUPLE / TUPLE1..3
    this.#put()
  }

  /** `_reconstruct(ndarray, (0,), b'b')`, memoized (the array object). */
  #reconstruct(): void {
    this.#global('numpy.core.multiarray', '_reconstruct')
    this.#global('numpy', 'ndarray')
    this.int(0)
    this.out.byte(0x85) // TUPLE1
    this.#put()
    this.pybytes(Uint8Array.of(0x62), '')
    this.out.byte(0x87) // TUPLE3
    this.#put()
    this.out.byte(0x52) // REDUCE
    this.#put()
  }

  /** A dtype, written once per dtype (numpy's builtin dtypes are singletons). */
  #dtype(code: string, order: string, flags: number): void {
    const key = `dtype:${order}${code}`
    if (this.#get(key)) return
    this.#global('numpy', 'dtype')
    this.str(code)
    this.out.byte(0x89, 0x88, 0x87) // NEWFALSE NEWTRUE TUPLE3
    this.#put()
    this.out.byte(0x52) // REDUCE
    this.#put(key)
    this.out.byte(0x28) // MARK
    this.int(3)
    this.str(order)
    this.out.byte(0x4e, 0x4e, 0x4e) // NONE NONE NONE
    this.int(-1)
    this.int(-1)
    this.int(flags)
    this.out.byte(0x74) // TUPLE
    this.#put()
    this.out.byte(0x62) // BUILD
  }

  /** One array: `_reconstruct` then BUILD `(1, shape, dtype, False, raw little-endian bytes)`. */
  array(a: NdArray, key: string): void {
    this.#reconstruct()
    this.out.byte(0x28) // MARK
    this.int(1)
    this.#shape(a.shape)
    const code = typeCodeOf(a.dtype)
    this.#dtype(code, a.data.BYTES_PER_ELEMENT === 1 ? '|' : '<', 0)
    this.out.byte(0x89) // NEWFALSE
    this.pybytes(littleEndianBytes(a), key)
    this.out.byte(0x74) // TUPLE
    this.#put()
    this.out.byte(0x62) // BUILD
  }

  /** A dict: EMPTY_DICT, then its items in batches of 1000 (SETITEM for a batch of one). */
  dict(node: RecordNode, key: string): void {
    this.out.byte(0x7d) // EMPTY_DICT
    this.#put()
    const items = [...node.entries]
    for (let start = 0; start < items.length; start += BATCH) {
      const batch = items.slice(start, start + BATCH)
      if (batch.length > 1) this.out.byte(0x28) // MARK
      for (const [k, v] of batch) {
        this.str(k)
        this.value(v, key === '' ? k : `${key}.${k}`)
      }
      this.out.byte(batch.length > 1 ? 0x75 : 0x73) // SETITEMS / SETITEM
    }
  }

  value(node: AlignNode, key: string): void {
    if (isRecordNode(node)) this.dict(node, key)
    else this.array(node, key)
  }

  /** The whole record, wrapped in the 0-d object array `np.save` makes of a dict. */
  record(node: RecordNode): Uint8Array {
    this.out.byte(0x80, 3) // PROTO 3
    this.#reconstruct()
    this.out.byte(0x28) // MARK
    this.int(1)
    this.out.byte(0x29) // EMPTY_TUPLE: shape ()
    this.#dtype('O8', '|', 63)
    this.out.byte(0x89) // NEWFALSE
    this.out.byte(0x5d) // EMPTY_LIST
    this.#put()
    this.dict(node, '')
    this.out.byte(0x61) // APPEND
    this.out.byte(0x74) // TUPLE
    this.#put()
    this.out.byte(0x62) // BUILD
    this.out.byte(0x2e) // STOP
    return this.out.result()
  }
}

/** Normalizes a record to write; a value that cannot be an array is a {@link WriteError}. */
export function normalizeRecord(record: AlignRecord, source: string): RecordNode {
  checkRecordGraph(record, source, DEFAULT_LIMITS.maxDepth)
  let node: AlignNode
  try {
    node = normalize(record, 'actual')
  } catch (e) {
    if (e instanceof AlignInputError) throw new WriteError(source, e.key || undefined, e.reason)
    throw e
  }
  if (!isRecordNode(node)) {
    throw new WriteError(
      source,
      undefined,
      'a record (an object of arrays) is needed, not an array',
    )
  }
  return node
}

/**
 * Pickles a record as numpy 1.x's `np.save(path, dict)` does after the `.npy` header (protocol
 * 3, the 0-d object array holding the dict). Values are anything {@link normalize} takes
 * (NdArrays, typed arrays, tensors, nested arrays, numbers), nested records become nested
 * dicts; every array is written little-endian in C order.
 *
 * @throws {WriteError} for a value that is not an array or a record, naming its key; for a
 *   record that contains itself, nests deeper than the readers' `maxDepth` (100), or expands to
 *   more than 1,000,000 entries (`MAX_WRITE_ENTRIES`, record-graph.ts).
 */
export function pickleRecord(record: AlignRecord, options: { source?: string } = {}): Uint8Array {
  const source = options.source ?? '<bytes>'
  return new RecordPickler(source).record(normalizeRecord(record, source))
}
