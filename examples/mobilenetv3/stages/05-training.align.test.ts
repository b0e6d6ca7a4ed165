/**
 * Stage 5, training: the port trained as `reference/training.py` trains torch, from the same
 * seeded init (`train_init.npz`) on the 2,048-image training subset in the committed order
 * (`perm_0..2`), 3 epochs x 64 steps at batch 32, SGD lr 0.05 / momentum 0.9 / weight decay 1e-4
 * (not on BatchNorm), CosineAnnealingLR(T_max=3) per epoch, train-mode BN, dropout off. The run
 * is made once per file (the `training` fixture, ~30-60 s on wasm) and shared by the tests:
 * the lr per step exactly, the first steps' loss by allclose, the whole curve within the
 * reference's own noise floor, and the final top-1 after BatchNorm recalibration.
 */
import { describe, expect } from 'vitest'
import type { NdArray } from 'vitest-align'
import { TRAIN_BUGS, type TrainBug } from '../model/index.js'
import { test as base } from './fixtures.js'
import {
  type Curve,
  EPOCHS,
  loadPermutations,
  loadTrainInit,
  recalibrate,
  STEPS,
  STEPS_PER_EPOCH,
  top1,
  trainRun,
} from './training.js'

/**
 * Steps 0-4 (1-based 1-5) are where the five reference runs (float32, float64, three one-ulp
 * perturbations) still agree to float32 rounding: their spread is 5.8e-8 of the loss at step 1,
 * 1.0e-7 at step 2, 3.2e-7 at step 5, then 2.9e-3 at step 8 and 5.8e-3 at step 10 (the chaos
 * takes over between steps 5 and 8). rtol 3e-6 is ~10x the largest spread of those five steps
 * and ~10x the port's own worst (measured on wasm: 0 at step 1, 3.2e-7 at step 5), room for
 * another backend's summation order; the subtlest control below, `weight-decay-on-bn`, is 2.3e-5
 * off by step 5, ~8x over it. atol 0: the loss is near 2.3 here, the relative bound is the rule.
 */
const PER_STEP = 5
const LOSS_TOLERANCE = { rtol: 3e-6, atol: 0 } as const
/** The lr is torch's recursive float64 schedule on both sides: bit for bit. */
const LR_TOLERANCE = { rtol: 0, atol: 0 } as const
/**
 * The whole curve, step by step: factor 5. One step's spread is four runs' worst distance, a
 * heavy-tailed estimate (step 26: 0.079 between 0.31 and 0.23 at its neighbours). Measured on
 * the committed runs, each judged against the other three (leave-one-out, steps 8 on): a correct
 * torch run needs factor 4.7 (ulp_3), 5.7 (ulp_2), 10.0 (ulp_1), 10.5 (float64); this port needs
 * 3.18 against all four (at step 26; 5 of 192 steps above 2, 1 above 3), which the library's
 * default 3 fails. 5 passes the port and the better half of the reference's own runs; more would
 * put zero inside the band at most steps past 20. The sharper check is the epoch means below.
 */
const NOISE_FACTOR = 5
/**
 * Each epoch's mean loss (64 steps, float64 mean): the steadier figure (spread.epoch_loss_rel:
 * 3.8%, 3.3%, 8.6% of the reference's means), at the library's default factor 3. Measured: the
 * port's means differ by 0.3%, 0.6%, 1.5%.
 */
const EPOCH_FACTOR = 3
/**
 * Final top-1 (percent of the 1,000 validation images, recalibrated BN): the five reference runs
 * spread 1.6 points (77.0 to 78.6; the reference 78.4). Within 2x that spread, 3.2 points, of the
 * reference: the port is one more run, so it lands in the runs' range give or take one spread.
 */
const TOP1_SPREAD = 1.6
const TOP1_FACTOR = 2

/** The noise runs training.py records: the float64 run and three one-ulp perturbations. */
const NOISE_RUNS = ['float64', 'ulp_1', 'ulp_2', 'ulp_3'] as const

/** A correct run's figures, kept as numbers so no tensor outlives the fixture. */
interface TrainingResult extends Curve {
  readonly valTop1: number
  readonly seconds: number
}

type Ref = Readonly<Record<string, unknown>>

