import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import * as fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { type DType, decodeFloat16, float32ToHalf, type NdArray } from '../../src/compare/dtype.js'
import {
  absDiffStats,
  broadcastShape,
  fortranDims,
  halfToNumber,
  numpyMean,
  numpySum,
  pairsLikeNumpy,
  pairwiseSum,
  promoteTypes,
} from '../../src/io/numpy-sum.js'
import { readReprodLog } from '../../src/io/reprod-log.js'
import { hasNumpy, runPython } from '../helpers/python.js'

const DIR = fileURLToPath(new URL('../fixtures/reprod_log/paddle-mobilenetv3', import.meta.url))
const nd = (data: NdArray['data'], dtype: DType, shape = [data.length]): NdArray =>
  ({ data, shape, dtype }) as NdArray

describe('pairwise summation', () => {
  test('below 8 elements: one by one, in the accumulator precision', () => {
    const v = Float32Array.of(1, 2 ** -24, 2 ** -24)
    // float32: 1 + 2^-24 rounds back to 1, twice
    expect(pairwiseSum(v, 'float32')).toBe(1)
    expect(pairwiseSum(v, 'float64')).toBe(1 + 2 ** -23)
  })

  test('8 to 128 elements: eight accumulators, combined pairwise, then the rest', () => {
    // 9 elements: r0..r7 = v[0..7], ((r0+r1)+(r2+r3))+((r4+r5)+(r6+r7)), then + v[8]
    const v = new Float32Array(9).fill(2 ** -24)
    v[0] = 1
    // 1 + 2^-24 = 1 in float32, but (2^-24 * 2) pairs survive: 1 + 3*2^-23 rounds to 1 + 2^-22
    const r = Math.fround
    const expected = r(
      r(r(r(1 + 2 ** -24) + r(2 ** -24 + 2 ** -24)) + r(r(2 ** -23) + r(2 ** -23))) + 2 ** -24,
    )
    expect(pairwiseSum(v, 'float32')).toBe(expected)
    expect(pairwiseSum(v, 'float32')).not.toBe(v.reduce((a, b) => r(a + b), 0))
  })

  test('above 128: halves of a multiple of 8, recursively; numpy adds 8192-element chunks', () => {
    fc.assert(
      fc.property(fc.integer({ min: 129, max: 20_000 }), fc.nat(), (n, seed) => {
        const v = Float64Array.from({ length: n }, (_, i) => Math.sin(i * 12.9898 + seed) * 1e3)
        // an independent statement of the recursion
        const pw = (s: number, m: number): number => {
          if (m <= 128) return pairwiseSum(v.subarray(s, s + m), 'float64')
          const h = Math.floor(m / 2) - (Math.floor(m / 2) % 8)
          return pw(s, h) + pw(s + h, m - h)
        }
        let total = 0
        for (let s = 0; s < n; s += 8192) total += pw(s, Math.min(8192, n - s))
        expect(numpySum(v, 'float64')).toBe(total)
      }),
      { numRuns: 50 },
    )
  })

  test('the mean divides in the dtype: float32 sum / float32(n), float16 rounded at the end', () => {
    const v = Float32Array.of(0.1, 0.2, 0.3)
    const f = Math.fround
    expect(numpyMean(v, 'float32')).toBe(f(f(f(f(0 + f(0.1)) + f(0.2)) + f(0.3)) / 3))
    expect(numpyMean(new Float64Array(0), 'float64')).toBeNaN()
  })
})

