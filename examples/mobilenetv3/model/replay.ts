/**
 * The backward pass replayed block by block on torch's own tensors, so that a gradient that
 * does not align names the block whose backward computed it wrong.
 *
 * Why: in one end-to-end backward pass every gradient depends on the gradients computed before
 * it and on the port's own activations, so a forward bug in one block moves the very first
 * gradient (d loss / d logits, a function of the logits) and the record breaks at the loss end
 * (see stage 6). Here each top-level block `u` (features.0 to features.12, avgpool,
 * classifier.0, classifier.1, classifier.3) runs on torch's input to it (the output torch
 * recorded for the block before, or the image for features.0), and its vector-Jacobian product
 * with torch's gradient flowing into its output gives the gradient into its input. That must
 * equal torch's gradient into the block before's output (`grad_in` of that block; for
 * features.0, d loss / d image): the blocks form a chain (`nn.Sequential` and the classifier),
 * so nothing else flows into it. Each block is then checked on its own, with inputs that align
 * exactly: a bug in one block breaks that block and no other.
 *
 * How, in one backward pass: every block's input is a leaf (torch's tensor), and the objective
 * Σ_u ⟨dy_u, u(x_u)⟩ has, with respect to the leaf feeding block u, exactly u's
 * vector-Jacobian product. The tap of {@link MobileNetV3Small.forwardTapped} adds block u's term
 * and hands the next block torch's output in place of the port's.
 *
 * Eval mode only: in train mode BatchNorm normalises with the statistics of the whole batch, so
 * one image's replay needs every image's block inputs and output gradients, which the reference
 * does not store (it keeps the first image of the train pass; see `reference/layers.py`).
 */
import * as tf from '@tensorflow/tfjs'
import type { NdArray } from 'vitest-align'
import { fromNchw } from './io.js'
import { toTorchLayout } from './layers.js'
import type { MobileNetV3Small, Tap } from './mobilenetv3.js'

/** The chained blocks: the module paths whose outputs feed the next one and nothing else. */
export const REPLAY_BLOCK = /^(features\.\d+|avgpool|classifier\.[013])$/

/** The reference's eval-mode layer record, as `reference/layers.py` writes it. */
export type LayerReference = Readonly<Record<string, NdArray>>

/** One replay: per block, the gradient into its input, the port's and torch's (torch layouts). */
export interface Replay {
  /** The blocks in backward order (classifier.3 first), the order their gradients are computed. */
  readonly blocks: readonly string[]
  /** block → the port's d loss / d input, computed from torch's input and output gradient. */
  readonly actual: ReadonlyMap<string, NdArray<'float32'>>
  /** block → torch's d loss / d input (`grad_in` of the block before; d loss / d image). */
  readonly expected: ReadonlyMap<string, NdArray>
}

/** torch's tensor for module `path` in the port's layout (NHWC; (batch, C) for avgpool). */
function toPortLayout(path: string, a: NdArray): tf.Tensor {
  if (a.shape.length === 4 && path === 'avgpool') {
    return tf.tensor2d(Float32Array.from(a.data as Float32Array), [
      a.shape[0] as number,
      a.shape[1] as number,
    ])
  }
  if (a.shape.length === 4) return fromNchw(a)
  return tf.tensor(Float32Array.from(a.data as Float32Array), [...a.shape])
}

const need = (ref: LayerReference, key: string): NdArray => {
  const a = ref[key]
  if (a === undefined) throw new Error(`the layer reference has no '${key}'`)
  return a
}

function asArray(path: string, t: tf.Tensor): NdArray<'float32'> {
  return tf.tidy(() => {
    const u = toTorchLayout(path, t)
    return {
      data: Float32Array.from(u.dataSync() as Float32Array),
      shape: [...u.shape],
      dtype: 'float32' as const,
    }
  })
}

/**
 * Replays the port's eval-mode backward block by block on the reference's tensors (module paths
 * {@link REPLAY_BLOCK}; `eval.input`, `eval.out.<block>`, `eval.grad_in.<block>` and
 * `eval.grad_input`). Parameters are not changed; leaves no tensor behind.
 */
export function replayBackward(model: MobileNetV3Small, ref: LayerReference): Replay {
  const order: string[] = []
  const image = fromNchw(need(ref, 'eval.input'))
  try {
    // the blocks in forward order, as the port runs them
    tf.dispose(
      model.forwardTapped(image, 'eval', (path, t) => {
        if (REPLAY_BLOCK.test(path)) order.push(path)
        return t
      }),
    )
    const last = order.length - 1
    // every key looked up before any tensor is made: a missing one leaks nothing
    const outs = order.slice(0, last).map((b) => need(ref, `eval.out.${b}`))
    const gradsIn = order.map((b) => need(ref, `eval.grad_in.${b}`))
    const gradImage = need(ref, 'eval.grad_input')
    // leaves[0] is the image; leaves[k + 1] is torch's output of block k, block k+1's input
    const leaves = [image, ...outs.map((a, k) => toPortLayout(order[k] as string, a))]
    const dys = gradsIn.map((a, k) => toPortLayout(order[k] as string, a))
    // made inside forwardTapped's tidy: kept, and disposed once the gradients are read
    const made: tf.Tensor[] = []
    try {
      const f = (...xs: tf.Tensor[]): tf.Scalar => {
        let k = 0
        const terms: tf.Scalar[] = []
        const tap: Tap = (path, t) => {
          if (!REPLAY_BLOCK.test(path)) return t
          if (order[k] !== path) throw new Error(`internal: block order changed at ${path}`)
          const term = tf.keep(tf.sum(tf.mul(t, dys[k] as tf.Tensor)) as tf.Scalar)
          made.push(term)
          terms.push(term)
          k++
          return k <= last ? (xs[k] as tf.Tensor) : t
        }
        made.push(model.forwardTapped(xs[0] as tf.Tensor4D, 'eval', tap))
        return tf.addN(terms) as tf.Scalar
      }
      const grads = tf.grads(f)(leaves)
      try {
        const actual = new Map<string, NdArray<'float32'>>()
        const expected = new Map<string, NdArray>()
        // block k's input gradient, in the layout of the tensor it is the gradient of
        for (let k = last; k >= 0; k--) {
          const block = order[k] as string
          const before = k === 0 ? undefined : (order[k - 1] as string)
          actual.set(block, asArray(before ?? 'input', grads[k] as tf.Tensor))
          expected.set(block, k === 0 ? gradImage : (gradsIn[k - 1] as NdArray))
        }
        return { blocks: [...order].reverse(), actual, expected }
      } finally {
        tf.dispose(grads)
      }
    } finally {
      tf.dispose([...leaves.slice(1), ...dys, ...made])
    }
  } finally {
    image.dispose()
  }
}
