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
import { readFile } from 'node:fs/promises'
import * as tf from '@tensorflow/tfjs'
import { AlignError, type NdArray } from 'vitest-align'
import { readNpz } from 'vitest-align/npy'
import {
  type Architecture,
  allConvBns,
  type BlockSpec,
  BN_EPS,
  BN_MOMENTUM,
  type ConvBnSpec,
  checkStateDict,
  type F32,
  fromTfLayout,
  type LinearSpec,
  type SeSpec,
  type StateDictInput,
  toTfLayout,
  type WeightEntry,
} from './weights.js'

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
  ) {
    this.arch = arch
    this.numClasses = arch.numClasses
    this.spec = spec
    this.params = params
    this.buffers = buffers
    this.#batchesTracked = batchesTracked
    this.bug = bug
    this.dropout = dropout
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
    const { bug, dropout = 0 } = options
    if (bug !== undefined && !PORT_BUGS.includes(bug)) {
      throw new RangeError(`unknown port bug '${bug}'; known: ${PORT_BUGS.join(', ')}`)
    }
    if (!(dropout >= 0 && dropout < 1)) {
      throw new RangeError(`dropout must be in [0, 1), got ${dropout}`)
    }
    const { arch, weights, spec } = checkStateDict(stateDict, { source })
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
    return new MobileNetV3Small(arch, spec, params, buffers, tracked, bug, dropout)
  }

  /** Eval mode (running statistics, no dropout): NHWC float32 (batch, h, w, 3) → (batch, numClasses) logits. */
  predict(x: tf.Tensor4D): tf.Tensor2D {
    this.#check(x)
    return tf.tidy(() => this.#forward(x, undefined))
  }

  /**
   * Train mode: every BatchNorm normalises with its batch's mean and biased variance, dropout per
   * {@link PortOptions.dropout}. Returns the logits and, per BatchNorm, the batch statistics (for
   * {@link updateRunningStats}). Nothing is updated here. The caller owns every returned tensor
   * (`logits.dispose()`, {@link disposeBatchStats}); inside `tf.variableGrads`, `tf.keep` the
   * statistics you need afterwards.
   */
  forwardTrain(x: tf.Tensor4D): TrainForward {
    this.#check(x)
    const names = this.arch.batchNorms
    const counts: number[] = []
    const { logits, means, variances } = tf.tidy(() => {
      const stats: BatchStat[] = []
      const logits = this.#forward(x, stats)
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
   * Updates the running statistics as torch's BatchNorm does after a train-mode forward:
   * `running = (1 - momentum) · running + momentum · batch`, the variance unbiased
   * (`variance · count / (count − 1)`), and `num_batches_tracked` += 1. Every BatchNorm must have
   * its statistics in `batchStats`; they are not disposed.
   */
  updateRunningStats(batchStats: BatchStats, momentum = BN_MOMENTUM): void {
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
        const unbiased = tf.mul(s.variance, s.count / (s.count - 1))
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
  #forward(x: tf.Tensor4D, stats: BatchStat[] | undefined): tf.Tensor2D {
    let h = this.#convBn(x, this.arch.stem, stats)
    for (const block of this.arch.blocks) h = this.#block(h, block, stats)
    h = this.#convBn(h, this.arch.lastConv, stats)
    const pooled = tf.mean(h, [1, 2]) as tf.Tensor2D // AdaptiveAvgPool2d(1) + flatten
    const [fc0, fc3] = this.arch.classifier
    let z = hardswish(this.#linear(pooled, fc0))
    if (stats !== undefined && this.dropout > 0) z = tf.dropout(z, this.dropout) as tf.Tensor2D
    return this.#linear(z, fc3)
  }

  #block(x: tf.Tensor4D, b: BlockSpec, stats: BatchStat[] | undefined): tf.Tensor4D {
    let h = x
    if (b.expand !== undefined) h = this.#convBn(h, b.expand, stats)
    h = this.#convBn(h, b.depthwise, stats)
    if (b.se !== undefined) h = this.#se(h, b.se)
    h = this.#convBn(h, b.project, stats)
    return b.residual ? tf.add(h, x) : h
  }

  #convBn(x: tf.Tensor4D, c: ConvBnSpec, stats: BatchStat[] | undefined): tf.Tensor4D {
    const filter = this.#param(`${c.conv}.weight`) as tf.Tensor4D
    const pad = this.bug === 'same-padding' ? 'same' : (c.kernel - 1) / 2
    const stride: [number, number] = [c.stride, c.stride]
    const y = c.depthwise
      ? tf.depthwiseConv2d(x, filter, stride, pad)
      : tf.conv2d(x, filter, stride, pad)
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
    const z = batchNorm(y, mean, variance, gamma, beta, this.#eps)
    switch (c.activation) {
      case 'hardswish':
        return hardswish(z)
      case 'relu':
        return tf.relu(z)
      case null:
        return z
    }
  }

  /** Squeeze-excitation: pool, fc1 (as matMul), ReLU, fc2, hardsigmoid, scale the input. */
  #se(x: tf.Tensor4D, se: SeSpec): tf.Tensor4D {
    const pooled = tf.mean(x, [1, 2]) as tf.Tensor2D
    const s1 = tf.relu(this.#dense(pooled, `${se.name}.fc1`))
    const s2 = hardsigmoid(this.#dense(s1, `${se.name}.fc2`))
    const [n] = x.shape
    return tf.mul(x, tf.reshape(s2, [n, 1, 1, se.channels]))
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

/**
 * Per-channel mean and biased variance of NHWC `x` over (batch, height, width), as train-mode
 * BatchNorm needs them. Reduced one axis at a time (width, then height, then batch; a mean of
 * equal-sized groups' means is the mean), not by `tf.moments(x, [0, 1, 2])`: the wasm backend's
 * Mean sums sequentially in float32, so over 8,192 values its error was 3e-6 relative, against
 * 1e-7 axis by axis (torch sums in float64); axis by axis is also faster on wasm (0.5 ms vs 0.8).
 * Differentiable (the batch statistics are part of train mode's graph, as in torch).
 */
export function batchMoments(x: tf.Tensor4D): { mean: tf.Tensor1D; variance: tf.Tensor1D } {
  const meanNhw = (t: tf.Tensor4D): tf.Tensor1D => tf.mean(tf.mean(tf.mean(t, 2), 1), 0)
  const mean = meanNhw(x)
  // square(sub), not squaredDifference: TF.js 4.22's SquaredDifference gradient does not sum
  // over the broadcast axes (variableGrads fails: shape (n, 1, 1, C) for input (C))
  return { mean, variance: meanNhw(tf.square(tf.sub(x, mean)) as tf.Tensor4D) }
}

/**
 * BatchNorm as torch's CPU kernel computes it (`batch_norm_cpu_collect_linear_and_constant_terms`,
 * in float32 for float32 tensors, eval and train mode alike): per channel
 * `alpha = weight / sqrt(var + eps)` (`invstd = 1 / sqrt(var + eps)`, then `invstd * weight`) and
 * `beta = bias - mean * alpha`, then `y = x * alpha + beta`. This is not folding BN into the
 * conv: the conv's output is still computed first and scaled after. It is also 10x faster on
 * wasm than `tf.batchNorm` (its FusedBatchNorm kernel took 41 of 96 ms of a batch-8 forward).
 */
export function batchNorm<T extends tf.Tensor>(
  x: T,
  mean: tf.Tensor1D,
  variance: tf.Tensor1D,
  weight: tf.Tensor1D,
  bias: tf.Tensor1D,
  eps: number,
): T {
  const invstd = tf.div(1, tf.sqrt(tf.add(variance, eps)))
  const alpha = tf.mul(invstd, weight)
  const beta = tf.sub(bias, tf.mul(mean, alpha))
  return tf.add(tf.mul(x, alpha), beta)
}

/** torch's Hardswish in float32: `x * min(max(x + 3, 0), 6) / 6`, the product first. */
export function hardswish<T extends tf.Tensor>(x: T): T {
  return tf.div(tf.mul(x, tf.relu6(tf.add(x, 3))), 6)
}

/** torch's Hardsigmoid: `min(max(x + 3, 0), 6) / 6`. */
export function hardsigmoid<T extends tf.Tensor>(x: T): T {
  return tf.div(tf.relu6(tf.add(x, 3)), 6)
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

/**
 * The port's weights in torch's state_dict layout and order, `num_batches_tracked` included
 * (int64 0-d): what the port computes with, for recording and for comparing weights after
 * training. Always the correct inverse layout, so for `linear-not-transposed` the Linear
 * weights differ from the checkpoint's (they are what the buggy port really multiplies by).
 */
export function toStateDict(model: MobileNetV3Small): Record<string, NdArray> {
  if (model.disposed) throw new PortInputError('the port was disposed')
  const out: Record<string, NdArray> = {}
  // torch's order puts `<bn>.num_batches_tracked` right after `<bn>.running_var`
  const bnAfter = new Map(allConvBns(model.arch).map((c) => [`${c.bn}.running_var`, c.bn]))
  for (const entry of model.spec) {
    const v = model.params.get(entry.name) ?? model.buffers.get(entry.name)
    if (v === undefined) throw new Error(`internal: no variable '${entry.name}'`)
    const tfLayout: F32 = { data: v.dataSync() as Float32Array, shape: v.shape, dtype: 'float32' }
    out[entry.name] = fromTfLayout(entry.role, tfLayout)
    const bn = bnAfter.get(entry.name)
    if (bn !== undefined) {
      out[`${bn}.num_batches_tracked`] = {
        data: BigInt64Array.of(model.batchesTracked(bn)),
        shape: [],
        dtype: 'int64',
      }
    }
  }
  return out
}

/**
 * Reads a checkpoint (`.npz` of the torch state_dict, as `np.savez` writes it) and builds the
 * port on the current backend. Throws a `WeightError` naming every bad weight.
 */
export async function loadMobileNetV3(
  checkpointPath: string,
  options: PortOptions = {},
): Promise<MobileNetV3Small> {
  const bytes = await readFile(checkpointPath)
  const stateDict = readNpz(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), {
    source: checkpointPath,
  })
  return MobileNetV3Small.fromStateDict(stateDict, options, checkpointPath)
}

/** A torch NCHW float array (such as `fake_data.npy`, (1, 3, 224, 224)) → an NHWC tensor. */
export function fromNchw(a: NdArray): tf.Tensor4D {
  if (a.shape.length !== 4) {
    throw new PortInputError(
      `fromNchw: expected an NCHW array of rank 4, got (${a.shape.join(', ')})`,
    )
  }
  let data: Float32Array
  if (a.dtype === 'float32') data = a.data as Float32Array
  else if (a.dtype === 'float64') data = Float32Array.from(a.data as Float64Array)
  else throw new PortInputError(`fromNchw: expected float32 (or float64), got ${a.dtype}`)
  const [n, c, h, w] = a.shape as [number, number, number, number]
  return tf.tidy(() => tf.transpose(tf.tensor4d(data, [n, c, h, w]), [0, 2, 3, 1]))
}
