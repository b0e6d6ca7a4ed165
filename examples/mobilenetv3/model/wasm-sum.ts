/**
 * A float32 sum accumulated in float64, for the wasm backend's gradients. wasm's `Sum` kernel adds
 * the values of each output one after the other in float32, so its relative error grows with the
 * reduction length (2e-6 over 8,192 values near 1, against 6e-8 on the cpu backend, whose JS loops
 * accumulate in float64). The gradients of train-mode BatchNorm reduce over batch × height × width,
 * where large terms of both signs cancel, so that error becomes visible in the parameter gradients.
 * No wasm op accumulates in float64, so this reduction is hand-written in JS: it reads the values
 * once (`dataSync`, one copy out of the wasm heap), adds them in float64 and rounds once.
 */
import * as tf from '@tensorflow/tfjs'

/** One run of adjacent dimensions that are all reduced or all kept. */
interface Group {
  readonly size: number
  readonly reduced: boolean
}

/** Adjacent dimensions merged into runs (sizes multiplied), size-1 dimensions dropped. */
function groupsOf(shape: readonly number[], axes: ReadonlySet<number>): Group[] {
  const groups: Group[] = []
  shape.forEach((size, d) => {
    if (size === 1) return
    const reduced = axes.has(d)
    const last = groups[groups.length - 1]
    if (last !== undefined && last.reduced === reduced) {
      groups[groups.length - 1] = { size: last.size * size, reduced }
    } else groups.push({ size, reduced })
  })
  return groups
}

/**
 * Σ of `values` (row-major `shape`) over `axes`, accumulated in float64: the kept dimensions in
 * order. Exported for the tests (against an exact reference); use {@link accurateSum} on tensors.
 */
export function sumFloat64(
  values: ArrayLike<number>,
  shape: readonly number[],
  axes: readonly number[],
): Float64Array {
  const axisSet = new Set(axes.map((a) => (a < 0 ? a + shape.length : a)))
  const groups = groupsOf(shape, axisSet)
  const outSize = groups.reduce((p, g) => (g.reduced ? p : p * g.size), 1)
  const acc = new Float64Array(outSize)
  if (values.length === 0) return acc
  // element stride and output stride of each group
  const inStride: number[] = new Array(groups.length)
  const outStride: number[] = new Array(groups.length)
  let si = 1
  let so = 1
  for (let g = groups.length - 1; g >= 0; g--) {
    const { size, reduced } = groups[g] as Group
    inStride[g] = si
    outStride[g] = reduced ? 0 : so
    si *= size
    if (!reduced) so *= size
  }
  const last = groups.length - 1
  const walk = (g: number, i: number, o: number): void => {
    const { size, reduced } = groups[g] as Group
    if (g === last) {
      if (reduced) {
        let s = 0
        for (let j = 0; j < size; j++) s += values[i + j] as number
        acc[o] = (acc[o] as number) + s
      } else {
        for (let j = 0; j < size; j++)
          acc[o + j] = (acc[o + j] as number) + (values[i + j] as number)
      }
      return
    }
    const [is, os] = [inStride[g] as number, outStride[g] as number]
    for (let j = 0; j < size; j++) walk(g + 1, i + j * is, o + j * os)
  }
  if (groups.length === 0) acc[0] = values[0] as number
  else walk(0, 0, 0)
  return acc
}

/**
 * `tf.sum(x, axes)` (keepDims false) for float32 `x`, accumulated in float64 and rounded once to
 * float32. Not differentiable: for use inside kernels, where nothing is taped.
 */
export function accurateSum(x: tf.Tensor, axes: readonly number[]): tf.Tensor {
  const rank = x.shape.length
  const axisSet = new Set(axes.map((a) => (a < 0 ? a + rank : a)))
  const outShape = x.shape.filter((_, d) => !axisSet.has(d))
  const sums = sumFloat64(x.dataSync() as Float32Array, x.shape, [...axisSet])
  return tf.tensor(Float32Array.from(sums), outShape, 'float32')
}

/** The Sum kernel {@link useFloat64Sum} registers: float32 in float64, anything else delegated. */
function float64SumKernel(original: tf.KernelConfig): tf.KernelFunc {
  const kernel: tf.KernelFunc = (args) => {
    const x = args.inputs.x as tf.TensorInfo
    if (x.dtype !== 'float32') return original.kernelFunc(args)
    const { axis, keepDims } = args.attrs as { axis: number | number[]; keepDims: boolean }
    const axes = tf.util.parseAxisParam(axis, x.shape)
    const backend = args.backend as tf.KernelBackend
    const sums = sumFloat64(backend.readSync(x.dataId) as Float32Array, x.shape, axes)
    const shape = keepDims
      ? x.shape.map((d, i) => (axes.includes(i) ? 1 : d))
      : x.shape.filter((_, i) => !axes.includes(i))
    const dataId = backend.write(Float32Array.from(sums), shape, 'float32')
    return { dataId, shape, dtype: 'float32' }
  }
  return Object.assign(kernel, { [FLOAT64]: true })
}

const FLOAT64 = Symbol('vitest-align float64 Sum')

/**
 * Replaces the wasm backend's `Sum` kernel by one that accumulates float32 in float64 (other
 * dtypes go to the original). The gradients of broadcasting ops (add, mul, sub: every BatchNorm's
 * weight, bias and batch-moment terms) reduce through `Sum`, over batch × height × width values;
 * in float32 their error reached 5.4e-5 relative on the stem's BatchNorm weight at batch 32,
 * 32x32, against 1.4e-5 for torch float32 (measured against torch float64). Idempotent; returns
 * whether this call replaced the kernel.
 */
export function useFloat64Sum(): boolean {
  const original = tf.getKernel('Sum', 'wasm')
  if (original === undefined) throw new Error('wasm-sum: the wasm backend has no Sum kernel')
  if (FLOAT64 in original.kernelFunc) return false
  // unregister first: registering over a kernel works but logs a warning
  tf.unregisterKernel('Sum', 'wasm')
  tf.registerKernel({ ...original, kernelFunc: float64SumKernel(original) })
  return true
}
