/**
 * Normalize: every accepted input becomes an {@link NdArray} (no copy where the input allows)
 * or a record tree of them. TF.js tensors are duck typed, so the core never imports TF.js.
 */

import {
  type DType,
  dtypeOfStorage,
  float32ToHalf,
  isDType,
  isTypedArray,
  type NdArray,
  STORAGE,
  type TypedArray,
} from './dtype.js'
import { AlignInputError } from './errors.js'

/** Anything shaped like a tf.Tensor (of any TF.js backend): shape, dtype and `dataSync()`. */
export interface TensorLike {
  readonly shape: readonly number[]
  readonly dtype: string
  dataSync(): ArrayLike<number> | TypedArray
  readonly isDisposed?: boolean
}

/** An array given as its parts; `dtype` defaults to the one the TypedArray stores. */
export interface NdArrayLike {
  readonly data: TypedArray | readonly number[] | readonly boolean[]
  readonly shape: readonly number[]
  readonly dtype?: DType
}

/** Nested JS arrays of numbers or booleans (typed arrays allowed as the innermost level). */
export type NestedArray = readonly (number | boolean | TypedArray | NestedArray)[]

/** One array in any accepted form. */
export type ArrayInput =
  | TensorLike
  | NdArrayLike
  | TypedArray
  | NestedArray
  | number
  | bigint
  | boolean

/** A record of arrays or records, keyed by name; nested records give dotted keys. */
export type AlignRecord = { readonly [key: string]: AlignInput } | ReadonlyMap<string, AlignInput>

/** What the matchers and `compare()` accept on either side. */
export type AlignInput = ArrayInput | AlignRecord

/** A record after normalization: its entries in insertion order. */
export interface RecordNode {
  readonly kind: 'record'
  readonly entries: ReadonlyMap<string, AlignNode>
}

/** A normalized input: an array, or a record of normalized inputs. */
export type AlignNode = NdArray | RecordNode

export function isRecordNode(node: AlignNode): node is RecordNode {
  return 'kind' in node && node.kind === 'record'
}

type Side = 'actual' | 'expected'

const join = (key: string, child: string): string => (key === '' ? child : `${key}.${child}`)

/** Normalizes one side of a comparison; throws {@link AlignInputError} naming the key. */
export function normalize(input: unknown, side: Side = 'actual', key = ''): AlignNode {
  const fail = (reason: string): never => {
    throw new AlignInputError(key, side, reason)
  }
  if (typeof input === 'number')
    return { data: Float64Array.of(input), shape: [], dtype: 'float64' }
  if (typeof input === 'boolean')
    return { data: Uint8Array.of(input ? 1 : 0), shape: [], dtype: 'bool' }
  if (typeof input === 'bigint') {
    if (input < -(2n ** 63n) || input >= 2n ** 63n) fail('bigint outside the int64 range')
    return { data: BigInt64Array.of(input), shape: [], dtype: 'int64' }
  }
  if (input === null || input === undefined)
    return fail(`got ${input}, expected an array or a record`)
  if (typeof input !== 'object') return fail(`unsupported type ${typeof input}`)
  if (isTypedArray(input)) {
    const dtype = dtypeOfStorage(input) ?? fail(`unsupported array type ${input.constructor.name}`)
    return { data: input, shape: [input.length], dtype } as NdArray
  }
  if (Array.isArray(input)) return fromNested(input, fail)
  if (isTensorLike(input)) return fromTensor(input, fail)
  if (isNdArrayLike(input)) return fromParts(input, fail)
  if (input instanceof Map) {
    const entries = new Map<string, AlignNode>()
    for (const [k, v] of input) {
      if (typeof k !== 'string') fail(`Map key ${String(k)} is not a string`)
      entries.set(k, normalize(v, side, join(key, k)))
    }
    return { kind: 'record', entries }
  }
  const proto = Object.getPrototypeOf(input)
  if (proto === Object.prototype || proto === null) {
    const entries = new Map<string, AlignNode>()
    for (const [k, v] of Object.entries(input)) entries.set(k, normalize(v, side, join(key, k)))
    return { kind: 'record', entries }
  }
  return fail(`unsupported object ${proto?.constructor?.name ?? 'with no constructor'}`)
}

function isTensorLike(v: object): v is TensorLike {
  const t = v as Partial<TensorLike>
  return typeof t.dataSync === 'function' && Array.isArray(t.shape) && typeof t.dtype === 'string'
}

function isNdArrayLike(v: object): v is NdArrayLike {
  const t = v as Partial<NdArrayLike>
  return Array.isArray(t.shape) && (isTypedArray(t.data) || Array.isArray(t.data))
}

/** numpy's own limit on the number of dimensions. */
export const MAX_DIMS = 64

