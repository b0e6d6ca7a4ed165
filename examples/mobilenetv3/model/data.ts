/**
 * The data side of the port: Fashion-MNIST from its IDX files, and torchvision 0.14's transform
 * (`ToTensor -> Resize((32, 32), bilinear) -> 3 channels -> Normalize(0.2860, 0.3530)`, see
 * ../reference/fashion_mnist.py) as a TF.js NHWC batch.
 *
 * The resize is torch 1.13's CPU `upsample_bilinear2d` (align_corners=False, no antialias),
 * written out here ({@link resizeBilinearTorch}) rather than `tf.image.resizeBilinear`, because
 * the kernel's arithmetic decides the last bit. Measured on the three recorded batches (98,304
 * values each): torch's value is the float32 rounding of the two-level interpolation evaluated
 * in double. TF.js's cpu kernel also interpolates in double (as `a + (b - a) * t`) and matches
 * it, but the wasm kernel interpolates in float32 and differs on ~10% of the values, by up to
 * 3.6e-7 after normalization. With this kernel the batches are bit-exact on every backend;
 * `resize: 'tfjs'` keeps TF.js's kernel, for comparison.
 */
import * as tf from '@tensorflow/tfjs'
import { FileFormatError } from 'vitest-align/files'
import { type IdxOptions, readIdx } from './idx.js'

/** The side of the square the images are resized to (fashion_mnist.py's `RESOLUTION`). */
export const RESOLUTION = 32
/** Fashion-MNIST's pixel mean over the training set, of x / 255 (fashion_mnist.py's `MEAN`). */
export const MEAN = 0.286
/** ... and standard deviation (`STD`). */
export const STD = 0.353
/** The reference loaders' batch size. */
export const BATCH_SIZE = 32
/** Fashion-MNIST's classes: labels are 0..9. */
export const NUM_CLASSES = 10

/** A dataset whose image and label files do not agree, or are not images and labels. */
export class DatasetError extends FileFormatError {
  override name = 'DatasetError'
}

/** Fashion-MNIST images (uint8, row-major `(length, height, width)`) and their labels. */
export interface FashionMnist {
  readonly images: Uint8Array
  readonly labels: Uint8Array
  readonly length: number
  readonly height: number
  readonly width: number
}

/**
 * Reads an images file and a labels file (IDX, gzipped or not), as torchvision's
 * `FashionMNIST` does.
 *
 * @throws {IdxFormatError} for a file that is not a valid uint8 IDX.
 * @throws {DatasetError} when the images are not 3-d, the labels not 1-d, their counts differ,
 *   or a label is not a class 0..9 (naming the file at fault).
 */
export function loadFashionMnist(
  imagesPath: string,
  labelsPath: string,
  options: IdxOptions = {},
): FashionMnist {
  const images = readIdx(imagesPath, options)
  const labels = readIdx(labelsPath, options)
  if (images.shape.length !== 3) {
    const s = images.shape.join(', ')
    throw new DatasetError(imagesPath, undefined, `images of shape (${s}), expected (N, H, W)`)
  }
  if (labels.shape.length !== 1) {
    const s = labels.shape.join(', ')
    throw new DatasetError(labelsPath, undefined, `labels of shape (${s}), expected (N,)`)
  }
  const [length, height, width] = images.shape as [number, number, number]
  if (labels.shape[0] !== length) {
    throw new DatasetError(
      labelsPath,
      undefined,
      `${labels.shape[0]} labels for the ${length} images of ${imagesPath}`,
    )
  }
  const bad = labels.data.findIndex((l) => l >= NUM_CLASSES)
  if (bad >= 0) {
    throw new DatasetError(
      labelsPath,
      undefined,
      `label ${labels.data[bad]} at ${bad}: classes are 0..${NUM_CLASSES - 1}`,
    )
  }
  return { images: images.data, labels: labels.data, length, height, width }
}

