/**
 * Typed errors for bad input. Each names where the problem is (the key path inside a record,
 * the option) and why, in one message built here.
 */

/** Base class of every error vitest-align throws on purpose. */
export class AlignError extends Error {
  override name = 'AlignError'
}

/** Where a value sits inside the compared input: a dotted key path, or the top level. */
function where(key: string): string {
  return key === '' ? 'value' : `key '${key}'`
}

/** A value that cannot be read as an array or a record: names the key path and the reason. */
export class AlignInputError extends AlignError {
  override name = 'AlignInputError'
  constructor(
    /** The dotted key path of the bad value ('' for the top level). */
    readonly key: string,
    /** Which side it came from. */
    readonly side: 'actual' | 'expected',
    /** Why it was refused. */
    readonly reason: string,
  ) {
    super(`${side} ${where(key)}: ${reason}`)
  }
}

/** A misspelt option, or a value out of its range. */
export class AlignOptionsError extends AlignError {
  override name = 'AlignOptionsError'
  constructor(
    /** The option's path, such as `atol` or `keys.loss_*.rtol`. */
    readonly option: string,
    readonly reason: string,
  ) {
    super(`option '${option}': ${reason}`)
  }
}
