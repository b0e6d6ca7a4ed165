/**
 * The three convolution-gradient kernels TF.js 4.22's wasm backend lacks
 * (`Conv2DBackpropFilter`, `DepthwiseConv2dNativeBackpropInput`,
 * `DepthwiseConv2dNativeBackpropFilter`), registered for `wasm` and built from kernels it has, so
 * `tf.variableGrads` through the port runs there with the port's code unchanged. Each is written
 * with public TF.js ops rather than the backend's private C++ entry points: the engine runs a
 * kernel's ops untaped and inside its own scope (intermediates are freed when it returns).
 *
 * Formulations (from the feasibility notes; each avoids one `Slice` per kernel position, because
 * wasm's Slice/StridedSlice are slow):
 * - filter gradient of a conv: im2col by a depthwise conv with a one-hot filter (exact: each
 *   output is one input times 1 plus zeros), then a matMul, chunked along the reduction;
 * - input gradient of a depthwise conv: a stride-1 depthwise conv of the zero-dilated, padded dy
 *   with the spatially flipped filter;
 * - filter gradient of a depthwise conv: one depthwise conv with the batch folded into the
 *   channels (x as the image, dy as the filter, dilated by the stride), then a sum over the batch.
 *
 * {@link registerWasmGradKernels} also replaces three kernels wasm has, for precision and speed
 * of the backward pass: `Sum` (float64 accumulation, `wasm-sum.ts`), `BatchMatMul` (transposes
 * made explicit, `wasm-matmul.ts`) and `Conv2DBackpropInput` (1x1 convs as a matMul).
 */
import * as tf from '@tensorflow/tfjs'
import { useFastTransposedMatMul } from './wasm-matmul.js'
import { accurateSum, useFloat64Sum } from './wasm-sum.js'

type T4 = tf.Tensor4D
type Pair = [number, number]
type Attrs = Record<string, unknown>

/**
 * The reduction length of one matMul chunk in the conv filter gradient. XNNPACK's GEMM adds the
 * products of a dot product one after the other in float32 (error growing with the length,
 * 8,192 for the stem at batch 32, 32x32); dots of at most this length, summed in float64 by
 * {@link accurateSum}, bring the error down to the order of torch float32's.
 */
export const MATMUL_CHUNK = 256

/** The input as a tensor: kernels may receive plain TensorInfos from other kernels. */
function tensorOf<R extends tf.Rank>(info: tf.TensorInfo): tf.Tensor<R> {
  if (info instanceof tf.Tensor) return info as tf.Tensor<R>
  return tf.engine().makeTensorFromTensorInfo(info) as tf.Tensor<R>
}

function pair(v: unknown, name: string): Pair {
  if (v == null) return [1, 1]
  if (typeof v === 'number') return [v, v]
  if (Array.isArray(v) && v.length === 2) return [Number(v[0]), Number(v[1])]
  throw new Error(`wasm-grads: bad ${name}: ${JSON.stringify(v)}`)
}

function assertNhwc(attrs: Attrs, kernel: string): void {
  const format = attrs.dataFormat
  if (format != null && format !== 'NHWC' && format !== 'channelsLast') {
    throw new Error(`wasm-grads ${kernel}: only NHWC is supported, got dataFormat '${format}'`)
  }
}

function assertNoDilation(attrs: Attrs, kernel: string): void {
  const [dh, dw] = pair(attrs.dilations, 'dilations')
  // TF.js's own gradients refuse dilation > 1 before they reach these kernels
  if (dh !== 1 || dw !== 1) throw new Error(`wasm-grads ${kernel}: dilations must be 1`)
}

/** TF.js's geometry of the forward conv (output size, resolved padding), as the backends use it. */
function convInfo(
  xShape: readonly number[],
  filterShape: readonly number[],
  attrs: Attrs,
  depthwise: boolean,
): tf.backend_util.Conv2DInfo {
  return tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    pair(attrs.strides, 'strides'),
    pair(attrs.dilations, 'dilations'),
    attrs.pad as 'valid',
    attrs.dimRoundingMode as 'floor' | undefined,
    depthwise,
  )
}

/**
 * Pads (before, after) with zeros or, where negative, crops, along height and width of NHWC `x`:
 * a crop is one Slice per call, never one per kernel position.
 */