function arrayOf(ref: Ref, key: string): NdArray {
  const v = ref[key] as NdArray | undefined
  if (v === undefined || !('data' in v)) throw new Error(`training_ref.npy has no array '${key}'`)
  return v
}

const scalarOf = (ref: Ref, key: string): number => Number(arrayOf(ref, key).data[0])

/** `<prefix>loss_<i>` for steps 0..n-1, float32 as the reference stores them. */
function lossCurve(ref: Ref, n: number, prefix = ''): NdArray<'float32'> {
  const data = Float32Array.from({ length: n }, (_, i) => scalarOf(ref, `${prefix}loss_${i}`))
  return { data, shape: [n], dtype: 'float32' }
}

/** The mean of each epoch's 64 losses, in float64, as training.py's `spread.epoch_loss_rel`. */
function epochMeans(losses: ArrayLike<number>): NdArray<'float64'> {
  const data = Float64Array.from({ length: EPOCHS }, (_, e) => {
    let sum = 0
    for (let i = 0; i < STEPS_PER_EPOCH; i++) sum += losses[e * STEPS_PER_EPOCH + i] as number
    return sum / STEPS_PER_EPOCH
  })
  return { data, shape: [EPOCHS], dtype: 'float64' }
}

function lrCurve(ref: Ref, n: number): NdArray<'float64'> {
  const data = Float64Array.from({ length: n }, (_, i) => scalarOf(ref, `lr_${i}`))
  return { data, shape: [n], dtype: 'float64' }
}

const f32 = (xs: readonly number[]): NdArray<'float32'> => ({
  data: Float32Array.from(xs),
  shape: [xs.length],
  dtype: 'float32',
})
const f64 = (xs: readonly number[]): NdArray<'float64'> => ({
  data: Float64Array.from(xs),
  shape: [xs.length],
  dtype: 'float64',
})

const test = base
  .extend('perms', { scope: 'file' }, () => loadPermutations())
  .extend('training', { scope: 'file' }, async ({ subsets, perms }): Promise<TrainingResult> => {
    const t0 = performance.now()
    const port = await loadTrainInit()
    try {
      const curve = trainRun(port, subsets.train, perms)
      recalibrate(port, subsets.train)
      const valTop1 = top1(port, subsets.val)
      return { ...curve, valTop1, seconds: (performance.now() - t0) / 1000 }
    } finally {
      port.dispose()
    }
  })
  .extend('earlyRun', { scope: 'file' }, ({ subsets, perms }) => {
    /** The first PER_STEP steps of a port trained with `bug`. */
    return async (bug: TrainBug): Promise<Curve> => {
      const port = await loadTrainInit()
      try {
        return trainRun(port, subsets.train, perms, { bug, maxSteps: PER_STEP })
      } finally {
        port.dispose()
      }
    }
  })

