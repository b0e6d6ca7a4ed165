import type { MatcherState } from 'vitest'
import { compare } from '../../compare/compare.js'
import type { AlignOptions } from '../../compare/options.js'
import { matcherMessage } from '../message.js'
import { recordChecks } from '../record.js'
import type { SyncMatcherResult } from './types.js'

/** `expect(received).toAlignWith(expected, options?)`: see {@link AlignMatchers.toAlignWith}. */
export function toAlignWith(
  this: MatcherState,
  received: unknown,
  expected: unknown,
  options: AlignOptions = {},
): SyncMatcherResult {
  const result = compare(received, expected, options, { histogram: true })
  recordChecks(this, 'toAlignWith', result)
  return { pass: result.pass, message: () => matcherMessage('toAlignWith', result, this.isNot) }
}
