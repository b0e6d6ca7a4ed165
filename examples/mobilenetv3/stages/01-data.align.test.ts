/**
 * Stage 1, data: the TypeScript pipeline (IDX reader, ToTensor, bilinear resize to 32x32, three
 * channels, Normalize) against torchvision's DataLoader: the dataset lengths, and the first two
 * training batches and the first validation batch, images and labels, in the loaders' order.
 */
import * as tf from '@tensorflow/tfjs'
import { describe, expect } from 'vitest'
import type { NdArray } from 'vitest-align'
import {
  BATCH_SIZE,
  batchLabels,
  type FashionMnist,
  type TransformOptions,
  toNchw,
  transformBatch,
} from '../model/index.js'
import { test } from './fixtures.js'

/**
 * Lengths and labels are integers, and the images are exact too: the pipeline's resize computes
 * each value as torch's CPU kernel does (in double, rounded once to float32; see
 * ../model/data.ts), and ToTensor and Normalize are the same float32 operations on both sides.
 */
const EXACT = { atol: 0, rtol: 0 } as const
/**
 * TF.js's own `tf.image.resizeBilinear` (half-pixel centres) is torch's resize up to rounding:
 * the wasm kernel interpolates in float32 where torch uses double, a few float32 ulps of values
 * within [-0.81, 2.02] (measured max |Δ| 3.6e-7); the half-pixel bug moves values by 0.3.
 */
const TFJS_RESIZE = { atol: 1e-6, rtol: 0 } as const

/** The recorded batches, by the reference's key names. */
const BATCHES = [
  { split: 'train', index: 0, images: 'train_images_0', labels: 'train_labels_0' },
  { split: 'train', index: 1, images: 'train_images_1', labels: 'train_labels_1' },
  { split: 'val', index: 0, images: 'val_images_0', labels: 'val_labels_0' },
] as const

const int64 = (values: ArrayLike<number>, shape: readonly number[]): NdArray<'int64'> => ({
  data: BigInt64Array.from(Array.from(values, BigInt)),
  shape,
  dtype: 'int64',
})

/** NCHW images of one batch, as torch's loader gives them. */
const images = (ds: FashionMnist, index: number, options: TransformOptions = {}): tf.Tensor4D =>
  tf.tidy(() => toNchw(transformBatch(ds, index * BATCH_SIZE, BATCH_SIZE, options)))

describe('data', () => {
  test('the dataset lengths equal torchvision', ({ subsets, reference, record }) => {
    const train = int64([subsets.train.length], [])
    const val = int64([subsets.val.length], [])
    record.add('train_length', train)
    record.add('val_length', val)
    expect({ train_length: train, val_length: val }).toAlignWith(
      { train_length: reference.data.train_length, val_length: reference.data.val_length },
      EXACT,
    )
  })

  for (const batch of BATCHES) {
    test(`${batch.split} batch ${batch.index}: images and labels equal torchvision`, ({
      subsets,
      reference,
      record,
    }) => {
      const ds = subsets[batch.split]
      const x = images(ds, batch.index)
      const labels = int64(batchLabels(ds, batch.index * BATCH_SIZE, BATCH_SIZE), [BATCH_SIZE])
      record.add(batch.images, x)
      record.add(batch.labels, labels)
      expect({ [batch.images]: x, [batch.labels]: labels }).toAlignWith(
        {
          [batch.images]: reference.data[batch.images],
          [batch.labels]: reference.data[batch.labels],
        },
        EXACT,
      )
      x.dispose()
    })
  }
})

describe("data through TF.js's own resize kernel", () => {
  for (const batch of BATCHES) {
    test(`${batch.split} batch ${batch.index}: images align with torchvision`, ({
      subsets,
      reference,
    }) => {
      const x = images(subsets[batch.split], batch.index, { resize: 'tfjs' })
      expect({ [batch.images]: x }).toAlignWith(
        { [batch.images]: reference.data[batch.images] },
        TFJS_RESIZE,
      )
      x.dispose()
    })
  }
})

describe('negative control: resize without half-pixel centres', () => {
  for (const batch of BATCHES) {
    test(`${batch.split} batch ${batch.index}: images fail, with either kernel`, ({
      subsets,
      reference,
    }) => {
      for (const resize of ['torch', 'tfjs'] as const) {
        const x = images(subsets[batch.split], batch.index, { bug: 'resize-no-half-pixel', resize })
        expect({ [batch.images]: x }).not.toAlignWith(
          { [batch.images]: reference.data[batch.images] },
          resize === 'torch' ? EXACT : TFJS_RESIZE,
        )
        x.dispose()
      }
    })
  }
})
