import { describe, expect, test } from 'vitest'
import { compare, unravel } from '../../src/compare/compare.js'
import { AlignOptionsError } from '../../src/compare/errors.js'
import type { KeyResult } from '../../src/compare/result.js'

const f32 = (...v: number[]) => Float32Array.from(v)
const only = (r: { keys: readonly KeyResult[] }): KeyResult => {
  expect(r.keys).toHaveLength(1)
  return r.keys[0] as KeyResult
}
const kinds = (k: KeyResult) => k.failures.map((f) => f.kind)

describe('allclose (the default rule)', () => {
  test('passes within atol + rtol·|e| and reports the statistics', () => {
    const r = compare(f32(1, 2, 4), f32(1, 2, 4.000001))
    expect(r.pass).toBe(true)
    const k = only(r)
    expect(k.rule).toEqual({ method: 'allclose', atol: 1e-5, rtol: 1.3e-6 })
    expect(k.stats?.n).toBe(3)
    expect(k.stats?.mismatches).toBe(0)
    expect(k.stats?.maxAbs).toBe(Math.abs(Math.fround(4) - Math.fround(4.000001)))
    expect(k.stats?.meanAbs).toBeCloseTo((k.stats?.maxAbs ?? 0) / 3, 15)
  })

  test('fails on one element out, with the count, the worst index and both values', () => {
    const expected = new Float32Array(12).fill(1)
    const actual = expected.slice()
    actual[7] = 1.5
    actual[2] = 1.00002 // outside atol 1e-5 too, but less so
    const k = only(compare({ data: actual, shape: [3, 4] }, { data: expected, shape: [3, 4] }))
    expect(k.pass).toBe(false)
    expect(k.failures).toEqual([{ kind: 'allclose', mismatches: 2, n: 12 }])
    expect(k.stats?.worst).toEqual({ index: [1, 3], actual: 1.5, expected: 1 })
    // the smallest atol that passes at rtol 1.3e-6: |Δ| - rtol·|e| of the worst element
    expect(k.wouldPass?.atol).toBeCloseTo(0.5 - 1.3e-6, 12)
    expect(compare(actual, expected, { atol: k.wouldPass?.atol ?? 0 }).pass).toBe(true)
    expect(compare(actual, expected, { atol: (k.wouldPass?.atol ?? 0) * 0.999 }).pass).toBe(false)
  })

  test('the relative term scales with |expected|', () => {
    expect(compare([1000.001], [1000], { atol: 0, rtol: 2e-6 }).pass).toBe(true)
    expect(compare([1000.001], [1000], { atol: 0, rtol: 5e-7 }).pass).toBe(false)
    const k = only(compare([1000.001], [1000], { atol: 0, rtol: 5e-7 }))
    expect(k.stats?.maxRel).toBeCloseTo(1e-6, 12)
  })

  test('defaults by dtype as torch: float64 is tighter, a mixed pair takes the looser', () => {
    expect(only(compare(new Float64Array([1]), new Float64Array([1]))).rule).toEqual({
      method: 'allclose',
      atol: 1e-7,
      rtol: 1e-7,
    })
    expect(only(compare(f32(1), new Float64Array([1]))).rule).toEqual({
      method: 'allclose',
      atol: 1e-5,
      rtol: 1.3e-6,
    })
    expect(
      only(compare(new Uint16Array([1]), new Uint16Array([1]), { tolerances: { float16: {} } }))
        .rule,
    ).toEqual({
      method: 'allclose',
      atol: 0,
      rtol: 0,
    })
  })

  test('project-style per-dtype tolerances apply, call atol/rtol win', () => {
    const o = { tolerances: { float32: { atol: 0.1 } } }
    expect(compare(f32(1), f32(1.05), o).pass).toBe(true)
    expect(compare(f32(1), f32(1.05), { ...o, atol: 0.01 }).pass).toBe(false)
  })

  test('integers and bools are exact', () => {
    expect(compare(new Int32Array([1, 2]), new Int32Array([1, 3])).pass).toBe(false)
    expect(compare([true, false], [true, true]).pass).toBe(false)
    expect(compare([true, true], [true, true]).pass).toBe(true)
  })

  test('int64 beyond 2^53 is compared exactly', () => {
    const big = 2n ** 60n
    const r = compare(BigInt64Array.of(big), BigInt64Array.of(big + 1n))
    expect(r.pass).toBe(false)
    expect(only(r).stats?.mismatches).toBe(1)
    expect(compare(BigInt64Array.of(big, 3n), BigInt64Array.of(big, 3n)).pass).toBe(true)
  })

  test('float16 data is decoded', () => {
    // 0x3c00 = 1.0, 0x3e00 = 1.5
    const k = only(compare({ data: Uint16Array.of(0x3e00), shape: [1], dtype: 'float16' }, [1]))
    expect(k.stats?.worst).toEqual({ index: [0], actual: 1.5, expected: 1 })
  })
})