function padOrCrop(x: T4, [top, bottom]: Pair, [left, right]: Pair): T4 {
  let y = x
  const [, h, w] = y.shape
  if (top < 0 || bottom < 0 || left < 0 || right < 0) {
    const [t, l] = [Math.max(0, -top), Math.max(0, -left)]
    const [hh, ww] = [h - t - Math.max(0, -bottom), w - l - Math.max(0, -right)]
    y = tf.slice(y, [0, t, l, 0], [-1, hh, ww, -1])
  }
  const p = (v: number): number => Math.max(0, v)
  if (p(top) + p(bottom) + p(left) + p(right) === 0) return y
  return tf.pad(y, [
    [0, 0],
    [p(top), p(bottom)],
    [p(left), p(right)],
    [0, 0],
  ])
}

/** `dy` with `s − 1` zeros after every row and column: (n, oh·sh, ow·sw, c). Reshape + one pad. */
function dilate(dy: T4, [sh, sw]: Pair): T4 {
  if (sh === 1 && sw === 1) return dy
  const [n, oh, ow, c] = dy.shape
  const spread = tf.pad(tf.reshape(dy, [n, oh, 1, ow, 1, c]), [
    [0, 0],
    [0, 0],
    [0, sh - 1],
    [0, 0],
    [0, sw - 1],
    [0, 0],
  ])
  return tf.reshape(spread, [n, oh * sh, ow * sw, c])
}

/**
 * The one-hot depthwise filter whose conv is im2col: (kh, kw, c, kh·kw), so output channel
 * `ci·kh·kw + (a·kw + b)` is input channel `ci` at kernel position (a, b).
 */
function im2colFilter(kh: number, kw: number, c: number): T4 {
  const k = kh * kw
  const data = new Float32Array(k * c * k)
  for (let p = 0; p < k; p++) for (let ci = 0; ci < c; ci++) data[(p * c + ci) * k + p] = 1
  return tf.tensor4d(data, [kh, kw, c, k])
}

/**
 * `aᵀ · b` for a (m, p) and b (m, q), the m-long dots cut into chunks of {@link MATMUL_CHUNK}
 * (zero rows pad m to a multiple: exact) as one batched matMul, the chunks then summed in float64.
 */
