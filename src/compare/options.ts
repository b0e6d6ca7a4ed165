/**
 * The options of a comparison: their types, defaults, validation, and how they resolve for
 * one key of one pair of dtypes.
 */

import { DTYPES, type DType, isDType } from './dtype.js'
import { AlignOptionsError } from './errors.js'
import { keyMatches } from './glob.js'
import { DEFAULT_LIMITS, type Limits } from './limits.js'
import { unknownName, valueHint } from './suggest.js'

export { keyMatches } from './glob.js'

/** reprod_log's statistics of |Δ|; `all` checks min, max and mean (in that order). */
export type ReprodMethod = 'mean' | 'max' | 'min' | 'all'

/**
 * The pass rule: `allclose` checks every element, `|a - e| <= atol + rtol·|e|`; the others
 * are reprod_log's: the statistic of |a - e| over the whole array must not exceed `threshold`.
 */
export type Method = 'allclose' | ReprodMethod

/** An absolute and a relative tolerance. */
export interface Tolerance {
  atol: number
  rtol: number
}

/** Options that may differ per key. Every one is optional; defaults are documented on each. */
export interface KeyOptions {
  /** The pass rule. Default `'allclose'`. */
  method?: Method
  /** Absolute tolerance of `allclose`. Default: by dtype, see {@link DEFAULT_TOLERANCES}. */
  atol?: number
  /** Relative tolerance of `allclose`. Default: by dtype, see {@link DEFAULT_TOLERANCES}. */
  rtol?: number
  /** Bound of the reprod_log rules (`mean`, `max`, `min`, `all`). Default `1e-6`, as reprod_log. */
  threshold?: number
  /** Count NaN against NaN at the same place as equal. Default `false`. */
  equalNan?: boolean
  /**
   * `'strict'` (default): shapes must be equal. `'squeeze'`: size-1 dimensions are ignored, so
   * () matches (1,) and (1, 1000) matches (1000,), as reprod_log's files need.
   */
  shape?: 'strict' | 'squeeze'
  /** Fail when the dtypes differ. Default `false`: dtypes are reported, not checked. */
  checkDtype?: boolean
  /**
   * Let a check pass that an all-zero candidate would pass too. Default `false`: such a check
   * proves nothing and fails, saying so.
   */
  allowVacuous?: boolean
  /** Per-dtype default tolerances, over {@link DEFAULT_TOLERANCES}; `atol`/`rtol` win over them. */
  tolerances?: { readonly [D in DType]?: Partial<Tolerance> }
}

/**
 * Per-key overrides: either an object whose keys are patterns over dotted key paths (`*`
 * matches within one segment, `**` across segments; every matching pattern applies, later ones
 * win) or a function from the key to its options.
 */
export type KeyOverrides =
  | { readonly [pattern: string]: KeyOptions }
  | ((key: string) => KeyOptions | undefined)

/** The options of `compare()` and of the matchers. */
export interface AlignOptions extends KeyOptions {
  /** Options for some keys of a record, over the others. */
  keys?: KeyOverrides
  /**
   * The most arrays (leaf keys) either side may hold, a sub-record shared by several keys
   * counted once per key. Default 1,000,000; `Infinity` lifts the bound. Past it `compare()`
   * throws an `AlignInputError` before comparing anything.
   */
  maxKeys?: number
  /**
   * The most elements either side may hold, summed over every key (shared arrays counted once
   * per key). Default 2^32; `Infinity` lifts the bound.
   */
  maxElements?: number
}

/** Default (rtol, atol) by dtype, as torch.testing.assert_close has them; integers are exact. */
export const DEFAULT_TOLERANCES: { readonly [D in DType]: Readonly<Tolerance> } = {
  float16: { rtol: 1e-3, atol: 1e-5 },
  float32: { rtol: 1.3e-6, atol: 1e-5 },
  float64: { rtol: 1e-7, atol: 1e-7 },
  bool: { rtol: 0, atol: 0 },
  int8: { rtol: 0, atol: 0 },
  int16: { rtol: 0, atol: 0 },
  int32: { rtol: 0, atol: 0 },
  int64: { rtol: 0, atol: 0 },
  uint8: { rtol: 0, atol: 0 },
  uint16: { rtol: 0, atol: 0 },
  uint32: { rtol: 0, atol: 0 },
  uint64: { rtol: 0, atol: 0 },
}