/**
 * A named porting mistake in the data pipeline, for the negative control:
 * - `resize-no-half-pixel`: the source coordinate of output pixel i taken as `i * in / out`
 *   instead of `(i + 0.5) * in / out - 0.5` (`tf.image.resizeBilinear`'s default,
 *   `halfPixelCenters: false`), which shifts the image by a fraction of a pixel.
 */
export type DataBug = 'resize-no-half-pixel'

/** Every {@link DataBug}. */
export const DATA_BUGS: readonly DataBug[] = ['resize-no-half-pixel']

/** Options of {@link transformBatch}. */
export interface TransformOptions {
  /** A porting mistake to switch on. */
  bug?: DataBug
  /**
   * The resize kernel: `torch` (default) is torch 1.13's arithmetic, bit-exact; `tfjs` is
   * `tf.image.resizeBilinear` on the current backend, within a few float32 ulps of it.
   */
  resize?: 'torch' | 'tfjs'
}

/** A batch's place in the dataset: items `start` to `start + count - 1`. */
export interface BatchRange {
  readonly start: number
  readonly count: number
}

/**
 * The batches of a dataset of `length` items in order (the reference loaders' `shuffle=False`),
 * the last one shorter when `batchSize` does not divide `length` (`drop_last=False`).
 */
export function* batches(
  length: number,
  { batchSize = BATCH_SIZE }: { batchSize?: number } = {},
): Generator<BatchRange> {
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new RangeError(`batch size must be a positive integer, got ${batchSize}`)
  }
  for (let start = 0; start < length; start += batchSize) {
    yield { start, count: Math.min(batchSize, length - start) }
  }
}

/** The labels of items `start` to `start + count - 1`, as int32 (TF.js's integer dtype). */
export function batchLabels(ds: FashionMnist, start: number, count: number): Int32Array {
  checkRange(ds, start, count)
  return Int32Array.from(ds.labels.subarray(start, start + count))
}

/**
 * Items `start` to `start + count - 1` through torchvision's transform: a float32 NHWC tensor
 * `(count, 32, 32, 3)`, the three channels equal. The caller disposes it.
 */
export function transformBatch(
  ds: FashionMnist,
  start: number,
  count: number,
  options: TransformOptions = {},
): tf.Tensor4D {
  const { bug, resize = 'torch' } = options
  if (bug !== undefined && !DATA_BUGS.includes(bug)) {
    throw new RangeError(`unknown data bug '${bug}'; known: ${DATA_BUGS.join(', ')}`)
  }
  if (resize !== 'torch' && resize !== 'tfjs') {
    throw new RangeError(`unknown resize kernel '${resize}'; known: torch, tfjs`)
  }
  checkRange(ds, start, count)
  const { height: h, width: w } = ds
  // ToTensor: uint8 / 255 in float32 (a double quotient rounded once to float32 is the
  // correctly rounded float32 quotient torch computes)
  const pixels = new Float32Array(count * h * w)
  const first = start * h * w
  for (let i = 0; i < pixels.length; i++) pixels[i] = (ds.images[first + i] as number) / 255
  const halfPixel = bug !== 'resize-no-half-pixel'
  return tf.tidy(() => {
    let resized: tf.Tensor4D
    if (resize === 'torch') {
      const out = resizeBilinearTorch(pixels, count, h, w, RESOLUTION, RESOLUTION, halfPixel)
      resized = tf.tensor4d(out, [count, RESOLUTION, RESOLUTION, 1])
    } else {
      const x = tf.tensor4d(pixels, [count, h, w, 1])
      resized = tf.image.resizeBilinear(x, [RESOLUTION, RESOLUTION], false, halfPixel)
    }
    // Normalize: (x - mean) / std with float32 constants, as torchvision's sub_ then div_
    const rgb = tf.tile(resized, [1, 1, 1, 3])
    return tf.div(tf.sub(rgb, tf.scalar(MEAN)), tf.scalar(STD))
  })
}

