/**
 * The layer-by-layer view on the port's side: every recorded module's output and the gradient
 * of the loss with respect to it, keyed by torch's module path, as `reference/layers.py` records
 * them (`<mode>.out.<path>`, `<mode>.grad_in.<path>`; the module list and order of its manifest).
 *
 * How: {@link MobileNetV3Small.forwardTapped} calls a tap with each module's output in torch's
 * execution order. A first pass records the shapes; the second runs inside `tf.valueAndGrads`
 * with one zero "probe" tensor per module added to that module's output (`out + 0` is `out`
 * exactly), and the gradient with respect to each probe is the gradient with respect to the
 * output, what torch's tensor hook on the output receives. One backward pass gives them all.
 * Modules that return the same tensor (a block and its last activation) each get their probe, in
 * sequence, and so the same gradient, as in torch.
 *
 * Layouts are converted to torch's: NHWC → NCHW; the squeeze-excitation's pooled, fc and gate
 * tensors and `avgpool`, (batch, C) in the port, → (batch, C, 1, 1); the classifier as is.
 */
import * as tf from '@tensorflow/tfjs'
import type { NdArray } from 'vitest-align'
import { crossEntropy } from './loss.js'
import type { MobileNetV3Small, Tap } from './mobilenetv3.js'

/** One pass's record, torch layouts, float32. */
export interface LayerRecord {
  /** Module paths in execution order (a module after its children). */
  readonly order: readonly string[]
  /** `<path>` → the module's output. */
  readonly outputs: ReadonlyMap<string, NdArray<'float32'>>
  /** `<path>` → d loss / d output. */
  readonly grads: ReadonlyMap<string, NdArray<'float32'>>
  readonly logits: NdArray<'float32'>
  readonly loss: number
}

/** Options of {@link layerRecord}. */
export interface LayerOptions {
  /** Keep only the first `keep` images of every tensor (the reference's train pass keeps 1). */
  readonly keep?: number
}

const ONE_BY_ONE = /(^avgpool|\.(avgpool|fc1|activation|fc2|scale_activation))$/

/** The port's tensor in torch's layout for module `path`. */
export function toTorchLayout(path: string, t: tf.Tensor): tf.Tensor {
  if (t.rank === 4) return tf.transpose(t, [0, 3, 1, 2])
  if (t.rank === 2 && ONE_BY_ONE.test(path))
    return tf.reshape(t, [t.shape[0] as number, t.shape[1] as number, 1, 1])
  return t.clone()
}

function toArray(path: string, t: tf.Tensor, keep: number | undefined): NdArray<'float32'> {
  return tf.tidy(() => {
    let u = toTorchLayout(path, t)
    if (keep !== undefined && keep < (u.shape[0] as number)) {
      u = tf.slice(u, 0, keep)
    }
    return {
      data: Float32Array.from(u.dataSync() as Float32Array),
      shape: [...u.shape],
      dtype: 'float32' as const,
    }
  })
}

/**
 * Every recorded module's output and gradient for one forward and backward of
 * `nn.CrossEntropyLoss()` (mean) on NHWC `x`, in eval mode (running statistics) or train mode
 * (batch statistics, the port's dropout; the running statistics are not updated). Parameters
 * are not changed. Leaves no tensor behind.
 */
export function layerRecord(
  model: MobileNetV3Small,
  x: tf.Tensor4D,
  labels: ArrayLike<number>,
  mode: 'eval' | 'train',
  options: LayerOptions = {},
): LayerRecord {
  const order: string[] = []
  const shapes: number[][] = []
  tf.dispose(
    model.forwardTapped(x, mode, (path, t) => {
      order.push(path)
      shapes.push([...t.shape])
      return t
    }),
  )
  const probes = shapes.map((s) => tf.zeros(s))
  const kept = new Map<string, tf.Tensor>()
  let logits: tf.Tensor2D | undefined
  try {
    const f = (...ps: tf.Tensor[]): tf.Scalar => {
      let i = 0
      const tap: Tap = (path, t) => {
        const k = i++
        if (order[k] !== path) throw new Error(`internal: module order changed at ${path}`)
        kept.set(path, tf.keep(t.clone()))
        return tf.add(t, ps[k] as tf.Tensor)
      }
      logits = tf.keep(model.forwardTapped(x, mode, tap))
      return crossEntropy(logits, labels)
    }
    const { value, grads } = tf.valueAndGrads(f)(probes)
    try {
      const outputs = new Map<string, NdArray<'float32'>>()
      const gradMap = new Map<string, NdArray<'float32'>>()
      order.forEach((path, k) => {
        outputs.set(path, toArray(path, kept.get(path) as tf.Tensor, options.keep))
        gradMap.set(path, toArray(path, grads[k] as tf.Tensor, options.keep))
      })
      const loss = (value.dataSync() as Float32Array)[0] as number
      return {
        order,
        outputs,
        grads: gradMap,
        logits: toArray('logits', logits as tf.Tensor2D, options.keep),
        loss,
      }
    } finally {
      tf.dispose([value, ...grads])
    }
  } finally {
    tf.dispose([...probes, ...kept.values()])
    if (logits !== undefined) logits.dispose()
  }
}