function chunkedAtB(a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor2D {
  const [m, p] = a.shape
  const q = b.shape[1]
  if (m <= 2 * MATMUL_CHUNK) return tf.matMul(a, b, true, false)
  const chunks = Math.ceil(m / MATMUL_CHUNK)
  const extra = chunks * MATMUL_CHUNK - m
  const rows = <R extends tf.Tensor2D>(t: R): R =>
    extra === 0
      ? t
      : (tf.pad(t, [
          [0, extra],
          [0, 0],
        ]) as R)
  const a3 = tf.reshape(rows(a), [chunks, MATMUL_CHUNK, p]) as tf.Tensor3D
  const b3 = tf.reshape(rows(b), [chunks, MATMUL_CHUNK, q]) as tf.Tensor3D
  return accurateSum(tf.matMul(a3, b3, true, false), [0]) as tf.Tensor2D
}

/** Conv2D's filter gradient: (kh, kw, ci, co) from x (n, h, w, ci) and dy (n, oh, ow, co). */
function conv2dBackpropFilter({ inputs, attrs }: tf.NamedAttrMap & Attrs): tf.Tensor {
  const a = attrs as Attrs
  assertNhwc(a, 'Conv2DBackpropFilter')
  const ins = inputs as unknown as { x: tf.TensorInfo; dy: tf.TensorInfo }
  const x = tensorOf<tf.Rank.R4>(ins.x)
  const dy = tensorOf<tf.Rank.R4>(ins.dy)
  const [kh, kw, ci, co] = a.filterShape as [number, number, number, number]
  const info = convInfo(x.shape, [kh, kw, ci, co], a, false)
  const { top, bottom, left, right } = info.padInfo
  const pointwise = kh === 1 && kw === 1 && top + bottom + left + right === 0
  const patches =
    pointwise && info.strideHeight === 1 && info.strideWidth === 1
      ? x
      : tf.depthwiseConv2d(
          x,
          im2colFilter(kh, kw, ci),
          [info.strideHeight, info.strideWidth],
          [
            [0, 0],
            [top, bottom],
            [left, right],
            [0, 0],
          ],
        )
  const m = info.batchSize * info.outHeight * info.outWidth
  const dw = chunkedAtB(
    tf.reshape(patches, [m, ci * kh * kw]) as tf.Tensor2D,
    tf.reshape(dy, [m, co]) as tf.Tensor2D,
  )
  if (pointwise) return tf.reshape(dw, [1, 1, ci, co])
  return tf.transpose(tf.reshape(dw, [ci, kh, kw, co]), [1, 2, 0, 3])
}

/** DepthwiseConv2dNative's input gradient: (n, h, w, c) from dy (n, oh, ow, c·m) and the filter. */
function depthwiseBackpropInput({ inputs, attrs }: tf.NamedAttrMap & Attrs): tf.Tensor {
  const a = attrs as Attrs
  assertNoDilation(a, 'DepthwiseConv2dNativeBackpropInput')
  const ins = inputs as unknown as { dy: tf.TensorInfo; filter: tf.TensorInfo }
  const dy = tensorOf<tf.Rank.R4>(ins.dy)
  const filter = tensorOf<tf.Rank.R4>(ins.filter)
  const inputShape = a.inputShape as [number, number, number, number]
  const [kh, kw, c, mult] = filter.shape
  const info = convInfo(inputShape, filter.shape, a, true)
  const [h, w] = [inputShape[1], inputShape[2]]
  const { top, left } = info.padInfo
  const stride: Pair = [info.strideHeight, info.strideWidth]
  // dx[i] = Σ_k' dyPadded[i + k'] · flip(W)[k'], dyPadded = dilated dy with kh − 1 − top zeros
  // in front and enough behind to make h + kh − 1 rows (dilate already added s − 1 of them)
  const dyd = dilate(dy, stride)
  const rows: Pair = [kh - 1 - top, h + kh - 1 - (kh - 1 - top) - dyd.shape[1]]
  const cols: Pair = [kw - 1 - left, w + kw - 1 - (kw - 1 - left) - dyd.shape[2]]
  const flipped = tf.reverse(filter, [0, 1])
  const f = mult === 1 ? flipped : (tf.reshape(flipped, [kh, kw, c * mult, 1]) as T4)
  const dx = tf.depthwiseConv2d(padOrCrop(dyd, rows, cols), f, 1, 'valid')
  if (mult === 1) return dx
  const [n] = inputShape
  return tf.sum(tf.reshape(dx, [n, h, w, c, mult]), 4)
}

/** DepthwiseConv2dNative's filter gradient: (kh, kw, c, m) from x (n, h, w, c) and dy. */
function depthwiseBackpropFilter({ inputs, attrs }: tf.NamedAttrMap & Attrs): tf.Tensor {
  const a = attrs as Attrs
  assertNoDilation(a, 'DepthwiseConv2dNativeBackpropFilter')
  const ins = inputs as unknown as { x: tf.TensorInfo; dy: tf.TensorInfo }
  const x = tensorOf<tf.Rank.R4>(ins.x)
  const dy = tensorOf<tf.Rank.R4>(ins.dy)
  const [kh, kw, c, mult] = a.filterShape as [number, number, number, number]
  const info = convInfo(x.shape, [kh, kw, c, mult], a, true)
  const [n, h, w] = x.shape
  const [oh, ow] = [info.outHeight, info.outWidth]
  const [sh, sw] = [info.strideHeight, info.strideWidth]
  const { top, left } = info.padInfo
  // batch folded into channels: image x as (1, h, w, n·c), filter dy as (oh, ow, n·c, m),
  // dilated by the stride; padded so that the output is exactly kh x kw
  const image = tf.reshape(tf.transpose(x, [1, 2, 0, 3]), [1, h, w, n * c]) as T4
  const dyT = tf.transpose(tf.reshape(dy, [n, oh, ow, c, mult]), [1, 2, 0, 3, 4])
  const taps = tf.reshape(dyT, [oh, ow, n * c, mult]) as T4
  const rows: Pair = [top, kh - 1 + (oh - 1) * sh - h - top + 1]
  const cols: Pair = [left, kw - 1 + (ow - 1) * sw - w - left + 1]
  const out = tf.depthwiseConv2d(padOrCrop(image, rows, cols), taps, 1, 'valid', 'NHWC', [sh, sw])
  return accurateSum(tf.reshape(out, [kh, kw, n, c, mult]), [2])
}

const POINTWISE = Symbol('vitest-align pointwise Conv2DBackpropInput')

/**
 * Conv2D's input gradient for a 1x1, stride-1, unpadded conv as one matMul, `dy · wᵀ`; any other
 * conv goes to wasm's own kernel. Its own kernel is a plain loop: 1 to 2 ms per pointwise conv of
 * the port at batch 32, 32x32 (22 of them per step), against about 0.1 ms as a matMul.
 */
function pointwiseBackpropInput(original: tf.KernelConfig): tf.KernelFunc {
  const kernel: tf.KernelFunc = (args) => {
    const a = args.attrs as Attrs
    const ins = args.inputs as unknown as { dy: tf.TensorInfo; filter: tf.TensorInfo }
    const [kh, kw, ci, co] = ins.filter.shape as [number, number, number, number]
    const inputShape = a.inputShape as [number, number, number, number]
    if (kh !== 1 || kw !== 1) return original.kernelFunc(args)
    assertNhwc(a, 'Conv2DBackpropInput')
    const info = convInfo(inputShape, ins.filter.shape, a, false)
    const { top, bottom, left, right } = info.padInfo
    const plain = info.strideHeight === 1 && info.strideWidth === 1 && info.dilationHeight === 1
    if (!plain || info.dilationWidth !== 1 || top + bottom + left + right !== 0) {
      return original.kernelFunc(args)
    }
    const dy = tf.reshape(tensorOf(ins.dy), [-1, co]) as tf.Tensor2D
    const w = tf.reshape(tensorOf(ins.filter), [ci, co]) as tf.Tensor2D
    return tf.reshape(tf.matMul(dy, w, false, true), inputShape)
  }
  return Object.assign(kernel, { [POINTWISE]: true })
}

/** Replaces wasm's `Conv2DBackpropInput` by {@link pointwiseBackpropInput}; idempotent. */
function usePointwiseBackpropInput(): boolean {
  const original = tf.getKernel('Conv2DBackpropInput', 'wasm')
  if (original === undefined || POINTWISE in original.kernelFunc) return false
  // unregister first: registering over a kernel works but logs a warning
  tf.unregisterKernel('Conv2DBackpropInput', 'wasm')
  tf.registerKernel({ ...original, kernelFunc: pointwiseBackpropInput(original) })
  return true
}

const KERNELS: ReadonlyArray<[string, (args: tf.NamedAttrMap & Attrs) => tf.Tensor]> = [
  ['Conv2DBackpropFilter', conv2dBackpropFilter],
  ['DepthwiseConv2dNativeBackpropInput', depthwiseBackpropInput],
  ['DepthwiseConv2dNativeBackpropFilter', depthwiseBackpropFilter],
]

/** The kernel names {@link registerWasmGradKernels} adds to `wasm`. */
export const WASM_GRAD_KERNELS: readonly string[] = KERNELS.map(([name]) => name)

/**
 * Registers the three gradient kernels for the `wasm` backend and replaces three of its own:
 * `Sum` by one that accumulates float32 in float64 (`useFloat64Sum`: without it, BatchNorm
 * parameter gradients were 4.5x less accurate than torch float32's), `BatchMatMul` by one that
 * transposes explicitly (`useFastTransposedMatMul`: every matMul gradient is a transposed product,
 * 10x slower on wasm's own path) and `Conv2DBackpropInput` for 1x1 convs by a matMul (wasm's own
 * is a slow loop). Idempotent; a gradient kernel the backend already has (a later TF.js that ships
 * its own) is left alone. Returns the names this call registered or replaced.
 */
export function registerWasmGradKernels(): string[] {
  const added: string[] = []
  for (const [kernelName, impl] of KERNELS) {
    if (tf.getKernel(kernelName, 'wasm') !== undefined) continue
    const kernelFunc = impl as unknown as tf.KernelFunc
    tf.registerKernel({ kernelName, backendName: 'wasm', kernelFunc })
    added.push(kernelName)
  }
  if (useFloat64Sum()) added.push('Sum')
  if (useFastTransposedMatMul()) added.push('BatchMatMul')
  if (usePointwiseBackpropInput()) added.push('Conv2DBackpropInput')
  return added
}
