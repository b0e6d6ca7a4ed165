import { AlignError } from '../compare/errors.js'

/** A weight whose layout cannot be converted: wrong rank, wrong shape for its role. */
export class LayoutError extends AlignError {
  override name = 'LayoutError'
  constructor(
    /** The weight's name, when known. */
    readonly weight: string | undefined,
    readonly reason: string,
  ) {
    super(weight === undefined ? reason : `${weight}: ${reason}`)
  }
}

/** One problem of a state_dict against its mapping. */
export interface StateDictProblem {
  /** The torch name (or, for `missing`, the port's). */
  readonly weight: string
  readonly problem: 'unmapped' | 'missing' | 'extra' | 'misshapen' | 'layout'
  readonly detail: string
}

/** Every problem of a state_dict against its mapping, at once, each naming its weight. */
export class StateDictError extends AlignError {
  override name = 'StateDictError'
  constructor(readonly problems: readonly StateDictProblem[]) {
    const shown = problems.slice(0, 20).map((p) => `  ${p.weight}: ${p.problem}: ${p.detail}`)
    const more = problems.length > 20 ? [`  (and ${problems.length - 20} more)`] : []
    super(
      `${problems.length} ${problems.length === 1 ? 'weight does' : 'weights do'} not convert:\n${[...shown, ...more].join('\n')}`,
    )
  }
}
