/**
 * The matchers' messages. The first line is plain text (no colour) and stands alone, so that a
 * JUnit report or an annotation that keeps one line still says what happened.
 */

import { formatNumber, formatReport, keyName } from '../compare/format.js'
import type { LayerwiseResult } from '../compare/layerwise.js'
import { formatLayerwise } from '../compare/layerwise-format.js'
import type { AlignResult } from '../compare/result.js'
import type { AlignCheck } from './record.js'

/** The message of a matcher call; `isNot` when it ran under `.not` and so failed on a pass. */
export function matcherMessage(name: string, result: AlignResult, isNot: boolean): string {
  const head = isNot
    ? `${name}: expected received not to align with expected, but it did: `
    : `${name}: expected received to align with expected, but `
  return head + formatReport(result)
}

/** The message of a layer-by-layer matcher call: the summary line, then the module tree. */
export function layerwiseMessage(name: string, result: LayerwiseResult, isNot: boolean): string {
  const head = isNot
    ? `${name}: expected received not to align layer by layer with expected, but it did: `
    : `${name}: expected received to align layer by layer with expected, but `
  return head + formatLayerwise(result)
}

/**
 * What a stage's checks say, in one line: `3 keys aligned, max rel Δ 1.2e-6 (1 negative
 * control)`, or which keys did not align. Checks made under `.not` are the stage's negative
 * controls; one that aligned (so the control is broken) is named.
 */
export function stageSummary(checks: readonly AlignCheck[]): string {
  const positive = checks.filter((c) => !c.negated)
  const controls = checks.filter((c) => c.negated)
  const failing = [...new Set(positive.filter((c) => !c.pass).map((c) => keyName(c.key)))]
  const keys = new Set(positive.map((c) => c.key)).size
  const maxRel = Math.max(0, ...positive.map((c) => c.stats?.maxRel ?? 0))
  const head =
    positive.length === 0
      ? 'no keys compared'
      : failing.length > 0
        ? `${failing.length} of ${keys} keys not aligned: ${failing.join(', ')}`
        : `${keys} ${keys === 1 ? 'key' : 'keys'} aligned, max rel Δ ${formatNumber(maxRel)}`
  const broken = [...new Set(controls.filter((c) => c.callPass).map((c) => keyName(c.key)))]
  const plural = controls.length === 1 ? '' : 's'
  const tail =
    controls.length === 0
      ? ''
      : broken.length === 0
        ? ` (${controls.length} negative control${plural})`
        : ` (${controls.length} negative control${plural}; aligned, so broken: ${broken.join(', ')})`
  return head + tail
}

/** One stage's line: `forward  3 keys aligned, max rel Δ 1.2e-6 (1 negative control)`. */
export function stageLine(stage: string, checks: readonly AlignCheck[]): string {
  return `${stage}  ${stageSummary(checks)}`
}
