/**
 * Bounds on the work of one comparison, counted while the input is normalized, so that an input
 * whose size is out of proportion to its memory (a record whose dicts share one another, a
 * sparse array of length 2^32 - 1) is refused before any walk or allocation explodes.
 */

/** The bounds of one side of a comparison; see {@link DEFAULT_LIMITS}. */
export interface Limits {
  /** Arrays (leaf keys) per side, each shared sub-record counted once per path to it. */
  readonly maxKeys: number
  /** Elements per side, summed over every path to an array. */
  readonly maxElements: number
}

/**
 * Defaults. 1,000,000 keys: a large model's state dict has tens of thousands, and a million
 * result rows is already hundreds of MB of report. 2^32 elements: 16 GiB of float32 per side,
 * more than a comparison on one machine holds without sharing, and about 3 s of the kernel;
 * past it only shared sub-records (the same arrays reached by many paths) get.
 */
export const DEFAULT_LIMITS: Limits = { maxKeys: 1_000_000, maxElements: 2 ** 32 }

/**
 * Records nested deeper than this are refused: no dotted key path is that long in a real
 * model, and the walks over a record recurse once per level.
 */
export const MAX_RECORD_DEPTH = 1000

/** What one side has used of its {@link Limits} so far. */
export interface Budget {
  readonly limits: Limits
  keys: number
  elements: number
}

export const newBudget = (limits: Limits = DEFAULT_LIMITS): Budget => ({
  limits,
  keys: 0,
  elements: 0,
})

/**
 * Adds `keys` leaf keys and `elements` elements to the budget; the reason to refuse with when
 * a bound is passed, else undefined.
 */
export function spend(budget: Budget, keys: number, elements: number): string | undefined {
  budget.keys += keys
  budget.elements += elements
  const { maxKeys, maxElements } = budget.limits
  if (budget.keys > maxKeys) {
    return `more than maxKeys = ${maxKeys} arrays (a shared sub-record counts once per path to it); raise the maxKeys option to compare this input`
  }
  if (budget.elements > maxElements) {
    return `more than maxElements = ${maxElements} elements (a shared array counts once per path to it); raise the maxElements option to compare this input`
  }
  return undefined
}
