/**
 * reprod_log's files, in TypeScript: read and write its records (`np.save` of a dict: a `.npy`
 * of a pickled 0-d object array), and log arrays as its `ReprodLogger` does. Its diff report is
 * reprod-diff.ts.
 */

import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname } from 'node:path'
import type { NdArray } from '../compare/dtype.js'
import { AlignInputError } from '../compare/errors.js'
import {
  type AlignNode,
  type AlignRecord,
  type ArrayInput,
  isRecordNode,
  normalize,
} from '../compare/tensor-like.js'
import { NpyFormatError, WriteError } from './errors.js'
import { unpickleRecord } from './pickle.js'
import { pickleRecord } from './pickle-writer.js'
import { DEFAULT_LIMITS, type NdRecord, type ReadOptions } from './types.js'

// ---------------------------------------------------------------------------------------------
// Files

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59] // \x93NUMPY

/**
 * The `.npy` header numpy 1.x writes for a record (`np.save` of a dict): version 1.0, the dict
 * `{'descr': '|O', 'fortran_order': False, 'shape': (), }` padded with spaces to 128 bytes.
 */
const RECORD_HEADER = (() => {
  const dict = "{'descr': '|O', 'fortran_order': False, 'shape': (), }"
  const text = `${dict}${' '.repeat(128 - 10 - dict.length - 1)}\n`
  const out = new Uint8Array(128)
  out.set([...MAGIC, 1, 0, text.length & 0xff, text.length >> 8])
  for (let i = 0; i < text.length; i++) out[10 + i] = text.charCodeAt(i)
  return out
})()

/**
 * Checks the `.npy` header of a record (magic, version 1.0/2.0/3.0, header length, a dict with
 * `descr` `'|O'` and shape `()`) and returns where the pickle starts.
 */
export function recordPickleOffset(bytes: Uint8Array, options: ReadOptions = {}): number {
  const source = options.source ?? '<bytes>'
  const fail = (reason: string): never => {
    throw new NpyFormatError(source, undefined, reason)
  }
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b)) {
    fail('not a .npy file (no \\x93NUMPY magic)')
  }
  const major = bytes[6] as number
  if (major < 1 || major > 3 || bytes[7] !== 0) fail(`unknown .npy version ${major}.${bytes[7]}`)
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const prefix = major === 1 ? 10 : 12
  if (bytes.length < prefix) fail('truncated .npy header')
  const length = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true)
  const maxHeader = options.maxHeaderBytes ?? DEFAULT_LIMITS.maxHeaderBytes
  if (length > maxHeader) fail(`header of ${length} bytes is over maxHeaderBytes ${maxHeader}`)
  if (prefix + length > bytes.length) {
    fail(`truncated .npy header: ${length} bytes announced, ${bytes.length - prefix} present`)
  }
  const raw = bytes.subarray(prefix, prefix + length)
  let header: string
  try {
    header = new TextDecoder(major === 3 ? 'utf-8' : 'latin1', { fatal: true }).decode(raw).trim()
  } catch {
    return fail('the .npy header is not valid text')
  }
  if (!header.startsWith('{') || !header.endsWith('}')) fail(`a .npy header that is not a dict`)
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(header)?.[1]
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header)?.[1]
  const shape = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)?.[1]
  if (descr === undefined || fortran === undefined || shape === undefined) {
    fail(`a .npy header without descr, fortran_order and shape: ${header}`)
  }
  if (descr !== '|O' && descr !== 'O' && descr !== '|O8') {
    fail(
      `descr '${descr}' with shape (${shape}): a plain array, not a reprod_log record (a pickled dict, descr '|O')`,
    )
  }
  if ((shape as string).trim() !== '') {
    fail(`an object array of shape (${shape}), not a record (shape ())`)
  }
  return prefix + length
}

function asBytes(input: Uint8Array | ArrayBuffer): Uint8Array {
  return input instanceof Uint8Array ? input : new Uint8Array(input)
}

/**
 * Reads a reprod_log record: a `.npy` of a pickled dict, as `ReprodLogger.save` (that is
 * `np.save(path, dict)`) writes it with numpy 1.x (protocol 3) or 2.x (protocol 4). Given a
 * path, reads the file (as is: unlike `save`, `np.load` adds no `.npy`). Values become
 * {@link NdArray}s (row-major, native byte order; numpy scalars and Python numbers as 0-d
 * arrays) and nested dicts nested records, in the file's key order (except that JS puts
 * integer-like keys such as `'0'` first). Only numpy's array globals are resolved: no pickle can
 * run code.
 *
 * @throws {NpyFormatError} when the header is not a record's.
 * @throws {PickleFormatError} when the pickle is malformed or holds something else than arrays,
 *   numbers and dicts (naming the key).
 * @throws {ForbiddenGlobalError} when the pickle names any other global (`os.system`...).
 */
