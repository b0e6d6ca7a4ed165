/**
 * The record path: normalize's leaf fast path, the walk over two records, the squeezed shape
 * check and the results built per key, against pair-by-pair references (the one-thread JS
 * kernel, lone compare() calls) on random data with ties, NaN, ±Infinity and -0.
 */
import { describe, expect, test } from 'vitest'
import { compare } from '../../src/compare/compare.js'
import { AlignInputError } from '../../src/compare/errors.js'
import { startKernelWorker, WASM_MIN_LENGTH } from '../../src/compare/kernel/index.js'
import type { KeyResult } from '../../src/compare/result.js'
import { pairStatsJs } from '../../src/compare/stats.js'

function lcg(seed: number): () => number {
  let s = seed >>> 0
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0
    return s / 4294967296
  }
}

/** A pair of n elements: close values, with ties, exact matches, -0, NaN and ±Inf sprinkled. */
function pair(
  Ctor: Float32ArrayConstructor | Float64ArrayConstructor,
  n: number,
  rand: () => number,
  special: boolean,
): [Float32Array | Float64Array, Float32Array | Float64Array] {
  const a = new Ctor(n)
  const e = new Ctor(n)
  for (let i = 0; i < n; i++) {
    const v = Math.round((rand() - 0.5) * 64) / 4 // few distinct values: many ties
    e[i] = v
    const r = rand()
    a[i] = r < 0.3 ? v : r < 0.6 ? v + 0.25 : r < 0.9 ? v * (1 + 1e-6) : -v
  }
  if (special && n > 3) {
    const at = () => Math.floor(rand() * n) % n
    a[at()] = Number.NaN
    e[at()] = Number.POSITIVE_INFINITY
    const k = at()
    a[k] = Number.NEGATIVE_INFINITY
    e[k] = Number.NEGATIVE_INFINITY
    a[at()] = -0
  }
  return [a, e]
}

const opts = { atol: 1e-5, rtol: 1e-5 }

/** What compare() reports for one key, from the JS kernel's statistics of the pair. */
function reference(key: string, a: Float32Array | Float64Array, e: Float32Array | Float64Array) {
  const k = pairStatsJs(a, e, { ...opts, equalNan: false })
  const n = k.n
  return {
    n,
    meanAbs: n === 0 ? 0 : k.sumAbs / n,
    maxAbs: k.maxAbs,
    minAbs: k.minAbs,
    maxRel: k.maxRel,
    mismatches: k.mismatches,
    worst:
      k.argMaxExcess < 0
        ? undefined
        : { index: [k.argMaxExcess], actual: a[k.argMaxExcess], expected: e[k.argMaxExcess] },
    maxAbsExpected: k.maxAbsExpected,
    meanAbsExpected: n === 0 ? 0 : k.sumAbsExpected / n,
    minAbsExpected: k.minAbsExpected,
    nonFinite: { actual: k.actual, expected: k.expected },
    key,
  }
}

describe('a record: every key as the one-thread JS kernel has it', () => {
  // 1-element pairs and short ones (the JS kernel), pairs of one batch piece (the batch, on two
  // threads once the worker is up), float64 ones, some with NaN/Inf (sent back to the JS kernel)
  // (float64 up to one piece of 16384 elements: a pair of several pieces has its sums added in
  // another order, which kernel-batch.test.ts checks)
  for (const Ctor of [Float32Array, Float64Array]) {
    const lengths = [
      1,
      2,
      7,
      100,
      2047,
      2048,
      5000,
      10_000,
      Ctor === Float32Array ? 20_000 : 16_384,
    ]
    test(`${Ctor.name}: random data, ties, NaN, ±Inf, -0`, async () => {
      const rand = lcg(Ctor === Float32Array ? 7 : 8)
      const ra: Record<string, Float32Array | Float64Array> = {}
      const rb: Record<string, Float32Array | Float64Array> = {}
      for (let i = 0; i < 60; i++) {
        const n = lengths[i % lengths.length] as number
        const [a, e] = pair(Ctor, n, rand, i % 3 === 0)
        ra[`k${i}`] = a
        rb[`k${i}`] = e
      }
      // several calls: the first one before the worker is up (it starts it), then with it
      for (let call = 0; call < 4; call++) {
        if (call === 1) await startKernelWorker()
        const r = compare(ra, rb, opts)
        expect(r.keys.map((k) => k.key)).toEqual(Object.keys(rb))
        for (const k of r.keys) {
          const a = ra[k.key] as Float32Array | Float64Array
          const e = rb[k.key] as Float32Array | Float64Array
          const ref = reference(k.key, a, e)
          const { key, ...stats } = ref
          if (stats.worst === undefined) delete (stats as { worst?: unknown }).worst
          const got = { key: k.key, ...k.stats }
          if (stats.n >= WASM_MIN_LENGTH && Number.isFinite(stats.meanAbs)) {
            // the SIMD kernel adds the two sums lane by lane: the same up to summation order
            expect(got.meanAbs).toBeCloseTo(stats.meanAbs, 12)
            expect(got.meanAbsExpected).toBeCloseTo(stats.meanAbsExpected, 12)
            got.meanAbs = stats.meanAbs
            got.meanAbsExpected = stats.meanAbsExpected
          }
          expect(got).toEqual({ key, ...stats })
          // and as a lone call of the same pair
          const lone = compare(a, e, opts).keys[0] as KeyResult
          expect({ ...k, key: '' }).toEqual(lone)
        }
      }
    })
  }

  test('10,000 one-element keys: the same results as lone calls', () => {
    const rand = lcg(3)
    const ra: Record<string, Float32Array | Float64Array> = {}
    const rb: Record<string, Float32Array | Float64Array> = {}
    for (let i = 0; i < 10_000; i++) {
      const [a, e] = pair(Float32Array, 1, rand, false)
      if (i % 97 === 0) a[0] = Number.NaN
      ra[`layer${i}.w`] = a
      rb[`layer${i}.w`] = e
    }
    const r = compare(ra, rb, opts)
    expect(r.keys).toHaveLength(10_000)
    for (const k of r.keys) {
      const lone = compare(ra[k.key], rb[k.key], opts).keys[0] as KeyResult
      expect({ ...k, key: '' }).toEqual(lone)
    }
    expect(r.pass).toBe(r.keys.every((k) => k.pass))
  })
})