function checkShape(shape: readonly unknown[], fail: (r: string) => never): number {
  if (shape.length > MAX_DIMS) fail(`${shape.length} dimensions, more than numpy's ${MAX_DIMS}`)
  let size = 1
  for (const d of shape) {
    if (typeof d !== 'number' || !Number.isInteger(d) || d < 0)
      fail(`bad shape [${shape.join(', ')}]`)
    size *= d as number
  }
  return size
}

function fromTensor(t: TensorLike, fail: (r: string) => never): NdArray {
  if (t.isDisposed) fail('the tensor is disposed')
  // TF.js dtypes that have no numpy counterpart here are refused by name.
  if (!isDType(t.dtype)) fail(`unsupported tensor dtype '${t.dtype}'`)
  const dtype = t.dtype as DType
  const size = checkShape(t.shape, fail)
  const raw = t.dataSync()
  if (raw.length !== size)
    fail(`dataSync() gave ${raw.length} values for shape [${t.shape.join(', ')}]`)
  return { data: toStorage(raw, dtype), shape: [...t.shape], dtype } as NdArray
}

function fromParts(p: NdArrayLike, fail: (r: string) => never): NdArray {
  const size = checkShape(p.shape, fail)
  if (p.dtype !== undefined && !isDType(p.dtype)) fail(`unknown dtype '${String(p.dtype)}'`)
  const dtype =
    p.dtype ??
    (isTypedArray(p.data)
      ? dtypeOfStorage(p.data)
      : typeof p.data[0] === 'boolean'
        ? 'bool'
        : 'float64') ??
    fail('cannot tell the dtype')
  if (p.data.length !== size) {
    fail(`data has ${p.data.length} elements but shape [${p.shape.join(', ')}] holds ${size}`)
  }
  if (isTypedArray(p.data) && !(p.data instanceof STORAGE[dtype])) {
    fail(`dtype ${dtype} is stored in a ${STORAGE[dtype].name}, got a ${p.data.constructor.name}`)
  }
  return { data: toStorage(p.data, dtype), shape: [...p.shape], dtype } as NdArray
}

/** The data in the storage of `dtype`: the same object when it already is, else a copy. */
function toStorage(raw: ArrayLike<unknown>, dtype: DType): TypedArray {
  const Ctor = STORAGE[dtype]
  if (raw instanceof Ctor) return raw as TypedArray
  const out = new Ctor(raw.length)
  const big = dtype === 'int64' || dtype === 'uint64'
  for (let i = 0; i < raw.length; i++) {
    const v = raw[i]
    const n = typeof v === 'boolean' ? Number(v) : (v as number)
    if (big) out[i] = BigInt(Math.trunc(n))
    else if (dtype === 'bool')
      out[i] = n ? 1 : 0 // 0/1 as numpy stores it, whatever truthy number
    else if (dtype === 'float16')
      out[i] = float32ToHalf(Math.fround(n)) // numbers become half bits
    else out[i] = n
  }
  return out
}

function fromNested(input: readonly unknown[], fail: (r: string) => never): NdArray {
  const shape: number[] = []
  let probe: unknown = input
  while (Array.isArray(probe) || isTypedArray(probe)) {
    const level = probe as ArrayLike<unknown>
    shape.push(level.length)
    if (level.length === 0) break
    probe = level[0]
  }
  const dtype: DType = typeof probe === 'boolean' ? 'bool' : 'float64'
  const size = shape.reduce((a, b) => a * b, 1)
  const data = dtype === 'bool' ? new Uint8Array(size) : new Float64Array(size)
  let at = 0
  const walk = (level: unknown, depth: number, path: string): void => {
    if (depth === shape.length) {
      if (typeof level === 'number' && dtype === 'float64') data[at++] = level
      else if (typeof level === 'boolean' && dtype === 'bool') data[at++] = level ? 1 : 0
      else
        fail(
          `at ${path}: ${describe(level)} where a ${dtype === 'bool' ? 'boolean' : 'number'} was expected`,
        )
      return
    }
    if (!(Array.isArray(level) || isTypedArray(level))) {
      fail(
        `at ${path}: ${describe(level)} where an array of length ${shape[depth]} was expected (ragged nested array)`,
      )
    }
    const arr = level as ArrayLike<unknown>
    if (arr.length !== shape[depth]) {
      fail(
        `at ${path}: length ${arr.length} where ${shape[depth]} was expected (ragged nested array)`,
      )
    }
    for (let i = 0; i < arr.length; i++) walk(arr[i], depth + 1, `${path}[${i}]`)
  }
  walk(input, 0, '')
  return { data, shape, dtype } as NdArray
}

function describe(v: unknown): string {
  if (Array.isArray(v)) return `an array of length ${v.length}`
  if (isTypedArray(v)) return `a ${v.constructor.name}`
  return typeof v === 'string' ? `the string '${v}'` : String(v)
}
