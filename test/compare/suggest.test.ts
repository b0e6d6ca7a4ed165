/**
 * The one "did you mean" (src/compare/suggest.ts), and every validator of the package using it:
 * compare's options at every depth, the plugin's, defineAlignment's and the reporter's.
 */
import fc from 'fast-check'
import { describe, expect, test } from 'vitest'
import { validateOptions } from '../../src/compare/options.js'
import { nearest, unknownName, valueHint } from '../../src/compare/suggest.js'
import { checkOptions } from '../../src/vitest/fixture-options.js'
import { resolvePluginOptions } from '../../src/vitest/plugin.js'
import { checkReporterOptions } from '../../src/vitest/reporter.js'

const OPTIONS = ['method', 'atol', 'rtol', 'threshold', 'equalNan', 'tolerances', 'keys']

describe('nearest', () => {
  test('a letter added, dropped, changed or two swapped; case aside', () => {
    expect(nearest('rtoll', OPTIONS)).toBe('rtol')
    expect(nearest('atl', OPTIONS)).toBe('atol')
    expect(nearest('treshold', OPTIONS)).toBe('threshold')
    expect(nearest('thresohld', OPTIONS)).toBe('threshold') // a swap is one edit
    expect(nearest('equalnan', OPTIONS)).toBe('equalNan')
    expect(nearest('tolerance', OPTIONS)).toBe('tolerances')
  })

  test('nothing when no name is that close; short names allow one edit only', () => {
    expect(nearest('colour', OPTIONS)).toBeUndefined()
    expect(nearest('xy', ['ab'])).toBeUndefined()
    expect(nearest('ab', ['ax'])).toBe('ax')
    expect(nearest('', OPTIONS)).toBeUndefined()
  })

  test('the closest wins, the first on a tie', () => {
    expect(nearest('mean', ['meen', 'mean2', 'mean'])).toBe('mean')
    expect(nearest('maz', ['max', 'min'])).toBe('max')
    expect(nearest('mxx', ['max', 'mix'])).toBe('max')
  })

  test('property: a one-letter typo of a known name always gets a suggestion', () => {
    const letter = fc.constantFrom(
      ...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_'.split(''),
    )
    fc.assert(
      fc.property(fc.constantFrom(...OPTIONS), fc.nat(), letter, (name, at, c) => {
        const i = at % name.length
        const typo = name.slice(0, i) + c + name.slice(i + 1)
        const got = nearest(typo, OPTIONS)
        // the original is one edit away, so it or a name at least as close is suggested
        return got !== undefined
      }),
    )
  })
})

describe('the messages', () => {
  test('unknownName and valueHint', () => {
    expect(unknownName('rtoll', ['atol', 'rtol'])).toBe(
      "unknown option; did you mean 'rtol'? known: atol, rtol",
    )
    expect(unknownName('x', ['atol', 'rtol'], 'dtype')).toBe('unknown dtype; known: atol, rtol')
    expect(unknownName('meen', ['mean'], 'value', true)).toBe(
      "unknown value; did you mean 'mean'? known: 'mean'",
    )
    expect(valueHint('squeze', ['strict', 'squeeze'])).toBe("; did you mean 'squeeze'?")
    expect(valueHint(3, ['strict'])).toBe('')
  })

  test.each([
    [{ rtoll: 1 }, "option 'rtoll': unknown option; did you mean 'rtol'?"],
    [
      { tolerances: { flaot32: {} } },
      "option 'tolerances.flaot32': unknown dtype; did you mean 'float32'?",
    ],
    [
      { tolerances: { float32: { atoll: 1 } } },
      "option 'tolerances.float32.atoll': unknown option; did you mean 'atol'? known: atol, rtol",
    ],
    [
      { keys: { 'a.*': { rtoll: 1 } } },
      "option 'keys.a.*.rtoll': unknown option; did you mean 'rtol'?",
    ],
    [
      { method: 'meen' },
      "option 'method': must be one of allclose, mean, max, min, all; did you mean 'mean'?",
    ],
    [{ shape: 'squeze' }, "option 'shape': must be 'strict' or 'squeeze'; did you mean 'squeeze'?"],
  ])('compare options %o', (options, message) => {
    expect(() => validateOptions(options)).toThrow(message)
  })

  test('the plugin, nested options included', () => {
    expect(() => resolvePluginOptions({ reportdir: 'x' })).toThrow(
      "option 'reportdir': unknown option; did you mean 'reportDir'?",
    )
    expect(() => resolvePluginOptions({ tolerances: { flaot32: { atol: 1 } } })).toThrow(
      "option 'tolerances.flaot32': unknown dtype; did you mean 'float32'?",
    )
    expect(() => resolvePluginOptions({ keys: { 'a.*': { rtoll: 1 } } })).toThrow(
      /option 'keys\.a\.\*\.rtoll': unknown option; did you mean 'rtol'\?.*\(in align\(\) options\)$/,
    )
  })

  test('defineAlignment and the reporter', () => {
    expect(() => checkOptions({ fakedata: {} })).toThrow(
      "option 'fakedata': unknown option; did you mean 'fakeData'?",
    )
    expect(() => checkOptions({ models: { candidat: () => 1 } })).toThrow(
      "option 'models.candidat': unknown option; did you mean 'candidate'?",
    )
    expect(() => checkOptions({ models: { scope: 'files' } })).toThrow(
      "option 'models.scope': must be 'worker' or 'file'; did you mean 'file'?",
    )
    expect(() => checkOptions({ reference: { forward: { path: 'a.npy', key: ['x'] } } })).toThrow(
      "option 'reference.forward.key': unknown option; did you mean 'keys'?",
    )
    expect(() => checkReporterOptions({ reportdir: 'x' })).toThrow(
      "option 'reporter.reportdir': unknown option of AlignReporter; did you mean 'reportDir'?",
    )
  })
})
