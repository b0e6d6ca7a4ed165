import { describe, expect, test } from 'vitest'
import { diffHistogram, HISTOGRAM_DECADES } from '../../src/compare/histogram.js'

const bins = HISTOGRAM_DECADES.length + 2

describe('diffHistogram', () => {
  test('decade edges from 1e-12 to 1e2', () => {
    expect(HISTOGRAM_DECADES).toHaveLength(15)
    expect(HISTOGRAM_DECADES[0]).toBeCloseTo(1e-12, 24)
    expect(HISTOGRAM_DECADES.at(-1)).toBe(100)
  })

  test('each |Δ| lands in its bin: zero, (0, 1e-12], ..., (10, 100], over 100', () => {
    const e = new Float64Array(6)
    const a = Float64Array.from([0, 1e-13, 1e-12, 1.5e-12, 0.5, 1000])
    const h = diffHistogram(a, e, false)
    const want = new Array(bins).fill(0)
    want[0] = 1 // 0
    want[1] = 2 // 1e-13 and 1e-12 itself: upper edges are inclusive
    want[2] = 1 // 1.5e-12 in (1e-12, 1e-11]
    want[13] = 1 // 0.5 in (0.1, 1]: bin k holds (edge k-2, edge k-1], and edge 11 is 0.1
    want[bins - 1] = 1 // over 100
    expect(h.counts).toEqual(want)
    expect(h.sampled).toBe(6)
    expect(h.decades).toBe(HISTOGRAM_DECADES)
  })

  test('non-finite pairs follow the statistics: matched ones are 0, the others over the top', () => {
    const inf = Number.POSITIVE_INFINITY
    const a = Float64Array.from([inf, Number.NaN, Number.NaN, inf, 1])
    const e = Float64Array.from([inf, Number.NaN, 1, -inf, Number.NaN])
    const strict = diffHistogram(a, e, false).counts
    expect(strict[0]).toBe(1) // inf vs inf
    expect(strict[bins - 1]).toBe(4)
    const equalNan = diffHistogram(a, e, true).counts
    expect(equalNan[0]).toBe(2) // and NaN vs NaN
    expect(equalNan[bins - 1]).toBe(3)
  })

  test('large inputs are sampled at an even stride, at most maxSamples', () => {
    const n = 1000
    const a = new Float32Array(n).map((_, i) => (i % 2 === 0 ? 0 : 1))
    const h = diffHistogram(a, new Float32Array(n), false, 100)
    // stride ceil(1000 / 100) = 10: only even indices, all of them |Δ| = 0
    expect(h.sampled).toBe(100)
    expect(h.counts[0]).toBe(100)
    expect(h.counts.reduce((s, c) => s + c, 0)).toBe(h.sampled)
    const h3 = diffHistogram(a, new Float32Array(n), false, 334)
    // stride 3 hits odd indices too: 334 samples, i = 0, 3, 6, ...; odd ones are |Δ| = 1
    expect(h3.sampled).toBe(334)
    expect(h3.counts[13]).toBe(167) // |Δ| = 1, in (0.1, 1]
  })

  test('an empty pair has no samples', () => {
    const h = diffHistogram(new Float32Array(0), new Float32Array(0), false)
    expect(h.sampled).toBe(0)
    expect(h.counts).toEqual(new Array(bins).fill(0))
  })
})
