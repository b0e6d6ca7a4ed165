import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import {
  type Float32Loop,
  kernelInfo,
  type PairStatsOptions,
  pairStats,
  startKernelWorker,
  stopKernelWorker,
  THREADS_MIN_BYTES,
  WASM_MIN_LENGTH,
} from '../../src/compare/kernel/index.js'
import { PAIR_STATS_WASM_BASE64 } from '../../src/compare/kernel/pair-stats.generated.js'
import {
  type KernelStats,
  type KernelTolerance,
  type NumericArray,
  pairStatsJs,
} from '../../src/compare/stats.js'
import { mulberry32 } from '../helpers/prng.js'

/** Every field identical (Object.is, so -0 and NaN count), the two sums to 1e-12 relative. */
function expectSameStats(got: KernelStats, want: KernelStats): void {
  const { sumAbs, sumAbsExpected, ...rest } = got
  const { sumAbs: wantSum, sumAbsExpected: wantSumE, ...wantRest } = want
  for (const key of Object.keys(wantRest) as (keyof typeof wantRest)[]) {
    const g = rest[key]
    const w = wantRest[key]
    if (typeof w === 'number') {
      if (!Object.is(g, w)) expect.fail(`${key}: got ${String(g)}, want ${String(w)}`)
    } else {
      expect(g, key).toEqual(w)
    }
  }
  for (const [name, g, w] of [
    ['sumAbs', sumAbs, wantSum],
    ['sumAbsExpected', sumAbsExpected, wantSumE],
  ] as const) {
    if (Object.is(g, w)) continue
    if (!(Math.abs(g - w) <= 1e-12 * Math.max(Math.abs(g), Math.abs(w)))) {
      expect.fail(`${name}: got ${g}, want ${w}`)
    }
  }
}

const KINDS = [
  'ties', // small integers: many equal maxima, exact matches, zeros and -0
  'close', // a = e·(1 ± tiny): the allclose-passing case
  'noisy', // a = e + noise, some elements out of tolerance
  'wide', // random exponents over the whole range, subnormals included
  'identical', // a = e, with zeros
  'sparse', // mostly zeros on both sides
  'negzero', // e = -0 everywhere: the JS kernel's rel = -Infinity quirk
  'ramp', // |Δ| grows with the index: a new record at every element
  'relties', // a = e·(1 + 2^-k): relative errors equal up to rounding (near-ties of max rel)
  'excties', // |Δ| ≈ atol + rtol·|e|: excesses around 0 (near-ties of max excess, mismatches)
  'tiny', // subnormal values: products of the filter underflow
  'huge', // values near the top of the range: |a - e| may exceed FLT_MAX
] as const
type Kind = (typeof KINDS)[number]