/** reprod_log's default threshold. */
export const DEFAULT_THRESHOLD = 1e-6

/** The rule one pair is checked with, every number resolved. */
export type Rule =
  | { readonly method: 'allclose'; readonly atol: number; readonly rtol: number }
  | { readonly method: ReprodMethod; readonly threshold: number }
  | NoiseRule

/**
 * The noise-floor rule (`compareWithinNoise`, `toStayWithinNoise`): element i passes when
 * `|a - e| <= factor·spread_i + atol + rtol·|e|`, where `spread_i` is the largest
 * `|run_k - e|` over the reference's own `runs` noise runs.
 */
export interface NoiseRule {
  readonly method: 'noise'
  readonly factor: number
  readonly atol: number
  readonly rtol: number
  /** How many noise runs the spread was measured over. */
  readonly runs: number
}

/** Every option of one pair, resolved. */
export interface ResolvedOptions {
  readonly rule: Rule
  readonly equalNan: boolean
  readonly shape: 'strict' | 'squeeze'
  readonly checkDtype: boolean
  readonly allowVacuous: boolean
}

const METHODS: readonly Method[] = ['allclose', 'mean', 'max', 'min', 'all']
const KEY_OPTIONS = [
  'method',
  'atol',
  'rtol',
  'threshold',
  'equalNan',
  'shape',
  'checkDtype',
  'allowVacuous',
  'tolerances',
] as const

/** Options of the whole call, not of one key. */
const CALL_OPTIONS = ['keys', 'maxKeys', 'maxElements'] as const

function checkBound(value: unknown, path: string): void {
  if (value === undefined) return
  if (
    typeof value !== 'number' ||
    !(value === Number.POSITIVE_INFINITY || (Number.isSafeInteger(value) && value >= 1))
  ) {
    throw new AlignOptionsError(path, `must be an integer >= 1 or Infinity, got ${String(value)}`)
  }
}

/** The bounds of a call's input (see {@link DEFAULT_LIMITS}). */
export function limitsOf(options: AlignOptions): Limits {
  return {
    maxKeys: options.maxKeys ?? DEFAULT_LIMITS.maxKeys,
    maxElements: options.maxElements ?? DEFAULT_LIMITS.maxElements,
  }
}

function checkTolerance(value: unknown, path: string): void {
  if (value === undefined) return
  // Infinity is refused too: it would pass anything, and Infinity·0 would make NaN of the bound.
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new AlignOptionsError(path, `must be a finite number >= 0, got ${String(value)}`)
  }
}

function checkBoolean(value: unknown, path: string): void {
  if (value !== undefined && typeof value !== 'boolean') {
    throw new AlignOptionsError(path, `must be true or false, got ${String(value)}`)
  }
}