export function readReprodLog(
  input: string | Uint8Array | ArrayBuffer,
  options: ReadOptions = {},
): NdRecord {
  const source = options.source ?? (typeof input === 'string' ? input : '<bytes>')
  const bytes = typeof input === 'string' ? readFileSync(input) : asBytes(input)
  const opts = { ...options, source }
  const offset = recordPickleOffset(bytes, opts)
  return unpickleRecord(bytes.subarray(offset), opts)
}

/**
 * The bytes of a reprod_log record file, exactly as numpy 1.x's `np.save(path, dict)` writes
 * them (the 128-byte header, then the protocol-3 pickle). Values may be any array input
 * (NdArrays, typed arrays, tensors, numbers); nested records become nested dicts.
 *
 * @throws {WriteError} for a value that is neither an array nor a record, naming its key.
 */
export function encodeReprodLog(record: NdRecord | AlignRecord): Uint8Array {
  const pickle = pickleRecord(record)
  const out = new Uint8Array(RECORD_HEADER.length + pickle.length)
  out.set(RECORD_HEADER)
  out.set(pickle, RECORD_HEADER.length)
  return out
}

/** The path numpy saves to: `.npy` appended when missing, as `np.save` does. */
function npyPath(path: string): string {
  return path.endsWith('.npy') ? path : `${path}.npy`
}

/**
 * Writes a reprod_log record file, as `ReprodLogger.save` does: the folder is created when
 * needed and `.npy` is appended when the path lacks it (as `np.save`). Returns the path written.
 *
 * @throws {WriteError} for a value that is neither an array nor a record, naming its key.
 */
export function writeReprodLog(path: string, record: NdRecord | AlignRecord): string {
  const file = npyPath(path)
  const bytes = encodeReprodLog(record)
  mkdirSync(dirname(file), { recursive: true })
  writeFileSync(file, bytes)
  return file
}

// ---------------------------------------------------------------------------------------------
// ReprodLogger

/**
 * reprod_log's `ReprodLogger`: collects named arrays and saves them as one record file.
 * Unlike the Python class, `add` takes any array input (typed arrays, NdArrays, TF.js tensors,
 * nested arrays, numbers) and stores a copy, and `remove` returns whether the key was there.
 */
export class ReprodLogger {
  readonly #data: NdRecord = {}

  /** The arrays logged so far, by key, in the order added (the live record, as in Python). */
  get data(): NdRecord {
    return this.#data
  }

  /**
   * Logs `value` under `key`, overwriting an existing key silently (as reprod_log). The value is
   * normalized to an {@link NdArray} and its data copied, so later changes to the source
   * array do not change the log.
   *
   * @throws {WriteError} when the value is not an array (a string, a record...).
   */
  add(key: string, value: ArrayInput): void {
    let node: AlignNode
    try {
      node = normalize(value, 'actual')
    } catch (e) {
      if (e instanceof AlignInputError) throw new WriteError('ReprodLogger', key, e.reason)
      throw e
    }
    if (isRecordNode(node)) {
      throw new WriteError('ReprodLogger', key, 'an array is needed, not a record')
    }
    const copy = { data: node.data.slice(), shape: [...node.shape], dtype: node.dtype } as NdArray
    Object.defineProperty(this.#data, key, {
      value: copy,
      enumerable: true,
      writable: true,
      configurable: true,
    })
  }

  /** Removes `key`; returns false when it was not logged (reprod_log prints a message instead). */
  remove(key: string): boolean {
    if (!Object.hasOwn(this.#data, key)) return false
    delete this.#data[key]
    return true
  }

  /** Removes every key. */
  clear(): void {
    for (const key of Object.keys(this.#data)) delete this.#data[key]
  }

  /**
   * Saves the record as reprod_log does (`np.save(path, data)`): creates the folder, appends
   * `.npy` when the path lacks it, writes numpy 1.x's bytes. Returns the path written.
   */
  save(path: string): string {
    return writeReprodLog(path, this.#data)
  }
}
