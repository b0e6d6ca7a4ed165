/**
 * The port under test: torchvision 0.14's `mobilenet_v3_small(num_classes=N)` in TF.js
 * functional ops, NHWC, from a torch state_dict.
 *
 * Faithful to torch where it matters for float32 agreement:
 * - symmetric explicit padding `(k - 1) / 2` on every side (TF's `'same'` pads a stride-2 layer
 *   0 before and 1 after, torch pads both sides);
 * - BatchNorm eps 1e-3 (torchvision's, not the 1e-5 default of torch or Keras);
 * - hardswish as torch computes it, `x * min(max(x + 3, 0), 6) / 6` (the product first, then the
 *   division); hardsigmoid `min(max(x + 3, 0), 6) / 6`;
 * - train mode normalises with the batch's biased variance, and the running statistics are
 *   updated torch's way (momentum 0.01, unbiased variance) by {@link MobileNetV3Small.updateRunningStats}.
 *
 * Parameters are `tf.Variable`s and running statistics non-trainable ones, each keyed by its
 * torch state_dict name, so gradients and weights can be reported per torch key.
 */
import * as tf from '@tensorflow/tfjs'
import { AlignError, type NdArray } from 'vitest-align'
import { type BlockBug, checkBlockBug } from './block-bugs.js'
import { batchMoments, batchNorm, hardsigmoid, hardswish } from './ops.js'
import {
  type Architecture,
  type BlockSpec,
  BN_EPS,
  BN_MOMENTUM,
  type ConvBnSpec,
  checkStateDict,
  type F32,
  type LinearSpec,
  type SeSpec,
  type StateDictInput,
  toTfLayout,
  type WeightEntry,
} from './weights.js'

export { fromNchw, loadMobileNetV3, toStateDict } from './io.js'
export { batchMoments, batchNorm, hardsigmoid, hardswish } from './ops.js'

/**
 * A named porting mistake, switched on in the model code, for the negative controls (a check
 * that passes with it is too loose):
 * - `same-padding`: every conv pads TF's `'same'` way (asymmetric at stride 2);
 * - `linear-not-transposed`: the Linear weights are torch's (out, in) data read as (in, out) (a
 *   reshape where a transpose belongs: it runs, and is wrong);
 * - `bn-eps-1e-5`: BatchNorm eps 1e-5 (the TF/Keras-ish default) instead of torchvision's 1e-3.
 */
export type PortBug = 'same-padding' | 'linear-not-transposed' | 'bn-eps-1e-5'

/** Every {@link PortBug}. */
export const PORT_BUGS: readonly PortBug[] = [
  'same-padding',
  'linear-not-transposed',
  'bn-eps-1e-5',
]

/** Options of the port. */
export interface PortOptions {
  /** A porting bug to build in (for negative controls). Default none. */
  bug?: PortBug
  /**
   * Dropout rate before the last Linear in {@link MobileNetV3Small.forwardTrain}, in [0, 1).
   * Default 0: the alignment stages run train mode with dropout off, as the torch reference
   * does (torchvision's model has 0.2; random masks cannot align element by element).
   */
  dropout?: number
  /** A one-block bug (layer-wise negative control), such as `{ kind: 'se-sigmoid', block: 'features.4' }`. */
  blockBug?: BlockBug
}

/**
 * Sees every recorded module's output during a forward ({@link MobileNetV3Small.forwardTapped}),
 * called in torch's execution order with the torch module path (`features.3.block.1.0`) and the
 * port's tensor (NHWC, or (batch, C) where torch has (batch, C, 1, 1)); what it returns is used in
 * the output's place (return the tensor unchanged, or `t + probe` to take its gradient).
 */
export type Tap = (path: string, t: tf.Tensor) => tf.Tensor

/** How one forward runs (internal). */
interface Run {
  readonly tap: Tap | undefined
  readonly dropout: number
}

/** An input the port cannot take. */
export class PortInputError extends AlignError {
  override name = 'PortInputError'
}

/** One BatchNorm's statistics over a training batch. */
export interface BatchStat {
  /** Per-channel mean over (batch, height, width). */
  readonly mean: tf.Tensor1D
  /** Per-channel biased variance (divided by `count`), the one train mode normalises with. */
  readonly variance: tf.Tensor1D
  /** Elements per channel (batch × height × width): the unbiased variance is `variance · count / (count − 1)`. */
  readonly count: number
}