describe('training, 3 epochs x 64 steps from the seeded init', () => {
  test('the run covers every step', ({ training, record }) => {
    expect(training.losses).toHaveLength(STEPS)
    expect(training.lrs).toHaveLength(STEPS)
    training.losses.forEach((loss, i) => {
      record.add(`loss_${i}`, { data: Float32Array.of(loss), shape: [], dtype: 'float32' })
      record.add(`lr_${i}`, {
        data: Float64Array.of(training.lrs[i] as number),
        shape: [],
        dtype: 'float64',
      })
    })
    record.add('val_top1', { data: Float64Array.of(training.valTop1), shape: [], dtype: 'float64' })
    console.info(
      `stage 5: ${STEPS} steps + recalibration + top-1 in ${training.seconds.toFixed(1)} s;` +
        ` loss at steps 1/5/10/20/100/192: ${[0, 4, 9, 19, 99, 191]
          .map((i) => (training.losses[i] as number).toPrecision(6))
          .join(' ')}; top-1 ${training.valTop1}%`,
    )
  })

  test('the lr of every step equals torch schedule', ({ training, reference }) => {
    const ref = reference.training as Ref
    expect({ lr: f64(training.lrs) }).toAlignWith({ lr: lrCurve(ref, STEPS) }, LR_TOLERANCE)
  })

  test(`the loss of the first ${PER_STEP} steps aligns with torch`, ({ training, reference }) => {
    const ref = reference.training as Ref
    expect({ loss: f32(training.losses.slice(0, PER_STEP)) }).toAlignWith(
      { loss: lossCurve(ref, PER_STEP) },
      LOSS_TOLERANCE,
    )
  })

  test('the whole loss curve stays within the reference runs noise', ({ training, reference }) => {
    const ref = reference.training as Ref
    const noise = NOISE_RUNS.map((run) => ({ loss: lossCurve(ref, STEPS, `noise.${run}.`) }))
    const expected = { loss: lossCurve(ref, STEPS) }
    expect({ loss: f32(training.losses) }).toStayWithinNoise(expected, {
      noise,
      factor: NOISE_FACTOR,
    })
    // a port that does not learn (its first loss held) must be outside the band
    const flat = f32(training.losses.map(() => training.losses[0] as number))
    expect({ loss: flat }).not.toStayWithinNoise(expected, { noise, factor: NOISE_FACTOR })
  })

  test('each epoch mean loss stays within the reference runs noise', ({ training, reference }) => {
    const ref = reference.training as Ref
    const noise = NOISE_RUNS.map((run) => ({
      epoch_loss: epochMeans(lossCurve(ref, STEPS, `noise.${run}.`).data),
    }))
    const expected = { epoch_loss: epochMeans(lossCurve(ref, STEPS).data) }
    expect({ epoch_loss: epochMeans(training.losses) }).toStayWithinNoise(expected, {
      noise,
      factor: EPOCH_FACTOR,
    })
    const flat = epochMeans(training.losses.map(() => training.losses[0] as number))
    expect({ epoch_loss: flat }).not.toStayWithinNoise(expected, { noise, factor: EPOCH_FACTOR })
  })

  test('the final top-1 (recalibrated BN) is within the runs spread of torch', ({
    training,
    reference,
  }) => {
    const ref = reference.training as Ref
    expect({ val_top1: training.valTop1 }).toAlignWith(
      { val_top1: arrayOf(ref, 'val_top1') },
      { atol: TOP1_FACTOR * TOP1_SPREAD, rtol: 0 },
    )
  })
})

/**
 * Negative controls, judged on the first PER_STEP steps only: a full 192-step run per bug would
 * cost 30-60 s each, past the budget of `npm run align` (all five stages under 3 minutes), and
 * past step ~8 the per-step rule no longer holds even for a correct port (the chaos above), so
 * the early steps are where a per-step check can tell a bug at all. Each bug below changes the
 * lr or the loss within those steps: `schedule-*` the lr of step 0 or 1, `dropout-on` and
 * `loss-mean-all-elements` the loss of step 0, `weight-decay-on-bn` the BatchNorm weights from
 * step 1 on.
 */
const VISIBLE: readonly TrainBug[] = [
  'dropout-on',
  'schedule-per-batch',
  'schedule-stepped-first',
  'loss-mean-all-elements',
  'weight-decay-on-bn',
]
/**
 * These touch only the running statistics, which train-mode steps never read, and the reference's
 * top-1 recalibrates them from scratch: no figure of this stage can see them (stage 4 checks the
 * running statistics). The control states it: their early steps align, as a correct port's.
 */
const INVISIBLE = TRAIN_BUGS.filter((b) => !VISIBLE.includes(b))

describe.each(VISIBLE)('negative control: training with %s', (bug) => {
  test(`fails the per-step check of the first ${PER_STEP} steps`, async ({
    earlyRun,
    reference,
  }) => {
    const ref = reference.training as Ref
    const run = await earlyRun(bug)
    expect({ loss: f32(run.losses), lr: f64(run.lrs) }).not.toAlignWith(
      { loss: lossCurve(ref, PER_STEP), lr: lrCurve(ref, PER_STEP) },
      { ...LOSS_TOLERANCE, keys: { lr: LR_TOLERANCE } },
    )
  })
})

describe.each(INVISIBLE)('blind spot: training with %s', (bug) => {
  test('is not visible in train-mode steps (stage 4 catches it)', async ({
    earlyRun,
    reference,
  }) => {
    const ref = reference.training as Ref
    const run = await earlyRun(bug)
    expect({ loss: f32(run.losses), lr: f64(run.lrs) }).toAlignWith(
      { loss: lossCurve(ref, PER_STEP), lr: lrCurve(ref, PER_STEP) },
      { ...LOSS_TOLERANCE, keys: { lr: LR_TOLERANCE } },
    )
  })
})