function fill(
  kind: Kind,
  a: Float32Array | Float64Array,
  e: Float32Array | Float64Array,
  rand: () => number,
  tol: KernelTolerance,
): void {
  const n = a.length
  const f32 = a instanceof Float32Array
  const int = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1))
  // f64: up to 2^1001, so that Σ|Δ| of 100K elements stays finite (overflow has its own test)
  const maxExp = f32 ? 126 : 1000
  const minExp = f32 ? -155 : -1080
  const wide = () => (rand() < 0.5 ? -1 : 1) * (1 + rand()) * 2 ** int(minExp, maxExp)
  for (let i = 0; i < n; i++) {
    switch (kind) {
      case 'ties': {
        e[i] = int(-4, 4)
        a[i] = rand() < 0.3 ? (e[i] as number) : int(-4, 4)
        if (e[i] === 0 && rand() < 0.5) e[i] = -0
        if (a[i] === 0 && rand() < 0.5) a[i] = -0
        break
      }
      case 'close': {
        const v = (rand() - 0.5) * 10 ** int(-3, 3)
        e[i] = v
        a[i] = v * (1 + (rand() < 0.5 ? -1 : 1) * 2e-6)
        break
      }
      case 'noisy': {
        const v = (rand() - 0.5) * 200
        e[i] = v
        a[i] = v + (rand() - 0.5) * 10 ** int(-9, 0)
        break
      }
      case 'wide': {
        e[i] = rand() < 0.05 ? 0 : wide()
        a[i] = rand() < 0.2 ? (e[i] as number) : rand() < 0.05 ? 0 : wide()
        break
      }
      case 'identical': {
        const v = rand() < 0.2 ? 0 : rand() < 0.1 ? -0 : (rand() - 0.5) * 100
        e[i] = v
        a[i] = v
        break
      }
      case 'sparse': {
        e[i] = rand() < 0.8 ? 0 : (rand() - 0.5) * 2
        a[i] = rand() < 0.8 ? (e[i] as number) : rand() < 0.5 ? 0 : (rand() - 0.5) * 2
        break
      }
      case 'negzero': {
        e[i] = -0
        a[i] = rand() < 0.1 ? 0 : (rand() - 0.5) * 4
        break
      }
      case 'ramp': {
        e[i] = rand() < 0.5 ? 1 : -1
        a[i] = (e[i] as number) + i * 1e-3
        break
      }
      case 'relties': {
        const v = (rand() < 0.5 ? -1 : 1) * (1 + int(0, 2 ** 23 - 1) * 2 ** -23) * 2 ** int(-10, 10)
        e[i] = v
        a[i] = v * (1 + 2 ** -int(5, 20))
        break
      }
      case 'excties': {
        const v = (rand() - 0.5) * 10 ** int(-3, 3)
        const lim = Number.isFinite(tol.atol + tol.rtol) ? tol.atol + tol.rtol * Math.abs(v) : 0
        e[i] = v
        a[i] = v + (rand() < 0.5 ? -1 : 1) * lim * (1 + (rand() - 0.5) * 2 ** -int(10, 30))
        break
      }
      case 'tiny': {
        const ulp = f32 ? 2 ** -149 : 2 ** -1074
        e[i] = int(-100, 100) * ulp * (rand() < 0.1 ? 2 ** 20 : 1)
        a[i] = rand() < 0.3 ? (e[i] as number) : int(-100, 100) * ulp
        break
      }
      case 'huge': {
        const top = f32 ? 2 ** 127 : 2 ** 1000
        e[i] = (rand() < 0.5 ? -1 : 1) * (1 + rand()) * top * (rand() < 0.5 ? 1 : 2 ** -int(0, 30))
        a[i] = (rand() < 0.5 ? -1 : 1) * (1 + rand()) * top * (rand() < 0.5 ? 1 : 2 ** -int(0, 30))
        break
      }
    }
  }
}

interface Recipe {
  kind: Kind
  n: number
  seed: number
  f32: boolean
  loop: Float32Loop
  tol: KernelTolerance
  nonFinite: { at: number; side: 0 | 1 | 2; value: number }[]
}

function build(r: Recipe): [Float32Array | Float64Array, Float32Array | Float64Array] {
  const Ctor = r.f32 ? Float32Array : Float64Array
  const actual = new Ctor(r.n)
  const expected = new Ctor(r.n)
  fill(r.kind, actual, expected, mulberry32(r.seed), r.tol)
  for (const { at, side, value } of r.nonFinite) {
    if (r.n === 0) break
    const i = at % r.n
    if (side !== 1) actual[i] = value
    if (side !== 0) expected[i] = value
  }
  return [actual, expected]
}

