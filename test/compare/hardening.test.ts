import { describe, expect, test } from 'vitest'
import { compare } from '../../src/compare/compare.js'
import { AlignInputError, AlignOptionsError } from '../../src/compare/errors.js'
import { withKeyOrder } from '../../src/compare/key-order.js'
import { normalize } from '../../src/compare/tensor-like.js'

/** The AlignInputError `f` throws (fails the test when it throws anything else, or nothing). */
function inputError(f: () => unknown): AlignInputError {
  try {
    f()
  } catch (err) {
    expect(err).toBeInstanceOf(AlignInputError)
    return err as AlignInputError
  }
  return expect.fail('did not throw')
}

const ok = Float32Array.of(1, 2)

describe('compare() refuses bad input with a typed error naming side, key and reason', () => {
  test('a record that contains itself', () => {
    const r: Record<string, unknown> = { w: ok }
    r.inner = { again: r }
    const err = inputError(() => compare(r, { w: ok }))
    expect(err).toMatchObject({ side: 'actual', key: 'inner.again' })
    expect(err.reason).toMatch(/contains itself/)
  })

  test('a Map that contains itself', () => {
    const m = new Map<string, unknown>([['w', ok]])
    m.set('self', m)
    const err = inputError(() => compare({ w: ok }, m))
    expect(err).toMatchObject({ side: 'expected', key: 'self' })
  })

  test('records nested 100,000 deep: refused by the depth bound, no stack overflow', () => {
    let deep: Record<string, unknown> = { leaf: ok }
    for (let i = 0; i < 100_000; i++) deep = { d: deep }
    const err = inputError(() => compare(deep, deep))
    expect(err.reason).toMatch(/nested more than 1000 levels/)
  })

  test('arrays nested 100,000 deep: refused past 64 dimensions', () => {
    let deep: unknown = [1]
    for (let i = 0; i < 100_000; i++) deep = [deep]
    const err = inputError(() => compare(deep, [1]))
    expect(err.reason).toMatch(/more than numpy's 64 dimensions/)
  })

  test('bigints in number data of a 64-bit dtype are read; elsewhere refused', () => {
    const big = { data: [1n, 2n], shape: [2], dtype: 'int64' } as const
    expect(compare(big, BigInt64Array.of(1n, 2n), { allowVacuous: true }).pass).toBe(true)
    const err = inputError(() =>
      compare({ data: [1n, 2n] as unknown as number[], shape: [2], dtype: 'float32' }, ok),
    )
    expect(err.reason).toMatch(/element 0 is a bigint/)
  })

  test.each([Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY])(
    '%s in int64/uint64 number data is refused',
    (v) => {
      for (const dtype of ['int64', 'uint64'] as const) {
        const err = inputError(() => compare({ data: [1, v], shape: [2], dtype }, [1, 2]))
        expect(err.reason).toMatch(/element 1 is .*cannot hold/)
      }
    },
  )

  test('numbers outside the 64-bit range are refused, not wrapped', () => {
    const err = inputError(() => compare({ data: [-1], shape: [1], dtype: 'uint64' }, [1]))
    expect(err.reason).toMatch(/outside the uint64 range/)
  })

  test('a tensor whose dataSync() returns null', () => {
    const t = { shape: [2], dtype: 'float32', dataSync: () => null }
    const err = inputError(() => compare({ x: t }, { x: ok }))
    expect(err).toMatchObject({ side: 'actual', key: 'x' })
    expect(err.reason).toMatch(/dataSync\(\) gave null/)
  })

  test('a sparse array of length 2^32 - 1 is refused at its first hole, nothing allocated', () => {
    const sparse = new Array<number>(2 ** 32 - 1)
    expect(inputError(() => compare({ data: sparse, shape: [2 ** 32 - 1] }, ok)).reason).toMatch(
      /element 0 is undefined/,
    )
    expect(inputError(() => compare([sparse], ok)).reason).toMatch(/at \[0\]\[0\]: undefined/)
    sparse[5] = 1
    expect(inputError(() => compare(sparse, ok)).reason).toMatch(/undefined/)
  }, 120_000)

  test('strings in number data are refused by element', () => {
    const err = inputError(() => compare({ data: [1, 'x'] as never, shape: [2] }, [1, 2]))
    expect(err.reason).toMatch(/element 1 is the string 'x'/)
  })
})

describe('shared sub-records: the work is bounded before the walk', () => {
  /** d = { a: d, b: d }, `levels` deep: 2^levels leaves from `levels` objects. */
  function shared(levels: number): unknown {
    let d: unknown = Float32Array.of(1)
    for (let i = 0; i < levels; i++) d = { a: d, b: d }
    return d
  }

  test('32 levels (2^32 leaves) are refused by maxKeys, naming the bound', () => {
    const d = shared(32)
    const err = inputError(() => compare(d, d))
    expect(err.side).toBe('actual')
    expect(err.reason).toMatch(/more than maxKeys = 1000000 arrays.*raise the maxKeys option/)
  })

  test('maxElements bounds the elements, shared arrays counted once per path', () => {
    const big = new Float32Array(1000)
    const rec = { a: big, b: big, c: big }
    expect(inputError(() => compare(rec, rec, { maxElements: 2999 })).reason).toMatch(
      /more than maxElements = 2999 elements/,
    )
    expect(compare(rec, rec, { maxElements: 3000, allowVacuous: true }).keys).toHaveLength(3)
  })

  test('a small shared DAG is compared in full, every path a key', () => {
    const d = shared(4)
    const r = compare(d, d, { allowVacuous: true })
    expect(r.keys).toHaveLength(16)
    expect(r.keys[0]?.key).toBe('a.a.a.a')
    expect(r.pass).toBe(true)
  })

  test('maxKeys and maxElements are validated', () => {
    for (const bad of [0, -1, 1.5, Number.NaN, '10']) {
      expect(() => compare(ok, ok, { maxKeys: bad as number })).toThrow(AlignOptionsError)
      expect(() => compare(ok, ok, { maxElements: bad as number })).toThrow(AlignOptionsError)
    }
    expect(compare(ok, ok, { maxKeys: Number.POSITIVE_INFINITY }).keys).toHaveLength(1)
    // not a per-key option
    expect(() => compare(ok, ok, { keys: { '*': { maxKeys: 1 } as never } })).toThrow(
      /keys\.\*\.maxKeys/,
    )
  })
})

describe('key order', () => {
  test("a record read from a file reports its keys in the file's order", () => {
    const x = Float32Array.of(1)
    const ref = withKeyOrder({ '10': x, '2': x } as Record<string, Float32Array>, ['10', '2'])
    const cand = withKeyOrder({ '10': x, '2': x } as Record<string, Float32Array>, ['10', '2'])
    const r = compare(cand, ref, { allowVacuous: true })
    expect(r.keys.map((k) => k.key)).toEqual(['10', '2'])
    // without a file order, JS's own
    expect(
      compare({ '10': x, '2': x }, { '10': x, '2': x }, { allowVacuous: true }).keys.map(
        (k) => k.key,
      ),
    ).toEqual(['2', '10'])
  })

  test('the Fortran-order flag of an array passes through normalization', () => {
    const n = normalize({ data: ok, shape: [2], dtype: 'float32', order: 'F' } as never)
    expect(n).toMatchObject({ data: ok, shape: [2], dtype: 'float32', order: 'F' })
    expect(compare({ data: ok, shape: [2], order: 'F' } as never, ok).pass).toBe(true)
  })
})
