/**
 * The fixtures every stage uses, built with `defineAlignment`: the seed's fake data, the torch
 * reference records by stage, the port under test (one per worker), the Fashion-MNIST subsets,
 * and broken ports for the negative controls. Copy this file first when you port your own model:
 * change the paths, the reference keys and the two factories.
 */
import { fileURLToPath } from 'node:url'
import * as tf from '@tensorflow/tfjs'
import type { NdArray } from 'vitest-align'
import { defineAlignment } from 'vitest-align/fixtures'
import {
  BATCH_SIZE,
  batches,
  type FashionMnist,
  loadFashionMnist,
  loadMobileNetV3,
  type MobileNetV3Small,
  mobileNetV3Small,
  NUM_CLASSES,
  normParameterNames,
  type PortBug,
  type TrainForward,
  transformBatch,
  type WeightEntry,
  weightSpec,
} from '../model/index.js'

/** A committed reference artifact (written by `npm run reference`). */
export const dataFile = (name: string): string =>
  fileURLToPath(new URL(`../data/${name}`, import.meta.url))

/** The port under test (on the backend backend.worker.ts started); with `bug`, a broken one for a negative control. */
export async function makePort(bug?: PortBug): Promise<MobileNetV3Small> {
  return loadMobileNetV3(dataFile('mobilenet_v3_small.pth'), bug === undefined ? {} : { bug })
}

/**
 * Eval-mode logits of a whole subset, batch by batch in the loader's order, through the
 * TypeScript pipeline: as one (length, classes) float32 array, so no tensor outlives the call.
 */
export function predictAll(port: MobileNetV3Small, ds: FashionMnist): NdArray<'float32'> {
  const out = new Float32Array(ds.length * port.numClasses)
  for (const { start, count } of batches(ds.length)) {
    const logits = tf.tidy(() => port.predict(transformBatch(ds, start, count)))
    out.set(logits.dataSync(), start * port.numClasses)
    logits.dispose()
  }
  return { data: out, shape: [ds.length, port.numClasses], dtype: 'float32' }
}

/** Train mode on the first batch (as the reference's `train_logits`); the caller disposes. */
export function trainForward(port: MobileNetV3Small, ds: FashionMnist): TrainForward {
  const x = transformBatch(ds, 0, BATCH_SIZE)
  try {
    return port.forwardTrain(x)
  } finally {
    x.dispose()
  }
}

/** The two subsets, as the TypeScript pipeline reads them from the committed IDX files. */
export interface Subsets {
  readonly train: FashionMnist
  readonly val: FashionMnist
}

/** The architecture of the committed checkpoint, and its state_dict entries in torch's order. */
export const ARCH = mobileNetV3Small(NUM_CLASSES)
export const SPEC: readonly WeightEntry[] = weightSpec(ARCH)
/** The trainable parameters (142), in torch's order. */
export const PARAM_NAMES: readonly string[] = SPEC.filter((e) => e.trainable).map((e) => e.name)
const NORM_NAMES = normParameterNames(ARCH)

/** The six SGD steps of `reference/backward.py`. */
export const LOSS_BACKWARD_STEPS = 6

type LossBackwardKey =
  | 'loss_fake'
  | 'loss_eval'
  | 'loss_train'
  | 'eval_logits_after'
  | `loss_${number}`
  | `lr_${number}`
  | `grad.${string}`
  | `weight.${string}`
  | `weight_stats.${string}`
  | `weight_index.${string}`
  | `weight_sample.${string}`
  | `${string}.running_mean`
  | `${string}.running_var`
  | `${string}.num_batches_tracked`

/** Every key of `loss_backward_ref.npy` (see `reference/backward.py`), each checked at load. */
const LOSS_BACKWARD_KEYS: LossBackwardKey[] = [
  'loss_fake',
  'loss_eval',
  'loss_train',
  ...Array.from({ length: LOSS_BACKWARD_STEPS }, (_, i): LossBackwardKey[] => [
    `loss_${i}`,
    `lr_${i}`,
  ]).flat(),
  ...PARAM_NAMES.map((n): LossBackwardKey => `grad.${n}`),
  ...PARAM_NAMES.flatMap((n): LossBackwardKey[] =>
    NORM_NAMES.has(n)
      ? [`weight.${n}`]
      : [`weight_stats.${n}`, `weight_index.${n}`, `weight_sample.${n}`],
  ),
  ...ARCH.batchNorms.flatMap((bn): LossBackwardKey[] => [
    `${bn}.running_mean`,
    `${bn}.running_var`,
    `${bn}.num_batches_tracked`,
  ]),
  'eval_logits_after',
]

export const test = defineAlignment({
  tf,
  root: new URL('..', import.meta.url),
  fakeData: { input: 'data/fake_data.npy', label: 'data/fake_label.npy' },
  reference: {
    data: {
      path: 'data/data_ref.npy',
      keys: [
        'train_length',
        'train_images_0',
        'train_labels_0',
        'train_images_1',
        'train_labels_1',
        'val_length',
        'val_images_0',
        'val_labels_0',
      ],
    },
    forward: { path: 'data/forward_ref.npy', keys: ['logits', 'val_logits', 'train_logits'] },
    training: 'data/training_ref.npy',
    metric: {
      path: 'data/metric_ref.npy',
      keys: [
        'acc_top1',
        'acc_top5',
        'val_acc_top1',
        'val_acc_top5',
        'ties_logits',
        'ties_labels',
        'ties_topk',
        'ties_acc_top1',
        'ties_acc_top5',
      ],
    },
    loss_backward: { path: 'data/loss_backward_ref.npy', keys: LOSS_BACKWARD_KEYS },
    layers: 'data/layers_ref.npy',
  },
  models: { candidate: () => makePort() },
})
  .extend(
    'subsets',
    { scope: 'file' },
    (): Subsets => ({
      train: loadFashionMnist(
        dataFile('train-images-idx3-ubyte.gz'),
        dataFile('train-labels-idx1-ubyte.gz'),
      ),
      val: loadFashionMnist(
        dataFile('t10k-images-idx3-ubyte.gz'),
        dataFile('t10k-labels-idx1-ubyte.gz'),
      ),
    }),
  )
  // biome-ignore lint/correctness/noEmptyPattern: Vitest reads a fixture's dependencies from it
  .extend('brokenPort', async ({}, { onCleanup }) => {
    const made: MobileNetV3Small[] = []
    onCleanup(() => {
      for (const m of made) m.dispose()
    })
    /** A port with one named porting bug, disposed after the test. */
    return async (bug: PortBug): Promise<MobileNetV3Small> => {
      const port = await makePort(bug)
      made.push(port)
      return port
    }
  })