const boundaries = [WASM_MIN_LENGTH, 16384, 32768, 49152, 65536, 98304]
const lengthArb = fc.oneof(
  fc.integer({ min: 0, max: 3000 }),
  fc.tuple(fc.constantFrom(...boundaries), fc.integer({ min: -9, max: 9 })).map(([b, d]) => b + d),
  fc.integer({ min: WASM_MIN_LENGTH, max: 100_000 }),
)
const tolArb: fc.Arbitrary<KernelTolerance> = fc.record({
  atol: fc.oneof(
    fc.constantFrom(0, 1e-9, 1e-5, 1e-3, 0.5, 2, 1e30, -1),
    fc.double({ min: 0, max: 10, noNaN: true }),
  ),
  rtol: fc.oneof(
    fc.constantFrom(0, -0, 1e-7, 1e-5, 1.3e-6, 1e-3, 0.1, 1, 2 ** -60),
    fc.double({ min: 0, max: 1, noNaN: true }),
    // outside what the wasm filter is proven for: must go to JS and still agree
    fc.constantFrom(1e-20, 1.5, Number.NaN),
  ),
  equalNan: fc.boolean(),
})
const nonFiniteArb: fc.Arbitrary<Recipe['nonFinite']> = fc.oneof(
  { weight: 4, arbitrary: fc.constant<Recipe['nonFinite']>([]) },
  {
    weight: 1,
    arbitrary: fc.array(
      fc.record({
        at: fc.nat(),
        side: fc.constantFrom<0 | 1 | 2>(0, 1, 2),
        value: fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY),
      }),
      { minLength: 1, maxLength: 3 },
    ),
  },
)
const recipeArb: fc.Arbitrary<Recipe> = fc.record({
  kind: fc.constantFrom(...KINDS),
  n: lengthArb,
  seed: fc.nat(),
  f32: fc.boolean(),
  loop: fc.constantFrom<Float32Loop>('auto', 'fast', 'exact'),
  tol: tolArb,
  nonFinite: nonFiniteArb,
})

const TOL: KernelTolerance = { atol: 1e-5, rtol: 1e-5, equalNan: false }

