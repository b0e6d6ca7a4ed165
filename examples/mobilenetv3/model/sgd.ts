/**
 * torch 1.13's `torch.optim.SGD` (dampening 0, not Nesterov, the default single-tensor path) on
 * the port's parameters, element by element in float32 exactly as torch's CPU kernels round:
 *
 *     d   = grad + wd · p          (skipped when wd is 0)     add(alpha): one fused multiply-add
 *     buf = d                      on the first step           clone
 *     buf = fl(momentum · buf) + d after it                    mul_, then add_: two roundings
 *     p   = p − lr · buf                                       add_(alpha=−lr): one fused multiply-add
 *
 * with `wd`, `momentum` and `lr` cast to float32 first (torch's scalar arguments become
 * `scalar_t`). torch's vectorised `add(alpha)` is `vec::fmadd`, one rounding; here the product of
 * two float32 numbers is exact in float64 and the sum is rounded once to float64 and then to
 * float32, which is the fused result except in double-rounding ties (measured: 0 of 300,009
 * elements differed from torch over three steps). The update runs in JS on the values read back
 * from the backend (about 1.5 M elements, a few ms).
 *
 * Parameter groups as the reference (`reference/backward.py: sgd`): weight decay on every
 * parameter but the BatchNorm weights and biases (torchvision's `--norm-weight-decay 0.0`).
 */
import * as tf from '@tensorflow/tfjs'
import type { Architecture } from './weights.js'

/** The optimizer's hyper-parameters. */
export interface SgdOptions {
  /** The starting learning rate (a schedule changes it per {@link Sgd.step} call). */
  readonly lr: number
  readonly momentum: number
  /** Weight decay of the parameters outside {@link SgdOptions.noDecay}. */
  readonly weightDecay: number
  /** Weight decay of the parameters in {@link SgdOptions.noDecay}. Default 0. */
  readonly normWeightDecay?: number
  /** Parameters of the second group (by torch name); default none (one group, as plain SGD). */
  readonly noDecay?: ReadonlySet<string>
}

/** The BatchNorm weights and biases of `arch` (torchvision's normalisation parameters). */
export function normParameterNames(arch: Architecture): Set<string> {
  const out = new Set<string>()
  for (const bn of arch.batchNorms) {
    out.add(`${bn}.weight`)
    out.add(`${bn}.bias`)
  }
  return out
}

/**
 * One step of torch's SGD on plain float32 arrays, in place on `p` and `buf` (`first`: the
 * momentum buffer is not set yet and is set to `d`). Exposed for tests.
 */
export function sgdUpdate(
  p: Float32Array,
  grad: ArrayLike<number>,
  buf: Float32Array,
  first: boolean,
  lr: number,
  momentum: number,
  weightDecay: number,
): void {
  const wd = Math.fround(weightDecay)
  const m = Math.fround(momentum)
  const negLr = -Math.fround(lr)
  const fr = Math.fround
  for (let i = 0; i < p.length; i++) {
    const pi = p[i] as number
    const d = wd === 0 ? (grad[i] as number) : fr((grad[i] as number) + wd * pi)
    let b: number
    if (momentum === 0) b = d
    else if (first) b = d
    else b = fr(fr(m * (buf[i] as number)) + d)
    buf[i] = b
    p[i] = fr(pi + negLr * b)
  }
}

/** torch's SGD over the port's parameters, momentum buffers per torch name. */
export class Sgd {
  readonly options: Required<Omit<SgdOptions, 'noDecay'>> & { noDecay: ReadonlySet<string> }
  readonly params: ReadonlyMap<string, tf.Variable>
  readonly #buffers = new Map<string, Float32Array>()
  #steps = 0

  constructor(params: ReadonlyMap<string, tf.Variable>, options: SgdOptions) {
    const { lr, momentum, weightDecay, normWeightDecay = 0, noDecay = new Set() } = options
    for (const [k, v] of Object.entries({ lr, momentum, weightDecay, normWeightDecay })) {
      if (!(Number.isFinite(v) && v >= 0)) throw new RangeError(`Sgd: ${k} must be >= 0, got ${v}`)
    }
    for (const name of noDecay) {
      if (!params.has(name)) throw new RangeError(`Sgd: noDecay names no parameter '${name}'`)
    }
    this.options = { lr, momentum, weightDecay, normWeightDecay, noDecay }
    this.params = params
  }

  /** Steps taken. */
  get steps(): number {
    return this.#steps
  }

  /** The momentum buffer of a parameter (torch layout is the port's: TF.js layout), if set. */
  buffer(name: string): Float32Array | undefined {
    return this.#buffers.get(name)
  }

  /** The weight decay `name` gets. */
  weightDecayOf(name: string): number {
    const { noDecay, normWeightDecay, weightDecay } = this.options
    return noDecay.has(name) ? normWeightDecay : weightDecay
  }

  /**
   * One step with learning rate `lr`: every parameter must have a gradient in `grads` (by torch
   * name, the port's layout, as `tf.variableGrads` returns them; not disposed here).
   */
  step(grads: tf.NamedTensorMap, lr: number = this.options.lr): void {
    if (!(Number.isFinite(lr) && lr >= 0)) throw new RangeError(`Sgd: lr must be >= 0, got ${lr}`)
    const missing = [...this.params.keys()].filter((k) => grads[k] === undefined)
    if (missing.length > 0) {
      throw new RangeError(
        `Sgd: no gradient for ${missing.length} parameters: ${missing.join(', ')}`,
      )
    }
    const first = this.#steps === 0
    for (const [name, v] of this.params) {
      const g = grads[name] as tf.Tensor
      if (g.size !== v.size) throw new RangeError(`Sgd: gradient of '${name}' has the wrong size`)
      const p = Float32Array.from(v.dataSync() as Float32Array)
      let buf = this.#buffers.get(name)
      if (buf === undefined) {
        buf = new Float32Array(p.length)
        this.#buffers.set(name, buf)
      }
      sgdUpdate(p, g.dataSync(), buf, first, lr, this.options.momentum, this.weightDecayOf(name))
      const t = tf.tensor(p, v.shape, 'float32')
      v.assign(t)
      t.dispose()
    }
    this.#steps++
  }
}
