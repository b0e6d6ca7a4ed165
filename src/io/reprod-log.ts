/**
 * reprod_log's files, in TypeScript: read and write its records (`np.save` of a dict: a `.npy`
 * of a pickled 0-d object array), and log arrays as its `ReprodLogger` does. Its diff report is
 * reprod-diff.ts.
 */

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
import { clip } from './excerpt.js'
import { writeFileGated } from './file-gate.js'
import { maxFileBytes, resolveLimits, sourceOf } from './limits.js'
import { inputBytes } from './npy.js'
import { npyDictText, npyHeaderLength, parseNpyHeader, writeNpyHeader } from './npy-header.js'
import { unpickleRecord } from './pickle.js'
import { pickleRecord } from './pickle-writer.js'
import { pyShape } from './raw-array.js'
import type { NdRecord, ReadOptions } from './types.js'

// ---------------------------------------------------------------------------------------------
// Files

/**
 * The `.npy` header numpy 1.x writes for a record (`np.save` of a dict): version 1.0, the dict
 * `{'descr': '|O', 'fortran_order': False, 'shape': (), }` padded with spaces to 128 bytes.
 */
const RECORD_HEADER = (() => {
  const text = npyDictText('|O', [])
  const headerLength = npyHeaderLength(text, 1)
  const out = new Uint8Array(10 + headerLength)
  writeNpyHeader(out, 0, 1, text, headerLength)
  return out
})()

/** The descrs numpy writes for an object array. */
const OBJECT_DESCRS: ReadonlySet<string> = new Set(['|O', 'O', '|O8', '=O'])

/**
 * Checks the `.npy` header of a record with the one npy header parser (magic, version, length,
 * the dict's syntax and keys), then that it is a 0-d object array (`descr` `'|O'`, shape
 * `()`), and returns where the pickle starts.
 *
 * @throws {NpyFormatError} naming the source and the reason.
 */
export function recordPickleOffset(bytes: Uint8Array, options: ReadOptions = {}): number {
  const source = sourceOf(bytes, options)
  const header = parseNpyHeader(bytes, source, resolveLimits(options).maxHeaderBytes)
  const { descr, shape } = header
  if (!OBJECT_DESCRS.has(descr)) {
    throw new NpyFormatError(
      source,
      undefined,
      `descr '${clip(descr)}' with shape ${pyShape(shape)}: a plain array, not a reprod_log record (a pickled dict, descr '|O')`,
    )
  }
  if (shape.length !== 0) {
    throw new NpyFormatError(
      source,
      undefined,
      `an object array of shape ${pyShape(shape)}, not a record (shape ())`,
    )
  }
  return header.dataOffset
}

/**
 * Reads a reprod_log record: a `.npy` of a pickled dict, as `ReprodLogger.save` (that is
 * `np.save(path, dict)`) writes it with numpy 1.x (protocol 3) or 2.x (protocol 4). Given a
 * path, reads the file (as is: unlike `save`, `np.load` adds no `.npy`). Values become
 * {@link NdArray}s (row-major, native byte order; numpy scalars and Python numbers as 0-d
 * arrays) and nested dicts nested records, carrying the file's key order (see `orderedKeys`:
 * a plain object would list integer-like keys such as `'10'` first). An int dict key (`{0:
 * arr}`, which reprod_log reads too) becomes the key `'0'`. Only numpy's array globals are
 * resolved: no pickle can run code.
 *
 * @throws {NpyFormatError} when the header is not a record's, or the path is missing, not a
 *   regular file, or too large (naming the path).
 * @throws {PickleFormatError} when the pickle is malformed or holds something else than arrays,
 *   numbers and dicts (naming the key).
 * @throws {ForbiddenGlobalError} when the pickle names any other global (`os.system`...).
 */
export function readReprodLog(
  input: string | Uint8Array | ArrayBuffer,
  options: ReadOptions = {},
): NdRecord {
  const source = sourceOf(input, options)
  const limits = resolveLimits(options)
  const bytes = inputBytes(input, source, NpyFormatError, maxFileBytes('reprod_log', limits))
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
export function encodeReprodLog(record: NdRecord | AlignRecord, source = '<bytes>'): Uint8Array {
  const pickle = pickleRecord(record, { source })
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
 * @throws {WriteError} for a value that is neither an array nor a record, naming its key; for a
 *   folder or file that cannot be made (a file in the way, no permission), naming the path.
 */
export function writeReprodLog(path: string, record: NdRecord | AlignRecord): string {
  if (typeof path !== 'string' || path === '') {
    writeFileGated(path, new Uint8Array(0)) // refuses it, naming the argument
  }
  const file = npyPath(path)
  writeFileGated(file, encodeReprodLog(record, file), true)
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