/** Statistics by BatchNorm torch name (such as `features.0.1`), in forward order. */
export type BatchStats = Map<string, BatchStat>

/** What {@link MobileNetV3Small.forwardTrain} returns; the caller owns (and disposes) every tensor. */
export interface TrainForward {
  readonly logits: tf.Tensor2D
  readonly batchStats: BatchStats
}

/** Disposes the tensors of {@link BatchStats}. */
export function disposeBatchStats(stats: BatchStats): void {
  for (const s of stats.values()) tf.dispose([s.mean, s.variance])
}

/** TorchVision's MobileNetV3-small on TF.js. Build it with {@link MobileNetV3Small.fromStateDict}. */
export class MobileNetV3Small {
  /** The architecture, layer by layer with torch names. */
  readonly arch: Architecture
  readonly numClasses: number
  /** The porting bug built in, if any. */
  readonly bug: PortBug | undefined
  /** The train-mode dropout rate. */
  readonly dropout: number
  /** The one-block bug built in, if any. */
  readonly blockBug: BlockBug | undefined
  /** Trainable parameters by torch name, in TF.js layouts (conv HWIO, Linear and SE (in, out)). */
  readonly params: ReadonlyMap<string, tf.Variable>
  /** BatchNorm running statistics (`.running_mean`, `.running_var`) by torch name. */
  readonly buffers: ReadonlyMap<string, tf.Variable>
  /** Every float32 state_dict entry, in torch's order. */
  readonly spec: readonly WeightEntry[]
  readonly #eps: number
  readonly #batchesTracked: Map<string, bigint>
  #disposed = false

  private constructor(
    arch: Architecture,
    spec: WeightEntry[],
    params: Map<string, tf.Variable>,
    buffers: Map<string, tf.Variable>,
    batchesTracked: Map<string, bigint>,
    bug: PortBug | undefined,
    dropout: number,
    blockBug: BlockBug | undefined,
  ) {
    this.arch = arch
    this.numClasses = arch.numClasses
    this.spec = spec
    this.params = params
    this.buffers = buffers
    this.#batchesTracked = batchesTracked
    this.bug = bug
    this.dropout = dropout
    this.blockBug = blockBug
    this.#eps = bug === 'bn-eps-1e-5' ? 1e-5 : BN_EPS
  }

  /**
   * Builds the port from a torch state_dict (torch names and layouts, float32; the class count is
   * read from `classifier.3`). Throws a `WeightError` listing every missing, unexpected,
   * misshapen or non-float32 weight.
   */
  static fromStateDict(
    stateDict: StateDictInput,
    options: PortOptions = {},
    source = 'state_dict',
  ): MobileNetV3Small {
    const { bug, dropout = 0, blockBug } = options
    if (bug !== undefined && !PORT_BUGS.includes(bug)) {
      throw new RangeError(`unknown port bug '${bug}'; known: ${PORT_BUGS.join(', ')}`)
    }
    if (!(dropout >= 0 && dropout < 1)) {
      throw new RangeError(`dropout must be in [0, 1), got ${dropout}`)
    }
    const { arch, weights, spec } = checkStateDict(stateDict, { source })
    if (blockBug !== undefined) checkBlockBug(arch, blockBug)
    const params = new Map<string, tf.Variable>()
    const buffers = new Map<string, tf.Variable>()
    try {
      for (const entry of spec) {
        const torch = weights[entry.name] as F32
        const v = tf.tidy(() => tf.variable(tensorOf(entry, torch, bug), entry.trainable))
        ;(entry.trainable ? params : buffers).set(entry.name, v)
      }
    } catch (e) {
      tf.dispose([...params.values(), ...buffers.values()])
      throw e
    }
    const tracked = new Map<string, bigint>()
    for (const bn of arch.batchNorms) {
      const n = stateDict[`${bn}.num_batches_tracked`]
      const first = n !== undefined && 'data' in n ? (n as NdArray).data[0] : undefined
      tracked.set(bn, typeof first === 'bigint' ? first : BigInt(Math.trunc(Number(first ?? 0))))
    }
    const b = blockBug === undefined ? undefined : { kind: blockBug.kind, block: blockBug.block }
    return new MobileNetV3Small(arch, spec, params, buffers, tracked, bug, dropout, b)
  }

