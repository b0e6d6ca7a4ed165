/**
 * Training the port as the torch reference does (`reference/backward.py`, `training.py`): per
 * step a train-mode forward (batch statistics, dropout off), `nn.CrossEntropyLoss()`, the
 * gradients of every parameter, torch's SGD (momentum, weight decay on all but the BatchNorm
 * parameters) at the schedule's lr, then the running-statistics update (momentum 0.01, unbiased
 * variance); the schedule steps once per epoch ({@link Trainer.endEpoch}).
 */
import * as tf from '@tensorflow/tfjs'
import { crossEntropy } from './loss.js'
import { type BatchStats, disposeBatchStats, type MobileNetV3Small } from './mobilenetv3.js'
import { ConstantLR, type LrSchedule } from './schedule.js'
import { normParameterNames, Sgd } from './sgd.js'
import { BN_MOMENTUM } from './weights.js'

/**
 * A named training mistake, for the negative controls of stages 4 and 5 (each a real porting
 * bug; a check that passes with one on is too loose):
 * - `bn-momentum-flipped`: BatchNorm's momentum read the Paddle/Keras way. Paddle's
 *   `BatchNorm2D(momentum=m)` computes `running = m · running + (1 − m) · batch` (its docstring:
 *   `moving_mean = moving_mean * momentum + batch_mean * (1 - momentum)`; Keras the same, default
 *   0.99), torch's `running = (1 − m) · running + m · batch`; torchvision's 0.01 used with
 *   Paddle's meaning weights the batch by 0.99. Train-mode steps cannot see it, only the running
 *   statistics (and eval mode after training).
 * - `biased-running-var`: `running_var` updated with the biased batch variance (the one train
 *   mode normalises with) instead of torch's unbiased one (× count / (count − 1)).
 * - `weight-decay-on-bn`: weight decay on every parameter, BatchNorm weights and biases too (plain
 *   `SGD(model.parameters(), weight_decay=1e-4)`), where the reference's second parameter group
 *   has weight decay 0 for them.
 * - `schedule-per-batch`: `scheduler.step()` after every batch instead of once per epoch (stage 5;
 *   in stage 4 every iteration is an epoch, so the two coincide there).
 * - `schedule-stepped-first`: `scheduler.step()` before the first optimizer step, so every step
 *   uses the next lr (the order torch warns about; stage 4's schedule control).
 * - `dropout-on`: torchvision's Dropout(0.2) left on in train mode (the reference turns it off).
 * - `loss-mean-all-elements`: the loss averaged over every element of the (batch, classes)
 *   array instead of over the batch (torch's loss / classes, and its gradients).
 */
export type TrainBug =
  | 'bn-momentum-flipped'
  | 'biased-running-var'
  | 'weight-decay-on-bn'
  | 'schedule-per-batch'
  | 'schedule-stepped-first'
  | 'dropout-on'
  | 'loss-mean-all-elements'

/** Every {@link TrainBug}. */
export const TRAIN_BUGS: readonly TrainBug[] = [
  'bn-momentum-flipped',
  'biased-running-var',
  'weight-decay-on-bn',
  'schedule-per-batch',
  'schedule-stepped-first',
  'dropout-on',
  'loss-mean-all-elements',
]

/** torchvision's classifier dropout, what `dropout-on` leaves on. */
export const TORCHVISION_DROPOUT = 0.2

/** The training run's hyper-parameters. */
export interface TrainOptions {
  readonly lr: number
  /** SGD momentum (torch's meaning). */
  readonly momentum: number
  /** Weight decay of every parameter but the BatchNorm weights and biases. */
  readonly weightDecay: number
  /** Weight decay of the BatchNorm weights and biases. Default 0 (the reference's). */
  readonly normWeightDecay?: number
  /** The schedule, from the base lr. Default constant. */
  readonly schedule?: (lr: number) => LrSchedule
  /** BatchNorm momentum (torch's meaning). Default 0.01. */
  readonly bnMomentum?: number
  readonly bug?: TrainBug
}

