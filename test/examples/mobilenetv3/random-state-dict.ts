/**
 * A random, well-scaled state_dict of torchvision's mobilenet_v3_small, in torch layouts: He
 * (fan-in) normal conv weights, so that eval-mode activations stay O(1) (torchvision's fan-out init
 * makes eval logits ~1e-10, which would make every comparison here vacuous), BatchNorm running
 * statistics away from (0, 1) so eval and train modes differ.
 */
import { Buffer } from 'node:buffer'
import type { NdArray } from 'vitest-align'
import {
  mobileNetV3Small,
  type WeightEntry,
  weightSpec,
} from '../../../examples/mobilenetv3/model/weights.js'
import { mulberry32 } from '../../helpers/prng.js'

/** mulberry32: uniform in [0, 1) (the tests' one PRNG). */
export const rng = mulberry32

const sizeOf = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1)

function valuesFor(e: WeightEntry, next: () => number): Float32Array {
  const n = sizeOf(e.shape)
  const out = new Float32Array(n)
  const normal = (): number => Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next())
  const fanIn = e.shape.slice(1).reduce((a, b) => a * b, 1)
  for (let i = 0; i < n; i++) {
    switch (e.role) {
      case 'conv':
      case 'depthwise':
      case 'se':
      case 'linear':
        out[i] = normal() * Math.sqrt(2 / fanIn)
        break
      case 'bn-gamma':
        out[i] = 0.8 + 0.4 * next()
        break
      case 'bn-mean':
        out[i] = 0.2 * (next() - 0.5)
        break
      case 'bn-variance':
        out[i] = 0.6 + 0.8 * next()
        break
      default:
        out[i] = 0.1 * (next() - 0.5)
    }
  }
  return out
}

/** A full state_dict for `num_classes`, `num_batches_tracked` included (int64 0-d, value 7). */
export function randomStateDict(numClasses = 10, seed = 1): Record<string, NdArray> {
  const next = rng(seed)
  const arch = mobileNetV3Small(numClasses)
  const out: Record<string, NdArray> = {}
  for (const e of weightSpec(arch)) {
    out[e.name] = { data: valuesFor(e, next), shape: e.shape, dtype: 'float32' }
    if (e.role === 'bn-variance') {
      const bn = e.name.slice(0, -'.running_var'.length)
      out[`${bn}.num_batches_tracked`] = { data: BigInt64Array.of(7n), shape: [], dtype: 'int64' }
    }
  }
  return out
}

/** A float32 NdArray of `shape`, uniform in [-0.5, 0.5). */
export function randomArray(shape: number[], seed = 2): NdArray<'float32'> {
  const next = rng(seed)
  const data = new Float32Array(sizeOf(shape))
  for (let i = 0; i < data.length; i++) data[i] = next() - 0.5
  return { data, shape, dtype: 'float32' }
}

/** Same shape, same dtype and bit-identical data (fast for million-element arrays). */
export function sameArray(a: NdArray, b: NdArray): boolean {
  if (a.dtype !== b.dtype || a.shape.length !== b.shape.length) return false
  if (a.shape.some((d, i) => d !== b.shape[i])) return false
  const bytes = (x: NdArray) => Buffer.from(x.data.buffer, x.data.byteOffset, x.data.byteLength)
  return bytes(a).equals(bytes(b))
}
