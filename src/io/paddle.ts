/**
 * PaddlePaddle's `.pdparams` (and any pickle of a dict of numpy arrays), read without Python:
 * `paddle.save` pickles, protocols 2 to 4, of numpy arrays (the numpy dialect, with protocol 2's
 * `_codecs.encode(str, 'latin1')` bytes), plus what Paddle adds: a Tensor pickled as
 * `tuple((name, ndarray))`, a LoDTensor as `eval('data', {'data': ndarray})` (matched by that
 * exact form and never run), the `StructuredToParameterName@@` name table (taken out of the
 * record, as `paddle.load` does, and returned), and arrays over 2^30 bytes split by protocols 2
 * and 3 into `<key>@@.0`, `<key>@@.1`... with `UnpackBigParamInfor@@` saying how to rebuild them
 * (rebuilt here, each slice checked).
 */
import type { NdArray, TypedArray } from '../compare/dtype.js'
import { orderedKeys, withKeyOrder } from '../compare/key-order.js'
import { CheckpointFormatError } from './errors.js'
import { clip } from './excerpt.js'
import { maxFileBytes, resolveLimits, sourceOf } from './limits.js'
import { inputBytes } from './npy.js'
import { asFileError, parseWholePickle } from './pickle.js'
import { type Callable, type Dialect, makeGlobals } from './pickle-globals.js'
import { type Conversion, conversionOf, convertDict, convertValue } from './pickle-record.js'
import { bad, describe, intOf, isMap, mapEntries, PickledArray } from './pickle-values.js'
import { pyShape } from './raw-array.js'
import type { NdRecord, ReadOptions } from './types.js'

const NAME_TABLE = 'StructuredToParameterName@@'
const BIG_PARAMS = 'UnpackBigParamInfor@@'

/** What a `.pdparams` held. */
export interface PaddleContents {
  /** The arrays by state_dict name, in the file's order, split arrays rebuilt. */
  readonly value: NdRecord
  /** Keys of None, str and bytes values, left out of `value`. */
  readonly skipped: readonly string[]
  /** `StructuredToParameterName@@`: structured name to Paddle's parameter name (`linear_18.w_0`). */
  readonly nameTable?: Readonly<Record<string, string>>
}

/** numpy's globals, plus Paddle's `tuple` and its one form of `eval`. */
const PADDLE_DIALECT: Dialect = Object.freeze({
  what: 'Paddle files',
  refusal: (module: string, name: string) =>
    /^paddle\b/.test(module)
      ? `the file pickles ${module}.${name}: save the layer's state_dict() with paddle.save instead of the layer`
      : 'not one of the globals a Paddle state_dict holds (numpy arrays, tuple)',
  build: () => false,
  builds: 'only numpy dtypes and arrays are built',
  make() {
    const globals = new Map<string, unknown>(makeGlobals())
    const tuple: Callable = (...args) => {
      if (args.length !== 1 || !Array.isArray(args[0])) throw bad('tuple(...) of no sequence')
      return Object.freeze([...args[0]])
    }
    const evalForm: Callable = (...args) => {
      // paddle's LoDTensor reducer: eval('data', {'data': ndarray}); only this, never run
      const [code, scope] = args
      const entries = isMap(scope) ? mapEntries(scope) : []
      const [only] = entries
      if (
        args.length !== 2 ||
        code !== 'data' ||
        entries.length !== 1 ||
        only?.[0] !== 'data' ||
        !PickledArray.is(only[1])
      ) {
        throw bad(
          "builtins.eval is read only in Paddle's form eval('data', {'data': array}), and never run",
        )
      }
      return only[1]
    }
    for (const f of [tuple, evalForm]) Object.freeze(f)
    for (const m of ['builtins', '__builtin__']) {
      globals.set(`${m}.tuple`, tuple)
      globals.set(`${m}.eval`, evalForm)
    }
    return { globals }
  },
})

/** Paddle's pickled Tensor: `(name, ndarray)`. */
const isTensorTuple = (v: unknown): v is readonly [string, unknown] =>
  Array.isArray(v) &&
  Object.isFrozen(v) &&
  v.length === 2 &&
  typeof v[0] === 'string' &&
  PickledArray.is(v[1])

/**
 * Reads a `.pdparams` already in memory.
 * @throws {CheckpointFormatError} for a file that is not a dict, a bad name table, or split
 *   arrays that do not rebuild (naming the key).
 * @throws {PickleFormatError} / {@link ForbiddenGlobalError} for the pickle itself.
 */
