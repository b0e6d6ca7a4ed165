/**
 * Weight layouts between torch and TF.js, as pure functions over {@link NdArray}s of any dtype:
 * conv OIHW (out, in, kh, kw) to HWIO (kh, kw, in, out), depthwise (C, 1, kh, kw) to
 * (kh, kw, C, 1), Linear (out, in) to (in, out) for `matMul(x, w)`, a 1x1 conv to a matrix, and
 * back. Every port from torch needs them; written once here so that no port gets a transpose
 * wrong by hand (a reshape where a transpose is needed aligns nothing, silently).
 */
import type { NdArray, TypedArray } from '../compare/dtype.js'
import { formatShape } from '../compare/format.js'
import { LayoutError } from './errors.js'

/** The role of a weight, which decides its TF.js layout. `keep`: 1-D and the rest, unchanged. */
export type LayoutRole = 'conv' | 'depthwise' | 'pointwise' | 'linear' | 'keep'

const sizeOf = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1)

function checkRank(a: NdArray, rank: number, what: string, name?: string): void {
  if (a.shape.length !== rank)
    throw new LayoutError(name, `${what}: expected rank ${rank}, got shape ${formatShape(a.shape)}`)
  if (a.data.length !== sizeOf(a.shape)) {
    throw new LayoutError(
      name,
      `${what}: ${a.data.length} elements for shape ${formatShape(a.shape)} (${sizeOf(a.shape)})`,
    )
  }
}

/** `a` with its axes permuted (numpy's `a.transpose(perm)`), copied row-major, dtype kept. */
export function transpose<A extends NdArray>(a: A, perm: readonly number[]): A {
  const rank = a.shape.length
  if (perm.length !== rank || [...perm].sort((x, y) => x - y).some((p, i) => p !== i)) {
    throw new LayoutError(undefined, `bad permutation [${perm.join(', ')}] for rank ${rank}`)
  }
  const shape = perm.map((p) => a.shape[p] as number)
  const inStrides = new Array<number>(rank)
  let s = 1
  for (let i = rank - 1; i >= 0; i--) {
    inStrides[i] = s
    s *= a.shape[i] as number
  }
  // the stride in the input of each output axis
  const strides = perm.map((p) => inStrides[p] as number)
  const src = a.data as unknown as { [i: number]: number | bigint; length: number }
  const out = new (a.data.constructor as new (n: number) => TypedArray)(
    a.data.length,
  ) as unknown as {
    [i: number]: number | bigint
  }
  const index = new Array<number>(rank).fill(0)
  let at = 0
  for (let o = 0; o < src.length; o++) {
    out[o] = src[at] as number | bigint
    // advance the output index, odometer style, keeping `at` in step
    for (let ax = rank - 1; ax >= 0; ax--) {
      const i = (index[ax] as number) + 1
      if (i < (shape[ax] as number)) {
        index[ax] = i
        at += strides[ax] as number
        break
      }
      index[ax] = 0
      at -= (i - 1) * (strides[ax] as number)
    }
  }
  return { ...a, data: out, shape } as A
}

/** The same data under another shape of the same size (numpy's `reshape`). */
export function reshape<A extends NdArray>(a: A, shape: readonly number[]): A {
  if (sizeOf(shape) !== a.data.length) {
    throw new LayoutError(
      undefined,
      `cannot reshape ${formatShape(a.shape)} to ${formatShape(shape)}`,
    )
  }
  return { ...a, shape: [...shape] } as A
}

/** A conv weight, torch OIHW (out, in, kh, kw) → TF.js HWIO (kh, kw, in, out). */
export function oihwToHwio<A extends NdArray>(a: A): A {
  checkRank(a, 4, 'conv weight (out, in, kh, kw)')
  return transpose(a, [2, 3, 1, 0])
}