describe('pairStats equals pairStatsJs', () => {
  test('on random pairs (lengths around the chunk and threshold boundaries)', () => {
    fc.assert(
      fc.property(recipeArb, (r) => {
        const [actual, expected] = build(r)
        const s = pairStats(actual, expected, r.tol, { float32Loop: r.loop, threads: 1 })
        expectSameStats(s, pairStatsJs(actual, expected, r.tol))
      }),
      { numRuns: 100 },
    )
  })

  test.each(KINDS)('on %s data, with every loop the kernel has', (kind) => {
    const loops: [boolean, Float32Loop][] = [
      [true, 'fast'],
      [true, 'exact'],
      [true, 'auto'],
      [false, 'auto'],
    ]
    for (const [f32, float32Loop] of loops) {
      for (const n of [WASM_MIN_LENGTH, 32768 + 5, 70_001]) {
        const r: Recipe = { kind, n, seed: n, f32, loop: float32Loop, tol: TOL, nonFinite: [] }
        const [actual, expected] = build(r)
        const s = pairStats(actual, expected, TOL, { float32Loop })
        expectSameStats(s, pairStatsJs(actual, expected, TOL))
        // `auto` may hand record-heavy data over to the JS kernel (wasm-f32+js)
        expect(kernelInfo().lastPath).toMatch(f32 ? /^wasm-f32/ : /^wasm-f64/)
      }
    }
  })

  test('hands record-heavy data over to the JS kernel and merges, ties included', () => {
    // every element a new maximum up to 65535 (the wasm part), then ties with it (the JS part)
    for (const Ctor of [Float32Array, Float64Array]) {
      const n = 150_000
      const expected = new Ctor(n).fill(1)
      const actual = expected.map((_, i) => 1 + Math.min(i, 65535) * 1e-3)
      const s = pairStats(actual, expected, TOL)
      expect(kernelInfo().lastPath).toBe(Ctor === Float32Array ? 'wasm-f32+js' : 'wasm-f64+js')
      expect([s.argMaxAbs, s.argMaxRel, s.argMaxExcess]).toEqual([65535, 65535, 65535])
      expectSameStats(s, pairStatsJs(actual, expected, TOL))
    }
  })

  test('keeps the first index of tied maxima, across chunks', () => {
    const n = 3 * 32768 + 3
    const expected = new Float32Array(n).fill(1)
    const actual = expected.slice()
    for (const i of [70_000, 40_000, 32768, 5, 98_000]) actual[i] = 3 // same |Δ| everywhere
    const s = pairStats(actual, expected, TOL)
    expect(kernelInfo().lastPath).toBe('wasm-f32')
    expect([s.argMaxAbs, s.argMaxRel, s.argMaxExcess, s.mismatches]).toEqual([5, 5, 5, 5])
    expectSameStats(s, pairStatsJs(actual, expected, TOL))
  })

  test('negative zeros: |Δ| and |e| are +0, x / -0 is +Infinity, like the JS kernel', () => {
    const n = 40_000
    const actual = new Float32Array(n).fill(2)
    const expected = new Float32Array(n).fill(1)
    actual[33_000] = -0 // |-0 - 0| = +0
    expected[33_000] = 0
    expected[20_000] = -0 // |e| = +0, rel = 2 / +0 = +Infinity
    const s = pairStats(actual, expected, TOL)
    expect(kernelInfo().lastPath).toBe('wasm-f32')
    expect([s.minAbs, s.minAbsExpected, s.maxRel, s.argMaxRel]).toEqual([0, 0, Infinity, 20_000])
    expect(Object.is(s.minAbs, 0) && Object.is(s.minAbsExpected, 0)).toBe(true)
    expectSameStats(s, pairStatsJs(actual, expected, TOL))
  })

  // The f32 pre-filter must flag these although they look like non-records in f32 arithmetic.
  const exactMatches = (n: number) => [new Float32Array(n).fill(5), new Float32Array(n).fill(5)]
  const tol10 = { atol: 10, rtol: 1e-5, equalNan: false }

  test('a |Δ| that only exceeds maxAbs below f32 resolution is still a new maximum', () => {
    const [actual, expected] = exactMatches(4096) as [Float32Array, Float32Array]
    actual[0] = 0.5 // |Δ| = 1, rel = 2, excess ≈ 1
    expected[0] = -0.5
    actual[1000] = -(2 ** -30) // |Δ| = 1 + 2^-30, whose f32 rounding equals the maximum so far
    expected[1000] = 1
    const s = pairStats(actual, expected, tol10)
    expect(kernelInfo().lastPath).toBe('wasm-f32')
    expect([s.maxAbs, s.argMaxAbs]).toEqual([1 + 2 ** -30, 1000])
    expectSameStats(s, pairStatsJs(actual, expected, tol10))
  })

  test('a max-rel record between subnormals (an underflowing f32 product) is found', () => {
    const [actual, expected] = exactMatches(4096) as [Float32Array, Float32Array]
    actual[0] = 1.9 // rel ≈ 0.9
    expected[0] = 1
    actual[1000] = 2 * 2 ** -149 // |Δ| = 2^-149 = |e|: rel = 1
    expected[1000] = 2 ** -149
    const s = pairStats(actual, expected, tol10)
    expect(kernelInfo().lastPath).toBe('wasm-f32')
    expect([s.maxRel, s.argMaxRel]).toEqual([1, 1000])
    expectSameStats(s, pairStatsJs(actual, expected, tol10))
  })

  test('non-finite values anywhere poison the sum and fall back to the JS kernel', () => {
    for (const value of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
      for (const at of [0, 8, 32767, 99_999]) {
        for (const side of ['actual', 'expected', 'both'] as const) {
          const actual = new Float32Array(100_000).fill(1)
          const expected = new Float32Array(100_000).fill(1)
          // a pmax/pmin would hide a NaN here: it sits where |Δ| is not the maximum
          actual[50_000] = 5
          if (side !== 'expected') actual[at] = value
          if (side !== 'actual') expected[at] = value
          for (const equalNan of [false, true]) {
            const tol = { ...TOL, equalNan }
            expectSameStats(pairStats(actual, expected, tol), pairStatsJs(actual, expected, tol))
            expect(kernelInfo().lastPath).toBe('js-nonfinite')
          }
        }
      }
    }
  })

  test('a float64 difference that overflows also falls back', () => {
    const actual = new Float64Array(5000).fill(1e308)
    const expected = new Float64Array(5000).fill(1)
    expected[4000] = -1e308
    expectSameStats(pairStats(actual, expected, TOL), pairStatsJs(actual, expected, TOL))
    expect(kernelInfo().lastPath).toBe('js-nonfinite')
  })

  test('mixed, integer and short pairs use the JS kernel', () => {
    const f32 = new Float32Array(5000).fill(1)
    const cases: [NumericArray, NumericArray][] = [
      [f32, new Float64Array(5000)],
      [new Int32Array(5000), new Int32Array(5000)],
      [f32.subarray(0, WASM_MIN_LENGTH - 1), f32.subarray(1, WASM_MIN_LENGTH)],
    ]
    for (const [a, e] of cases) {
      expectSameStats(pairStats(a, e, TOL), pairStatsJs(a, e, TOL))
      expect(kernelInfo().lastPath).toBe('js')
    }
  })

  test('rejects pairs of different lengths like the JS kernel', () => {
    expect(() => pairStats(new Float32Array(5000), new Float32Array(4999), TOL)).toThrow(RangeError)
  })
})