  /** Eval mode (running statistics, no dropout): NHWC float32 (batch, h, w, 3) → (batch, numClasses) logits. */
  predict(x: tf.Tensor4D): tf.Tensor2D {
    this.#check(x)
    return tf.tidy(() => this.#forward(x, undefined, { tap: undefined, dropout: 0 }))
  }

  /**
   * Train mode: every BatchNorm normalises with its batch's mean and biased variance, dropout per
   * {@link PortOptions.dropout}. Returns the logits and, per BatchNorm, the batch statistics (for
   * {@link updateRunningStats}). Nothing is updated here. The caller owns every returned tensor
   * (`logits.dispose()`, {@link disposeBatchStats}); inside `tf.variableGrads`, `tf.keep` the
   * statistics you need afterwards. `options.dropout` overrides the port's rate for this call.
   */
  forwardTrain(x: tf.Tensor4D, options: { dropout?: number } = {}): TrainForward {
    this.#check(x)
    const { dropout = this.dropout } = options
    if (!(dropout >= 0 && dropout < 1)) {
      throw new RangeError(`dropout must be in [0, 1), got ${dropout}`)
    }
    const names = this.arch.batchNorms
    const counts: number[] = []
    const { logits, means, variances } = tf.tidy(() => {
      const stats: BatchStat[] = []
      const logits = this.#forward(x, stats, { tap: undefined, dropout })
      for (const s of stats) counts.push(s.count)
      return { logits, means: stats.map((s) => s.mean), variances: stats.map((s) => s.variance) }
    })
    const batchStats: BatchStats = new Map()
    names.forEach((name, i) => {
      batchStats.set(name, {
        mean: means[i] as tf.Tensor1D,
        variance: variances[i] as tf.Tensor1D,
        count: counts[i] as number,
      })
    })
    return { logits, batchStats }
  }

  /**
   * A forward that shows every recorded module's output to `tap` (see {@link Tap}), eval mode
   * (running statistics) or train mode (batch statistics, the port's dropout; nothing updated).
   * Returns the logits; intermediates are freed unless `tap` keeps them. Used inside
   * `tf.grads`, the tensors `tap` adds flow into the gradient (see `layers.ts`).
   */
  forwardTapped(x: tf.Tensor4D, mode: 'eval' | 'train', tap: Tap): tf.Tensor2D {
    this.#check(x)
    return tf.tidy(() =>
      this.#forward(x, mode === 'train' ? [] : undefined, {
        tap,
        dropout: mode === 'train' ? this.dropout : 0,
      }),
    )
  }

  /**
   * Updates the running statistics as torch's BatchNorm does after a train-mode forward:
   * `running = (1 - momentum) · running + momentum · batch`, the variance unbiased
   * (`variance · count / (count − 1)`), and `num_batches_tracked` += 1. Every BatchNorm must have
   * its statistics in `batchStats`; they are not disposed. `options.biasedVariance` (a porting
   * bug, for negative controls) updates `running_var` with the biased batch variance instead.
   */
  updateRunningStats(
    batchStats: BatchStats,
    momentum = BN_MOMENTUM,
    options: { biasedVariance?: boolean } = {},
  ): void {
    this.#alive()
    if (!(momentum >= 0 && momentum <= 1)) {
      throw new RangeError(`momentum must be in [0, 1], got ${momentum}`)
    }
    const missing = this.arch.batchNorms.filter((bn) => !batchStats.has(bn))
    if (missing.length > 0) {
      throw new PortInputError(`batch statistics missing for ${missing.join(', ')}`)
    }
    for (const bn of this.arch.batchNorms) {
      const s = batchStats.get(bn) as BatchStat
      if (s.count < 2) {
        throw new PortInputError(`${bn}: ${s.count} value per channel, torch needs more than 1`)
      }
    }
    tf.tidy(() => {
      for (const bn of this.arch.batchNorms) {
        const s = batchStats.get(bn) as BatchStat
        const rm = this.#buffer(`${bn}.running_mean`)
        const rv = this.#buffer(`${bn}.running_var`)
        const unbiased = options.biasedVariance
          ? s.variance
          : tf.mul(s.variance, s.count / (s.count - 1))
        rm.assign(tf.add(tf.mul(rm, 1 - momentum), tf.mul(s.mean, momentum)))
        rv.assign(tf.add(tf.mul(rv, 1 - momentum), tf.mul(unbiased, momentum)))
        this.#batchesTracked.set(bn, (this.#batchesTracked.get(bn) ?? 0n) + 1n)
      }
    })
  }

  /** `num_batches_tracked` of a BatchNorm (torch name such as `features.0.1`). */
  batchesTracked(bn: string): bigint {
    const n = this.#batchesTracked.get(bn)
    if (n === undefined) throw new PortInputError(`no BatchNorm named '${bn}'`)
    return n
  }

  /** Frees every variable. The port cannot be used afterwards; a second call does nothing. */
  dispose(): void {
    if (this.#disposed) return
    this.#disposed = true
    tf.dispose([...this.params.values(), ...this.buffers.values()])
  }

  get disposed(): boolean {
    return this.#disposed
  }

  // -------------------------------------------------------------------------------------------

  #alive(): void {
    if (this.#disposed) throw new PortInputError('the port was disposed')
  }

  #check(x: tf.Tensor): void {
    this.#alive()
    if (x.rank !== 4 || x.shape[3] !== 3 || x.dtype !== 'float32') {
      throw new PortInputError(
        `expected an NHWC float32 (batch, height, width, 3) image batch, got ${x.dtype} ` +
          `(${x.shape.join(', ')}); torch's NCHW arrays go through fromNchw`,
      )
    }
  }

  #param(name: string): tf.Variable {
    const v = this.params.get(name)
    if (v === undefined) throw new Error(`internal: no parameter '${name}'`)
    return v
  }

  #buffer(name: string): tf.Variable {
    const v = this.buffers.get(name)
    if (v === undefined) throw new Error(`internal: no buffer '${name}'`)
    return v
  }

  /** The whole network; `stats` collects batch statistics in train mode (undefined: eval). */
  #forward(x: tf.Tensor4D, stats: BatchStat[] | undefined, run: Run): tf.Tensor2D {
    const tap = <T extends tf.Tensor>(path: string, t: T): T =>
      run.tap === undefined ? t : (run.tap(path, t) as T)
    const { stem, lastConv } = this.arch
    let h = tap(moduleOf(stem), this.#convBn(x, stem, stats, tap, false))
    for (const block of this.arch.blocks) h = this.#block(h, block, stats, tap)
    h = tap(moduleOf(lastConv), this.#convBn(h, lastConv, stats, tap, false))
    const pooled = tap('avgpool', tf.mean(h, [1, 2]) as tf.Tensor2D) // AdaptiveAvgPool2d(1) (+ flatten)
    const [fc0, fc3] = this.arch.classifier
    let z = tap('classifier.1', hardswish(tap(fc0.name, this.#linear(pooled, fc0))))
    if (stats !== undefined && run.dropout > 0) z = tf.dropout(z, run.dropout) as tf.Tensor2D
    return tap(fc3.name, this.#linear(z, fc3))
  }

  #block(x: tf.Tensor4D, b: BlockSpec, stats: BatchStat[] | undefined, tap: TapOf): tf.Tensor4D {
    const bug = this.blockBug?.block === b.name ? this.blockBug.kind : undefined
    let h = x
    const relu6 = bug === 'hardswish-as-relu6'
    if (b.expand !== undefined) h = this.#convBn(h, b.expand, stats, tap, relu6)
    h = this.#convBn(h, b.depthwise, stats, tap, relu6, bug === 'depthwise-same-padding')
    if (b.se !== undefined) h = this.#se(h, b.se, tap, bug === 'se-sigmoid')
    h = this.#convBn(h, b.project, stats, tap, relu6)
    return tap(b.name, b.residual ? tf.add(h, x) : h)
  }

  /** Conv, BatchNorm, activation; `relu6` and `samePad` are one-block bugs. */
  #convBn(
    x: tf.Tensor4D,
    c: ConvBnSpec,
    stats: BatchStat[] | undefined,
    tap: TapOf,
    relu6: boolean,
    samePad = false,
  ): tf.Tensor4D {
    const filter = this.#param(`${c.conv}.weight`) as tf.Tensor4D
    const pad = this.bug === 'same-padding' || samePad ? 'same' : (c.kernel - 1) / 2
    const stride: [number, number] = [c.stride, c.stride]
    const y = tap(
      c.conv,
      c.depthwise ? tf.depthwiseConv2d(x, filter, stride, pad) : tf.conv2d(x, filter, stride, pad),
    )
    const gamma = this.#param(`${c.bn}.weight`) as tf.Tensor1D
    const beta = this.#param(`${c.bn}.bias`) as tf.Tensor1D
    let mean: tf.Tensor1D
    let variance: tf.Tensor1D
    if (stats === undefined) {
      mean = this.#buffer(`${c.bn}.running_mean`) as tf.Tensor1D
      variance = this.#buffer(`${c.bn}.running_var`) as tf.Tensor1D
    } else {
      ;({ mean, variance } = batchMoments(y))
      const [n, hh, ww] = y.shape
      stats.push({ mean, variance, count: n * hh * ww })
    }
    const z = tap(c.bn, batchNorm(y, mean, variance, gamma, beta, this.#eps))
    switch (c.activation) {
      case 'hardswish':
        return tap(activationOf(c), relu6 ? tf.relu6(z) : hardswish(z))
      case 'relu':
        return tap(activationOf(c), tf.relu(z))
      case null:
        return z
    }
  }

  /** Squeeze-excitation: pool, fc1 (as matMul), ReLU, fc2, hardsigmoid, scale the input. */
  #se(x: tf.Tensor4D, se: SeSpec, tap: TapOf, sigmoid: boolean): tf.Tensor4D {
    const m = se.name
    const pooled = tap(`${m}.avgpool`, tf.mean(x, [1, 2]) as tf.Tensor2D)
    const s1 = tap(`${m}.activation`, tf.relu(tap(`${m}.fc1`, this.#dense(pooled, `${m}.fc1`))))
    const f2 = tap(`${m}.fc2`, this.#dense(s1, `${m}.fc2`))
    const s2 = tap(`${m}.scale_activation`, sigmoid ? tf.sigmoid(f2) : hardsigmoid(f2))
    const [n] = x.shape
    return tap(m, tf.mul(x, tf.reshape(s2, [n, 1, 1, se.channels])))
  }

  #linear(x: tf.Tensor2D, l: LinearSpec): tf.Tensor2D {
    return this.#dense(x, l.name)
  }

  /** `x · W + b` with W (in, out). */
  #dense(x: tf.Tensor2D, name: string): tf.Tensor2D {
    const w = this.#param(`${name}.weight`) as tf.Tensor2D
    const b = this.#param(`${name}.bias`) as tf.Tensor1D
    return tf.add(tf.matMul(x, w), b)
  }
}

/** The typed tap inside the forward. */
type TapOf = <T extends tf.Tensor>(path: string, t: T) => T

/** `features.0` for the Conv2dNormActivation whose conv is `features.0.0`. */
function moduleOf(c: ConvBnSpec): string {
  if (!c.conv.endsWith('.0')) throw new Error(`internal: conv name '${c.conv}'`)
  return c.conv.slice(0, -2)
}

/** The activation module of a Conv2dNormActivation: `features.0.2` after `features.0.0`, `.1`. */
function activationOf(c: ConvBnSpec): string {
  return `${moduleOf(c)}.2`
}

/** A weight as the port holds it; the `linear-not-transposed` bug lives here. */
function tensorOf(entry: WeightEntry, torch: F32, bug: PortBug | undefined): tf.Tensor {
  if (entry.role === 'linear' && bug === 'linear-not-transposed') {
    const [out, inp] = torch.shape as [number, number]
    return tf.tensor(torch.data, [inp, out], 'float32') // a reshape, not a transpose: wrong
  }
  const a = toTfLayout(entry.role, torch)
  return tf.tensor(a.data, [...a.shape], 'float32')
}
