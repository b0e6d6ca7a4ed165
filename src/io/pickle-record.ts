/**
 * The unpickled value of a numpy record (boxes, Maps and arrays: pickle-values.ts) turned into
 * an {@link NdRecord}: arrays through the shared raw-array codec, dicts into records that keep
 * their file key order. A value the pickle memoised and references twice is converted once
 * and stays shared (a record whose dicts share one another 32 levels deep reads in linear
 * time); a dict inside itself and nesting past `maxDepth` are refused.
 */
import type { NdArray } from '../compare/dtype.js'
import { withKeyOrder } from '../compare/key-order.js'
import { NpyHeaderError, PickleFormatError } from './errors.js'
import { bigintExcerpt, clip } from './excerpt.js'
import { parseDescr, type ResolvedDescr } from './numpy-dtype.js'
import {
  describe,
  isMap,
  mapEntries,
  PickledArray,
  PickledDtype,
  PickledScalar,
  PyBytes,
  PyFloat,
  PyInt,
} from './pickle-values.js'
import { boundedCount, decodeRawArray, pyShape } from './raw-array.js'
import type { NdRecord } from './types.js'

/** What a conversion knows: the limits, and the values converted so far. */
export interface Conversion {
  readonly source: string
  readonly maxArrayBytes: number
  readonly maxDepth: number
  /** Converted values by identity (a value referenced twice is converted once). */
  readonly done: Map<object, NdArray | NdRecord>
  /** Dicts being converted (a dict inside itself is refused). */
  readonly open: Set<object>
  /** A reader's own values (torch tensors, Paddle's tensor tuples): their array, else `undefined`. */
  readonly leaf?: (v: unknown, key: string) => NdArray | undefined
  /**
   * Set for checkpoints: values that hold no number (None, str, bytes, such as an optimizer's
   * `foreach: None`) are listed here by key and left out instead of refused, and lists and
   * tuples become records keyed by index (`param_groups.0.lr`).
   */
  readonly skipped?: string[]
}

/** A fresh conversion of one file under `limits`, with a reader's own leaves and skip list. */
export function conversionOf(
  source: string,
  limits: { readonly maxArrayBytes: number; readonly maxDepth: number },
  extra: Pick<Conversion, 'leaf' | 'skipped'> = {},
): Conversion {
  return {
    source,
    maxArrayBytes: limits.maxArrayBytes,
    maxDepth: limits.maxDepth,
    done: new Map(),
    open: new Set(),
    ...extra,
  }
}

/** numpy's dtype kinds this reader refuses, named for the message (a Map: codes are file content). */
const KIND_NAMES: ReadonlyMap<string, string> = new Map([
  ['U', 'str'],
  ['S', 'bytes'],
  ['V', 'void (structured)'],
  ['c', 'complex'],
  ['M', 'datetime64'],
  ['m', 'timedelta64'],
  ['O', 'object'],
  ['f', 'float'],
])

function descrOfPickled(d: PickledDtype, ctx: Conversion, key: string): ResolvedDescr {
  const info = PickledDtype.info(d)
  const fail = (reason: string): never => {
    throw new PickleFormatError(ctx.source, key, reason)
  }
  const order = info.byteorder
  const label = `'${clip(`${order === '=' ? '' : order}${info.code}`)}'`
  if (info.unsupported !== undefined) {
    fail(`numpy dtype ${label} is ${info.unsupported}, not supported`)
  }
  try {
    return parseDescr(`${order}${info.code}`)
  } catch (e) {
    if (!(e instanceof NpyHeaderError)) throw e
    // A kind is named only for what numpy could write (`c8`, `U5`, `M8[ns]`), not `constructor`.
    const kind = /^[A-Za-z]\d*(\[\w+\])?$/.test(info.code)
      ? KIND_NAMES.get(info.code[0] ?? '')
      : undefined
    return fail(
      `numpy dtype ${label}${kind ? ` (${kind})` : ''} is not supported: only bool, int8-64, uint8-64 and float16/32/64 arrays are`,
    )
  }
}

/** The elements of `raw` (row-major or column-major) as a fresh, row-major NdArray. */
function arrayOf(
  raw: Uint8Array,
  shape: readonly number[],
  descr: ResolvedDescr,
  fortran: boolean,
  ctx: Conversion,
  key: string,
): NdArray {
  const fail = (reason: string): never => {
    throw new PickleFormatError(ctx.source, key, reason)
  }
  const { dtype, itemsize } = descr
  const what = `${dtype} ${pyShape(shape)}`
  const count = boundedCount(shape, itemsize, Number.MAX_SAFE_INTEGER)
  if (count === undefined || !Number.isSafeInteger(count * itemsize)) {
    return fail(`shape ${pyShape(shape)} is too large`)
  }
  const nbytes = count * itemsize
  if (nbytes > ctx.maxArrayBytes) {
    fail(`array of ${nbytes} bytes (${what}) is over maxArrayBytes ${ctx.maxArrayBytes}`)
  }
  if (raw.length !== nbytes) {
    fail(`${what} needs ${nbytes} bytes of data, the pickle holds ${raw.length}`)
  }
  // A fresh copy: a record outlives the file's bytes, and the pickle's data is rarely aligned.
  return decodeRawArray(new Uint8Array(raw), 0, count, descr, fortran, shape)
}

