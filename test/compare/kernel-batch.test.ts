import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { compare } from '../../src/compare/compare.js'
import {
  kernelInfo,
  type PairInput,
  type PairStatsManyOptions,
  pairStatsMany,
  pieceLength,
  startKernelWorker,
} from '../../src/compare/kernel/index.js'
import {
  type KernelStats,
  type KernelTolerance,
  type NumericArray,
  pairStatsJs,
} from '../../src/compare/stats.js'
import { mulberry32 } from '../helpers/prng.js'

/** Every field identical (Object.is), the two sums to 1e-12 relative (summation order). */
function expectSameStats(got: KernelStats, want: KernelStats, what = ''): void {
  for (const key of Object.keys(want) as (keyof KernelStats)[]) {
    const g = got[key]
    const w = want[key]
    if (typeof w !== 'number') {
      expect(g, `${what} ${key}`).toEqual(w)
    } else if (key === 'sumAbs' || key === 'sumAbsExpected') {
      const gv = g as number
      if (!Object.is(gv, w) && !(Math.abs(gv - w) <= 1e-12 * Math.max(Math.abs(gv), Math.abs(w))))
        expect.fail(`${what} ${key}: got ${gv}, want ${w}`)
    } else if (!Object.is(g, w)) {
      expect.fail(`${what} ${key}: got ${String(g)}, want ${String(w)}`)
    }
  }
}

const KINDS = ['close', 'noisy', 'ties', 'ramp', 'identical'] as const
type Kind = (typeof KINDS)[number]

function makePair(
  kind: Kind,
  n: number,
  f32: boolean,
  seed: number,
  nonFinite: number[],
): [Float32Array | Float64Array, Float32Array | Float64Array] {
  const Ctor = f32 ? Float32Array : Float64Array
  const a = new Ctor(n)
  const e = new Ctor(n)
  const rand = mulberry32(seed)
  for (let i = 0; i < n; i++) {
    const v = (rand() - 0.5) * 200
    e[i] = kind === 'ties' ? Math.floor(rand() * 9) - 4 : v
    const x = e[i] as number
    if (kind === 'close') a[i] = x * (1 + (rand() < 0.5 ? -2e-6 : 2e-6))
    else if (kind === 'noisy') a[i] = x + (rand() - 0.5) * 10 ** -Math.floor(rand() * 9)
    else if (kind === 'ties') a[i] = rand() < 0.3 ? x : Math.floor(rand() * 9) - 4
    else if (kind === 'ramp') a[i] = x + i * 1e-3
    else a[i] = x
  }
  const values = [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]
  for (const at of nonFinite) if (n > 0) a[at % n] = values[at % 3] as number
  return [a, e]
}

const TOL: KernelTolerance = { atol: 1e-5, rtol: 1e-5, equalNan: false }
/** Float32 elements per chunk: the piece length of pairs up to one chunk. */
const CH = 32768
const alternate = (p: number) => (p % 2 === 1 ? 'worker' : 'main')
const reverse = (p: number) => (p % 2 === 0 ? 'worker' : 'main')

