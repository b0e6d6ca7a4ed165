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
 * control)`, or `1 of 2 keys not aligned: logits`. Counts are of checks, as everywhere in the
 * reports (the tables' rows, summary.md's headline, report.json's totals, index.html's cards):
 * a key compared twice, in two tests or twice in one, counts twice; the names that follow are
 * the failing keys, each once. Checks made under `.not` are the stage's negative controls; one
 * that aligned (so the control is broken) is named.
 */
export function stageSummary(checks: readonly AlignCheck[]): string {
  const positive = checks.filter((c) => !c.negated)
  const controls = checks.filter((c) => c.negated)
  const failed = positive.filter((c) => !c.pass)
  const names = [...new Set(failed.map((c) => keyName(c.key)))]
  const n = positive.length
  const keys = `${n === 1 ? 'key' : 'keys'}`
  const maxRel = Math.max(0, ...positive.map((c) => c.stats?.maxRel ?? 0))
  const head =
    n === 0
      ? 'no keys compared'
      : failed.length > 0
        ? `${failed.length} of ${n} ${keys} not aligned: ${names.join(', ')}`
        : `${n} ${keys} aligned, max rel Δ ${formatNumber(maxRel)}`
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
