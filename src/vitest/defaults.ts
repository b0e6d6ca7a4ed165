/**
 * What the plugin, the setup file and the fixtures share in a test worker:
 *
 * - the project's defaults: `align(options)` provides them (`project.provide`, under
 *   {@link PROVIDE_KEY}); the setup file reads them once with `inject` and registers the matchers
 *   wrapped by {@link withProjectDefaults}, so every call's options are laid over them. The
 *   matcher functions of `vitest-align/matchers` stay pure: they never read this state.
 * - the tests whose checks are annotated: `defineAlignment`'s tests mark themselves with
 *   {@link annotateChecksOf}; the registered matchers then call `context.annotate` once per key
 *   they record, while the test runs (Vitest refuses annotations once the test function has
 *   returned: its state is set before `afterEach`, fixture teardown and `onTestFinished`).
 */
import type { MatcherState, RunnerTestCase } from 'vitest'
import { DTYPES } from '../compare/dtype.js'
import { describeFailure, describeRule, escapeText, formatNumber } from '../compare/format.js'
import {
  type AlignOptions,
  type KeyOptions,
  type KeyOverrides,
  keyMatches,
} from '../compare/options.js'
import { type AlignCheck, keyViewOf } from './record.js'

/** The key under which the plugin provides its values to the tests (`inject(PROVIDE_KEY)`). */
export const PROVIDE_KEY = 'vitest-align'

/**
 * The comparison options a project may default: every {@link AlignOptions} field, with `keys`
 * in its object form only (a function cannot be sent to the test workers).
 */
export interface ProjectDefaults extends Omit<AlignOptions, 'keys'> {
  /** Options for some keys, by pattern over dotted key paths (`*` one segment, `**` any). */
  keys?: { readonly [pattern: string]: KeyOptions }
}

/** What the plugin provides to every test of its project. */
export interface ProvidedAlign {
  /** The project's default comparison options. */
  readonly defaults: ProjectDefaults
  /** The report directory, absolute (resolved against Vitest's root, as the reporter does). */
  readonly reportDir: string
  /** The project's root, absolute: relative fixture paths resolve against it. */
  readonly root: string
}

declare module 'vitest' {
  interface ProvidedContext {
    /** vitest-align: the `align()` plugin's project defaults and paths. */
    'vitest-align': ProvidedAlign
  }
}

// ---------------------------------------------------------------------------------------------
// Merging the project's defaults under a call's options

type Tolerances = NonNullable<KeyOptions['tolerances']>

/** Two `tolerances` merged per dtype and per field (`atol`, `rtol`), `over` winning. */
function mergeTolerances(base: Tolerances | undefined, over: Tolerances | undefined) {
  if (base === undefined) return over
  if (over === undefined) return base
  const out: Record<string, { atol?: number; rtol?: number }> = {}
  for (const [dtype, t] of Object.entries(base)) out[dtype] = { ...t }
  for (const [dtype, t] of Object.entries(over)) out[dtype] = { ...out[dtype], ...t }
  return out as Tolerances
}

/** Two key options merged per field, `tolerances` per dtype, `over` winning. */
function mergeKeyOptions(base: KeyOptions | undefined, over: KeyOptions | undefined): KeyOptions {
  const tolerances = mergeTolerances(base?.tolerances, over?.tolerances)
  return { ...base, ...over, ...(tolerances !== undefined && { tolerances }) }
}

type Patterns = { readonly [pattern: string]: KeyOptions }

/** The project's patterns, then the call's (merged with the project's same pattern), so the call's win. */
function mergeKeys(project: Patterns | undefined, call: KeyOverrides | undefined) {
  if (project === undefined || Object.keys(project).length === 0) return call
  if (call === undefined) return project
  if (typeof call === 'function') {
    return (key: string): KeyOptions | undefined => {
      let base: KeyOptions | undefined
      for (const [pattern, o] of Object.entries(project)) {
        if (keyMatches(pattern, key)) base = mergeKeyOptions(base, o)
      }
      const over = call(key)
      return over === undefined ? base : mergeKeyOptions(base, over)
    }
  }
  const out: Record<string, KeyOptions> = {}
  for (const [pattern, o] of Object.entries(project)) if (!(pattern in call)) out[pattern] = o
  for (const [pattern, o] of Object.entries(call))
    out[pattern] = mergeKeyOptions(project[pattern], o)
  return out
}

