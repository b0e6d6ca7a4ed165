/**
 * The layer-by-layer view: two records of module outputs (or of the gradients flowing into each
 * module), keyed by module path in execution order, compared module by module, and the first
 * module where alignment breaks found by a rule that tells a bug from the normal growth of
 * float error through depth. Pure: no test-runner import.
 */

import { compare } from './compare.js'
import { AlignOptionsError } from './errors.js'
import type { AlignOptions, Rule } from './options.js'
import type { AlignResult, Failure, KeyResult } from './result.js'

/** The default growth factor: how much one module may multiply the error before it. */
export const DEFAULT_GROWTH_FACTOR = 10

/** Options of {@link compareLayerwise}: the options of `compare()`, plus the growth factor. */
export interface LayerwiseOptions extends AlignOptions {
  /**
   * How many times the largest error of the modules before it a module's error may be before it
   * counts as a break (when it is also over its tolerance). Default
   * {@link DEFAULT_GROWTH_FACTOR} (10): float error grows through depth by a small factor per
   * module (an e-6 becoming an e-4 after a few blocks is 2 to 3 per block), where a porting bug
   * (a wrong padding, an activation swapped) multiplies it by 10^3 or more in one module.
   */
  growthFactor?: number
}

/**
 * What one module is: `aligned` (within its tolerance), `drift` (over it, but its error grew no
 * more than the growth factor: float error growing through depth), `break` (over its tolerance
 * and a jump: a bug starts here or before its next recorded output), `missing` (in the
 * expected record only) or `extra` (in the actual record only).
 */
export type LayerStatus = 'aligned' | 'drift' | 'break' | 'missing' | 'extra'

/** One module in execution order. */
export interface LayerStat {
  /** Its path, `features.3.block.1.0`. */
  readonly module: string
  readonly status: LayerStatus
  /**
   * Its error: max |Δ| / max |expected| over its output, so the error relative to the output's
   * scale (+Infinity on a NaN, a shape mismatch or an all-zero expected with a nonzero |Δ|).
   */
  readonly error: number
  /** The largest error of the modules before it (0 for the first). */
  readonly baseline: number
  /** error / baseline (+Infinity when the baseline is 0 and the error is not, 0 when both are). */
  readonly growth: number
  /** Whether a zero output would pass its tolerance too (its own check proves nothing). */
  readonly vacuous: boolean
  /** The module's own comparison: statistics, rule, failures. */
  readonly result: KeyResult
}

/** The result of a layer-by-layer comparison. */
export interface LayerwiseResult {
  /** No module breaks, none is missing or extra, and not every module is vacuous. */
  readonly pass: boolean
  readonly growthFactor: number
  /** Every module: the expected record's order, then the actual record's extra modules. */
  readonly modules: readonly LayerStat[]
  /** Index in `modules` of the first break, when there is one. */
  readonly firstBreak?: number
  /** Why it failed: the first break, the missing and extra modules, vacuity. */
  readonly failures: readonly Failure[]
  /** The rule each module was checked with (the first module's), for display. */
  readonly rule?: Rule
}

/** A module's error: max |Δ| relative to the largest |expected| of its output. */
function errorOf(k: KeyResult): number {
  const s = k.stats
  if (s === undefined) return Number.POSITIVE_INFINITY // no element-wise pairing: a shape mismatch
  if (s.n === 0) return 0
  if (s.maxAbs === 0) return 0
  if (!Number.isFinite(s.maxAbs)) return Number.POSITIVE_INFINITY
  return s.maxAbsExpected > 0 ? s.maxAbs / s.maxAbsExpected : Number.POSITIVE_INFINITY
}

/**
 * Compares two records of module outputs layer by layer, in the expected record's key order
 * (execution order: a record read from a file keeps it, see `orderedKeys`), and finds the first
 * module where alignment breaks.
 *
 * Each module is compared by `compare()` with `options` (per-module tolerances through `keys`).
 * Its error is max |Δ| / max |expected| of its output (the elementwise max relative |Δ| is also
 * in its statistics, but is dominated by elements near zero, which every conv output has). A
 * module **breaks** when both:
 *
 * 1. it is over its tolerance (its comparison fails for a reason other than vacuity), and
 * 2. its error is more than `growthFactor` times the baseline, the largest error of the modules
 *    before it (0 for the first module, so a first module over its tolerance breaks).
 *
 * The baseline is the running maximum rather than the previous module's error because error
 * can shrink along the path (a pooling, a saturated activation) and growing back to where it
 * was is not a new bug. A module over its tolerance that grew less is `drift`: reported, not
 * failed. The result fails on the first break, on missing or extra modules, and when every
 * module is vacuous. Forward outputs and backward gradients alike: pass the gradients keyed by
 * module, in the order the backward pass reaches them.
 */
