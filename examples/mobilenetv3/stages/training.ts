/**
 * Stage 5's training run on the port, as `reference/training.py` runs it: the seeded init
 * (`train_init.npz`), the committed per-epoch permutations, SGD lr 0.05 / momentum 0.9 / weight
 * decay 1e-4 without the BatchNorm parameters, CosineAnnealingLR(T_max=3) stepped per epoch,
 * batch 32, train-mode BN, dropout off; then the BatchNorm recalibration and the top-1 the
 * reference reports. Everything returns plain numbers: no tensor outlives a call.
 */
import { readFileSync } from 'node:fs'
import * as tf from '@tensorflow/tfjs'
import type { NdArray } from 'vitest-align'
import { readReprodLog } from 'vitest-align/files'
import {
  BATCH_SIZE,
  batches,
  batchLabels,
  CosineAnnealingLR,
  disposeBatchStats,
  type FashionMnist,
  loadMobileNetV3,
  type MobileNetV3Small,
  type TrainBug,
  Trainer,
  type TrainOptions,
  transformBatch,
} from '../model/index.js'
import { dataFile, predictAll } from './fixtures.js'

export const EPOCHS = 3
export const STEPS_PER_EPOCH = 64
export const STEPS = EPOCHS * STEPS_PER_EPOCH

/** The reference's hyper-parameters (training.py: LR, backward.MOMENTUM, WEIGHT_DECAY, T_max). */
export const TRAIN_OPTIONS: TrainOptions = {
  lr: 0.05,
  momentum: 0.9,
  weightDecay: 1e-4,
  normWeightDecay: 0,
  schedule: (lr) => new CosineAnnealingLR(lr, EPOCHS),
}

/** The port from the seeded random init the reference trains from. */
export function loadTrainInit(): Promise<MobileNetV3Small> {
  return loadMobileNetV3(dataFile('train_init.npz'))
}

/** The committed per-epoch orders (`perm_0..2` of `training_ref.npy`, int64). */
export function loadPermutations(): NdArray[] {
  const ref = readReprodLog(new Uint8Array(readFileSync(dataFile('training_ref.npy'))))
  return Array.from({ length: EPOCHS }, (_, e) => {
    const key = `perm_${e}`
    const v = (ref instanceof Map ? ref.get(key) : (ref as Record<string, unknown>)[key]) as
      | NdArray
      | undefined
    if (v === undefined || !('data' in v)) throw new Error(`training_ref.npy has no '${key}'`)
    return v
  })
}

/** The subset in the order of one permutation (`images[perm]`, `labels[perm]`). */
export function permuted(ds: FashionMnist, perm: NdArray): FashionMnist {
  const n = perm.data.length
  const px = ds.height * ds.width
  const images = new Uint8Array(n * px)
  const labels = new Uint8Array(n)
  for (let i = 0; i < n; i++) {
    const j = Number(perm.data[i])
    if (!(Number.isInteger(j) && j >= 0 && j < ds.length)) {
      throw new RangeError(`permutation index ${j} outside the subset of ${ds.length}`)
    }
    images.set(ds.images.subarray(j * px, (j + 1) * px), i * px)
    labels[i] = ds.labels[j] as number
  }
  return { images, labels, length: n, height: ds.height, width: ds.width }
}

/** Per-step figures of a run: `losses[i]` (float32 values) and `lrs[i]` (float64). */
export interface Curve {
  readonly losses: number[]
  readonly lrs: number[]
}

/**
 * Trains `model` in place over `perms` (one per epoch), `STEPS_PER_EPOCH` batches of 32 each,
 * the schedule stepped at each epoch's end; stops after `maxSteps` steps when given.
 */
export function trainRun(
  model: MobileNetV3Small,
  ds: FashionMnist,
  perms: readonly NdArray[],
  options: { bug?: TrainBug; maxSteps?: number } = {},
): Curve {
  const { bug, maxSteps = Number.POSITIVE_INFINITY } = options
  const trainer = new Trainer(model, bug === undefined ? TRAIN_OPTIONS : { ...TRAIN_OPTIONS, bug })
  const losses: number[] = []
  const lrs: number[] = []
  for (const perm of perms) {
    const epoch = permuted(ds, perm)
    for (const { start, count } of batches(epoch.length)) {
      if (losses.length >= maxSteps) return { losses, lrs }
      const x = transformBatch(epoch, start, count)
      try {
        const { loss, lr } = trainer.step(x, batchLabels(epoch, start, count))
        losses.push(loss)
        lrs.push(lr)
      } finally {
        x.dispose()
      }
    }
    trainer.endEpoch()
  }
  return { losses, lrs }
}

/**
 * `training.recalibrate` on the port: every BatchNorm's running statistics reset (mean 0,
 * variance 1), then one train-mode pass (dropout off) over `ds` in order, batch 32, each batch
 * folded in with torch's `momentum=None` factor 1 / num_batches (a cumulative average, the
 * variance unbiased).
 */
export function recalibrate(model: MobileNetV3Small, ds: FashionMnist): void {
  for (const [name, v] of model.buffers) {
    tf.tidy(() => v.assign(name.endsWith('running_var') ? tf.onesLike(v) : tf.zerosLike(v)))
  }
  let k = 0
  for (const { start, count } of batches(ds.length, { batchSize: BATCH_SIZE })) {
    const x = transformBatch(ds, start, count)
    const { logits, batchStats } = model.forwardTrain(x, { dropout: 0 })
    try {
      k++
      model.updateRunningStats(batchStats, 1 / k)
    } finally {
      tf.dispose([x, logits])
      disposeBatchStats(batchStats)
    }
  }
}

/** Eval-mode top-1 over `ds`, in percent (argmax, the first on ties as torch's). */
export function top1(model: MobileNetV3Small, ds: FashionMnist): number {
  const logits = predictAll(model, ds)
  const c = model.numClasses
  let correct = 0
  for (let i = 0; i < ds.length; i++) {
    let best = 0
    for (let j = 1; j < c; j++) {
      if ((logits.data[i * c + j] as number) > (logits.data[i * c + best] as number)) best = j
    }
    if (best === ds.labels[i]) correct++
  }
  return (100 * correct) / ds.length
}
