/**
 * A torch state_dict converted for a TF.js port, driven by a mapping the user writes and can
 * extend: which layout each weight takes (by glob pattern over its dotted name, first match
 * wins), what the port calls it, which entries are skipped (`num_batches_tracked` by default),
 * and, optionally, the shapes the port expects. Every problem is reported at once, each naming
 * its weight: one matched by no pattern, one the port expects and the state_dict lacks, one it
 * has and the port does not expect, one of the wrong shape, one whose layout cannot apply.
 */
import type { NdArray } from '../compare/dtype.js'
import { formatShape } from '../compare/format.js'
import { keyMatches } from '../compare/glob.js'
import { orderedKeys, withKeyOrder } from '../compare/key-order.js'
import { LayoutError, StateDictError, type StateDictProblem } from './errors.js'
import { type LayoutRole, toTfLayout } from './layout.js'

/** How a state_dict maps to a port. */
export interface StateDictMapping {
  /**
   * The layout of each weight, by pattern over its torch name (`*` one dotted segment, `**` any
   * number), in order: the first pattern that matches decides. A weight no pattern matches is
   * a problem (`unmapped`): add `'**': 'keep'` last to keep the rest as they are.
   */
  readonly layouts: readonly (readonly [pattern: string, role: LayoutRole])[]
  /** The port's name of a torch weight. Default: the torch name; see {@link kerasBatchNormName}. */
  readonly rename?: (torchName: string, role: LayoutRole) => string
  /** Torch names left out, by pattern. Default `['**.num_batches_tracked']`. */
  readonly skip?: readonly string[]
  /** The shapes the port expects, by its names (after layout and rename): checked when given. */
  readonly expect?: { readonly [portName: string]: readonly number[] }
}

/** The default of {@link StateDictMapping.skip}: BatchNorm's step counter, which no port reads. */
export const DEFAULT_SKIP: readonly string[] = ['**.num_batches_tracked']

const BN_SUFFIX: { readonly [suffix: string]: string } = {
  weight: 'gamma',
  bias: 'beta',
  running_mean: 'moving_mean',
  running_var: 'moving_variance',
}

/**
 * Keras's BatchNormalization names for the torch names of the BatchNorms `isBatchNorm` picks
 * (`features.0.1.running_var` → `features.0.1.moving_variance`, `.weight` → `.gamma`, `.bias` →
 * `.beta`, `.running_mean` → `.moving_mean`); every other name unchanged.
 */
export function kerasBatchNormName(
  isBatchNorm: (module: string) => boolean,
): (torchName: string) => string {
  return (name) => {
    const dot = name.lastIndexOf('.')
    const module = name.slice(0, dot)
    const suffix = name.slice(dot + 1)
    // hasOwn: a suffix such as `constructor` must not find Object.prototype's
    return dot > 0 && Object.hasOwn(BN_SUFFIX, suffix) && isBatchNorm(module)
      ? `${module}.${BN_SUFFIX[suffix]}`
      : name
  }
}

const isArray = (v: unknown): v is NdArray =>
  typeof v === 'object' && v !== null && 'dtype' in v && 'shape' in v && 'data' in v

/**
 * The state_dict's weights in the port's layouts and names, in the state_dict's order.
 *
 * @throws {StateDictError} listing every unmapped, missing, extra, misshapen or unconvertible
 *   weight by name.
 */
export function convertStateDict(
  stateDict: { readonly [name: string]: NdArray | object },
  mapping: StateDictMapping,
): Record<string, NdArray> {
  const skip = mapping.skip ?? DEFAULT_SKIP
  const problems: StateDictProblem[] = []
  const out: Record<string, NdArray> = Object.create(null)
  const keys: string[] = []
  // every port name some weight maps to, converted or not: the others are missing
  const reached = new Set<string>()
  for (const name of orderedKeys(stateDict)) {
    if (skip.some((p) => keyMatches(p, name))) continue
    const value = stateDict[name]
    if (!isArray(value)) {
      problems.push({ weight: name, problem: 'layout', detail: 'not an array (a nested record?)' })
      continue
    }
    const rule = mapping.layouts.find(([pattern]) => keyMatches(pattern, name))
    if (rule === undefined) {
      problems.push({ weight: name, problem: 'unmapped', detail: 'no layout pattern matches it' })
      continue
    }
    const role = rule[1]
    const portName = mapping.rename?.(name, role) ?? name
    reached.add(portName)
    let converted: NdArray
    try {
      converted = toTfLayout(role, value, name)
    } catch (e) {
      if (!(e instanceof LayoutError)) throw e
      problems.push({ weight: name, problem: 'layout', detail: `as ${role}: ${e.reason}` })
      continue
    }
    if (mapping.expect !== undefined) {
      const want = Object.hasOwn(mapping.expect, portName) ? mapping.expect[portName] : undefined
      if (want === undefined) {
        problems.push({ weight: name, problem: 'extra', detail: `the port has no ${portName}` })
        continue
      }
      if (want.length !== converted.shape.length || want.some((d, i) => d !== converted.shape[i])) {
        problems.push({
          weight: name,
          problem: 'misshapen',
          detail: `${formatShape(converted.shape)} as ${role}, the port's ${portName} is ${formatShape(want)}`,
        })
        continue
      }
    }
    out[portName] = converted
    keys.push(portName)
  }
  for (const portName of Object.keys(mapping.expect ?? {})) {
    if (!reached.has(portName)) {
      problems.push({
        weight: portName,
        problem: 'missing',
        detail: 'the port expects it; no weight of the state_dict becomes it',
      })
    }
  }
  if (problems.length > 0) throw new StateDictError(problems)
  return withKeyOrder(out, keys)
}
