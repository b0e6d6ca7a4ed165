/**
 * torch 1.13's learning-rate schedules as a stepped run computes them: `get_lr()`'s recursive
 * ("chainable") forms, each new lr computed from the previous one in float64, which is what
 * `opt.param_groups[0]['lr']` reads (the reference's `lr_<i>`). The closed forms
 * (`_get_closed_form_lr`, used by torch only when `step(epoch)` is given an epoch) are exported
 * beside them: mathematically equal, they can differ in the last bits (CosineAnnealingLR from
 * 0.05 at T_max 3, epoch 2: 0.012500000000000008 recursive, the reference's `lr`, against
 * 0.012500000000000006 closed).
 *
 * As in torch, a schedule starts at `last_epoch = 0` with the base lr (the constructor's own
 * `step()`), and each {@link LrSchedule.step} advances `last_epoch` by one.
 */

/** A stepped schedule. */
export interface LrSchedule {
  /** The current learning rate (`opt.param_groups[0]['lr']`). */
  readonly lr: number
  /** torch's `last_epoch`: how many times {@link step} was called. */
  readonly lastEpoch: number
  /** `scheduler.step()`. */
  step(): void
}

/** Python's `a % b` (the sign of b). */
function pyMod(a: number, b: number): number {
  return ((a % b) + b) % b
}

abstract class Base implements LrSchedule {
  readonly baseLr: number
  #lr: number
  #lastEpoch = 0
  constructor(baseLr: number) {
    if (!(Number.isFinite(baseLr) && baseLr >= 0))
      throw new RangeError(`lr must be >= 0, got ${baseLr}`)
    this.baseLr = baseLr
    this.#lr = baseLr
  }
  get lr(): number {
    return this.#lr
  }
  get lastEpoch(): number {
    return this.#lastEpoch
  }
  step(): void {
    this.#lastEpoch++
    this.#lr = this.next(this.#lr, this.#lastEpoch)
  }
  /** `get_lr()` at `lastEpoch` (>= 1) from the previous lr (`_step_count` > 1). */
  protected abstract next(lr: number, lastEpoch: number): number
}

/** A constant lr (no scheduler). */
export class ConstantLR extends Base {
  protected next(lr: number): number {
    return lr
  }
}

/** `StepLR(step_size, gamma)`: `lr · gamma` at every multiple of `step_size`. */
export class StepLR extends Base {
  constructor(
    baseLr: number,
    readonly stepSize: number,
    readonly gamma = 0.1,
  ) {
    super(baseLr)
    if (!(Number.isInteger(stepSize) && stepSize >= 1))
      throw new RangeError('stepSize must be a positive integer')
  }
  protected next(lr: number, e: number): number {
    return e % this.stepSize !== 0 ? lr : lr * this.gamma
  }
  /** `_get_closed_form_lr`: `base · gamma ** floor(e / step_size)`. */
  static closedForm(baseLr: number, stepSize: number, gamma: number, epoch: number): number {
    return baseLr * gamma ** Math.floor(epoch / stepSize)
  }
}

/** `MultiStepLR(milestones, gamma)`: `lr · gamma ** count` at each milestone (a repeated one counts twice). */
export class MultiStepLR extends Base {
  readonly #counts = new Map<number, number>()
  constructor(
    baseLr: number,
    readonly milestones: readonly number[],
    readonly gamma = 0.1,
  ) {
    super(baseLr)
    for (const m of milestones) this.#counts.set(m, (this.#counts.get(m) ?? 0) + 1)
  }
  protected next(lr: number, e: number): number {
    const count = this.#counts.get(e)
    return count === undefined ? lr : lr * this.gamma ** count
  }
  /** `_get_closed_form_lr`: `base · gamma ** bisect_right(sorted milestones, e)`. */
  static closedForm(
    baseLr: number,
    milestones: readonly number[],
    gamma: number,
    epoch: number,
  ): number {
    return baseLr * gamma ** milestones.filter((m) => m <= epoch).length
  }
}

/** `CosineAnnealingLR(T_max, eta_min)`, torch 1.13's recursive `get_lr`. */
export class CosineAnnealingLR extends Base {
  constructor(
    baseLr: number,
    readonly tMax: number,
    readonly etaMin = 0,
  ) {
    super(baseLr)
    if (!(Number.isInteger(tMax) && tMax >= 1))
      throw new RangeError('tMax must be a positive integer')
  }
  protected next(lr: number, e: number): number {
    const { tMax: t, etaMin: eta, baseLr: base } = this
    if (pyMod(e - 1 - t, 2 * t) === 0) {
      return lr + ((base - eta) * (1 - Math.cos(Math.PI / t))) / 2
    }
    return (
      ((1 + Math.cos((Math.PI * e) / t)) / (1 + Math.cos((Math.PI * (e - 1)) / t))) * (lr - eta) +
      eta
    )
  }
  /** `_get_closed_form_lr`: `eta + (base − eta) · (1 + cos(π · e / T_max)) / 2`. */
  static closedForm(baseLr: number, tMax: number, etaMin: number, epoch: number): number {
    return etaMin + ((baseLr - etaMin) * (1 + Math.cos((Math.PI * epoch) / tMax))) / 2
  }
}

/** The lr of each of `steps` calls, the schedule stepped after each (as `lr_<i>` is recorded). */
export function lrSequence(schedule: LrSchedule, steps: number): number[] {
  const out: number[] = []
  for (let i = 0; i < steps; i++) {
    out.push(schedule.lr)
    schedule.step()
  }
  return out
}