/**
 * A call's options laid over the project's defaults, field by field: a field the call sets
 * wins; `tolerances` merge per dtype and per `atol`/`rtol`; `keys` patterns merge per pattern
 * and per field, the call's coming after the project's (so they win where both match); a
 * function `keys` of the call is applied over the project's patterns. Within the result the
 * core's rules hold as ever (a top-level `atol`/`rtol` beats `tolerances`; a matching `keys`
 * pattern beats the top level), with one adjustment so that the call always wins: when the
 * call sets `tolerances` and the project a top-level `atol` (or `rtol`) the call does not,
 * the project's value is folded into every dtype's tolerance under the call's, instead of
 * beating them.
 *
 * @example
 * withProjectDefaults({ tolerances: { float32: { rtol: 1e-4 } } }, { atol: 1e-3 })
 * // { tolerances: { float32: { rtol: 1e-4 } }, atol: 1e-3 }
 */
export function withProjectDefaults(
  project: ProjectDefaults | undefined,
  call: AlignOptions | undefined,
): AlignOptions {
  if (project === undefined || Object.keys(project).length === 0) return call ?? {}
  if (call === undefined || Object.keys(call).length === 0) return project
  const { keys: projectKeys, tolerances: projectTol, ...projectRest } = project
  const { keys: callKeys, tolerances: callTol, ...callRest } = call
  // a field the call leaves `undefined` (JS) does not erase the project's
  const set = Object.entries(callRest).filter(([, v]) => v !== undefined)
  const merged: AlignOptions = { ...projectRest, ...Object.fromEntries(set) }
  let tolerances = mergeTolerances(projectTol, callTol)
  for (const field of ['atol', 'rtol'] as const) {
    const value = project[field]
    const callSetsIt = call[field] !== undefined
    const callTolSetsIt = Object.values(callTol ?? {}).some((t) => t?.[field] !== undefined)
    if (value === undefined || callSetsIt || !callTolSetsIt) continue
    // The call's per-dtype tolerance must beat the project's blanket one: fold it in below.
    delete merged[field]
    const folded: Record<string, { atol?: number; rtol?: number }> = {}
    for (const dtype of DTYPES) {
      folded[dtype] = { ...tolerances?.[dtype], [field]: callTol?.[dtype]?.[field] ?? value }
    }
    tolerances = folded as Tolerances
  }
  if (tolerances !== undefined) merged.tolerances = tolerances
  const keys = mergeKeys(projectKeys, callKeys)
  if (keys !== undefined) merged.keys = keys
  return merged
}

/**
 * The project's defaults as `toHaveMeanDiffBelow` takes them: its rule is fixed (reprod_log's
 * mean under the call's threshold), so the rule's fields (`method`, `threshold`, `atol`,
 * `rtol`, `tolerances`) are left out, at the top level and in every `keys` pattern.
 */
export function meanDiffDefaults(
  project: ProjectDefaults | undefined,
): ProjectDefaults | undefined {
  return withoutFields(project, ['method', 'threshold', 'atol', 'rtol', 'tolerances'])
}

/**
 * The project's defaults as `toStayWithinNoise` takes them: its rule is the noise rule, so
 * `method` and `threshold` are left out, at the top level and in every `keys` pattern; `atol`,
 * `rtol` and `tolerances` stay (they are the band's floor).
 */
export function noiseDefaults(project: ProjectDefaults | undefined): ProjectDefaults | undefined {
  return withoutFields(project, ['method', 'threshold'])
}

