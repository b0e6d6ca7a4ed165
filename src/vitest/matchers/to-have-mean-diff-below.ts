import type { MatcherState } from 'vitest'
import { compare } from '../../compare/compare.js'
import { AlignOptionsError } from '../../compare/errors.js'
import { matcherMessage } from '../message.js'
import { recordChecks } from '../record.js'
import type { MeanDiffOptions, SyncMatcherResult } from './types.js'

/**
 * `expect(received).toHaveMeanDiffBelow(expected, threshold, options?)`: reprod_log's rule;
 * see {@link AlignMatchers.toHaveMeanDiffBelow}.
 */
export function toHaveMeanDiffBelow(
  this: MatcherState,
  received: unknown,
  expected: unknown,
  threshold: number,
  options: MeanDiffOptions = {},
): SyncMatcherResult {
  if (typeof threshold !== 'number') {
    throw new AlignOptionsError('threshold', `must be a number, got ${String(threshold)}`)
  }
  const result = compare(
    received,
    expected,
    { ...options, method: 'mean', threshold },
    { histogram: true },
  )
  recordChecks(this, 'toHaveMeanDiffBelow', result)
  return {
    pass: result.pass,
    message: () => matcherMessage('toHaveMeanDiffBelow', result, this.isNot),
  }
}
