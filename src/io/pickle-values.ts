/**
 * The values the unpickler builds: Python ints, floats and bytes as frozen boxes, numpy dtypes,
 * arrays and scalars as inert objects, all recognised by brand (a private field), never by
 * prototype, so no crafted pickle can disguise one value as another. Tuples are frozen arrays,
 * lists plain arrays, dicts Maps. Nothing here calls back into anything.
 */
import { bigintExcerpt, quote } from './excerpt.js'

/** A Python int (pickled ints are exact: bigint inside). */
export class PyInt {
  readonly #value: bigint
  constructor(value: bigint) {
    this.#value = value
    Object.freeze(this)
  }
  static is(v: unknown): v is PyInt {
    return typeof v === 'object' && v !== null && #value in v
  }
  static value(v: PyInt): bigint {
    return v.#value
  }
}

/** A Python float. */
export class PyFloat {
  readonly #value: number
  constructor(value: number) {
    this.#value = value
    Object.freeze(this)
  }
  static is(v: unknown): v is PyFloat {
    return typeof v === 'object' && v !== null && #value in v
  }
  static value(v: PyFloat): number {
    return v.#value
  }
}

/** A Python bytes (or in-band bytearray): a view of the pickle, never handed out. */
export class PyBytes {
  readonly #bytes: Uint8Array
  constructor(bytes: Uint8Array) {
    this.#bytes = bytes
    Object.freeze(this)
  }
  static is(v: unknown): v is PyBytes {
    return typeof v === 'object' && v !== null && #bytes in v
  }
  static bytes(v: PyBytes): Uint8Array {
    return v.#bytes
  }
}

for (const c of [PyInt, PyFloat, PyBytes]) Object.freeze(c.prototype)

