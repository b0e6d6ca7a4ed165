import { describe, expect, test } from 'vitest'
import { AlignOptionsError } from '../../src/compare/errors.js'
import { DEFAULT_LIMITS } from '../../src/compare/limits.js'
import {
  DEFAULT_THRESHOLD,
  DEFAULT_TOLERANCES,
  limitsOf,
  optionsForKey,
  resolveOptions,
  validateOptions,
} from '../../src/compare/options.js'

/** The AlignOptionsError `validateOptions` throws for `options`. */
function refusal(options: unknown): AlignOptionsError {
  try {
    validateOptions(options)
  } catch (e) {
    expect(e).toBeInstanceOf(AlignOptionsError)
    return e as AlignOptionsError
  }
  throw new Error(`accepted ${JSON.stringify(options)}`)
}

describe('validateOptions', () => {
  test('accepts every documented option, at the top level and per key', () => {
    const full = {
      method: 'mean',
      atol: 0,
      rtol: 0,
      threshold: 1e-5,
      equalNan: true,
      shape: 'squeeze',
      checkDtype: true,
      allowVacuous: false,
      tolerances: { float32: { atol: 1e-4 }, int64: { rtol: 0 } },
    }
    expect(() =>
      validateOptions({
        ...full,
        keys: { 'loss_*': full },
        maxKeys: 10,
        maxElements: Number.POSITIVE_INFINITY,
      }),
    ).not.toThrow()
    expect(() => validateOptions({ keys: () => undefined })).not.toThrow()
  })

  test.each([
    [{ rtoll: 1 }, 'rtoll', "unknown option; did you mean 'rtol'?"],
    [{ keys: { 'a.*': { rtoll: 1 } } }, 'keys.a.*.rtoll', "did you mean 'rtol'?"],
    [{ keys: { a: { maxKeys: 1 } } }, 'keys.a.maxKeys', 'unknown option'],
    [
      { tolerances: { flaot32: {} } },
      'tolerances.flaot32',
      "unknown dtype; did you mean 'float32'?",
    ],
    [{ tolerances: { float32: { atoll: 1 } } }, 'tolerances.float32.atoll', "did you mean 'atol'?"],
    [
      { method: 'mena' },
      'method',
      "must be one of allclose, mean, max, min, all; did you mean 'mean'?",
    ],
    [{ shape: 'sqeeze' }, 'shape', "must be 'strict' or 'squeeze'; did you mean 'squeeze'?"],
    [{ atol: -1 }, 'atol', 'must be a finite number >= 0, got -1'],
    [{ rtol: Number.NaN }, 'rtol', 'got NaN'],
    [{ threshold: Number.POSITIVE_INFINITY }, 'threshold', 'got Infinity'],
    [{ tolerances: { float64: { rtol: '1' } } }, 'tolerances.float64.rtol', 'finite number'],
    [{ equalNan: 'yes' }, 'equalNan', 'must be true or false, got yes'],
    [{ maxKeys: 0 }, 'maxKeys', 'must be an integer >= 1 or Infinity, got 0'],
    [{ maxElements: 1.5 }, 'maxElements', 'got 1.5'],
    [{ keys: 3 }, 'keys', 'must be an object or a function'],
    [{ keys: { a: null } }, 'keys.a.', 'must be an object'],
  ])('%j is refused, naming %s', (options, option, reason) => {
    const e = refusal(options)
    expect(e.option).toBe(option)
    expect(e.message).toContain(`option '${option}'`)
    expect(e.reason).toContain(reason)
  })

  test('options that are not an object are refused', () => {
    expect(refusal(null).option).toBe('options')
    expect(refusal('atol').reason).toBe('must be an object')
  })
})

describe('optionsForKey', () => {
  test('every matching pattern is laid over the call options, in the order given', () => {
    const o = { atol: 1, rtol: 1, keys: { 'head.*': { atol: 2 }, '*.bias': { atol: 3, rtol: 4 } } }
    expect(optionsForKey(o, 'head.bias')).toEqual({ atol: 3, rtol: 4 })
    expect(optionsForKey(o, 'head.weight')).toEqual({ atol: 2, rtol: 1 })
    expect(optionsForKey(o, 'body.weight')).toEqual({ atol: 1, rtol: 1 })
  })

  test('the call-only options never reach a key', () => {
    expect(optionsForKey({ maxKeys: 3, maxElements: 4, threshold: 1 }, 'k')).toEqual({
      threshold: 1,
    })
  })

  test('a keys function overrides per key, and what it returns is validated', () => {
    const o = { rtol: 1, keys: (k: string) => (k === 'loss' ? { rtol: 0 } : undefined) }
    expect(optionsForKey(o, 'loss')).toEqual({ rtol: 0 })
    expect(optionsForKey(o, 'logits')).toEqual({ rtol: 1 })
    const bad = { keys: () => ({ rtoll: 1 }) as never }
    expect(() => optionsForKey(bad, 'loss')).toThrow(
      expect.objectContaining({ option: 'keys(loss).rtoll' }),
    )
  })
})

describe('resolveOptions', () => {
  test("allclose by default, with the dtype's tolerances, and every flag off", () => {
    expect(resolveOptions({}, 'float32', 'float32')).toEqual({
      rule: { method: 'allclose', atol: 1e-5, rtol: 1.3e-6 },
      equalNan: false,
      shape: 'strict',
      checkDtype: false,
      allowVacuous: false,
    })
    expect(resolveOptions({}, 'int64', 'int32').rule).toEqual({
      method: 'allclose',
      atol: 0,
      rtol: 0,
    })
  })

  test('a pair of two dtypes gets the looser of their tolerances, field by field', () => {
    // float16 rtol 1e-3 atol 1e-5; float64 rtol 1e-7 atol 1e-7
    expect(resolveOptions({}, 'float16', 'float64').rule).toEqual({
      method: 'allclose',
      atol: 1e-5,
      rtol: 1e-3,
    })
    expect(resolveOptions({}, 'float64', 'float64').rule).toEqual({
      method: 'allclose',
      ...DEFAULT_TOLERANCES.float64,
    })
  })

  test('per-dtype tolerances replace the defaults field by field; atol and rtol beat both', () => {
    const tolerances = { float32: { atol: 1e-3 } }
    expect(resolveOptions({ tolerances }, 'float32', 'float32').rule).toEqual({
      method: 'allclose',
      atol: 1e-3,
      rtol: 1.3e-6,
    })
    expect(resolveOptions({ tolerances, atol: 0, rtol: 0 }, 'float32', 'float32').rule).toEqual({
      method: 'allclose',
      atol: 0,
      rtol: 0,
    })
  })

  test("reprod_log's methods take the threshold, 1e-6 by default", () => {
    expect(DEFAULT_THRESHOLD).toBe(1e-6)
    expect(resolveOptions({ method: 'max' }, 'float32', 'float32').rule).toEqual({
      method: 'max',
      threshold: 1e-6,
    })
    expect(resolveOptions({ method: 'all', threshold: 0 }, 'int8', 'int8').rule).toEqual({
      method: 'all',
      threshold: 0,
    })
  })
})

describe('limitsOf', () => {
  test("the call's bounds, else the documented defaults", () => {
    expect(limitsOf({})).toEqual(DEFAULT_LIMITS)
    expect(DEFAULT_LIMITS).toEqual({ maxKeys: 1_000_000, maxElements: 2 ** 32 })
    expect(limitsOf({ maxKeys: 5 })).toEqual({ maxKeys: 5, maxElements: 2 ** 32 })
  })
})