/** The defaults without `fields`, at the top level and in every `keys` pattern. */
function withoutFields(
  project: ProjectDefaults | undefined,
  fields: readonly (keyof KeyOptions)[],
): ProjectDefaults | undefined {
  if (project === undefined) return undefined
  const strip = (o: KeyOptions): KeyOptions => {
    const rest: Record<string, unknown> = { ...o }
    for (const f of fields) delete rest[f]
    return rest as KeyOptions
  }
  const { keys, ...top } = project
  const out: ProjectDefaults = strip(top)
  if (keys !== undefined) {
    out.keys = Object.fromEntries(Object.entries(keys).map(([p, o]) => [p, strip(o)]))
  }
  return out
}

// ---------------------------------------------------------------------------------------------
// The project's defaults in this worker

let current: ProjectDefaults | undefined

/** Sets the defaults the registered matchers apply (the setup file does, from `inject`). */
export function setProjectDefaults(defaults: ProjectDefaults | undefined): void {
  current = defaults
}

/** The defaults the registered matchers apply in this worker (`undefined` without the plugin). */
export function projectDefaults(): ProjectDefaults | undefined {
  return current
}

// ---------------------------------------------------------------------------------------------
// Annotations

/** Tests whose checks are annotated, with the annotations still in flight. */
const annotated = new WeakMap<object, Promise<unknown>[]>()

/** Marks a test: from now on, each key a registered matcher records on it is annotated. */
export function annotateChecksOf(task: object): void {
  if (!annotated.has(task)) annotated.set(task, [])
}

/**
 * Unmarks a test and waits for its annotations (Vitest waits for them itself only when the test
 * function returns; a failed assertion throws before).
 */
export async function settleAnnotations(task: object): Promise<void> {
  const pending = annotated.get(task)
  annotated.delete(task)
  if (pending !== undefined) await Promise.allSettled(pending)
}

/** The annotation of one recorded check: its message and type (`error` when it failed the test). */
export function annotationOf(
  check: AlignCheck,
  held: boolean,
): { message: string; type: 'notice' | 'error' } {
  const name = check.key === '' ? check.matcher : `${check.matcher} ${escapeText(check.key)}`
  const ruleText = check.rule ? describeRule(check.rule) : undefined
  const s = check.stats
  const numbers =
    s && (s.maxAbs !== undefined || s.maxRel !== undefined)
      ? `, max |Δ| ${formatNumber(s.maxAbs ?? Number.NaN)}, max rel Δ ${formatNumber(s.maxRel ?? Number.NaN)}`
      : ''
  const rule = ruleText !== undefined ? ` (${ruleText})` : ''
  if (check.negated) {
    const verdict = check.pass ? 'aligned' : 'not aligned'
    const outcome = held ? 'the negative control holds' : 'the negative control is broken'
    return {
      message: `${name} (negative control): ${verdict}${numbers}${rule}; ${outcome}`,
      type: held ? 'notice' : 'error',
    }
  }
  if (check.pass) return { message: `${name}: aligned${numbers}${rule}`, type: 'notice' }
  const view = keyViewOf(check)
  const sentences = view.failures.map((f) => describeFailure(view, f))
  const why = sentences.length > 0 ? `: ${sentences.join('; ')}` : ''
  // the failure sentences name the rule when it is what failed
  const ruleIfNew = ruleText !== undefined && why.includes(ruleText) ? '' : rule
  return { message: `${name}: not aligned${why}${numbers}${ruleIfNew}`, type: 'error' }
}

/**
 * Annotates the checks a matcher call recorded after the first `from`, when its test is marked.
 * `pass` is the matcher's verdict (before `.not`).
 */
export function annotateNewChecks(state: MatcherState, from: number, pass: boolean): void {
  const task = state.task as RunnerTestCase | undefined
  if (task === undefined) return
  const pending = annotated.get(task)
  const checks = task.meta.align
  if (pending === undefined || checks === undefined) return
  const held = state.isNot ? !pass : pass
  for (const check of checks.slice(from)) {
    const { message, type } = annotationOf(check, held)
    const p = task.context.annotate(message, type)
    pending.push(p)
    // a failed assertion throws before Vitest awaits the test's promises: never leave one unhandled
    p.catch(() => {})
  }
}