describe('float16', () => {
  test('every half round-trips; every midpoint between neighbours rounds to even', () => {
    const wrong: number[] = []
    for (let bits = 0; bits < 0x7c00; bits++) {
      const x = halfToNumber(bits)
      if (float32ToHalf(x) !== bits || float32ToHalf(-x) !== (bits | 0x8000)) wrong.push(bits)
      if (bits < 0x7bff) {
        const mid = (x + halfToNumber(bits + 1)) / 2 // exact in float32
        if (float32ToHalf(mid) !== (bits % 2 === 0 ? bits : bits + 1)) wrong.push(bits)
      }
    }
    expect(wrong).toEqual([])
    expect(float32ToHalf(65504)).toBe(0x7bff)
    expect(float32ToHalf(65519)).toBe(0x7bff)
    expect(float32ToHalf(65520)).toBe(0x7c00) // the midpoint to the next would-be value: Inf
    expect(float32ToHalf(Infinity)).toBe(0x7c00)
    expect(float32ToHalf(2 ** -25)).toBe(0) // a tie between 0 and the smallest subnormal
    expect(float32ToHalf(Math.fround(2 ** -25 * 1.0001))).toBe(1)
    expect(Number.isNaN(halfToNumber(float32ToHalf(Number.NaN)))).toBe(true)
    expect(halfToNumber(0x3c00)).toBe(1)
    expect(decodeFloat16(Uint16Array.of(0x8000))[0]).toBe(-0)
  })
})

describe('dtype promotion', () => {
  test('numpy promote_types over the project dtypes', () => {
    expect(promoteTypes('float32', 'float64')).toBe('float64')
    expect(promoteTypes('int8', 'uint8')).toBe('int16')
    expect(promoteTypes('int16', 'float16')).toBe('float32')
    expect(promoteTypes('int64', 'uint64')).toBe('float64')
    expect(promoteTypes('bool', 'uint8')).toBe('uint8')
  })
})

describe('the MobileNetV3 logits pair', () => {
  test('mean |Δ| is 2.308018565599923e-06 in float32 (numpy), not the float64 mean', () => {
    const ref = readReprodLog(`${DIR}/forward_ref.npy`).logits as NdArray
    const pad = readReprodLog(`${DIR}/forward_paddle.npy`).logits as NdArray
    const s = absDiffStats(ref, pad)
    expect(s.dtype).toBe('float32')
    expect(s.mean).toBe(2.308018565599923e-6)
    expect(s.max).toBe(8.821487426757812e-6)
    const diff = Float64Array.from(ref.data as Float32Array, (x, i) =>
      Math.abs(Math.fround(x - ((pad.data as Float32Array)[i] as number))),
    )
    expect(numpyMean(diff, 'float64')).toBe(2.3080185055732726e-6)
  })
})

/** One Python run: random pools, then numpy's statistics for many slices of them. */
const SCRIPT = `
import json, struct
rng = np.random.default_rng(2024)
POOL = 12000
def floats(dtype):
    mag = np.exp(rng.normal(0, 2, POOL))
    a = rng.normal(0, 1, POOL) * mag
    b = a * (1 + rng.normal(0, 1e-6, POOL)) + rng.normal(0, 1e-7, POOL) * mag
    if dtype == 'float16':
        a, b = np.clip(a, -6e4, 6e4), np.clip(b, -6e4, 6e4)
    return a.astype(dtype), b.astype(dtype)
def ints(dtype):
    info = np.iinfo(dtype)
    lo, hi = max(info.min, -2**62), min(info.max, 2**62)
    a = rng.integers(lo, hi, POOL, dtype=dtype, endpoint=True)
    b = rng.integers(lo, hi, POOL, dtype=dtype, endpoint=True)
    return a, b
def dbl(x):
    return struct.pack('>d', float(x)).hex()
def stat(x):
    return str(int(x)) if np.issubdtype(x.dtype, np.integer) else dbl(x)
pools = {}
for dt in ['float32', 'float64', 'float16']:
    pools[dt] = floats(dt)
for dt in ['uint8', 'int16', 'uint32', 'int64', 'uint64']:
    pools[dt] = ints(dt)
for dt, (a, b) in pools.items():
    a.tofile(dt + '_a.bin'); b.tofile(dt + '_b.bin')
def lengths(dt):
    if dt == 'float32':
        return list(range(1, 5001)) + [8191, 8192, 8193, 10000, 11999]
    return list(range(1, 301)) + [1000, 8191, 8192, 8193, 11999]
out = {}
for dt, (a, b) in pools.items():
    rows = []
    for L in lengths(dt):
        off = (L * 7919) % (POOL - L)
        d = np.abs(a[off:off + L] - b[off:off + L])
        rows.append([L, off, d.dtype.name, dbl(d.mean()), stat(d.max()), stat(d.min())])
    out[dt] = rows
# mixed dtypes and numpy 1.x value-based casting of 0-d operands
mixed = []
pairs = [('float32', 'float64', 50, 50), ('float32', 'float64', 50, 0), ('float64', 'float32', 0, 50),
         ('float16', 'float32', 40, 40), ('int16', 'float16', 30, 30), ('uint8', 'int16', 30, 30),
         ('uint8', 'int64', 30, 0), ('int64', 'uint64', 20, 20), ('uint32', 'float32', 20, 20),
         ('uint8', 'float16', 20, 0), ('float16', 'int64', 20, 0), ('int16', 'uint8', 0, 20),
         ('uint32', 'int16', 10, 10), ('float32', 'uint64', 0, 10)]
for i, (da, db, la, lb) in enumerate(pairs):
    a = pools[da][0][:max(la, 1)]
    b = pools[db][1][100:100 + max(lb, 1)]
    if la == 0: a = a[0].reshape(())
    if lb == 0: b = b[0].reshape(())
    if la and lb and la != lb: raise ValueError
    d = np.abs(a - b)
    mixed.append([da, db, la, lb, d.dtype.name, dbl(d.mean()), stat(d.max()), stat(d.min())])
out['mixed'] = mixed
print(json.dumps(out))
`