/** A numpy dtype as pickled: `dtype(code, align, copy)` then BUILD with its state. */
export class PickledDtype {
  readonly #code: string
  #byteorder = '='
  #unsupported: string | undefined
  #built = false
  constructor(code: string) {
    this.#code = code
    Object.freeze(this)
  }
  static is(v: unknown): v is PickledDtype {
    return typeof v === 'object' && v !== null && #code in v
  }
  static info(v: PickledDtype): { code: string; byteorder: string; unsupported?: string } {
    return v.#unsupported === undefined
      ? { code: v.#code, byteorder: v.#byteorder }
      : { code: v.#code, byteorder: v.#byteorder, unsupported: v.#unsupported }
  }
  /** BUILD: `(version, byteorder, subarray, names, fields, elsize, alignment, flags[, metadata])`. */
  build(state: unknown): void {
    if (!PickledDtype.is(this)) throw bad('a dtype BUILD on something else')
    if (this.#built) throw bad('a dtype was given its state twice')
    this.#built = true
    if (!Array.isArray(state) || (state.length !== 8 && state.length !== 9)) {
      throw bad('a dtype state that is not a tuple of 8 or 9 items')
    }
    const version = intOf(state[0], 'the dtype state version')
    if (version !== 3 && version !== 4) throw bad(`dtype state version ${version} (numpy writes 3)`)
    const order = state[1]
    if (order !== '<' && order !== '>' && order !== '|' && order !== '=') {
      throw bad(`a dtype byte order ${describe(order)}`)
    }
    this.#byteorder = order
    if (state[2] !== null) this.#unsupported = 'a subarray dtype'
    else if (state[3] !== null || state[4] !== null) this.#unsupported = 'a structured dtype'
    else if (state.length === 9 && state[8] !== null) this.#unsupported = 'a dtype with metadata'
  }
}

export interface ArrayState {
  shape: number[]
  dtype: PickledDtype
  fortran: boolean
  data: PyBytes | unknown[]
}

/** A numpy ndarray as pickled: `_reconstruct(ndarray, (0,), b'b')` then BUILD, or `_frombuffer`. */
export class PickledArray {
  #state: ArrayState | undefined
  constructor(state?: ArrayState) {
    this.#state = state
    Object.freeze(this)
  }
  static is(v: unknown): v is PickledArray {
    return typeof v === 'object' && v !== null && #state in v
  }
  static state(v: PickledArray): ArrayState | undefined {
    return v.#state
  }
  /** BUILD: `([version,] shape, dtype, is_fortran, rawdata)`, as numpy's `ndarray.__setstate__`. */
  build(state: unknown): void {
    if (!PickledArray.is(this)) throw bad('an ndarray BUILD on something else')
    if (this.#state !== undefined) throw bad('an ndarray was given its state twice')
    if (!Array.isArray(state) || (state.length !== 4 && state.length !== 5)) {
      throw bad('an ndarray state that is not a tuple of 4 or 5 items')
    }
    const [shape, dtype, fortran, data] = state.length === 5 ? state.slice(1) : state
    if (state.length === 5) {
      const version = intOf(state[0], 'the ndarray state version')
      if (version !== 1) throw bad(`ndarray state version ${version} (numpy writes 1)`)
    }
    if (!PickledDtype.is(dtype)) throw bad(`an ndarray dtype that is ${describe(dtype)}`)
    const isFortran = boolOf(fortran, 'the ndarray Fortran flag')
    if (!PyBytes.is(data) && !Array.isArray(data)) {
      throw bad(`ndarray data that is ${describe(data)}`)
    }
    this.#state = { shape: shapeFromTuple(shape), dtype, fortran: isFortran, data }
  }
}

/** A numpy scalar as pickled: `scalar(dtype, raw bytes)`. */
export class PickledScalar {
  readonly #dtype: PickledDtype
  readonly #data: unknown
  constructor(dtype: PickledDtype, data: unknown) {
    this.#dtype = dtype
    this.#data = data
    Object.freeze(this)
  }
  static is(v: unknown): v is PickledScalar {
    return typeof v === 'object' && v !== null && #dtype in v
  }
  static parts(v: PickledScalar): { dtype: PickledDtype; data: unknown } {
    return { dtype: v.#dtype, data: v.#data }
  }
}

for (const c of [PickledDtype, PickledArray, PickledScalar]) Object.freeze(c.prototype)

// ---------------------------------------------------------------------------------------------
// Errors raised while parsing (the source is added when they are caught)

/** A refusal found during a parse, before the source is known to the code that found it. */
export class Refusal extends Error {
  constructor(
    readonly reason: string,
    /** `module.name` of a refused global. */
    readonly forbidden?: string,
    /** Why it is refused, in the file kind's terms (a global's refusal only). */
    readonly advice?: string,
  ) {
    super(reason)
  }
}

export const bad = (reason: string) => new Refusal(reason)

export function describe(v: unknown): string {
  if (v === null) return 'None'
  if (v === undefined) return 'nothing'
  if (typeof v === 'boolean') return v ? 'True' : 'False'
  if (typeof v === 'string') return `the str ${quote(v)}`
  if (PyInt.is(v)) return `the int ${bigintExcerpt(PyInt.value(v))}`
  if (PyFloat.is(v)) return `the float ${PyFloat.value(v)}`
  if (PyBytes.is(v)) return `bytes of length ${PyBytes.bytes(v).length}`
  if (Array.isArray(v)) return `a tuple or list of ${v.length} items`
  if (isMap(v)) return 'a dict'
  if (PickledArray.is(v)) return 'an ndarray'
  if (PickledDtype.is(v)) return 'a numpy dtype'
  if (PickledScalar.is(v)) return 'a numpy scalar'
  if (typeof v === 'function') return 'a global'
  // a dialect's own values (torch's tensors, storages, dtypes) name themselves by their tag
  const tag = typeof v === 'object' && v !== null ? Object.prototype.toString.call(v) : ''
  return tag.startsWith('[object torch') ? `a ${tag.slice(8, -1)}` : 'an unknown value'
}

export function intOf(v: unknown, what: string): number {
  if (!PyInt.is(v)) throw bad(`${what} is ${describe(v)}, not an int`)
  const n = PyInt.value(v)
  if (n < BigInt(Number.MIN_SAFE_INTEGER) || n > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw bad(`${what} ${bigintExcerpt(n)} is out of range`)
  }
  return Number(n)
}

export function boolOf(v: unknown, what: string): boolean {
  if (typeof v === 'boolean') return v
  if (PyInt.is(v) && (PyInt.value(v) === 0n || PyInt.value(v) === 1n)) return PyInt.value(v) === 1n
  throw bad(`${what} is ${describe(v)}, not a bool`)
}

export function shapeFromTuple(v: unknown): number[] {
  if (!Array.isArray(v)) throw bad(`an ndarray shape that is ${describe(v)}`)
  return Array.from({ length: v.length }, (_, i) => {
    const d = intOf(v[i], 'a dimension')
    if (d < 0) throw bad(`a negative dimension ${d}`)
    return d
  })
}

/** Whether `v` is a real Map (a pickled dict), by brand, whatever its prototype says. */
export function isMap(v: unknown): v is Map<unknown, unknown> {
  if (typeof v !== 'object' || v === null) return false
  try {
    Map.prototype.has.call(v, undefined)
    return true
  } catch {
    return false
  }
}

/** A Map's entries through the intrinsic, whatever its prototype or own properties say. */
export function mapEntries(m: Map<unknown, unknown>): [unknown, unknown][] {
  const out: [unknown, unknown][] = []
  Map.prototype.forEach.call(m, (value: unknown, key: unknown) => {
    out.push([key, value])
  })
  return out
}
