import type { MatcherState } from 'vitest'
import { compareLayerwise, type LayerwiseOptions } from '../../compare/layerwise.js'
import { layerwiseMessage } from '../message.js'
import { recordLayerwise } from '../record.js'
import type { SyncMatcherResult } from './types.js'

/**
 * `expect(received).toAlignLayerwise(expected, options?)`: module outputs (or gradients) in
 * execution order, the first break found; see {@link AlignMatchers.toAlignLayerwise}.
 */
export function toAlignLayerwise(
  this: MatcherState,
  received: unknown,
  expected: unknown,
  options: LayerwiseOptions = {},
): SyncMatcherResult {
  const result = compareLayerwise(received, expected, options)
  recordLayerwise(this, 'toAlignLayerwise', result)
  return {
    pass: result.pass,
    message: () => layerwiseMessage('toAlignLayerwise', result, this.isNot),
  }
}
