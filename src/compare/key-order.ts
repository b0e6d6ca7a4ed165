/**
 * The order of a record's keys as its file holds them. A plain object lists integer-like keys
 * (`'2'`, `'10'`) first and in numeric order, whatever order they were set in, so a record read
 * from a file (a pickled dict keeps insertion order) carries its order under {@link KEY_ORDER},
 * and every walk over a record's keys goes through {@link orderedKeys}.
 */

/** The own, non-enumerable property holding a record's keys in file order. */
export const KEY_ORDER: unique symbol = Symbol.for('vitest-align.keyOrder')

/** A record that may carry its keys' file order. */
type Ordered = { readonly [KEY_ORDER]?: readonly string[] }

/** The record's own enumerable keys, in file order when it carries one, else as JS lists them. */
export function orderedKeys(record: object): string[] {
  const order = (record as Ordered)[KEY_ORDER]
  const keys = Object.keys(record)
  if (order === undefined || order.length !== keys.length) return keys
  const own = new Set(keys)
  return order.every((k) => own.has(k)) ? [...order] : keys
}

/** Sets the file order of `record`'s keys (non-enumerable, so copies and JSON ignore it). */
export function withKeyOrder<T extends object>(record: T, keys: readonly string[]): T {
  Object.defineProperty(record, KEY_ORDER, { value: Object.freeze([...keys]), enumerable: false })
  return record
}
