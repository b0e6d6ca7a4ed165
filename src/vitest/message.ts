/**
 * The matchers' messages. The first line is plain text (no colour) and stands alone, so that a
 * JUnit report or an annotation that keeps one line still says what happened.
 */

import { formatNumber, formatReport, keyName } from '../compare/format.js'
import type { AlignResult } from '../compare/result.js'
import type { AlignCheck } from './record.js'

/** The message of a matcher call; `isNot` when it ran under `.not` and so failed on a pass. */
export function matcherMessage(name: string, result: AlignResult, isNot: boolean): string {
  const head = isNot
    ? `${name}: expected received not to align with expected, but it did: `
    : `${name}: expected received to align with expected, but `
  return head + formatReport(result)
}

/**
 * One stage's line: `forward  3 keys aligned, max rel Δ 1.2e-6 (1 negative control)`, or which
 * keys did not align. Checks made under `.not` are the stage's negative controls.
 */
export function stageLine(stage: string, checks: readonly AlignCheck[]): string {
  const positive = checks.filter((c) => !c.negated)
  const controls = checks.length - positive.length
  const failing = [...new Set(positive.filter((c) => !c.pass).map((c) => keyName(c.key)))]
  const keys = new Set(positive.map((c) => c.key)).size
  const maxRel = Math.max(0, ...positive.map((c) => c.stats?.maxRel ?? 0))
  const head =
    failing.length > 0
      ? `${failing.length} of ${keys} keys not aligned: ${failing.join(', ')}`
      : `${keys} ${keys === 1 ? 'key' : 'keys'} aligned, max rel Δ ${formatNumber(maxRel)}`
  const tail = controls > 0 ? ` (${controls} negative control${controls === 1 ? '' : 's'})` : ''
  return `${stage}  ${head}${tail}`
}