interface Row {
  L: number
  off: number
  dtype: string
  mean: string
  max: string
  min: string
}

const STORAGE_OF: Record<string, new (b: ArrayBuffer) => NdArray['data']> = {
  float32: Float32Array,
  float64: Float64Array,
  float16: Uint16Array,
  uint8: Uint8Array,
  int16: Int16Array,
  uint32: Uint32Array,
  int64: BigInt64Array,
  uint64: BigUint64Array,
}

const dbl = (x: number): string => {
  const b = Buffer.alloc(8)
  b.writeDoubleBE(x)
  return b.toString('hex')
}
describe.skipIf(!hasNumpy)('bit for bit against numpy', () => {
  let dir = ''
  let expected: Record<string, unknown[][]> = {}
  const pools: Record<string, [NdArray['data'], NdArray['data']]> = {}

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'numpy-sum-'))
    expected = JSON.parse(runPython(SCRIPT, dir))
    for (const [dt, Ctor] of Object.entries(STORAGE_OF)) {
      const load = (side: string) => {
        const b = readFileSync(join(dir, `${dt}_${side}.bin`))
        return new Ctor(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength))
      }
      pools[dt] = [load('a'), load('b')]
    }
  })
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  const check = (s: ReturnType<typeof absDiffStats>, row: Row, label: string) => {
    expect(s.dtype, label).toBe(row.dtype)
    expect(dbl(s.mean), `${label} mean`).toBe(row.mean)
    const asText = (x: number | bigint | undefined) =>
      row.dtype.startsWith('float') ? dbl(x as number) : String(x)
    expect(asText(s.max), `${label} max`).toBe(row.max)
    expect(asText(s.min), `${label} min`).toBe(row.min)
  }

  test.each([
    ['float32', 'lengths 1 to 5000 and past the 8192 buffer'],
    ['float64', 'lengths 1 to 300 and past the buffer'],
    ['float16', 'summed in float32, rounded to float16'],
    ['uint8', 'wrapping around, mean in float64'],
    ['int16', ''],
    ['uint32', ''],
    ['int64', 'exact max/min as bigints'],
    ['uint64', ''],
  ])('%s: %s', (dt) => {
    const [A, B] = pools[dt] as [NdArray['data'], NdArray['data']]
    const rows = expected[dt] as [number, number, string, string, string, string][]
    for (const [L, off, dtype, mean, max, min] of rows) {
      const s = absDiffStats(
        nd(A.subarray(off, off + L) as NdArray['data'], dt as DType),
        nd(B.subarray(off, off + L) as NdArray['data'], dt as DType),
      )
      check(s, { L, off, dtype, mean, max, min }, `${dt} length ${L}`)
    }
  })

  test('mixed dtypes, with numpy 1.x value-based casting of a 0-d operand', () => {
    for (const [da, db, la, lb, dtype, mean, max, min] of expected.mixed as [
      DType,
      DType,
      number,
      number,
      string,
      string,
      string,
      string,
    ][]) {
      const side = (dt: DType, n: number, pool: 0 | 1, start: number): NdArray => {
        const src = (pools[dt] as [NdArray['data'], NdArray['data']])[pool]
        const data = src.slice(start, start + Math.max(n, 1)) as NdArray['data']
        return nd(data, dt, n === 0 ? [] : [n])
      }
      const a = side(da, la, 0, 0)
      const b = side(db, lb, 1, 100)
      const n = Math.max(la, lb, 1)
      // numpy broadcasts a 0-d side: repeat its value, keeping it 0-d for the dtype rule
      const fill = (x: NdArray): NdArray => {
        if (x.shape.length > 0 || n === 1) return x
        const Ctor = x.data.constructor as new (k: number) => NdArray['data']
        const data = new Ctor(n)
        data.fill(x.data[0] as never)
        return { data, shape: [], dtype: x.dtype } as NdArray
      }
      check(
        absDiffStats(fill(a), fill(b)),
        { L: n, off: 0, dtype, mean, max, min },
        `${da} ${la} - ${db} ${lb}`,
      )
    }
  })
})