describe('fail closed: NaN, Inf, shapes, dtypes', () => {
  test('NaN where the other side has a number fails, with a census', () => {
    const k = only(compare(f32(1, Number.NaN), f32(1, 2)))
    expect(k.pass).toBe(false)
    expect(k.stats?.nonFinite.actual).toEqual({ nan: 1, posInf: 0, negInf: 0 })
    expect(k.stats?.maxAbs).toBe(Number.POSITIVE_INFINITY)
    expect(k.stats?.worst).toEqual({ index: [1], actual: Number.NaN, expected: 2 })
    expect(k.wouldPass?.atol).toBe(Number.POSITIVE_INFINITY)
  })

  test('NaN vs NaN fails unless equalNan', () => {
    expect(compare(f32(1, Number.NaN), f32(1, Number.NaN)).pass).toBe(false)
    expect(compare(f32(1, Number.NaN), f32(1, Number.NaN), { equalNan: true }).pass).toBe(true)
    expect(compare(f32(1, Number.NaN), f32(1, 2), { equalNan: true }).pass).toBe(false)
  })

  test('+Inf vs -Inf fails, equal infinities pass', () => {
    const inf = Number.POSITIVE_INFINITY
    expect(compare(f32(1, inf), f32(1, -inf)).pass).toBe(false)
    expect(compare(f32(1, inf), f32(1, inf)).pass).toBe(true)
    expect(compare(f32(1, inf), f32(1, 3e38)).pass).toBe(false)
  })

  test('NaN fails reprod_log rules too (reprod_log itself passes it)', () => {
    const k = only(compare(f32(1, Number.NaN), f32(1, 1), { method: 'mean', threshold: 1 }))
    expect(k.pass).toBe(false)
    expect(k.failures[0]).toMatchObject({
      kind: 'threshold',
      method: 'mean',
      value: Number.POSITIVE_INFINITY,
    })
  })

  test('shapes must be equal: no broadcasting, no transposing', () => {
    const a = { data: new Float32Array(6).fill(1), shape: [2, 3] }
    const t = { data: new Float32Array(6).fill(1), shape: [3, 2] }
    const k = only(compare(a, t))
    expect(kinds(k)).toEqual(['shape'])
    expect(k.stats?.n).toBe(6) // same size: statistics still reported
    const b = only(compare(a, f32(1, 1, 1)))
    expect(kinds(b)).toEqual(['shape'])
    expect(b.stats).toBeUndefined()
  })

  test("() vs (1,) fails strict and passes with shape: 'squeeze'", () => {
    const scalar = { data: f32(2), shape: [] }
    expect(kinds(only(compare(f32(2), scalar)))).toEqual(['shape'])
    expect(compare(f32(2), scalar, { shape: 'squeeze' }).pass).toBe(true)
    expect(compare({ data: f32(2, 3), shape: [1, 2] }, f32(2, 3), { shape: 'squeeze' }).pass).toBe(
      true,
    )
    expect(
      compare(
        { data: f32(2, 3), shape: [2, 1] },
        { data: f32(2, 3), shape: [1, 2] },
        { shape: 'squeeze' },
      ).pass,
    ).toBe(true)
  })

  test('dtypes are reported, and checked when asked', () => {
    const k = only(compare(f32(1), new Float64Array([1])))
    expect(k.pass).toBe(true)
    expect(k.actual?.dtype).toBe('float32')
    expect(k.expected?.dtype).toBe('float64')
    expect(kinds(only(compare(f32(1), new Float64Array([1]), { checkDtype: true })))).toEqual([
      'dtype',
    ])
  })
})