export function compareLayerwise(
  actual: unknown,
  expected: unknown,
  options: LayerwiseOptions = {},
): LayerwiseResult {
  const { growthFactor = DEFAULT_GROWTH_FACTOR, ...alignOptions } = options
  if (typeof growthFactor !== 'number' || !(growthFactor >= 1) || !Number.isFinite(growthFactor)) {
    throw new AlignOptionsError(
      'growthFactor',
      `must be a finite number >= 1, got ${String(growthFactor)}`,
    )
  }
  const align: AlignResult = compare(actual, expected, alignOptions)
  const modules: LayerStat[] = []
  const missing: string[] = []
  const extra: string[] = []
  let baseline = 0
  let firstBreak: number | undefined
  for (const k of align.keys) {
    const kind = k.failures[0]?.kind
    if (kind === 'missing' || kind === 'extra') {
      ;(kind === 'missing' ? missing : extra).push(k.key)
      modules.push({
        module: k.key,
        status: kind,
        error: Number.POSITIVE_INFINITY,
        baseline,
        growth: Number.NaN,
        vacuous: false,
        result: k,
      })
      continue
    }
    const error = errorOf(k)
    const growth = error === 0 ? 0 : baseline === 0 ? Number.POSITIVE_INFINITY : error / baseline
    // a vacuous module's own check proves nothing, but it is not over its tolerance
    const vacuous = k.failures.some((f) => f.kind === 'vacuous')
    const over = k.failures.some((f) => f.kind !== 'vacuous')
    // Infinity / Infinity: already broken as badly before, not a new break
    const jumps = growth > growthFactor
    const status: LayerStatus = !over ? 'aligned' : jumps ? 'break' : 'drift'
    if (status === 'break' && firstBreak === undefined) firstBreak = modules.length
    modules.push({ module: k.key, status, error, baseline, growth, vacuous, result: k })
    if (error > baseline) baseline = error
  }
  const failures: Failure[] = []
  if (firstBreak !== undefined) {
    const b = modules[firstBreak] as LayerStat
    failures.push({
      kind: 'break',
      module: b.module,
      error: b.error,
      baseline: b.baseline,
      growthFactor,
    })
  }
  if (missing.length > 0 || extra.length > 0) failures.push({ kind: 'modules', missing, extra })
  const compared = modules.filter((m) => m.status !== 'missing' && m.status !== 'extra')
  if (failures.length === 0 && !options.allowVacuous && compared.every((m) => m.vacuous)) {
    failures.push({ kind: 'vacuous' })
  }
  const rule = compared.find((m) => m.result.rule !== undefined)?.result.rule
  return {
    pass: failures.length === 0,
    growthFactor,
    modules,
    ...(firstBreak !== undefined && { firstBreak }),
    failures,
    ...(rule !== undefined && { rule }),
  }
}

/** One row of a module tree: a module, or a path segment heading the modules under it. */
export interface LayerTreeRow {
  /** Its depth in the tree (0 for a top-level segment). */
  readonly depth: number
  /** The path segment shown: `0`, `block`. */
  readonly label: string
  /** Its full path. */
  readonly path: string
  /** The module's index in the list given, for a module's row; undefined for a heading. */
  readonly module?: number
}

/**
 * The modules as a tree, in their order: each module path split on '.', a heading row for each
 * segment not already open above it, then the module's row. A module recorded after its
 * children (a forward hook fires when the module ends) gets its own row at its depth, below
 * them.
 */
export function layerTree(paths: readonly string[]): LayerTreeRow[] {
  const rows: LayerTreeRow[] = []
  let open: string[] = []
  paths.forEach((path, i) => {
    const segs = path === '' ? [''] : path.split('.')
    let common = 0
    while (common < open.length && common < segs.length - 1 && open[common] === segs[common])
      common++
    for (let d = common; d < segs.length - 1; d++) {
      rows.push({ depth: d, label: segs[d] as string, path: segs.slice(0, d + 1).join('.') })
    }
    rows.push({ depth: segs.length - 1, label: segs[segs.length - 1] as string, path, module: i })
    open = segs
  })
  return rows
}
