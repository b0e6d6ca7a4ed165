/**
 * torch's `nn.CrossEntropyLoss()` (`reduction='mean'`, no weights, no label smoothing) in TF.js,
 * and a float64 JS version to check it against.
 */
import * as tf from '@tensorflow/tfjs'

/**
 * How the per-element losses are averaged:
 * - `batch` (torch's): `-mean_n log_softmax(logits)[n, label_n]`, the mean over the batch;
 * - `all-elements` (a porting bug, for negative controls): the mean of `-onehot · log_softmax`
 *   over every element of the (batch, classes) array, as a hand-written
 *   `-tf.mean(tf.mul(onehot, tf.logSoftmax(logits)))` does: torch's loss divided by the number of
 *   classes (and its gradients too).
 */
export type LossReduction = 'batch' | 'all-elements'

/**
 * The labels as a (n, c) float32 one-hot tensor, checked against the logits. Built in JS: TF.js
 * 4.22's wasm `OneHot` ignores `dtype` (asked for float32 it writes the int32 bits of 1, read as
 * 1.4e-45).
 */
function oneHotOf(labels: tf.Tensor1D | ArrayLike<number>, n: number, c: number): tf.Tensor2D {
  const data = labels instanceof tf.Tensor ? labels.dataSync() : labels
  if (data.length !== n || (labels instanceof tf.Tensor && labels.rank !== 1)) {
    throw new RangeError(`crossEntropy: ${n} rows of logits but ${data.length} labels`)
  }
  const out = new Float32Array(n * c)
  for (let i = 0; i < n; i++) {
    const v = data[i] as number
    if (!(Number.isInteger(v) && v >= 0 && v < c)) {
      throw new RangeError(`crossEntropy: label ${v} is not an integer in [0, ${c})`)
    }
    out[i * c + v] = 1
  }
  return tf.tensor2d(out, [n, c], 'float32')
}

/**
 * `nn.CrossEntropyLoss()(logits, labels)`: (batch, classes) float32 logits and integer labels in
 * [0, classes) → a scalar. The log-softmax is TF.js's `tf.logSoftmax`, computed as torch's
 * kernel does (`x - max - log(sum(exp(x - max)))`, the max subtracted for stability) and with the
 * same analytic gradient (`dy - softmax · sum(dy)`, not autodiff through the max); the label's
 * term is picked by a one-hot product (exact: the other terms are zeros). Differentiable.
 */
export function crossEntropy(
  logits: tf.Tensor2D,
  labels: tf.Tensor1D | ArrayLike<number>,
  reduction: LossReduction = 'batch',
): tf.Scalar {
  if (logits.rank !== 2) throw new RangeError(`crossEntropy: logits of rank ${logits.rank}`)
  const [n, c] = logits.shape
  const y = oneHotOf(labels, n, c)
  try {
    return tf.tidy((): tf.Scalar => {
      const picked = tf.mul(tf.logSoftmax(logits, 1), y)
      if (reduction === 'all-elements') return tf.neg(tf.mean(picked)) as tf.Scalar
      return tf.neg(tf.mean(tf.sum(picked, 1))) as tf.Scalar
    })
  } finally {
    y.dispose()
  }
}

/**
 * The same loss in float64 in plain JS (a reference for tests): `logits` row-major (n, c).
 * `logsumexp` with the max subtracted; the mean over the batch.
 */
export function crossEntropy64(logits: ArrayLike<number>, labels: ArrayLike<number>): number {
  const n = labels.length
  const c = logits.length / n
  if (!Number.isInteger(c)) throw new RangeError('crossEntropy64: logits length not n · c')
  let total = 0
  for (let i = 0; i < n; i++) {
    let max = -Infinity
    for (let j = 0; j < c; j++) max = Math.max(max, logits[i * c + j] as number)
    let s = 0
    for (let j = 0; j < c; j++) s += Math.exp((logits[i * c + j] as number) - max)
    total += max + Math.log(s) - (logits[i * c + (labels[i] as number)] as number)
  }
  return total / n
}