export function decodePdparams(
  bytes: Uint8Array,
  source: string,
  options: ReadOptions = {},
): PaddleContents {
  const limits = resolveLimits(options)
  const fail = (reason: string, key?: string): never => {
    throw new CheckpointFormatError(source, key, reason)
  }
  const top = parseWholePickle(bytes, source, limits.maxDepth, PADDLE_DIALECT)
  if (!isMap(top)) return fail(`the pickle holds ${describe(top)}, not a dict of arrays`)
  const skipped: string[] = []
  const ctx: Conversion = conversionOf(source, limits, {
    leaf: (v, key) => (isTensorTuple(v) ? (convertValue(v[1], ctx, key, 0) as NdArray) : undefined),
    skipped,
  })
  const rest = new Map<unknown, unknown>()
  let names: unknown
  let big: unknown
  for (const [k, v] of mapEntries(top)) {
    if (k === NAME_TABLE) names = v
    else if (k === BIG_PARAMS) big = v
    else rest.set(k, v)
  }
  let record: NdRecord
  try {
    record = convertDict(rest, ctx, '', 1)
  } catch (e) {
    throw asFileError(e, source)
  }
  if (big !== undefined) record = rebuildBig(record, big, fail)
  const contents: PaddleContents = { value: record, skipped }
  if (names === undefined) return contents
  return { ...contents, nameTable: nameTableOf(names, fail) }
}

function nameTableOf(
  v: unknown,
  fail: (reason: string, key?: string) => never,
): Record<string, string> {
  if (!isMap(v)) return fail(`a name table that is ${describe(v)}, not a dict`, NAME_TABLE)
  const out: Record<string, string> = Object.create(null)
  for (const [k, name] of mapEntries(v)) {
    if (typeof k !== 'string' || typeof name !== 'string') {
      fail(`a name table entry of ${describe(k)} to ${describe(name)}, not str to str`, NAME_TABLE)
    }
    out[k as string] = name as string
  }
  return out
}

/** `UnpackBigParamInfor@@`: each split array concatenated from its slices, in the first's place. */
function rebuildBig(
  record: NdRecord,
  info: unknown,
  fail: (reason: string, key?: string) => never,
): NdRecord {
  if (!isMap(info))
    return fail(`split-array info that is ${describe(info)}, not a dict`, BIG_PARAMS)
  const built = new Map<string, NdArray>()
  const consumed = new Map<string, string>()
  for (const [name, entry] of mapEntries(info)) {
    if (typeof name !== 'string' || !isMap(entry)) {
      return fail(`split-array info of ${describe(name)}: ${describe(entry)}`, BIG_PARAMS)
    }
    const field = (f: string): unknown => mapEntries(entry).find(([k]) => k === f)?.[1]
    const origin = field('OriginShape')
    const slices = field('slices')
    if (!Array.isArray(origin) || !Array.isArray(slices) || slices.length === 0) {
      return fail('split-array info without OriginShape and slices', name)
    }
    const shape = origin.map((d) => intOf(d, 'a dimension'))
    const parts = slices.map((s) => {
      if (typeof s !== 'string') return fail(`a slice name that is ${describe(s)}`, name)
      const part = record[s]
      if (part === undefined || !('data' in part) || !ArrayBuffer.isView(part.data)) {
        return fail(`its slice '${clip(s)}' is not an array in the file`, name)
      }
      if (consumed.has(s)) return fail(`slice '${clip(s)}' is claimed twice`, name)
      consumed.set(s, name)
      return part as NdArray
    })
    const dtype = (parts[0] as NdArray).dtype
    const total = parts.reduce((n, p) => n + p.data.length, 0)
    const want = shape.reduce((a, b) => a * b, 1)
    if (parts.some((p) => p.dtype !== dtype || p.shape.length !== 1)) {
      fail('its slices are not 1-d arrays of one dtype', name)
    }
    if (total !== want) {
      fail(`its slices hold ${total} elements, OriginShape ${pyShape(shape)} needs ${want}`, name)
    }
    const first = (parts[0] as NdArray).data
    const data = new (first.constructor as new (n: number) => TypedArray)(total)
    let at = 0
    for (const p of parts) {
      ;(data as Float32Array).set(p.data as Float32Array, at)
      at += p.data.length
    }
    built.set(slices[0] as string, { data, shape, dtype } as NdArray)
    consumed.set(slices[0] as string, name)
  }
  const out: NdRecord = {}
  const keys: string[] = []
  for (const k of orderedKeys(record)) {
    const owner = consumed.get(k)
    if (owner !== undefined && !built.has(k)) continue
    const name = owner ?? k
    if (Object.hasOwn(out, name)) fail('a rebuilt array has the name of another key', name)
    Object.defineProperty(out, name, {
      value: built.get(k) ?? record[k],
      enumerable: true,
      writable: true,
      configurable: true,
    })
    keys.push(name)
  }
  return withKeyOrder(out, keys)
}

/**
 * Reads a Paddle `.pdparams` (a path, or its bytes), or any pickled dict of numpy arrays: the
 * arrays keyed by state_dict name in the file's order (see {@link decodePdparams}).
 */
export function readPdparams(
  input: string | Uint8Array | ArrayBuffer,
  options: ReadOptions = {},
): PaddleContents {
  const source = sourceOf(input, options)
  const limits = resolveLimits(options)
  const bytes = inputBytes(input, source, CheckpointFormatError, maxFileBytes('checkpoint', limits))
  return decodePdparams(bytes, source, options)
}