describe('memory order and broadcasting', () => {
  const arr = (shape: number[], order?: 'C' | 'F'): NdArray => ({
    data: new Float32Array(shape.reduce((p, d) => p * d, 1)),
    shape,
    dtype: 'float32',
    ...(order && { order }),
  })

  test('a - b is Fortran-ordered only when both sides are, with two axes longer than 1', () => {
    expect(fortranDims(arr([2, 3], 'F'), arr([2, 3], 'F'))).toEqual([2, 3])
    expect(fortranDims(arr([2, 1, 3], 'F'), arr([2, 3], 'F'))).toEqual([2, 3])
    expect(fortranDims(arr([2, 3], 'F'), arr([2, 3]))).toBeUndefined()
    expect(fortranDims(arr([1, 3], 'F'), arr([1, 3], 'F'))).toBeUndefined()
  })

  test('the mean of a Fortran-ordered pair sums in column-major order', () => {
    // float32 sums of values of many magnitudes: the order shows in the last bits
    const shape = [4, 60]
    const data = Float32Array.from(
      { length: 240 },
      (_, i) => (((i * 7919) % 1000) + 1) * 10 ** ((i * 31) % 8),
    )
    const of = (values: Float32Array, order?: 'F'): NdArray => ({
      data: values,
      shape,
      dtype: 'float32',
      ...(order && { order }),
    })
    const zeros = new Float32Array(240)
    const c = absDiffStats(of(data), of(zeros)).mean
    const f = absDiffStats(of(data, 'F'), of(zeros, 'F')).mean
    const columnMajor = Float32Array.from(
      { length: 240 },
      (_, p) => data[(p % 4) * 60 + Math.floor(p / 4)] as number,
    )
    expect(f).toBe(numpyMean(columnMajor, 'float32'))
    expect(c).toBe(numpyMean(data, 'float32'))
    expect([c, f]).toEqual([684321000, 684320900].map(Math.fround)) // numpy 2.4's, C and Fortran
  })

  test('which shapes numpy pairs element by element', () => {
    expect(broadcastShape([2, 1, 3], [2, 3])).toEqual([2, 2, 3])
    expect(broadcastShape([2, 3, 1], [1, 2, 3])).toBeUndefined()
    expect(pairsLikeNumpy([1, 3], [3])).toBe(true)
    expect(pairsLikeNumpy([], [1])).toBe(true)
    expect(pairsLikeNumpy([3, 1], [3])).toBe(false)
    expect(pairsLikeNumpy([2, 1, 3], [2, 3])).toBe(false)
  })
})
