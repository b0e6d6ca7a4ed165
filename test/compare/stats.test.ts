import fc from 'fast-check'
import { describe, expect, test } from 'vitest'
import { compare, unravel } from '../../src/compare/compare.js'
import { type DType, decodeFloat16, STORAGE } from '../../src/compare/dtype.js'
import { pairStatsJs } from '../../src/compare/stats.js'

/**
 * A plain, many-pass reference for the one-pass statistics: every element's |Δ| spelt out by
 * the documented rule, then each statistic with its own array method.
 */
function reference(a: number[], e: number[], atol: number, rtol: number, equalNan: boolean) {
  const finite = (x: number) => Number.isFinite(x)
  const d = a.map((x, i) => {
    const y = e[i] as number
    if (finite(x) && finite(y)) return Math.abs(x - y)
    const matched = x === y || (equalNan && Number.isNaN(x) && Number.isNaN(y))
    return matched ? 0 : Number.POSITIVE_INFINITY
  })
  const ae = e.map((y, i) => (finite(y) && finite(a[i] as number) ? Math.abs(y) : 0))
  const mag = e.map((y) => (finite(y) ? Math.abs(y) : Number.POSITIVE_INFINITY))
  const excess = d.map((x, i) => x - rtol * (ae[i] as number))
  const rel = d.map((x, i) => (x === 0 ? 0 : x / (ae[i] as number)))
  const argmax = (v: number[]) => v.indexOf(Math.max(...v))
  return {
    meanAbs: d.reduce((s, x) => s + x, 0) / d.length,
    maxAbs: Math.max(...d),
    argMaxAbs: argmax(d),
    minAbs: Math.min(...d),
    maxRel: Math.max(...rel),
    maxExcess: Math.max(...excess),
    argMaxExcess: argmax(excess),
    mismatches: excess.filter((x) => x > atol).length,
    maxAbsExpected: Math.max(...mag),
    minAbsExpected: Math.min(...mag),
    nanActual: a.filter(Number.isNaN).length,
  }
}

const FLOATS: DType[] = ['float32', 'float64']
const INTS: DType[] = ['int8', 'int16', 'int32', 'uint8', 'uint16', 'uint32']

const special = fc.constantFrom(
  Number.NaN,
  Number.POSITIVE_INFINITY,
  Number.NEGATIVE_INFINITY,
  0,
  -0,
)
const value = fc.oneof(
  { weight: 8, arbitrary: fc.double({ min: -100, max: 100, noNaN: true }) },
  { weight: 4, arbitrary: fc.integer({ min: -3, max: 3 }) }, // ties and exact zeros
  { weight: 1, arbitrary: special },
)

/** Stores numbers as `dtype` stores them, and reads them back as the kernel sees them. */
function stored(values: number[], dtype: DType): { data: ArrayLike<number>; seen: number[] } {
  const Ctor = STORAGE[dtype]
  const data = new Ctor(values.length) as unknown as { [i: number]: number; length: number }
  for (let i = 0; i < values.length; i++)
    data[i] = FLOATS.includes(dtype) ? (values[i] as number) : Math.trunc(values[i] as number) || 0
  return { data: data as ArrayLike<number>, seen: Array.from(data as ArrayLike<number>) }
}

describe('one-pass statistics against a plain reference', () => {
  test('random shapes, dtypes, values, tolerances', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 5 }), { maxLength: 3 }),
        fc.constantFrom(...FLOATS, ...INTS),
        fc.constantFrom(...FLOATS, ...INTS),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.double({ min: 0, max: 0.5, noNaN: true }),
        fc.boolean(),
        fc.array(value, { minLength: 125, maxLength: 125 }),
        fc.array(value, { minLength: 125, maxLength: 125 }),
        (shape, da, de, atol, rtol, equalNan, va, ve) => {
          const n = shape.reduce((p, x) => p * x, 1)
          const a = stored(va.slice(0, n), da)
          const e = stored(ve.slice(0, n), de)
          const r = compare(
            { data: a.data as never, shape, dtype: da },
            { data: e.data as never, shape, dtype: de },
            { atol, rtol, equalNan, allowVacuous: true },
          )
          const k = r.keys[0]
          const ref = reference(a.seen, e.seen, atol, rtol, equalNan)
          const s = k?.stats
          expect(s).toBeDefined()
          if (!s) return
          expect(s.n).toBe(n)
          if (Number.isFinite(ref.meanAbs)) expect(s.meanAbs).toBeCloseTo(ref.meanAbs, 10)
          else expect(s.meanAbs).toBe(ref.meanAbs)
          expect(s.maxAbs).toBe(ref.maxAbs)
          expect(s.minAbs).toBe(ref.minAbs)
          expect(s.maxRel).toBe(ref.maxRel)
          expect(s.mismatches).toBe(ref.mismatches)
          expect(s.maxAbsExpected).toBe(ref.maxAbsExpected)
          expect(s.minAbsExpected).toBe(ref.minAbsExpected)
          expect(s.nonFinite.actual.nan).toBe(ref.nanActual)
          expect(s.worst?.index).toEqual(unravel(ref.argMaxExcess, shape))
          expect(k?.pass).toBe(ref.mismatches === 0)
          expect(k?.wouldPass === undefined).toBe(ref.mismatches === 0)
        },
      ),
      { numRuns: 500 },
    )
  })

  test('the reprod_log worst element is the first of largest |Δ|', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: -3, max: 3 }), { minLength: 1, maxLength: 40 }),
        (xs) => {
          const a = Float64Array.from(xs)
          const e = new Float64Array(xs.length)
          const k = compare(a, e, { method: 'max', allowVacuous: true }).keys[0]
          const abs = xs.map(Math.abs)
          expect(k?.stats?.worst?.index).toEqual([abs.indexOf(Math.max(...abs))])
        },
      ),
    )
  })

  test('float16 decoding matches the IEEE 754 half-precision table', () => {
    const bits = Uint16Array.of(
      0x0000,
      0x8000,
      0x3c00,
      0xc000,
      0x7bff,
      0x0001,
      0x0400,
      0x7c00,
      0xfc00,
      0x7e00,
    )
    const v = Array.from(decodeFloat16(bits))
    expect(v.slice(0, 9)).toEqual([
      0,
      -0,
      1,
      -2,
      65504,
      2 ** -24,
      2 ** -14,
      Number.POSITIVE_INFINITY,
      Number.NEGATIVE_INFINITY,
    ])
    expect(v[9]).toBeNaN()
  })

  test('the JS kernel refuses arrays of different lengths', () => {
    expect(() =>
      pairStatsJs(new Float32Array(2), new Float32Array(3), { atol: 0, rtol: 0, equalNan: false }),
    ).toThrow(RangeError)
  })
})
