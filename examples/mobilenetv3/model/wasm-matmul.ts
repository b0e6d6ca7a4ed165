/**
 * A faster `BatchMatMul` for transposed operands on the wasm backend. TF.js 4.22's wasm kernel
 * runs `transposeA` / `transposeB` products on a slow path: (32, 576)ᵀ·(32, 1024) took 30 ms
 * against 2.3 ms for an explicit Transpose then a plain product (measured, one thread). Every
 * matMul's gradient is such a product (`dyᵀ·a`, `dy·bᵀ`: the classifier's alone cost 35 ms of a
 * 330 ms training step), so this kernel makes the transposes explicit and then calls the original
 * kernel untransposed. It picks the cheaper of `op(a)·op(b)` and `(op(b)ᵀ·op(a)ᵀ)ᵀ` by the number
 * of elements it has to transpose (both are the same product).
 *
 * Precision: XNNPACK's plain product adds each dot product's terms one after the other in float32
 * (2.0e-6 relative over K = 8,192 values near 1) where wasm's slow transposed path was blocked
 * (2.5e-7). The port's transposed products have K ≤ 576 (the batch, or a layer's width), and the
 * long one, the stem's filter gradient, is chunked by `wasm-grads.ts`, so this costs nothing
 * measurable there (every gradient within torch float32's error); a K in the thousands would.
 */
import * as tf from '@tensorflow/tfjs'

const FAST = Symbol('vitest-align transposed BatchMatMul')

/** The last two axes swapped. */
function swapLast(t: tf.Tensor): tf.Tensor {
  const perm = t.shape.map((_, i) => i)
  const r = perm.length
  ;[perm[r - 2], perm[r - 1]] = [perm[r - 1] as number, perm[r - 2] as number]
  return tf.transpose(t, perm)
}

const sizeOf = (t: tf.TensorInfo): number => t.shape.reduce((p, d) => p * d, 1)

function fastMatMulKernel(original: tf.KernelConfig): tf.KernelFunc {
  const kernel: tf.KernelFunc = (args) => {
    const attrs = args.attrs as { transposeA: boolean; transposeB: boolean }
    const { transposeA: ta, transposeB: tb } = attrs
    if (!ta && !tb) return original.kernelFunc(args)
    const inputs = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo }
    const engine = tf.engine()
    const a = inputs.a instanceof tf.Tensor ? inputs.a : engine.makeTensorFromTensorInfo(inputs.a)
    const b = inputs.b instanceof tf.Tensor ? inputs.b : engine.makeTensorFromTensorInfo(inputs.b)
    const rows = (t: tf.Tensor, last: boolean): number => t.shape[t.rank - (last ? 1 : 2)] as number
    const batch = Math.max(
      sizeOf(a) / (rows(a, true) * rows(a, false)),
      sizeOf(b) / (rows(b, true) * rows(b, false)),
    )
    const outSize = batch * rows(a, ta) * rows(b, !tb)
    const direct = (ta ? sizeOf(a) : 0) + (tb ? sizeOf(b) : 0)
    const flipped = (tb ? 0 : sizeOf(b)) + (ta ? 0 : sizeOf(a)) + outSize
    if (direct <= flipped) {
      return tf.matMul(ta ? swapLast(a) : a, tb ? swapLast(b) : b)
    }
    // (op(a)·op(b))ᵀ = op(b)ᵀ·op(a)ᵀ: transpose what is not transposed yet, then the result
    return swapLast(tf.matMul(tb ? b : swapLast(b), ta ? a : swapLast(a)))
  }
  return Object.assign(kernel, { [FAST]: true })
}

/**
 * Replaces the wasm backend's `BatchMatMul` by one that makes transposes explicit (untransposed
 * products go straight to the original kernel). Idempotent; returns whether this call replaced it.
 */
export function useFastTransposedMatMul(): boolean {
  const original = tf.getKernel('BatchMatMul', 'wasm')
  if (original === undefined) throw new Error('wasm-matmul: the wasm backend has no BatchMatMul')
  if (FAST in original.kernelFunc) return false
  // unregister first: registering over a kernel works but logs a warning
  tf.unregisterKernel('BatchMatMul', 'wasm')
  tf.registerKernel({ ...original, kernelFunc: fastMatMulKernel(original) })
  return true
}
