/**
 * A pickled torch tensor made an {@link NdArray}, with the checks torch itself makes when it
 * loads one (its record exactly `numel * itemsize` bytes, every element of the view inside its
 * storage) and the ones it leaves to chance (offsets and strides beyond 2^53, lazy views), each
 * refusal naming the state_dict key. Contiguous tensors are views of the file's bytes where
 * aligned; others are gathered through their strides into one copy. bfloat16, which no JS typed
 * array holds, is widened exactly to float32; float16 stays float16 bits.
 */
import type { NdArray } from '../compare/dtype.js'
import { CheckpointFormatError } from './errors.js'
import { clip } from './excerpt.js'
import { boundedCount, decodeRawArray, gatherStrided, pyShape, widenBf16 } from './raw-array.js'
import { elementSize, type StorageRef, TorchTensor } from './torch-pickle.js'

/** What turning tensors into arrays needs from the file they came from. */
export interface TensorContext {
  readonly source: string
  readonly maxArrayBytes: number
  readonly littleEndian: boolean
  /** A storage's bytes (its record, read once), or a refusal naming the key. */
  readonly storageBytes: (ref: StorageRef, key: string) => Uint8Array
}

const LAZY: Readonly<Record<string, string>> = { conj: 'conjugated', neg: 'negated' }

/** The array a tensor views, or `undefined` when `v` is not a tensor. */
export function tensorArray(v: unknown, ctx: TensorContext, key: string): NdArray | undefined {
  if (!TorchTensor.is(v)) return undefined
  const fail = (reason: string): never => {
    throw new CheckpointFormatError(ctx.source, key, reason)
  }
  const { storage, element, offset, shape, stride, lazy } = TorchTensor.args(v)
  if (lazy !== undefined) {
    fail(
      `a lazily ${LAZY[lazy] ?? clip(lazy)} view: save t.resolve_${lazy === 'neg' ? 'neg' : 'conj'}() instead`,
    )
  }
  const itemsize = elementSize(element)
  const untyped = storage.element === 'untyped'
  if (untyped && storage.numel % itemsize !== 0) {
    fail(`an untyped storage of ${storage.numel} bytes holds no whole number of ${element}`)
  }
  const numel = untyped ? storage.numel / itemsize : storage.numel
  const raw = ctx.storageBytes(storage, key)
  const declared = numel * itemsize
  if (raw.length !== declared) {
    fail(
      `storage '${clip(storage.key)}' holds ${raw.length} bytes, its id declares ${numel} ${element} (${declared} bytes)`,
    )
  }
  const outSize = element === 'bfloat16' ? 4 : itemsize
  const count = boundedCount(shape, outSize, ctx.maxArrayBytes)
  if (count === undefined) {
    return fail(
      `a ${element} tensor of shape ${pyShape(shape)} is over maxArrayBytes ${ctx.maxArrayBytes}`,
    )
  }
  // Every element of the view inside the storage: offset + sum((size - 1) * stride) < numel.
  let last = offset
  for (let k = 0; k < shape.length; k++) {
    const s = stride[k] as number
    if (s < 0) fail(`a negative stride ${s}`)
    if (count > 0) last += ((shape[k] as number) - 1) * s
  }
  if (offset < 0 || !Number.isSafeInteger(last) || (count > 0 ? last >= numel : offset > numel)) {
    fail(
      `a view of shape ${pyShape(shape)}, offset ${offset} and strides ${pyShape(stride)} reaches element ${last} of a storage of ${numel}`,
    )
  }
  let bytes: Uint8Array
  if (isContiguous(shape, stride)) {
    bytes = raw.subarray(offset * itemsize, (offset + count) * itemsize)
  } else {
    bytes = gatherStrided(raw, offset, shape, stride, itemsize)
  }
  if (element === 'bfloat16') return widenBf16(bytes, 0, count, shape, ctx.littleEndian)
  return decodeRawArray(
    bytes,
    0,
    count,
    { dtype: element, itemsize, littleEndian: ctx.littleEndian || itemsize === 1 },
    false,
    shape,
  )
}

/** Row-major and dense (dimensions of size 1 may have any stride, as torch allows). */
function isContiguous(shape: readonly number[], stride: readonly number[]): boolean {
  let expected = 1
  for (let k = shape.length - 1; k >= 0; k--) {
    const d = shape[k] as number
    if (d === 0) return true
    if (d !== 1 && stride[k] !== expected) return false
    expected *= d
  }
  return true
}
