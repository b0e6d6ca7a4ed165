/**
 * The numerical building blocks of the port, as torch computes them in float32: train-mode batch
 * moments, BatchNorm, hardswish and hardsigmoid. Re-exported by `mobilenetv3.ts`.
 */
import * as tf from '@tensorflow/tfjs'

/**
 * Per-channel mean and biased variance of NHWC `x` over (batch, height, width), as train-mode
 * BatchNorm needs them. Reduced one axis at a time (width, then height, then batch; a mean of
 * equal-sized groups' means is the mean), not by `tf.moments(x, [0, 1, 2])`: the wasm backend's
 * Mean sums sequentially in float32, so over 8,192 values its error was 3e-6 relative, against
 * 1e-7 axis by axis (torch sums in float64); axis by axis is also faster on wasm (0.5 ms vs 0.8).
 * Differentiable (the batch statistics are part of train mode's graph, as in torch).
 */
export function batchMoments(x: tf.Tensor4D): { mean: tf.Tensor1D; variance: tf.Tensor1D } {
  const meanNhw = (t: tf.Tensor4D): tf.Tensor1D => tf.mean(tf.mean(tf.mean(t, 2), 1), 0)
  const mean = meanNhw(x)
  // square(sub), not squaredDifference: TF.js 4.22's SquaredDifference gradient does not sum
  // over the broadcast axes (variableGrads fails: shape (n, 1, 1, C) for input (C))
  return { mean, variance: meanNhw(tf.square(tf.sub(x, mean)) as tf.Tensor4D) }
}

/**
 * BatchNorm as torch's CPU kernel computes it (`batch_norm_cpu_collect_linear_and_constant_terms`,
 * in float32 for float32 tensors, eval and train mode alike): per channel
 * `alpha = weight / sqrt(var + eps)` (`invstd = 1 / sqrt(var + eps)`, then `invstd * weight`) and
 * `beta = bias - mean * alpha`, then `y = x * alpha + beta`. This is not folding BN into the
 * conv: the conv's output is still computed first and scaled after. It is also 10x faster on
 * wasm than `tf.batchNorm` (its FusedBatchNorm kernel took 41 of 96 ms of a batch-8 forward).
 */
export function batchNorm<T extends tf.Tensor>(
  x: T,
  mean: tf.Tensor1D,
  variance: tf.Tensor1D,
  weight: tf.Tensor1D,
  bias: tf.Tensor1D,
  eps: number,
): T {
  const invstd = tf.div(1, tf.sqrt(tf.add(variance, eps)))
  const alpha = tf.mul(invstd, weight)
  const beta = tf.sub(bias, tf.mul(mean, alpha))
  return tf.add(tf.mul(x, alpha), beta)
}

/** torch's Hardswish in float32: `x * min(max(x + 3, 0), 6) / 6`, the product first. */
export function hardswish<T extends tf.Tensor>(x: T): T {
  return tf.div(tf.mul(x, tf.relu6(tf.add(x, 3))), 6)
}

/** torch's Hardsigmoid: `min(max(x + 3, 0), 6) / 6`. */
export function hardsigmoid<T extends tf.Tensor>(x: T): T {
  return tf.div(tf.relu6(tf.add(x, 3)), 6)
}
