/**
 * A safe unpickler for numpy records (what `np.save(path, dict)` writes after its `.npy`
 * header). Safety, in layers:
 * 1. The stack machine (pickle-machine.ts) decodes and checks every instruction before it runs
 *    it: only the opcodes a numpy record needs (protocols 2 to 5), complete arguments, a
 *    consistent stack, memo and MARKs, and no global outside {@link ALLOWED_GLOBALS}.
 * 2. The globals are functions written here (pickle-globals.ts), made per parse and frozen;
 *    they check their arguments and build inert values.
 * 3. Numbers, floats, bytes and numpy objects are frozen boxes recognised by brand (a private
 *    field), never by prototype (pickle-values.ts).
 * 4. The conversion to a record (pickle-record.ts) bounds every array by the limits before it
 *    is copied and names the key of whatever it refuses.
 * Every error is a {@link PickleFormatError} (or {@link ForbiddenGlobalError}) naming the source.
 */
import { FileFormatError, ForbiddenGlobalError, PickleFormatError } from './errors.js'
import { clip } from './excerpt.js'
import { resolveLimits, sourceOf } from './limits.js'
import { type Dialect, NUMPY_DIALECT } from './pickle-globals.js'
import { type MachineResult, runPickle } from './pickle-machine.js'
import { conversionOf, convertDict } from './pickle-record.js'
import { describe, isMap, PickledArray, PickledDtype, Refusal } from './pickle-values.js'
import { pyShape } from './raw-array.js'
import type { NdRecord, ReadOptions } from './types.js'

export { ALLOWED_GLOBALS } from './pickle-globals.js'

/**
 * Runs the machine over one pickle at the start of `bytes` and returns its top value, as built
 * (boxes, not yet a record), and where its STOP ended (torch's legacy files hold several
 * pickles back to back). Throws {@link PickleFormatError} or {@link ForbiddenGlobalError}.
 */
export function parsePickle(
  bytes: Uint8Array,
  source: string,
  maxDepth: number,
  dialect: Dialect = NUMPY_DIALECT,
): MachineResult {
  try {
    // A record nested maxDepth deep needs about two MARKs per level.
    return runPickle(bytes, 2 * maxDepth + 16, dialect)
  } catch (e) {
    throw asFileError(e, source)
  }
}

/** {@link parsePickle} of a whole file: nothing may follow the STOP. */
export function parseWholePickle(
  bytes: Uint8Array,
  source: string,
  maxDepth: number,
  dialect: Dialect = NUMPY_DIALECT,
): unknown {
  const result = parsePickle(bytes, source, maxDepth, dialect)
  if (result.end !== bytes.length) {
    throw new PickleFormatError(
      source,
      undefined,
      `${bytes.length - result.end} bytes after the pickle's STOP (at byte ${result.end - 1})`,
    )
  }
  return result.value
}

/** A refusal found during a parse or a conversion as the file error naming `source`. */
export function asFileError(e: unknown, source: string): FileFormatError {
  if (e instanceof FileFormatError) return e
  if (e instanceof Refusal) {
    return e.forbidden !== undefined
      ? new ForbiddenGlobalError(source, e.forbidden, e.advice)
      : new PickleFormatError(source, undefined, e.reason)
  }
  throw e
}

/** Options of {@link unpickleRecord}. */
export type UnpickleOptions = ReadOptions

/**
 * Reads a numpy record from pickle bytes: the 0-d object array holding a dict that `np.save`
 * writes after the `.npy` header (reprod_log's files), or a bare pickled dict. Values become:
 * numpy arrays of bool, int8-64, uint8-64, float16/32/64 (either byte order, C or Fortran
 * order, returned row-major) → {@link NdArray}; numpy scalars → 0-d arrays of their dtype;
 * Python float / int / bool → 0-d float64 / int64 / bool; dicts → nested records. Anything
 * else (str, bytes, lists, object or complex arrays) is refused, naming its key.
 *
 * @throws {PickleFormatError} for anything malformed or unsupported, naming the source and key.
 * @throws {ForbiddenGlobalError} for a global outside {@link ALLOWED_GLOBALS}.
 */
export function unpickleRecord(bytes: Uint8Array, options: UnpickleOptions = {}): NdRecord {
  const source = sourceOf(bytes, options)
  const limits = resolveLimits(options)
  const ctx = conversionOf(source, limits)
  const top = parseWholePickle(bytes, source, ctx.maxDepth)
  try {
    let dict: unknown = top
    if (PickledArray.is(top)) {
      const state = PickledArray.state(top)
      if (state === undefined)
        throw new PickleFormatError(source, undefined, 'an ndarray without its state')
      const info = PickledDtype.info(state.dtype)
      if (info.code[0] !== 'O' || state.shape.length !== 0 || !Array.isArray(state.data)) {
        throw new PickleFormatError(
          source,
          undefined,
          `the pickle holds a ${clip(info.code)} array of shape ${pyShape(state.shape)}, not a record (a 0-d object array holding a dict)`,
        )
      }
      if (state.data.length !== 1) {
        throw new PickleFormatError(
          source,
          undefined,
          `a 0-d object array holding ${state.data.length} items`,
        )
      }
      dict = state.data[0]
    }
    if (!isMap(dict)) {
      throw new PickleFormatError(
        source,
        undefined,
        `the pickle holds ${describe(dict)}, not a dict`,
      )
    }
    return convertDict(dict, ctx, '', 1)
  } catch (e) {
    throw asFileError(e, source)
  }
}