describe('vacuity', () => {
  // Random-init MobileNetV3 eval logits are ~1e-10: an all-zero candidate passes atol 1e-5.
  const tiny = Float32Array.from({ length: 10 }, (_, i) => (i + 1) * 1e-10)

  test('a check an all-zero candidate would pass fails and says so', () => {
    const k = only(compare(tiny, tiny))
    expect(kinds(k)).toEqual(['vacuous'])
    expect(compare(new Float32Array(10), tiny).pass).toBe(false)
    expect(compare(tiny, tiny, { allowVacuous: true }).pass).toBe(true)
    expect(compare(tiny, tiny, { atol: 0, rtol: 1e-3 }).pass).toBe(true) // relative: not vacuous
  })

  test('reprod_log rules: vacuous when the statistic of |expected| is within the threshold', () => {
    expect(kinds(only(compare(tiny, tiny, { method: 'mean', threshold: 1e-5 })))).toEqual([
      'vacuous',
    ])
    const ones = f32(1, 1)
    expect(compare(ones, ones, { method: 'mean', threshold: 1e-5 }).pass).toBe(true)
    // min |e| is 0 here, so 'min' proves nothing; 'all' is vacuous only if max |e| is within too
    expect(kinds(only(compare(f32(0, 1), f32(0, 1), { method: 'min' })))).toEqual(['vacuous'])
    expect(compare(f32(0, 1), f32(0, 1), { method: 'all' }).pass).toBe(true)
  })

  test('empty arrays and empty records prove nothing', () => {
    expect(kinds(only(compare([], [])))).toEqual(['vacuous'])
    expect(kinds(only(compare({}, {})))).toEqual(['vacuous'])
    expect(compare({}, {}, { allowVacuous: true }).pass).toBe(true)
  })
})

describe("reprod_log's rules", () => {
  test('mean, max, min, all: fail only when the statistic exceeds the threshold', () => {
    const a = f32(1, 2, 3, 4)
    const e = f32(1, 2, 3, 4.5)
    expect(compare(a, e, { method: 'mean', threshold: 0.125 }).pass).toBe(true) // equal passes
    expect(compare(a, e, { method: 'mean', threshold: 0.12 }).pass).toBe(false)
    expect(compare(a, e, { method: 'max', threshold: 0.5 }).pass).toBe(true)
    expect(compare(a, e, { method: 'max', threshold: 0.4 }).pass).toBe(false)
    expect(compare(a, e, { method: 'min', threshold: 0 }).pass).toBe(true)
    const all = only(compare(a, e, { method: 'all', threshold: 0.2 }))
    expect(all.failures).toEqual([{ kind: 'threshold', method: 'max', value: 0.5, threshold: 0.2 }])
    expect(all.wouldPass).toEqual({ threshold: 0.5 })
    expect(only(compare(a, e, { method: 'max' })).stats?.worst).toEqual({
      index: [3],
      actual: 4,
      expected: 4.5,
    })
  })

  test('the default threshold is 1e-6', () => {
    expect(only(compare(f32(1), f32(1), { method: 'mean' })).rule).toEqual({
      method: 'mean',
      threshold: 1e-6,
    })
  })

  test('golden: the tutorial loss_0 pair, () vs (1,), mean |Δ| 1.9073486328125e-06', () => {
    // values of Step1-5/result/losses_{ref,paddle}.npy, key loss_0
    const ref = { data: f32(10.842716), shape: [] }
    const paddle = { data: f32(10.842714), shape: [1] }
    const opts = { method: 'mean', shape: 'squeeze' } as const
    const k = only(compare(ref, paddle, opts))
    expect(k.stats?.meanAbs).toBe(1.9073486328125e-6)
    expect(k.pass).toBe(false) // at the default 1e-6, as the tutorial's own log says
    expect(compare(ref, paddle, { ...opts, threshold: 1e-5 }).pass).toBe(true)
    expect(kinds(only(compare(ref, paddle, { method: 'mean', threshold: 1e-5 })))).toEqual([
      'shape',
    ])
  })
})

