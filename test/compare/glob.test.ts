import fc from 'fast-check'
import { describe, expect, test } from 'vitest'
import { compare } from '../../src/compare/compare.js'
import { keyMatches } from '../../src/compare/glob.js'

/** The regex semantics the matcher replaces (exponential on some patterns: small inputs only). */
function regexMatches(pattern: string, key: string): boolean {
  const body = pattern
    .split('**')
    .map((part) =>
      part
        .split('*')
        .map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
        .join('[^.]*'),
    )
    .join('.*')
  return new RegExp(`^${body}$`).test(key)
}

describe('keys patterns', () => {
  test.each([
    ['features.*.bn.*', 'features.3.bn.weight', true],
    ['features.*.bn.*', 'features.3.x.bn.weight', false],
    ['features.**.weight', 'features.3.x.bn.weight', true],
    ['**', 'a.b.c', true],
    ['*', 'a.b', false],
    ['a*', 'a', true],
    ['lr_*', 'lr_scale', true],
    ['a.b', 'a.b', true],
    ['a.b', 'axb', false],
    ['***', 'a.b', true],
    ['', '', true],
  ])('%s against %s: %s', (pattern, key, want) => {
    expect(keyMatches(pattern, key)).toBe(want)
    expect(regexMatches(pattern, key)).toBe(want)
  })

  test('agrees with the regex semantics on small patterns and keys', () => {
    const piece = fc.constantFrom('a', 'b', '.', '*', '**')
    const pattern = fc.array(piece, { maxLength: 8 }).map((p) => p.join(''))
    const key = fc.array(fc.constantFrom('a', 'b', '.'), { maxLength: 10 }).map((k) => k.join(''))
    fc.assert(
      fc.property(pattern, key, (p, k) => keyMatches(p, k) === regexMatches(p, k)),
      { numRuns: 5000 },
    )
  })

  test("'*a' x 12 + '*c' against 40 a's: a bounded number of steps, no backtracking", () => {
    // the regex takes seconds to minutes here; the automaton at most |key|·|pattern| steps
    const pattern = `${'*a'.repeat(12)}*c`
    const key = 'a'.repeat(40)
    expect(keyMatches(pattern, key)).toBe(false)
    expect(keyMatches(pattern, `${key}c`)).toBe(true)
    const x = Float32Array.of(1)
    const r = compare(
      { [key]: x },
      { [key]: x },
      { keys: { [pattern]: { atol: 1 } }, allowVacuous: true },
    )
    expect(r.pass).toBe(true)
  }, 60_000)
})
