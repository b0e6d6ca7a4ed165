import { expect } from 'vitest'
import type { FileFormatError } from '../../src/io/errors.js'

/**
 * Asserts that `fn` throws exactly a `Class` error naming `source` and `key` (undefined when the
 * error is about the whole file), with the message built from them, and whose reason contains
 * every fragment. Returns the error.
 */
export function expectFileError<E extends FileFormatError>(
  Class: new (...args: never[]) => E,
  fn: () => unknown,
  source: string,
  key: string | undefined,
  ...reasons: string[]
): E {
  let err: unknown
  try {
    fn()
  } catch (e) {
    err = e
  }
  expect(err).toBeInstanceOf(Class)
  const e = err as E
  expect(e.constructor).toBe(Class)
  expect([e.source, e.key]).toEqual([source, key])
  expect(e.message).toBe(`${source}${key !== undefined ? ` [key '${key}']` : ''}: ${e.reason}`)
  for (const r of reasons) expect(e.reason).toContain(r)
  return e
}