describe('pairStatsMany (a batch of pairs on two threads)', () => {
  beforeAll(async () => {
    expect(await startKernelWorker()).toBe(true)
  })

  /** The thread count of every batch with a forced split. */
  const threadsSeen: number[] = []
  afterAll(() => {
    expect(threadsSeen.length).toBeGreaterThan(10)
    expect(threadsSeen).toContain(2)
  })

  function many(pairs: PairInput[], options: PairStatsManyOptions): KernelStats[] {
    const got = pairStatsMany(pairs, { threads: 2, ...options })
    if (options.split !== undefined) threadsSeen.push(kernelInfo().threads)
    expect(got.length).toBe(pairs.length)
    pairs.forEach((p, i) => {
      expectSameStats(got[i] as KernelStats, pairStatsJs(p.actual, p.expected, p.tol), `pair ${i}`)
    })
    return got
  }

  test('equals the JS kernel on random batches (lengths across piece boundaries, NaN, Inf)', () => {
    const pairArb = fc.record({
      kind: fc.constantFrom(...KINDS),
      n: fc.oneof(
        fc.integer({ min: 0, max: 3000 }),
        fc
          .tuple(fc.constantFrom(16384, 32768, 65536, 98304), fc.integer({ min: -3, max: 3 }))
          .map(([b, d]) => b + d),
        fc.integer({ min: 2048, max: 120_000 }),
      ),
      f32: fc.boolean(),
      seed: fc.nat(),
      nonFinite: fc.oneof(
        { weight: 4, arbitrary: fc.constant<number[]>([]) },
        { weight: 1, arbitrary: fc.array(fc.nat(), { minLength: 1, maxLength: 2 }) },
      ),
      atol: fc.constantFrom(0, 1e-5, 1e-3, 2),
      rtol: fc.constantFrom(0, 1e-5, 1e-3, 1.5),
      int: fc.boolean(),
    })
    fc.assert(
      fc.property(
        fc.array(pairArb, { minLength: 1, maxLength: 5 }),
        fc.constantFrom(undefined, alternate, reverse),
        (recipes, split) => {
          const pairs = recipes.map((r): PairInput => {
            const [a, e] = makePair(r.kind, r.n, r.f32, r.seed, r.nonFinite)
            // now and then an integer side: not for the wasm kernel, must still come out right
            const actual: NumericArray = r.int && r.n % 3 === 0 ? Int32Array.from(a) : a
            return { actual, expected: e, tol: { atol: r.atol, rtol: r.rtol, equalNan: false } }
          })
          many(pairs, split ? { split } : {})
        },
      ),
      { numRuns: 40 },
    )
  })

  test('a tie across a piece boundary, on either thread, keeps the first index', () => {
    const n = 3 * CH + 100
    const P = pieceLength(n, 4) // 12304: 8 pieces
    expect(P).toBeLessThan(CH)
    for (const split of [alternate, reverse, undefined]) {
      for (const at of [
        [P - 1, P],
        [2 * P - 1, 2 * P, 10],
        [P + 5, 2 * P + 5],
        [n - 1, 7 * P],
      ]) {
        const a = new Float32Array(n).fill(1)
        const e = new Float32Array(n).fill(1)
        for (const i of at) a[i] = 4
        const [s] = many(
          [
            { actual: a, expected: e, tol: TOL },
            // a pair of one piece after it: the piece numbers of the split go on
            {
              actual: new Float32Array(CH).fill(2),
              expected: new Float32Array(CH).fill(2),
              tol: TOL,
            },
          ],
          split ? { split } : {},
        )
        const first = Math.min(...at)
        expect([s?.argMaxAbs, s?.argMaxRel, s?.argMaxExcess, s?.mismatches]).toEqual([
          first,
          first,
          first,
          at.length,
        ])
      }
    }
  })

  test('mismatches and maxima held by worker pieces only, float32 and float64', () => {
    for (const f32 of [true, false]) {
      const Ctor = f32 ? Float32Array : Float64Array
      const piece = f32 ? CH : CH / 2
      const pairs: PairInput[] = []
      for (let j = 0; j < 6; j++) {
        const n = 2 * piece + 7 * j
        const a = new Ctor(n).fill(1)
        // mismatches (and every maximum) from the second piece on: pieces of 2 or 3 per pair
        for (let i = piece; i < n; i += 997) a[i] = 1 + 1e-3 * (1 + (i % 5))
        pairs.push({ actual: a, expected: new Ctor(n).fill(1), tol: TOL })
      }
      for (const split of [alternate, reverse]) many(pairs, { split })
    }
  })

  test('a non-finite value sends its own pair to the JS kernel, not the others', () => {
    for (const split of [alternate, reverse, undefined]) {
      const pairs: PairInput[] = []
      for (let j = 0; j < 5; j++) {
        const [a, e] = makePair('noisy', CH + 10 * j, true, j, j === 2 ? [CH + 3] : [])
        pairs.push({ actual: a, expected: e, tol: TOL })
      }
      const got = many(pairs, split ? { split } : {})
      // (CH + 3) % 3 = 2: -Infinity, counted by the JS kernel's census; the others have none
      expect(got.map((s) => s.actual.negInf)).toEqual([0, 0, 1, 0, 0])
    }
  })

  test('many small pairs without a forced split', () => {
    const pairs: PairInput[] = []
    for (let j = 0; j < 60; j++) {
      const [a, e] = makePair(KINDS[j % KINDS.length] as Kind, 2048 + 37 * j, j % 4 !== 0, j, [])
      pairs.push({ actual: a, expected: e, tol: TOL })
    }
    for (let r = 0; r < 5; r++) many(pairs, {})
  })

  test('compare() on a record gives what it gives on one thread', () => {
    const ra: Record<string, Float32Array> = {}
    const rb: Record<string, Float32Array> = {}
    for (let j = 0; j < 40; j++) {
      const [a, e] = makePair(j % 3 === 0 ? 'noisy' : 'close', 10_000 + j, true, j, [])
      ra[`layer${j}.weight`] = a as Float32Array
      rb[`layer${j}.weight`] = e as Float32Array
    }
    const before = process.env.VITEST_ALIGN_THREADS
    let one: ReturnType<typeof compare>
    try {
      process.env.VITEST_ALIGN_THREADS = '1'
      one = compare(ra, rb, { atol: 1e-5, rtol: 1e-5 })
      expect(kernelInfo().threads).toBe(1)
    } finally {
      if (before === undefined) delete process.env.VITEST_ALIGN_THREADS
      else process.env.VITEST_ALIGN_THREADS = before
    }
    // single-piece pairs: identical to the bit, whichever thread ran them
    for (let r = 0; r < 5; r++) expect(compare(ra, rb, { atol: 1e-5, rtol: 1e-5 })).toEqual(one)
  })
})