/** A conv filter, TF.js HWIO → torch OIHW. */
export function hwioToOihw<A extends NdArray>(a: A): A {
  checkRank(a, 4, 'conv filter (kh, kw, in, out)')
  return transpose(a, [3, 2, 0, 1])
}

/** A depthwise weight, torch (C, 1, kh, kw) → TF.js (kh, kw, C, 1). */
export function depthwiseToTf<A extends NdArray>(a: A): A {
  checkRank(a, 4, 'depthwise weight (C, 1, kh, kw)')
  if (a.shape[1] !== 1)
    throw new LayoutError(
      undefined,
      `depthwise weight (C, 1, kh, kw): shape ${formatShape(a.shape)}`,
    )
  return transpose(a, [2, 3, 0, 1])
}

/** A depthwise filter, TF.js (kh, kw, C, 1) → torch (C, 1, kh, kw). */
export function depthwiseFromTf<A extends NdArray>(a: A): A {
  checkRank(a, 4, 'depthwise filter (kh, kw, C, 1)')
  if (a.shape[3] !== 1)
    throw new LayoutError(
      undefined,
      `depthwise filter (kh, kw, C, 1): shape ${formatShape(a.shape)}`,
    )
  return transpose(a, [2, 3, 0, 1])
}

/** A Linear weight, torch (out, in) → (in, out) for `matMul(x, w)`. */
export function linearToTf<A extends NdArray>(a: A): A {
  checkRank(a, 2, 'linear weight (out, in)')
  return transpose(a, [1, 0])
}

/** A matMul weight (in, out) → torch Linear (out, in). */
export function linearFromTf<A extends NdArray>(a: A): A {
  checkRank(a, 2, 'matMul weight (in, out)')
  return transpose(a, [1, 0])
}

/** A 1x1 conv weight (out, in, 1, 1) → (in, out) for matMul (squeeze-excitation's fc1/fc2). */
export function pointwiseToMatrix<A extends NdArray>(a: A): A {
  checkRank(a, 4, '1x1 conv weight (out, in, 1, 1)')
  if (a.shape[2] !== 1 || a.shape[3] !== 1)
    throw new LayoutError(
      undefined,
      `1x1 conv weight (out, in, 1, 1): shape ${formatShape(a.shape)}`,
    )
  return linearToTf(reshape(a, [a.shape[0] as number, a.shape[1] as number]))
}

/** A matMul weight (in, out) → torch 1x1 conv (out, in, 1, 1). */
export function matrixToPointwise<A extends NdArray>(a: A): A {
  const t = linearFromTf(a)
  return reshape(t, [...t.shape, 1, 1])
}

const keep = <A extends NdArray>(a: A): A => a

/** Each role's conversion to TF.js's layout and back. */
const LAYOUTS: {
  readonly [R in LayoutRole]: readonly [
    <A extends NdArray>(a: A) => A,
    <A extends NdArray>(a: A) => A,
  ]
} = {
  conv: [oihwToHwio, hwioToOihw],
  depthwise: [depthwiseToTf, depthwiseFromTf],
  pointwise: [pointwiseToMatrix, matrixToPointwise],
  linear: [linearToTf, linearFromTf],
  keep: [keep, keep],
}

/** A torch weight in the layout TF.js computes with, per its role; `name` goes into errors. */
export function toTfLayout<A extends NdArray>(role: LayoutRole, a: A, name?: string): A {
  return withName(name, () => LAYOUTS[role][0](a))
}

/** The inverse of {@link toTfLayout}: a port's weight in torch's layout. */
export function fromTfLayout<A extends NdArray>(role: LayoutRole, a: A, name?: string): A {
  return withName(name, () => LAYOUTS[role][1](a))
}

/** Runs `f`, giving its LayoutError the weight's name. */
function withName<T>(name: string | undefined, f: () => T): T {
  try {
    return f()
  } catch (e) {
    if (e instanceof LayoutError && e.weight === undefined && name !== undefined)
      throw new LayoutError(name, e.reason)
    throw e
  }
}