/** One step's figures. */
export interface StepResult {
  /** The loss of the batch before the update (float32, as a number). */
  readonly loss: number
  /** The lr the step used (`opt.param_groups[0]['lr']`). */
  readonly lr: number
}

/** Trains the port in place: {@link Trainer.step} per batch, {@link Trainer.endEpoch} per epoch. */
export class Trainer {
  readonly model: MobileNetV3Small
  readonly sgd: Sgd
  readonly schedule: LrSchedule
  readonly bug: TrainBug | undefined
  readonly #bnMomentum: number
  readonly #torchName: Map<string, string>
  readonly #vars: tf.Variable[]

  constructor(model: MobileNetV3Small, options: TrainOptions) {
    const { bug, bnMomentum = BN_MOMENTUM, normWeightDecay = 0 } = options
    if (bug !== undefined && !TRAIN_BUGS.includes(bug)) {
      throw new RangeError(`unknown train bug '${bug}'; known: ${TRAIN_BUGS.join(', ')}`)
    }
    this.model = model
    this.bug = bug
    this.#bnMomentum = bug === 'bn-momentum-flipped' ? 1 - bnMomentum : bnMomentum
    this.sgd = new Sgd(model.params, {
      lr: options.lr,
      momentum: options.momentum,
      weightDecay: options.weightDecay,
      normWeightDecay,
      noDecay: bug === 'weight-decay-on-bn' ? new Set() : normParameterNames(model.arch),
    })
    this.schedule = (options.schedule ?? ((lr) => new ConstantLR(lr)))(options.lr)
    this.#torchName = new Map([...model.params].map(([k, v]) => [v.name, k]))
    this.#vars = [...model.params.values()]
  }

  /** The lr the next step uses. */
  get lr(): number {
    return this.schedule.lr
  }

  /**
   * One training step on NHWC `x` with integer `labels`: loss, gradients (shown to `onGrads`
   * by torch name, the port's layouts, before the update; disposed afterwards), SGD, running
   * statistics. Leaves no tensor behind.
   */
  step(
    x: tf.Tensor4D,
    labels: tf.Tensor1D | ArrayLike<number>,
    onGrads?: (grads: tf.NamedTensorMap) => void,
  ): StepResult {
    if (this.bug === 'schedule-stepped-first' && this.sgd.steps === 0) this.schedule.step()
    const lr = this.schedule.lr
    const dropout = this.bug === 'dropout-on' ? TORCHVISION_DROPOUT : 0
    const reduction = this.bug === 'loss-mean-all-elements' ? 'all-elements' : 'batch'
    let stats: BatchStats | undefined
    const { value, grads } = tf.variableGrads(() => {
      const out = this.model.forwardTrain(x, { dropout })
      for (const s of out.batchStats.values()) {
        tf.keep(s.mean)
        tf.keep(s.variance)
      }
      stats = out.batchStats
      return crossEntropy(out.logits, labels, reduction)
    }, this.#vars)
    try {
      const byTorch: tf.NamedTensorMap = {}
      for (const [k, g] of Object.entries(grads)) byTorch[this.#torchName.get(k) ?? k] = g
      onGrads?.(byTorch)
      this.sgd.step(byTorch, lr)
      this.model.updateRunningStats(stats as BatchStats, this.#bnMomentum, {
        biasedVariance: this.bug === 'biased-running-var',
      })
      const loss = (value.dataSync() as Float32Array)[0] as number
      if (this.bug === 'schedule-per-batch') this.schedule.step()
      return { loss, lr }
    } finally {
      tf.dispose([value, ...Object.values(grads)])
      if (stats !== undefined) disposeBatchStats(stats)
    }
  }

  /** The end of an epoch: `scheduler.step()` (unless the schedule is stepped per batch already). */
  endEpoch(): void {
    if (this.bug !== 'schedule-per-batch') this.schedule.step()
  }
}
