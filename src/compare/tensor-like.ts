/**
 * Normalize: every accepted input becomes an {@link NdArray} (no copy where the input allows)
 * or a record tree of them. TF.js tensors are duck typed, so the core never imports TF.js.
 */

import {
  type DType,
  dtypeOfStorage,
  isDType,
  isTypedArray,
  type NdArray,
  STORAGE,
  type TypedArray,
} from './dtype.js'
import { AlignInputError } from './errors.js'
import { KEY_ORDER, orderedKeys } from './key-order.js'
import {
  type Budget,
  DEFAULT_LIMITS,
  type Limits,
  MAX_RECORD_DEPTH,
  newBudget,
  spend,
} from './limits.js'
import { describe, excerpt, fromNested, MAX_DIMS, toStorage } from './storage.js'

export { MAX_DIMS } from './storage.js'

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

/** The state of one side's normalization. */
interface Walk {
  readonly side: Side
  readonly budget: Budget
  /** The records on the path from the top to the current one: meeting one again is a cycle. */
  readonly onPath: Set<object>
  /**
   * Records already normalized, with what they cost: a record reached again by another path
   * (shared, not a cycle) is normalized once and its cost charged again, so a DAG of 32 levels
   * of `d = { a: d, b: d }` is refused by the budget after a few levels, not walked 2^32 times.
   */
  readonly memo: Map<object, { node: RecordNode; keys: number; elements: number }>
}

/**
 * Normalizes one side of a comparison; throws {@link AlignInputError} naming the key. The input
 * is bounded by `limits` (see {@link DEFAULT_LIMITS}), a record nested deeper than
 * {@link MAX_RECORD_DEPTH} levels or containing itself is refused; a sub-record shared by
 * several keys is normalized once (the same {@link RecordNode} at each).
 */
export function normalize(
  input: unknown,
  side: Side = 'actual',
  key = '',
  limits: Limits = DEFAULT_LIMITS,
): AlignNode {
  const walk: Walk = { side, budget: newBudget(limits), onPath: new Set(), memo: new Map() }
  return node(input, walk, key, 0)
}

function node(input: unknown, w: Walk, key: string, depth: number): AlignNode {
  if (typeof input === 'object' && input !== null) {
    if (isTypedArray(input)) {
      // the common leaf, without a closure or a second dispatch (arrayNode's own first case)
      const dtype = dtypeOfStorage(input)
      if (dtype !== undefined) {
        const over = spend(w.budget, 1, input.length)
        if (over !== undefined) throw new AlignInputError(key, w.side, over)
        return { data: input, shape: [input.length], dtype } as NdArray
      }
    } else if (
      (input instanceof Map || isPlainObject(input)) &&
      !isTensorLike(input) &&
      !isNdArrayLike(input)
    ) {
      return recordNode(input, w, key, depth)
    }
  }
  const fail = (reason: string): never => {
    throw new AlignInputError(key, w.side, reason)
  }
  const array = arrayNode(input, fail)
  const over = spend(w.budget, 1, array.data.length)
  if (over !== undefined) fail(over)
  return array
}

function isPlainObject(v: object): boolean {
  const proto = Object.getPrototypeOf(v)
  return proto === Object.prototype || proto === null
}

function recordNode(input: object, w: Walk, key: string, depth: number): RecordNode {
  const fail = (reason: string): never => {
    throw new AlignInputError(key, w.side, reason)
  }
  const seen = w.memo.get(input)
  if (seen !== undefined) {
    const over = spend(w.budget, seen.keys, seen.elements)
    if (over !== undefined) fail(over)
    return seen.node
  }
  if (w.onPath.has(input)) fail('the record contains itself (a cycle)')
  if (depth >= MAX_RECORD_DEPTH) fail(`records nested more than ${MAX_RECORD_DEPTH} levels deep`)
  w.onPath.add(input)
  const keys0 = w.budget.keys
  const elements0 = w.budget.elements
  const entries = new Map<string, AlignNode>()
  if (input instanceof Map) {
    for (const [k, v] of input) {
      if (typeof k !== 'string') fail(`Map key ${describe(k)} is not a string`)
      entries.set(k, node(v, w, join(key, k), depth + 1))
    }
  } else {
    // the file's order when the record was read from one (see key-order.ts)
    const obj = input as Record<string, unknown>
    if ((obj as { [KEY_ORDER]?: unknown })[KEY_ORDER] === undefined) {
      // no file order: JS's own (orderedKeys would give the same keys), without an entry
      // array per key
      const keys = Object.keys(obj)
      for (let i = 0; i < keys.length; i++) {
        const k = keys[i] as string
        entries.set(k, node(obj[k], w, key === '' ? k : `${key}.${k}`, depth + 1))
      }
    } else {
      for (const k of orderedKeys(obj)) entries.set(k, node(obj[k], w, join(key, k), depth + 1))
    }
  }
  w.onPath.delete(input)
  const result: RecordNode = { kind: 'record', entries }
  w.memo.set(input, {
    node: result,
    keys: w.budget.keys - keys0,
    elements: w.budget.elements - elements0,
  })
  return result
}

