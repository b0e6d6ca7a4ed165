/**
 * JS values into the storage of a dtype: number arrays, boolean arrays and nested arrays become
 * TypedArrays, every element checked first. Nothing is allocated before the input has shown it
 * holds the elements: a sparse array of length 2^32 - 1 is refused at its first hole, not after
 * a 32 GiB allocation.
 */

import { type DType, float32ToHalf, isTypedArray, STORAGE, type TypedArray } from './dtype.js'

/** numpy's own limit on the number of dimensions. */
export const MAX_DIMS = 64

type Fail = (reason: string) => never

const INT64 = { min: -(2n ** 63n), max: 2n ** 63n - 1n }
const UINT64 = { min: 0n, max: 2n ** 64n - 1n }

/** A name from the input for an error message: a bounded excerpt of a string, else its kind. */
export function excerpt(v: unknown): string {
  if (typeof v !== 'string') return describe(v)
  return v.length > 40 ? `${v.slice(0, 40)}…` : v
}

/** A value for the error message: short, whatever the value (a bigint of 2^25 bits included). */
export function describe(v: unknown): string {
  if (Array.isArray(v)) return `an array of length ${v.length}`
  if (isTypedArray(v)) return `a ${v.constructor.name}`
  if (typeof v === 'string') return `the string '${v.length > 40 ? `${v.slice(0, 40)}…` : v}'`
  if (typeof v === 'bigint') {
    const s = v.toString(16)
    return s.length > 20 ? `a bigint of ${s.length * 4} bits` : `the bigint ${v}`
  }
  if (v === undefined) return 'undefined (a hole in a sparse array?)'
  return typeof v === 'object' && v !== null ? 'an object' : String(v)
}

/**
 * The value of element `i` as `dtype` stores it, or the reason it cannot be. int64/uint64 take
 * bigints and integral numbers in range (a fraction is truncated, as numpy's `astype`); NaN and
 * ±Infinity have no integer value and are refused; every other dtype takes numbers and booleans.
 */
function element(v: unknown, dtype: DType, i: number, fail: Fail): number | bigint {
  const big = dtype === 'int64' || dtype === 'uint64'
  if (typeof v === 'boolean') return big ? BigInt(v) : Number(v)
  if (typeof v === 'bigint') {
    if (!big) fail(`element ${i} is a bigint; only int64 and uint64 data may hold bigints`)
    const range = dtype === 'int64' ? INT64 : UINT64
    if (v < range.min || v > range.max)
      fail(`element ${i} (${describe(v)}) is outside the ${dtype} range`)
    return v
  }
  if (typeof v !== 'number') return fail(`element ${i} is ${describe(v)}, not a number`)
  if (!big) return v
  if (!Number.isFinite(v)) return fail(`element ${i} is ${v}, which ${dtype} cannot hold`)
  const n = BigInt(Math.trunc(v))
  const range = dtype === 'int64' ? INT64 : UINT64
  if (n < range.min || n > range.max) fail(`element ${i} (${v}) is outside the ${dtype} range`)
  return n
}

/** The data in the storage of `dtype`: the same object when it already is, else a checked copy. */
export function toStorage(raw: ArrayLike<unknown>, dtype: DType, fail: Fail): TypedArray {
  const Ctor = STORAGE[dtype]
  if (raw instanceof Ctor) return raw as TypedArray
  const n = raw.length
  // Checked in full before the copy is allocated (see the header).
  const values: (number | bigint)[] = []
  for (let i = 0; i < n; i++) values.push(element(raw[i], dtype, i, fail))
  const out = new Ctor(n)
  for (let i = 0; i < n; i++) {
    const v = values[i] as number | bigint
    if (dtype === 'bool')
      out[i] = v ? 1 : 0 // 0/1 as numpy stores it, whatever truthy number
    else if (dtype === 'float16')
      out[i] = float32ToHalf(Math.fround(v as number)) // numbers become half bits
    else out[i] = v
  }
  return out
}

/**
 * Nested number or boolean arrays (TypedArrays allowed as the innermost level) as one flat
 * array: the shape from the first element of each level, every level checked against it.
 */
export function fromNested(
  input: readonly unknown[],
  fail: Fail,
): { data: Float64Array | Uint8Array; shape: number[]; dtype: 'float64' | 'bool' } {
  const shape: number[] = []
  let probe: unknown = input
  while (Array.isArray(probe) || isTypedArray(probe)) {
    // bounded here, so the walk below recurses at most MAX_DIMS levels
    if (shape.length === MAX_DIMS) fail(`nested more than numpy's ${MAX_DIMS} dimensions deep`)
    const level = probe as ArrayLike<unknown>
    shape.push(level.length)
    if (level.length === 0) break
    probe = level[0]
  }
  const dtype = typeof probe === 'boolean' ? 'bool' : 'float64'
  // Pushed, not preallocated: the shape of a sparse array promises elements it does not hold.
  const values: number[] = []
  const walk = (level: unknown, depth: number, path: string): void => {
    if (depth === shape.length) {
      if (typeof level === 'number' && dtype === 'float64') values.push(level)
      else if (typeof level === 'boolean' && dtype === 'bool') values.push(level ? 1 : 0)
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
  const data = dtype === 'bool' ? Uint8Array.from(values) : Float64Array.from(values)
  return { data, shape, dtype }
}
