import { describe, expect, test } from 'vitest'
import { compare } from '../../src/compare/compare.js'
import {
  describeRule,
  escapeText,
  formatNumber,
  formatReport,
  formatShape,
  formatTable,
  formatValue,
  keyName,
  summarize,
} from '../../src/compare/format.js'

const f32 = (...v: number[]) => Float32Array.from(v)

describe('escapeText', () => {
  test('control characters, separators and bidi overrides become visible escapes', () => {
    expect(escapeText('a\nb\rc\td')).toBe('a\\nb\\rc\\td')
    expect(escapeText('\u001b]0;x\u0007')).toBe('\\x1b]0;x\\x07')
    expect(escapeText('\u007f\u0085')).toBe('\\x7f\\x85')
    expect(escapeText('\u2028\u202e\u2066')).toBe('\\u2028\\u202e\\u2066')
  })

  test('ordinary keys, backslashes and non-ASCII letters print unchanged', () => {
    for (const key of ['features.0.weight', 'a\\nb', 'Δ', 'ключ', '层.权重']) {
      expect(escapeText(key)).toBe(key)
    }
  })
})

describe('formatNumber and formatValue', () => {
  test.each([
    [0, '0'],
    [2.308e-6, '2.31e-6'],
    [0.012345, '0.0123'],
    [1000, '1000'],
    [123456, '1.23e5'],
    [1e-3, '0.001'],
    [-5e-8, '-5e-8'],
    [1.5e-10, '1.5e-10'],
    [Number.NaN, 'NaN'],
    [Number.POSITIVE_INFINITY, 'Inf'],
    [Number.NEGATIVE_INFINITY, '-Inf'],
  ])('formatNumber(%d) is %s: at most 3 significant digits', (x, text) => {
    expect(formatNumber(x)).toBe(text)
  })

  test('formatValue keeps 9 significant digits, enough to tell float32 neighbours apart', () => {
    const x = Math.fround(0.1)
    const next = new Float32Array(
      new Uint32Array([(new Uint32Array(f32(x).buffer)[0] as number) + 1]).buffer,
    )[0] as number
    expect(formatValue(x)).not.toBe(formatValue(next))
    expect(formatValue(Math.fround(1.93124199))).toBe('1.93124199')
    expect(formatValue(Number.NaN)).toBe('NaN')
  })
})

describe('formatShape and keyName', () => {
  test('shapes as numpy prints them', () => {
    expect(formatShape([])).toBe('()')
    expect(formatShape([3])).toBe('(3,)')
    expect(formatShape([1, 1000])).toBe('(1, 1000)')
  })

  test('the lone array is (value); other keys are escaped', () => {
    expect(keyName('')).toBe('(value)')
    expect(keyName('a\nb')).toBe('a\\nb')
  })
})

describe('describeRule', () => {
  test('each rule in words', () => {
    expect(describeRule({ method: 'allclose', atol: 1e-5, rtol: 1.3e-6 })).toBe(
      'allclose atol=1e-5 rtol=1.3e-6',
    )
    expect(describeRule({ method: 'mean', threshold: 1e-6 })).toBe('mean |Δ| <= 1e-6')
    expect(describeRule({ method: 'all', threshold: 0 })).toBe('min, max and mean |Δ| <= 0')
    expect(describeRule({ method: 'noise', factor: 3, atol: 0, rtol: 0, runs: 1 })).toBe(
      '3 × spread of 1 noise run + atol=0 rtol=0',
    )
  })
})

describe('formatTable and formatReport', () => {
  const result = compare(
    { logits: f32(1, 2, 3), loss: f32(0.5), surplus: f32(1) },
    { logits: f32(1, 2, 3.5), loss: f32(0.5), absent: f32(2) },
  )

  test('one row per key, columns aligned, in the order of the result', () => {
    const lines = formatTable(result).split('\n')
    expect(lines[0]).toMatch(/^key +shape +dtype +mean \|Δ\| +max \|Δ\| +max rel Δ +mismatched/)
    expect(lines.slice(1).map((l) => l.split(/ +/)[0])).toEqual(result.keys.map((k) => k.key))
    // every column starts at the same offset on every line
    const at = lines[0]?.indexOf('dtype') as number
    for (const l of lines.slice(1)) expect(l[at - 1]).toBe(' ')
    const logits = lines.find((l) => l.startsWith('logits')) as string
    expect(logits).toContain('(3,)')
    expect(logits).toContain('1/3 (33.3%)')
    expect(logits).toContain('[2] 3 vs 3.5')
    expect(logits).toContain('FAIL: allclose; passes at atol=0.5')
    expect(lines.find((l) => l.startsWith('absent'))).toMatch(/ - +FAIL: missing$/)
    expect(lines.find((l) => l.startsWith('surplus'))).toMatch(/ - +FAIL: extra$/)
    expect(lines.find((l) => l.startsWith('loss'))).toMatch(/ pass$/)
  })

  test('the report: the summary line, the table, then one line per failing key', () => {
    const report = formatReport(result)
    const [first, blank, ...rest] = report.split('\n')
    expect(first).toBe(summarize(result))
    expect(blank).toBe('')
    expect(rest.join('\n')).toContain(formatTable(result))
    const reasons = rest.filter((l) => l.startsWith('  '))
    expect(reasons).toEqual([
      '  logits: 1 / 3 (33.3%) elements outside allclose atol=1e-5 rtol=1.3e-6, worst at [2]: 3 vs 3.5; passes at atol=0.5',
      // the expected side's keys in its order, then those only the actual side has
      '  absent: missing from actual',
      '  surplus: not in expected',
    ])
  })

  test('an aligned result has no failure lines', () => {
    const ok = compare({ a: f32(1) }, { a: f32(1) })
    expect(
      formatReport(ok)
        .split('\n')
        .filter((l) => l.startsWith('  ')),
    ).toEqual([])
    expect(formatReport(ok)).toMatch(/\n\nkey .*\na +\(1,\) +float32 .* pass$/)
  })

  test("a NaN is counted in its side's census and no tolerance passes", () => {
    const r = compare(f32(1, Number.NaN), f32(1, 2))
    const line = formatReport(r).split('\n').at(-1) as string
    expect(line).toContain('(actual has 1 NaN)')
    expect(line).toContain('no tolerance passes')
  })
})