/** An NHWC tensor as NCHW (torch's layout, for comparing with its records). Disposes nothing. */
export function toNchw(t: tf.Tensor4D): tf.Tensor4D {
  return tf.transpose(t, [0, 3, 1, 2])
}

/**
 * Bilinear resize of `n` single-channel `(h, w)` images to `(outH, outW)`, as torch 1.13's CPU
 * kernel computes it (align_corners=False, no antialias): per axis, the source coordinate
 * `(i + 0.5) * in / out - 0.5` clamped at 0 (or `i * in / out` without `halfPixel`), its two
 * neighbours and float32 weights `1 - t`, `t`; then W inside H,
 * `((a w0 + b w1) h0 + (c w0 + d w1) h1)`, in double, rounded once to float32. That
 * evaluation order and precision were measured: they reproduce torch's output bit for bit on
 * all three recorded batches (98,304 values each), where each float32 evaluation tried (W or H
 * inside, plain or with either product fused) differs from it by 1 ulp on 10 to 20% of them.
 */
export function resizeBilinearTorch(
  pixels: Float32Array,
  n: number,
  h: number,
  w: number,
  outH: number,
  outW: number,
  halfPixel = true,
): Float32Array {
  const rows = linearTaps(h, outH, halfPixel)
  const cols = linearTaps(w, outW, halfPixel)
  const out = new Float32Array(n * outH * outW)
  let o = 0
  for (let b = 0; b < n; b++) {
    const img = b * h * w
    for (let r = 0; r < outH; r++) {
      const top = img + (rows.i0[r] as number) * w
      const bottom = img + (rows.i1[r] as number) * w
      const h0 = rows.w0[r] as number
      const h1 = rows.w1[r] as number
      for (let c = 0; c < outW; c++) {
        const c0 = cols.i0[c] as number
        const c1 = cols.i1[c] as number
        const w0 = cols.w0[c] as number
        const w1 = cols.w1[c] as number
        const t0 = (pixels[top + c0] as number) * w0 + (pixels[top + c1] as number) * w1
        const t1 = (pixels[bottom + c0] as number) * w0 + (pixels[bottom + c1] as number) * w1
        out[o++] = t0 * h0 + t1 * h1
      }
    }
  }
  return out
}

/** One axis's neighbours and weights, torch's `compute_source_index_and_lambda`. */
interface Taps {
  i0: Int32Array
  i1: Int32Array
  w0: Float32Array
  w1: Float32Array
}

function linearTaps(inSize: number, outSize: number, halfPixel: boolean): Taps {
  const taps: Taps = {
    i0: new Int32Array(outSize),
    i1: new Int32Array(outSize),
    w0: new Float32Array(outSize),
    w1: new Float32Array(outSize),
  }
  const f = Math.fround
  const scale = f(inSize / outSize) // torch's `(float)input_size / output_size`
  for (let i = 0; i < outSize; i++) {
    if (inSize === outSize) {
      // torch's scale-1 branch: a copy
      taps.i0[i] = taps.i1[i] = i
      taps.w0[i] = 1
      taps.w1[i] = 0
      continue
    }
    // `scale * (i + 0.5) - 0.5` in double (int + 0.5 is a double in C++), kept as a float
    const src = Math.max(0, f(halfPixel ? scale * (i + 0.5) - 0.5 : scale * i))
    const i0 = Math.min(Math.trunc(src), inSize - 1)
    const lambda1 = f(Math.min(Math.max(src - i0, 0), 1))
    taps.i0[i] = i0
    taps.i1[i] = i0 < inSize - 1 ? i0 + 1 : i0
    taps.w1[i] = lambda1
    taps.w0[i] = f(1 - lambda1)
  }
  return taps
}

function checkRange(ds: FashionMnist, start: number, count: number): void {
  if (
    !Number.isInteger(start) ||
    !Number.isInteger(count) ||
    start < 0 ||
    count < 1 ||
    start + count > ds.length
  ) {
    throw new RangeError(`items ${start} to ${start + count - 1} are outside 0..${ds.length - 1}`)
  }
}