describe('the wasm kernel', () => {
  test('runs here (SIMD available) for Float32Array pairs over the threshold', () => {
    const a = new Float32Array(WASM_MIN_LENGTH).fill(1)
    pairStats(a, a.slice(), TOL)
    expect(kernelInfo()).toMatchObject({ simd: true, lastPath: 'wasm-f32', threads: 1 })
  })

  test('committed bytes are the compiled pair-stats.wat (run `node scripts/build-wasm.mjs`)', async () => {
    // A non-literal specifier: the build script is plain JS outside the TS project.
    const script = new URL('../../scripts/build-wasm.mjs', import.meta.url).href
    const { compileKernel } = (await import(script)) as {
      compileKernel: () => Promise<Uint8Array>
    }
    const bytes = await compileKernel()
    expect(Buffer.from(bytes).toString('base64')).toBe(PAIR_STATS_WASM_BASE64)
  })
})

describe('two threads', () => {
  /** Float32 elements per chunk (128 KiB); chunk c covers [c·CH, (c + 1)·CH). */
  const CH = 32768
  /**
   * 20 chunks and a partial one. Below THREADS_MIN_BYTES the default is one thread, but the
   * `threads: 2` option uses the worker whatever the length: smaller pairs keep the file fast.
   */
  const N = 20 * CH + 12_345
  /** Even chunks on the main thread, odd chunks on the worker (and the reverse). */
  const alternate = (c: number) => (c % 2 === 1 ? 'worker' : 'main')
  const reverse = (c: number) => (c % 2 === 0 ? 'worker' : 'main')

  beforeAll(async () => {
    expect(await startKernelWorker()).toBe(true)
  })

  /**
   * pairStats on two threads, checked against the JS kernel. With the default split the main
   * thread may run every chunk before the worker has woken up (and then reports one thread).
   */
  function threaded(
    actual: Float32Array | Float64Array,
    expected: Float32Array | Float64Array,
    tol: KernelTolerance,
    options: PairStatsOptions = {},
    want = pairStatsJs(actual, expected, tol),
  ): KernelStats {
    const s = pairStats(actual, expected, tol, { threads: 2, ...options })
    expect(kernelInfo().worker).toBe('ready')
    // Whether the worker woke up in time is the scheduler's call: under a loaded machine (the
    // whole suite on 2 cores) the main thread may take every chunk back. Results must be exact
    // either way; that the worker takes part is asserted over many calls (threadsSeen).
    if (options.split !== undefined) threadsSeen.push(kernelInfo().threads)
    expectSameStats(s, want)
    return s
  }

  const ones = (n = N) => [new Float32Array(n).fill(1), new Float32Array(n).fill(1)] as const

  /** The thread count of every call with a forced split. */
  const threadsSeen: number[] = []
  afterAll(() => {
    // the worker took part in the forced-split calls (not necessarily in every one, see threaded)
    expect(threadsSeen.length).toBeGreaterThan(20)
    expect(threadsSeen).toContain(2)
  })

  test('runs from THREADS_MIN_BYTES on by default, with the worker taking its share', () => {
    for (const Ctor of [Float32Array, Float64Array]) {
      const n = THREADS_MIN_BYTES / Ctor.BYTES_PER_ELEMENT
      const expected = new Ctor(n)
      for (let i = 0; i < n; i++) expected[i] = (i % 1000) - 500
      // dyadic differences: the sums are exact in any order (over millions of elements a
      // sequential float64 sum may drift from the others by more than the 1e-12 allowed)
      const actual = expected.map((v, i) => v + ((i % 7) - 3) * 2 ** -10)
      const want = pairStatsJs(actual, expected, TOL)
      // Two threads, unless the other core was found busy (backedOff, see noteThreadsGain) or,
      // rarely, the main thread did everything before the worker woke up: then try again.
      for (let i = 0; i < 3; i++) {
        expectSameStats(pairStats(actual, expected, TOL), want)
        if (kernelInfo().threads === 2 || kernelInfo().backedOff) break
      }
      expect(kernelInfo().threads === 2 || kernelInfo().backedOff).toBe(true)
      threaded(actual, expected, TOL, { split: alternate }, want)
      expect(kernelInfo().lastPath).toBe(Ctor === Float32Array ? 'wasm-f32' : 'wasm-f64')
      // 128 (float32) or 256 (float64) chunks, every other one on the worker
      expect(kernelInfo().workerShare).toBe(0.5)
      // one element less: one thread
      const m = n - 1
      expectSameStats(
        pairStats(actual.subarray(0, m), expected.subarray(0, m), TOL),
        pairStatsJs(actual.subarray(0, m), expected.subarray(0, m), TOL),
      )
      expect(kernelInfo().threads).toBe(1)
    }
  })

  test('a tie across a boundary between a main-thread and a worker chunk keeps the first', () => {
    for (const [split, at] of [
      [alternate, [CH - 1, CH]], // main, then worker
      [alternate, [2 * CH - 1, 2 * CH]], // worker, then main
      [reverse, [CH - 1, CH]], // worker, then main
      [alternate, [5 * CH + 9, 2 * CH + 9, 9 * CH]], // main first, later ties on both
      [alternate, [7 * CH + 1, 3 * CH + 100, 20 * CH]], // worker first, later ties on both
    ] as const) {
      const [actual, expected] = ones()
      for (const i of at) actual[i] = 4 // |Δ| = 3, rel = 3, excess ≈ 3: three tied maxima
      const s = threaded(actual, expected, TOL, { split })
      const first = Math.min(...at)
      expect([s.argMaxAbs, s.argMaxRel, s.argMaxExcess, s.mismatches]).toEqual([
        first,
        first,
        first,
        at.length,
      ])
    }
  })

  test('first-index ties when both threads hold the same maximum in every chunk', () => {
    for (const split of [alternate, reverse, undefined]) {
      const [actual, expected] = ones()
      for (let c = 0; c * CH < N; c++) actual[c * CH + 7] = 0.5 // the same |Δ| in every chunk
      const s = threaded(actual, expected, TOL, split ? { split } : {})
      expect([s.argMaxAbs, s.argMaxRel, s.argMaxExcess]).toEqual([7, 7, 7])
    }
  })

  test('maxima of different statistics held by different threads', () => {
    const [actual, expected] = ones()
    for (let i = 0; i < N; i++) expected[i] = 1 + (i % 1000) / 1000
    actual.set(expected)
    actual[3 * CH + 5] = 0 // worker: |Δ| = 1.005, rel = 1 (the max rel: a = 0)
    expected[4 * CH + 6] = 100 // main: |Δ| = 100 - 1.006 ≈ 99, rel ≈ 0.99 (the max |Δ|)
    actual[4 * CH + 6] = 1.006
    expected[9 * CH + 8] = 1e-3 // worker: |e| tiny, rel = 1000 (the max rel)
    actual[9 * CH + 8] = 1.001
    const s = threaded(actual, expected, TOL, { split: alternate })
    expect([s.argMaxAbs, s.argMaxRel, s.argMaxExcess]).toEqual([4 * CH + 6, 9 * CH + 8, 4 * CH + 6])
    expect(s.minAbsExpected).toBe(Math.fround(1e-3))
  })

  test('mismatches only in worker chunks, or only in main-thread chunks', () => {
    for (const [split, parity] of [
      [alternate, 1],
      [alternate, 0],
      [reverse, 1],
    ] as const) {
      const [actual, expected] = ones()
      let count = 0
      for (let c = parity; c * CH < N; c += 2) {
        for (let i = c * CH, j = 0; j < 50 && i < N; i += 600, j++) {
          actual[i] = 1 + 1e-3 * (1 + (j % 7))
          count++
        }
      }
      const s = threaded(actual, expected, TOL, { split })
      expect(s.mismatches).toBe(count)
      expect(s.argMaxExcess).toBe(parity * CH + 6 * 600) // the first j with j % 7 = 6
    }
  })

  test.each(KINDS)('equals the JS kernel on %s data (float32 and float64)', (kind) => {
    for (const f32 of [true, false]) {
      // float64 chunks have 16384 elements
      const n = f32 ? N : 20 * 16384 + 777
      const r: Recipe = { kind, n, seed: 7, f32, loop: 'auto', tol: TOL, nonFinite: [] }
      const [actual, expected] = build(r)
      const want = pairStatsJs(actual, expected, TOL)
      for (const split of [undefined, alternate, reverse]) {
        threaded(actual, expected, TOL, split ? { split } : {}, want)
        expect(kernelInfo().lastPath).toMatch(f32 ? /^wasm-f32/ : /^wasm-f64/)
      }
    }
  })

  test('record-heavy data is handed over to the JS kernel from either thread', () => {
    for (const split of [alternate, reverse, undefined]) {
      const [actual, expected] = ones()
      for (let i = 0; i < N; i++) actual[i] = 1 + Math.min(i, 300_000) * 1e-3
      const s = threaded(actual, expected, TOL, split ? { split } : {})
      expect(kernelInfo().lastPath).toBe('wasm-f32+js')
      expect(s.argMaxAbs).toBe(300_000)
    }
  })

  test('a non-finite value in a worker or a main-thread chunk falls back to the JS kernel', () => {
    for (const at of [CH + 3, 2 * CH + 3, N - 1]) {
      for (const split of [alternate, undefined]) {
        const [actual, expected] = ones()
        actual[N - 100] = 3
        expected[at] = Number.NaN
        const s = pairStats(actual, expected, TOL, { threads: 2, ...(split ? { split } : {}) })
        expectSameStats(s, pairStatsJs(actual, expected, TOL))
        // the statistics come from the JS kernel: one thread
        expect(kernelInfo()).toMatchObject({ lastPath: 'js-nonfinite', threads: 1 })
      }
    }
  })

  test('VITEST_ALIGN_THREADS=1 keeps large pairs on the main thread, without a worker', async () => {
    await stopKernelWorker()
    const n = THREADS_MIN_BYTES / 4
    const [actual, expected] = ones(n)
    actual[n - 5] = 2
    const want = pairStatsJs(actual, expected, TOL)
    const before = process.env.VITEST_ALIGN_THREADS
    try {
      for (const value of ['1', '0', 'off', 'false']) {
        process.env.VITEST_ALIGN_THREADS = value
        expectSameStats(pairStats(actual, expected, TOL), want)
        expect(kernelInfo()).toMatchObject({ threads: 1, lastPath: 'wasm-f32', worker: 'none' })
      }
      expect(await startKernelWorker()).toBe(false)
    } finally {
      if (before === undefined) delete process.env.VITEST_ALIGN_THREADS
      else process.env.VITEST_ALIGN_THREADS = before
    }
    expect(await startKernelWorker()).toBe(true)
    threaded(actual, expected, TOL, { split: alternate }, want)
  })

  test('does not wait for a worker that is still starting, and restarts it', async () => {
    await stopKernelWorker()
    expect(kernelInfo().worker).toBe('none')
    const [actual, expected] = ones()
    actual[N - 1] = 3
    // starts a new worker, but runs on the main thread until it is ready
    const s = pairStats(actual, expected, TOL, { threads: 2 })
    expectSameStats(s, pairStatsJs(actual, expected, TOL))
    expect(['starting', 'ready']).toContain(kernelInfo().worker)
    expect(await startKernelWorker()).toBe(true)
    threaded(actual, expected, TOL)
  })
})
