import { describe, expect, test } from 'vitest'
import { AlignOptionsError } from '../../src/compare/errors.js'
import { formatReport } from '../../src/compare/format.js'
import { compareWithinNoise } from '../../src/compare/noise.js'

const f64 = (...v: number[]) => Float64Array.from(v)

// a reference loss curve, two noise runs that stray more and more from it
const ref = f64(2.3, 2.1, 1.9, 1.7, 1.5)
const runA = f64(2.3, 2.1001, 1.901, 1.71, 1.55)
const runB = f64(2.3, 2.0999, 1.898, 1.69, 1.47)

describe('compareWithinNoise', () => {
  test('a candidate inside factor × spread passes, with the spread per element', () => {
    const cand = f64(2.3, 2.1002, 1.905, 1.73, 1.6)
    const r = compareWithinNoise(cand, ref, [runA, runB])
    expect(r.pass).toBe(true)
    const k = r.keys[0]
    expect(k?.rule).toEqual({ method: 'noise', factor: 3, atol: 1e-7, rtol: 1e-7, runs: 2 })
    expect(k?.noise?.maxSpread).toBeCloseTo(0.05, 12)
    expect(k?.noise?.outside).toBe(0)
    expect(k?.noise?.curve?.bound[4]).toBeCloseTo(3 * 0.05 + 1e-7 + 1e-7 * 1.5, 12)
  })

  test('outside the band fails, naming the worst index, its spread and the factor that would pass', () => {
    const cand = f64(2.3, 2.1, 1.9, 1.9, 1.5) // step 3: 0.2 off where the runs spread 0.01
    const r = compareWithinNoise(cand, ref, [runA, runB])
    expect(r.pass).toBe(false)
    const k = r.keys[0]
    expect(k?.failures).toEqual([{ kind: 'noise', outside: 1, n: 5 }])
    expect(k?.noise?.worst?.index).toEqual([3])
    expect(k?.noise?.worst?.spread).toBeCloseTo(0.01, 12)
    expect(k?.stats?.worst?.index).toEqual([3])
    expect(k?.wouldPass?.factor).toBeCloseTo((0.2 - 1e-7 - 1e-7 * 1.7) / 0.01, 6)
    expect(k?.noise?.curve?.outside).toEqual([3])
    const text = formatReport(r)
    expect(text).toContain('1 / 5 (20.0%) elements outside 3 × spread of 2 noise runs')
    expect(text).toContain('worst at [3]: 1.9 vs 1.7')
    expect(text).toContain('20 × spread')
    expect(text).toContain('passes at factor=20')
  })

  test('where the runs agree exactly (step 0), the floor atol + rtol·|e| is the tolerance', () => {
    expect(compareWithinNoise(f64(2.3 + 1e-8), f64(2.3), [f64(2.3)]).pass).toBe(true)
    const r = compareWithinNoise(f64(2.3 + 1e-3), f64(2.3), [f64(2.3)])
    expect(r.pass).toBe(false)
    expect(r.keys[0]?.wouldPass?.factor).toBe(Number.POSITIVE_INFINITY)
    expect(formatReport(r)).toContain('no tolerance passes')
  })

  test('factor and the floor are options', () => {
    const cand = f64(2.3, 2.1, 1.9, 1.75, 1.5) // 0.05 off at step 3, spread 0.01
    expect(compareWithinNoise(cand, ref, [runA, runB]).pass).toBe(false)
    expect(compareWithinNoise(cand, ref, [runA, runB], { factor: 6 }).pass).toBe(true)
    expect(compareWithinNoise(cand, ref, [runA, runB], { atol: 0.05 }).pass).toBe(true)
  })

  test('NaN in the candidate fails; a NaN run fails, named', () => {
    const nan = compareWithinNoise(f64(2.3, Number.NaN), f64(2.3, 2.1), [f64(2.3, 2.1)])
    expect(nan.pass).toBe(false)
    expect(nan.keys[0]?.failures.map((f) => f.kind)).toEqual(['noise'])
    const badRun = compareWithinNoise(f64(2.3, 2.1), f64(2.3, 2.1), [
      f64(2.3, 2.1),
      f64(2.3, Number.NaN),
    ])
    expect(badRun.pass).toBe(false)
    expect(badRun.keys[0]?.failures).toContainEqual({
      kind: 'noise-run',
      run: 1,
      problem: 'non-finite',
    })
    expect(formatReport(badRun)).toContain('noise run 1 is not finite')
  })

  test('shape mismatches fail: the candidate, and a noise run', () => {
    const a = compareWithinNoise(f64(1, 2, 3), f64(1, 2), [f64(1, 2)])
    expect(a.pass).toBe(false)
    expect(a.keys[0]?.failures.map((f) => f.kind)).toContain('shape')
    const b = compareWithinNoise(f64(1, 2), f64(1, 2), [f64(1, 2, 3)])
    expect(b.pass).toBe(false)
    expect(b.keys[0]?.failures).toEqual([{ kind: 'noise-run', run: 0, problem: 'shape' }])
  })

  test('a band so wide that an all-zero candidate passes is vacuous', () => {
    const wide = [f64(0.1, 0.2), f64(-0.1, 0.05)] // spread ≥ |e| everywhere
    const r = compareWithinNoise(f64(0.1, 0.1), f64(0.05, 0.1), wide)
    expect(r.pass).toBe(false)
    expect(r.keys[0]?.failures).toEqual([{ kind: 'vacuous' }])
    expect(formatReport(r)).toContain('vacuous: an all-zero actual would pass too')
    expect(
      compareWithinNoise(f64(0.1, 0.1), f64(0.05, 0.1), wide, { allowVacuous: true }).pass,
    ).toBe(true)
    // zero inside the band at some steps only: judged, and counted
    const some = compareWithinNoise(f64(2, 0.1), f64(2, 0.1), [f64(2, 0.2)])
    expect(some.pass).toBe(true)
    expect(some.keys[0]?.noise?.zeroInside).toBe(1)
  })

  test('records: every key judged, missing keys fail, runs keyed alike', () => {
    const r = compareWithinNoise(
      { loss: f64(2.3, 2.2), acc: f64(0.1, 0.3) },
      { loss: f64(2.3, 2.1), acc: f64(0.1, 0.2) },
      [
        { loss: f64(2.3, 2.15), acc: f64(0.1, 0.25) },
        { loss: f64(2.3, 2.12), acc: f64(0.1, 0.21) },
      ],
    )
    expect(r.keys.map((k) => [k.key, k.pass])).toEqual([
      ['loss', true],
      ['acc', true],
    ])
    const missing = compareWithinNoise({ loss: f64(2.3) }, { loss: f64(2.3), acc: f64(0.1) }, [
      { loss: f64(2.3), acc: f64(0.1) },
    ])
    expect(missing.keys.map((k) => [k.key, k.failures[0]?.kind])).toEqual([
      ['loss', undefined],
      ['acc', 'missing'],
    ])
    const runMissing = compareWithinNoise({ loss: f64(2.3) }, { loss: f64(2.3) }, [{}])
    expect(runMissing.keys[0]?.failures).toEqual([
      { kind: 'noise-run', run: 0, problem: 'missing' },
    ])
  })

  test('bad options throw, naming the option', () => {
    expect(() => compareWithinNoise(f64(1), f64(1), [])).toThrow(AlignOptionsError)
    expect(() => compareWithinNoise(f64(1), f64(1), [f64(1)], { factor: -1 })).toThrow(/factor/)
    expect(() => compareWithinNoise(f64(1), f64(1), [f64(1)], { atoll: 1 } as never)).toThrow(
      AlignOptionsError,
    )
  })
})