function checkKeyOptions(o: unknown, prefix: string): void {
  if (typeof o !== 'object' || o === null) {
    throw new AlignOptionsError(prefix || 'options', 'must be an object')
  }
  const known: readonly string[] = prefix === '' ? [...KEY_OPTIONS, ...CALL_OPTIONS] : KEY_OPTIONS
  for (const name of Object.keys(o)) {
    if (!known.includes(name)) {
      throw new AlignOptionsError(`${prefix}${name}`, unknownName(name, known))
    }
  }
  const opts = o as KeyOptions
  if (opts.method !== undefined && !METHODS.includes(opts.method)) {
    throw new AlignOptionsError(
      `${prefix}method`,
      `must be one of ${METHODS.join(', ')}${valueHint(opts.method, METHODS)}`,
    )
  }
  checkTolerance(opts.atol, `${prefix}atol`)
  checkTolerance(opts.rtol, `${prefix}rtol`)
  checkTolerance(opts.threshold, `${prefix}threshold`)
  checkBoolean(opts.equalNan, `${prefix}equalNan`)
  checkBoolean(opts.checkDtype, `${prefix}checkDtype`)
  checkBoolean(opts.allowVacuous, `${prefix}allowVacuous`)
  if (opts.shape !== undefined && opts.shape !== 'strict' && opts.shape !== 'squeeze') {
    throw new AlignOptionsError(
      `${prefix}shape`,
      `must be 'strict' or 'squeeze'${valueHint(opts.shape, ['strict', 'squeeze'])}`,
    )
  }
  for (const [dtype, tol] of Object.entries(opts.tolerances ?? {})) {
    const path = `${prefix}tolerances.${dtype}`
    if (!isDType(dtype)) throw new AlignOptionsError(path, unknownName(dtype, DTYPES, 'dtype'))
    for (const name of Object.keys(tol ?? {})) {
      if (name !== 'atol' && name !== 'rtol')
        throw new AlignOptionsError(`${path}.${name}`, unknownName(name, ['atol', 'rtol']))
    }
    checkTolerance(tol?.atol, `${path}.atol`)
    checkTolerance(tol?.rtol, `${path}.rtol`)
  }
}

/**
 * Checks options given from untyped code (JS, a config file): a misspelt name or a value out
 * of range throws {@link AlignOptionsError} naming the option.
 */
export function validateOptions(options: unknown): asserts options is AlignOptions {
  checkKeyOptions(options, '')
  checkBound((options as AlignOptions).maxKeys, 'maxKeys')
  checkBound((options as AlignOptions).maxElements, 'maxElements')
  const keys = (options as AlignOptions).keys
  if (keys === undefined || typeof keys === 'function') return
  if (typeof keys !== 'object' || keys === null)
    throw new AlignOptionsError('keys', 'must be an object or a function')
  for (const [pattern, o] of Object.entries(keys)) checkKeyOptions(o, `keys.${pattern}.`)
}

/** The options of one key: the call's options with every matching override laid over them. */
export function optionsForKey(options: AlignOptions, key: string): KeyOptions {
  const { keys, maxKeys: _k, maxElements: _e, ...base } = options
  if (keys === undefined) return base
  if (typeof keys === 'function') {
    const over = keys(key)
    if (over !== undefined) checkKeyOptions(over, `keys(${key}).`)
    return { ...base, ...over }
  }
  let merged: KeyOptions = base
  for (const [pattern, over] of Object.entries(keys)) {
    if (keyMatches(pattern, key)) merged = { ...merged, ...over }
  }
  return merged
}

function dtypeTolerance(o: KeyOptions, dtype: DType): Tolerance {
  return { ...DEFAULT_TOLERANCES[dtype], ...o.tolerances?.[dtype] }
}

/**
 * Resolves one pair's options. The default tolerance of a pair of different dtypes is the
 * looser of the two, as in torch.testing.assert_close.
 */
export function resolveOptions(o: KeyOptions, actual: DType, expected: DType): ResolvedOptions {
  const method = o.method ?? 'allclose'
  let rule: Rule
  if (method === 'allclose') {
    const ta = dtypeTolerance(o, actual)
    const te = dtypeTolerance(o, expected)
    rule = {
      method,
      atol: o.atol ?? Math.max(ta.atol, te.atol),
      rtol: o.rtol ?? Math.max(ta.rtol, te.rtol),
    }
  } else {
    rule = { method, threshold: o.threshold ?? DEFAULT_THRESHOLD }
  }
  return {
    rule,
    equalNan: o.equalNan ?? false,
    shape: o.shape ?? 'strict',
    checkDtype: o.checkDtype ?? false,
    allowVacuous: o.allowVacuous ?? false,
  }
}
