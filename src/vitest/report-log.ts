/**
 * `<stage>_diff.log`: reprod_log's report of a stage's positive checks, rendered by the one
 * reprod_log renderer (`reprodLogLines`, as the CLI's `--log`) from the recorded checks.
 */
import { type LogEntry, reprodLogLines } from '../io/reprod-diff.js'
import { type AlignCheck, keyViewOf } from './record.js'

/**
 * The lines of reprod_log's `ReprodDiffHelper.report` for a stage's positive checks, without
 * the logger's prefix (see `formatReprodLog`), in the order they were made; negative controls
 * are left out. Each key is one flat name (`encoder.weight: `, `(value)` for a lone array: a
 * check records its dotted key, not its record's nesting), and its values are the check's own
 * statistics, computed exactly (reprod_log's numpy computes in the arrays' dtype, so float32
 * values may differ in their last digits). The True/False of each line and the last line are
 * the checks' verdicts; an allclose or noise check's line is named for that rule (reprod_log
 * has neither), its mean following with no verdict.
 */
export function stageLogLines(keys: readonly AlignCheck[]): string[] {
  const positive = keys.filter((c) => !c.negated)
  const entries = positive.map(
    (c): LogEntry => ({ path: [c.key === '' ? '(value)' : c.key], key: keyViewOf(c) }),
  )
  return reprodLogLines(
    entries,
    positive.every((c) => c.pass),
  )
}