describe('records', () => {
  test('every key is compared and reported, missing and extra keys named', () => {
    const r = compare(
      { logits: f32(1, 2), extra: f32(0), blocks: { a: f32(1), b: f32(5) } },
      { logits: f32(1, 2), blocks: { a: f32(1), b: f32(2) }, loss: f32(3) },
    )
    expect(r.pass).toBe(false)
    expect(r.keys.map((k) => [k.key, k.pass, kinds(k)])).toEqual([
      ['logits', true, []],
      ['blocks.a', true, []],
      ['blocks.b', false, ['allclose']],
      ['loss', false, ['missing']],
      ['extra', false, ['extra']],
    ])
  })

  test('a record against an array is a structure failure', () => {
    const k = only(compare({ a: { b: f32(1) } }, { a: f32(1) }))
    expect(k.key).toBe('a')
    expect(k.failures).toEqual([{ kind: 'structure', actual: 'record', expected: 'array' }])
  })

  test('per-key options by pattern: * within a segment, ** across; later patterns win', () => {
    const a = { loss_0: f32(10), loss_1: f32(10.5), blk: { x: { w: f32(10.5) } } }
    const e = { loss_0: f32(10), loss_1: f32(10), blk: { x: { w: f32(10) } } }
    expect(compare(a, e).pass).toBe(false)
    const r = compare(a, e, { keys: { 'loss_*': { atol: 1 }, 'blk.*': { atol: 1 } } })
    expect(r.keys.map((k) => k.pass)).toEqual([true, true, false]) // blk.* does not reach blk.x.w
    expect(compare(a, e, { keys: { 'loss_*': { atol: 1 }, 'blk.**': { atol: 1 } } }).pass).toBe(
      true,
    )
    const later = compare(a, e, { keys: { '**': { atol: 1 }, loss_1: { atol: 0.1 } } })
    expect(later.keys.map((k) => k.pass)).toEqual([true, false, true])
  })

  test('per-key options by function', () => {
    const r = compare(
      { x: f32(12), y: f32(12) },
      { x: f32(11), y: f32(11) },
      {
        keys: (key) => (key === 'x' ? { method: 'max', threshold: 1 } : undefined),
      },
    )
    expect(r.keys.map((k) => [k.key, k.pass, k.rule?.method])).toEqual([
      ['x', true, 'max'],
      ['y', false, 'allclose'],
    ])
  })
})

describe('options are validated', () => {
  test.each([
    [{ atoll: 1 }, "option 'atoll': unknown option"],
    [{ atol: -1 }, "option 'atol': must be a finite number >= 0, got -1"],
    [{ rtol: Number.NaN }, "option 'rtol': must be a finite number >= 0, got NaN"],
    [
      { rtol: Number.POSITIVE_INFINITY },
      "option 'rtol': must be a finite number >= 0, got Infinity",
    ],
    [{ method: 'median' }, "option 'method': must be one of allclose, mean, max, min, all"],
    [{ shape: 'broadcast' }, "option 'shape': must be 'strict' or 'squeeze'"],
    [{ equalNan: 'yes' }, "option 'equalNan': must be true or false"],
    [{ tolerances: { float128: {} } }, "option 'tolerances.float128': unknown dtype"],
    [{ keys: { 'loss_*': { atoll: 1 } } }, "option 'keys.loss_*.atoll': unknown option"],
  ])('%o', (options, message) => {
    expect(() => compare(1, 1, options as never)).toThrow(AlignOptionsError)
    expect(() => compare(1, 1, options as never)).toThrow(message)
  })

  test('options returned by a keys function are validated too', () => {
    expect(() => compare({ a: 1 }, { a: 1 }, { keys: () => ({ atol: -2 }) })).toThrow(
      "option 'keys(a).atol'",
    )
  })
})

test('unravel gives row-major indices', () => {
  expect(unravel(0, [])).toEqual([])
  expect(unravel(140, [1, 1000])).toEqual([0, 140])
  expect(unravel(23, [2, 3, 4])).toEqual([1, 2, 3])
})