describe('the walk over two records', () => {
  const f32 = (...v: number[]) => Float32Array.from(v)

  test('as many keys on both sides but not the same: missing, then extra', () => {
    const r = compare({ a: f32(1), x: f32(2), b: f32(3) }, { b: f32(3), a: f32(1), y: f32(2) })
    expect(r.keys.map((k) => [k.key, k.pass, k.failures.map((f) => f.kind)])).toEqual([
      ['b', true, []],
      ['a', true, []],
      ['y', false, ['missing']],
      ['x', false, ['extra']],
    ])
  })

  test('extra keys only, nested, in Maps and objects', () => {
    const actual = new Map<string, unknown>([
      ['m', { p: f32(1), q: f32(2) }],
      ['n', f32(5)],
    ])
    const r = compare(actual, { m: new Map([['p', f32(1)]]) })
    expect(r.keys.map((k) => [k.key, k.failures.map((f) => f.kind)])).toEqual([
      ['m.p', []],
      ['m.q', ['extra']],
      ['n', ['extra']],
    ])
  })

  test('a record against an array, both ways', () => {
    const r = compare({ a: { b: f32(1) } }, { a: f32(1) })
    expect(r.keys[0]?.failures).toEqual([
      { kind: 'structure', actual: 'record', expected: 'array' },
    ])
    expect(r.keys[0]?.expected).toEqual({ shape: [1], dtype: 'float32' })
    expect(r.keys[0]?.actual).toBeUndefined()
  })
})

describe("shape: 'squeeze' without building the squeezed shapes", () => {
  const arr = (shape: number[]) => ({
    data: new Float32Array(shape.reduce((p, d) => p * d, 1)).fill(1),
    shape,
  })
  const cases: [number[], number[], boolean][] = [
    [[1, 3, 1], [3], true],
    [[], [1, 1], true],
    [[1], [], true],
    [[2, 1, 3], [2, 3], true],
    [[1, 2, 1, 3, 1], [2, 1, 1, 3], true],
    [[2, 3], [3, 2], false],
    [[6], [2, 3], false],
    [[1, 1], [1, 1, 1], true],
    [[0], [1, 0], true],
  ]
  for (const [x, y, same] of cases) {
    test(`[${x}] vs [${y}]: ${same ? 'same' : 'different'}`, () => {
      const shape = (r: ReturnType<typeof compare>) =>
        (r.keys[0] as KeyResult).failures.some((f) => f.kind === 'shape')
      const opt = { shape: 'squeeze', allowVacuous: true } as const
      expect(shape(compare(arr(x), arr(y), opt))).toBe(!same)
      expect(shape(compare(arr(y), arr(x), opt))).toBe(!same)
      // strict: only identical shapes
      const strict = x.length === y.length && x.every((d, i) => d === y[i])
      expect(shape(compare(arr(x), arr(y), { allowVacuous: true }))).toBe(!strict)
    })
  }
})

describe('the TypedArray leaf of normalize', () => {
  test('the budget is charged per leaf and names the key', () => {
    const big = { a: new Float32Array(4), b: { c: new Float32Array(4) } }
    expect(() => compare(big, big, { maxElements: 7 })).toThrow(AlignInputError)
    try {
      compare(big, big, { maxElements: 7 })
    } catch (err) {
      expect((err as AlignInputError).key).toBe('b.c')
      expect((err as AlignInputError).side).toBe('actual')
    }
    expect(() => compare(big, big, { maxKeys: 1 })).toThrow(/maxKeys = 1/)
    expect(compare(big, big, { maxElements: 8, allowVacuous: true }).pass).toBe(true)
  })

  test('every TypedArray kind keeps its dtype; a DataView is refused', () => {
    const r = compare(
      { i: Int16Array.of(1), u: Uint8ClampedArray.of(2), b: BigInt64Array.of(3n) },
      { i: Int16Array.of(1), u: Uint8Array.of(2), b: BigInt64Array.of(3n) },
    )
    expect(r.keys.map((k) => k.actual?.dtype)).toEqual(['int16', 'uint8', 'int64'])
    expect(r.pass).toBe(true)
    expect(() => compare({ d: new DataView(new ArrayBuffer(4)) }, {})).toThrow(AlignInputError)
  })
})

test('the histogram, when asked for, comes last in the statistics', () => {
  const r = compare(Float32Array.of(1, 2, 3), Float32Array.of(1, 2, 3.5), {}, { histogram: true })
  const stats = (r.keys[0] as KeyResult).stats ?? {}
  expect(Object.keys(stats).at(-1)).toBe('histogram')
  expect(Object.keys(stats)).toContain('worst')
})