function arrayNode(input: unknown, fail: (r: string) => never): NdArray {
  if (typeof input === 'number')
    return { data: Float64Array.of(input), shape: [], dtype: 'float64' }
  if (typeof input === 'boolean')
    return { data: Uint8Array.of(input ? 1 : 0), shape: [], dtype: 'bool' }
  if (typeof input === 'bigint') {
    if (input < -(2n ** 63n) || input >= 2n ** 63n)
      fail(`${describe(input)} is outside the int64 range`)
    return { data: BigInt64Array.of(input), shape: [], dtype: 'int64' }
  }
  if (input === null || input === undefined)
    return fail(`got ${input}, expected an array or a record`)
  if (typeof input !== 'object') return fail(`unsupported type ${typeof input}`)
  if (isTypedArray(input)) {
    const dtype = dtypeOfStorage(input) ?? fail(`unsupported array type ${input.constructor.name}`)
    return { data: input, shape: [input.length], dtype } as NdArray
  }
  if (Array.isArray(input)) return fromNested(input, fail) as NdArray
  if (isTensorLike(input)) return fromTensor(input, fail)
  if (isNdArrayLike(input)) return fromParts(input, fail)
  const proto = Object.getPrototypeOf(input)
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

function checkShape(shape: readonly unknown[], fail: (r: string) => never): number {
  if (shape.length > MAX_DIMS) fail(`${shape.length} dimensions, more than numpy's ${MAX_DIMS}`)
  let size = 1
  for (const d of shape) {
    if (typeof d !== 'number' || !Number.isInteger(d) || d < 0)
      fail(`bad shape [${shape.map(describe).join(', ')}]`)
    size *= d as number
  }
  return size
}

function fromTensor(t: TensorLike, fail: (r: string) => never): NdArray {
  if (t.isDisposed) fail('the tensor is disposed')
  // TF.js dtypes that have no numpy counterpart here are refused by name.
  if (!isDType(t.dtype)) fail(`unsupported tensor dtype '${excerpt(t.dtype)}'`)
  const dtype = t.dtype as DType
  const size = checkShape(t.shape, fail)
  const raw: unknown = t.dataSync()
  if (
    !isTypedArray(raw) &&
    !Array.isArray(raw) &&
    !(
      typeof raw === 'object' &&
      raw !== null &&
      typeof (raw as ArrayLike<unknown>).length === 'number'
    )
  )
    fail(`dataSync() gave ${describe(raw)}, not an array`)
  const values = raw as ArrayLike<unknown>
  if (values.length !== size)
    fail(`dataSync() gave ${values.length} values for shape [${t.shape.join(', ')}]`)
  return { data: toStorage(values, dtype, fail), shape: [...t.shape], dtype } as NdArray
}

function fromParts(p: NdArrayLike, fail: (r: string) => never): NdArray {
  const size = checkShape(p.shape, fail)
  if (p.dtype !== undefined && !isDType(p.dtype)) fail(`unknown dtype '${excerpt(p.dtype)}'`)
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
  const order = (p as { order?: unknown }).order
  const data = toStorage(p.data, dtype, fail)
  // passed through for renderers (see NdArray.order); the data is C order either way
  return (
    order === 'F' || order === 'C'
      ? { data, shape: [...p.shape], dtype, order }
      : { data, shape: [...p.shape], dtype }
  ) as NdArray
}