const join = (key: string, child: string): string => (key === '' ? child : `${key}.${child}`)

/**
 * One value of a record: an array, a number, or a nested dict (or, in a checkpoint, a list);
 * `undefined` for a value a checkpoint leaves out (listed in `ctx.skipped`).
 */
export function convertValue(
  v: unknown,
  ctx: Conversion,
  key: string,
  depth: number,
): NdArray | NdRecord | undefined {
  const fail = (reason: string): never => {
    throw new PickleFormatError(ctx.source, key, reason)
  }
  if (typeof v === 'object' && v !== null) {
    const seen = ctx.done.get(v)
    if (seen !== undefined) return seen
  }
  let out: NdArray | NdRecord | undefined = ctx.leaf?.(v, key)
  if (out !== undefined) {
    // a reader's own value
  } else if (ctx.skipped !== undefined && (v === null || typeof v === 'string' || PyBytes.is(v))) {
    ctx.skipped.push(key)
    return undefined
  } else if (ctx.skipped !== undefined && Array.isArray(v)) {
    out = convertEntries(
      v.map((item, i) => [String(i), item]),
      v,
      ctx,
      key,
      depth + 1,
    )
  } else if (PickledArray.is(v)) {
    const state = PickledArray.state(v) ?? fail('an ndarray without its state (no BUILD)')
    const descr = descrOfPickled(state.dtype, ctx, key)
    if (!PyBytes.is(state.data)) return fail('an ndarray whose data is a list (an object array)')
    out = arrayOf(PyBytes.bytes(state.data), state.shape, descr, state.fortran, ctx, key)
  } else if (PickledScalar.is(v)) {
    const { dtype, data } = PickledScalar.parts(v)
    const descr = descrOfPickled(dtype, ctx, key)
    if (!PyBytes.is(data)) return fail(`a numpy scalar holding ${describe(data)}`)
    out = arrayOf(PyBytes.bytes(data), [], descr, false, ctx, key)
  } else if (PyFloat.is(v)) {
    out = { data: Float64Array.of(PyFloat.value(v)), shape: [], dtype: 'float64' }
  } else if (PyInt.is(v)) {
    const n = PyInt.value(v)
    if (BigInt.asIntN(64, n) !== n) fail(`the int ${bigintExcerpt(n)} does not fit in int64`)
    out = { data: BigInt64Array.of(n), shape: [], dtype: 'int64' }
  } else if (typeof v === 'boolean') {
    out = { data: Uint8Array.of(v ? 1 : 0), shape: [], dtype: 'bool' }
  } else if (isMap(v)) {
    out = convertDict(v, ctx, key, depth + 1)
  } else {
    return fail(`${describe(v)} is not an array, a number or a dict`)
  }
  if (typeof v === 'object' && v !== null) ctx.done.set(v, out)
  return out
}

/**
 * A dict key as a record key: a str as is (control characters kept: escaping is the
 * renderers' job), an int as its decimal text (reprod_log reads `{0: arr}`; the int must fit
 * in int64, so the text stays short). Anything else is refused.
 */
export function recordKey(k: unknown, ctx: Conversion, key: string): string {
  if (typeof k === 'string') return k
  if (PyInt.is(k)) {
    const n = PyInt.value(k)
    if (BigInt.asIntN(64, n) === n) return n.toString()
  }
  throw new PickleFormatError(
    ctx.source,
    key || undefined,
    `a dict key that is ${describe(k)}, not a str or an int within int64`,
  )
}

/** A dict as a record, in the dict's order; `depth` counts the dicts around it. */
export function convertDict(
  m: Map<unknown, unknown>,
  ctx: Conversion,
  key: string,
  depth: number,
): NdRecord {
  return convertEntries(
    mapEntries(m).map(([k, v]) => [recordKey(k, ctx, key), v]),
    m,
    ctx,
    key,
    depth,
  )
}

/** Named values as a record, in their order; `container` is what held them (for cycles). */
function convertEntries(
  entries: [string, unknown][],
  container: object,
  ctx: Conversion,
  key: string,
  depth: number,
): NdRecord {
  if (depth > ctx.maxDepth) {
    throw new PickleFormatError(
      ctx.source,
      key || undefined,
      `dicts nested deeper than maxDepth ${ctx.maxDepth}`,
    )
  }
  if (ctx.open.has(container)) {
    const what = isMap(container) ? 'dict' : 'list'
    throw new PickleFormatError(ctx.source, key, `a ${what} that contains itself`)
  }
  ctx.open.add(container)
  const out: NdRecord = {}
  const keys: string[] = []
  for (const [name, v] of entries) {
    if (Object.hasOwn(out, name)) {
      throw new PickleFormatError(
        ctx.source,
        join(key, name),
        `two dict keys read as '${clip(name)}' (an int and a str)`,
      )
    }
    const value = convertValue(v, ctx, join(key, name), depth)
    if (value === undefined) continue
    // defineProperty, so that a key such as '__proto__' is a key like any other
    Object.defineProperty(out, name, {
      value,
      enumerable: true,
      writable: true,
      configurable: true,
    })
    keys.push(name)
  }
  ctx.open.delete(container)
  return withKeyOrder(out, keys)
}
