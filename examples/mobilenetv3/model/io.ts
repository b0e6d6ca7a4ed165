/**
 * The port's input and output: a checkpoint file into the port, the port's weights back into a
 * torch state_dict, torch's NCHW arrays into NHWC tensors. Re-exported by `mobilenetv3.ts`.
 */
import { readFile } from 'node:fs/promises'
import * as tf from '@tensorflow/tfjs'
import type { NdArray } from 'vitest-align'
import { load, type NdRecord } from 'vitest-align/files'
import { MobileNetV3Small, PortInputError, type PortOptions } from './mobilenetv3.js'
import { allConvBns, type F32, fromTfLayout } from './weights.js'

/**
 * The port's weights in torch's state_dict layout and order, `num_batches_tracked` included
 * (int64 0-d): what the port computes with, for recording and for comparing weights after
 * training. Always the correct inverse layout, so for `linear-not-transposed` the Linear
 * weights differ from the checkpoint's (they are what the buggy port really multiplies by).
 */
export function toStateDict(model: MobileNetV3Small): Record<string, NdArray> {
  if (model.disposed) throw new PortInputError('the port was disposed')
  const out: Record<string, NdArray> = {}
  // torch's order puts `<bn>.num_batches_tracked` right after `<bn>.running_var`
  const bnAfter = new Map(allConvBns(model.arch).map((c) => [`${c.bn}.running_var`, c.bn]))
  for (const entry of model.spec) {
    const v = model.params.get(entry.name) ?? model.buffers.get(entry.name)
    if (v === undefined) throw new Error(`internal: no variable '${entry.name}'`)
    const tfLayout: F32 = { data: v.dataSync() as Float32Array, shape: v.shape, dtype: 'float32' }
    out[entry.name] = fromTfLayout(entry.role, tfLayout)
    const bn = bnAfter.get(entry.name)
    if (bn !== undefined) {
      out[`${bn}.num_batches_tracked`] = {
        data: BigInt64Array.of(model.batchesTracked(bn)),
        shape: [],
        dtype: 'int64',
      }
    }
  }
  return out
}

/**
 * Reads a checkpoint (the `.pth` torch.save writes of the state_dict, or an `.npz` of it as
 * np.savez writes it: told apart by their bytes) and builds the port on the current backend.
 * Throws a `WeightError` naming every bad weight.
 */
export async function loadMobileNetV3(
  checkpointPath: string,
  options: PortOptions = {},
): Promise<MobileNetV3Small> {
  const bytes = await readFile(checkpointPath)
  const stateDict = load(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), {
    source: checkpointPath,
  })
  if ('dtype' in stateDict && ArrayBuffer.isView(stateDict.data)) {
    throw new PortInputError(`${checkpointPath} holds one array, not a state_dict`)
  }
  return MobileNetV3Small.fromStateDict(stateDict as NdRecord, options, checkpointPath)
}

/** A torch NCHW float array (such as `fake_data.npy`, (1, 3, 224, 224)) → an NHWC tensor. */
export function fromNchw(a: NdArray): tf.Tensor4D {
  if (a.shape.length !== 4) {
    throw new PortInputError(
      `fromNchw: expected an NCHW array of rank 4, got (${a.shape.join(', ')})`,
    )
  }
  let data: Float32Array
  if (a.dtype === 'float32') data = a.data as Float32Array
  else if (a.dtype === 'float64') data = Float32Array.from(a.data as Float64Array)
  else throw new PortInputError(`fromNchw: expected float32 (or float64), got ${a.dtype}`)
  const [n, c, h, w] = a.shape as [number, number, number, number]
  return tf.tidy(() => tf.transpose(tf.tensor4d(data, [n, c, h, w]), [0, 2, 3, 1]))
}
