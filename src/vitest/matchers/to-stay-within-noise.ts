import type { MatcherState } from 'vitest'
import { AlignOptionsError } from '../../compare/errors.js'
import { compareWithinNoise } from '../../compare/noise.js'
import { matcherMessage } from '../message.js'
import { recordChecks } from '../record.js'
import type { NoiseMatcherOptions, SyncMatcherResult } from './types.js'

/**
 * `expect(received).toStayWithinNoise(expected, { noise: [run1, run2], factor? })`: the
 * noise-floor rule; see {@link AlignMatchers.toStayWithinNoise}.
 */
export function toStayWithinNoise(
  this: MatcherState,
  received: unknown,
  expected: unknown,
  options: NoiseMatcherOptions,
): SyncMatcherResult {
  if (typeof options !== 'object' || options === null) {
    throw new AlignOptionsError(
      'options',
      'must be an object with the noise runs: { noise: [...] }',
    )
  }
  const { noise, ...rest } = options
  const result = compareWithinNoise(received, expected, noise, rest)
  recordChecks(this, 'toStayWithinNoise', result)
  return {
    pass: result.pass,
    message: () => matcherMessage('toStayWithinNoise', result, this.isNot),
  }
}
