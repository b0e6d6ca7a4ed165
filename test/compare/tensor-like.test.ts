import { describe, expect, test } from 'vitest'
import type { NdArray } from '../../src/compare/dtype.js'
import { AlignInputError } from '../../src/compare/errors.js'
import { type AlignNode, isRecordNode, normalize } from '../../src/compare/tensor-like.js'

const asArray = (n: AlignNode): NdArray => {
  if (isRecordNode(n)) throw new Error('expected an array')
  return n
}

/** A minimal stand-in for a tf.Tensor: only what the duck type reads. */
function fakeTensor(values: number[], shape: number[], dtype = 'float32', isDisposed = false) {
  return { shape, dtype, isDisposed, dataSync: () => Float32Array.from(values) }
}

describe('normalize', () => {
  test('a typed array keeps its buffer (no copy) and its dtype', () => {
    const data = new Float32Array([1, 2, 3])
    const n = asArray(normalize(data))
    expect(n.data).toBe(data)
    expect(n.shape).toEqual([3])
    expect(n.dtype).toBe('float32')
  })

  test.each([
    [new Int8Array(2), 'int8'],
    [new Int16Array(2), 'int16'],
    [new Int32Array(2), 'int32'],
    [new BigInt64Array(2), 'int64'],
    [new Uint8Array(2), 'uint8'],
    [new Uint16Array(2), 'uint16'],
    [new Uint32Array(2), 'uint32'],
    [new BigUint64Array(2), 'uint64'],
    [new Float64Array(2), 'float64'],
  ] as const)('%o is %s', (data, dtype) => {
    expect(asArray(normalize(data)).dtype).toBe(dtype)
  })

  test('numbers, booleans and bigints are 0-d arrays', () => {
    expect(asArray(normalize(2.5))).toMatchObject({ shape: [], dtype: 'float64' })
    expect(asArray(normalize(true))).toMatchObject({ shape: [], dtype: 'bool' })
    expect(asArray(normalize(7n))).toMatchObject({ shape: [], dtype: 'int64' })
    expect(() => normalize(2n ** 64n)).toThrow(/int64 range/)
  })

  test('nested arrays infer their shape', () => {
    const n = asArray(
      normalize([
        [1, 2, 3],
        [4, 5, 6],
      ]),
    )
    expect(n.shape).toEqual([2, 3])
    expect(Array.from(n.data as Float64Array)).toEqual([1, 2, 3, 4, 5, 6])
    expect(asArray(normalize([[true], [false]]))).toMatchObject({ shape: [2, 1], dtype: 'bool' })
    expect(asArray(normalize([]))).toMatchObject({ shape: [0], dtype: 'float64' })
    expect(asArray(normalize([new Float32Array([1, 2]), new Float32Array([3, 4])])).shape).toEqual([
      2, 2,
    ])
  })

  test('ragged nested arrays are a clear error naming the place', () => {
    expect(() => normalize([[1, 2], [3]])).toThrow(
      /at \[1\]: length 1 where 2 was expected \(ragged/,
    )
    expect(() => normalize([[1, 2], 3])).toThrow(/at \[1\]: 3 where an array of length 2/)
    expect(() => normalize([1, 'a'])).toThrow(/at \[1\]: the string 'a' where a number/)
  })

  test('tensor-likes are read through dataSync, duck typed', () => {
    const n = asArray(normalize(fakeTensor([1, 2, 3, 4], [2, 2])))
    expect(n).toMatchObject({ shape: [2, 2], dtype: 'float32' })
    expect(Array.from(n.data as Float32Array)).toEqual([1, 2, 3, 4])
  })

  test('tensor-likes: disposed, unknown dtype and wrong size are refused', () => {
    expect(() => normalize(fakeTensor([1], [1], 'float32', true))).toThrow(/disposed/)
    expect(() => normalize(fakeTensor([1], [1], 'complex64'))).toThrow(
      /unsupported tensor dtype 'complex64'/,
    )
    expect(() => normalize(fakeTensor([1, 2], [3]))).toThrow(/gave 2 values for shape \[3\]/)
  })

  test('{ data, shape, dtype } is checked against its shape and storage', () => {
    const n = asArray(
      normalize({ data: new Uint16Array([0x3c00]), shape: [1, 1], dtype: 'float16' }),
    )
    expect(n).toMatchObject({ shape: [1, 1], dtype: 'float16' })
    expect(asArray(normalize({ data: [1, 2], shape: [2], dtype: 'int64' })).data).toEqual(
      BigInt64Array.from([1n, 2n]),
    )
    expect(() => normalize({ data: new Float32Array(3), shape: [2, 2] })).toThrow(
      /data has 3 elements but shape \[2, 2\] holds 4/,
    )
    expect(() => normalize({ data: new Float32Array(1), shape: [1], dtype: 'float64' })).toThrow(
      /float64 is stored in a Float64Array, got a Float32Array/,
    )
    expect(() => normalize({ data: [1], shape: [-1] })).toThrow(/bad shape/)
    expect(() => normalize({ data: [1], shape: [1], dtype: 'complex64' as never })).toThrow(
      /unknown dtype 'complex64'/,
    )
  })

  test('numbers given for float16 and bool are stored as numpy stores them', () => {
    const half = asArray(normalize({ data: [0.5, 65504, 1e6], shape: [3], dtype: 'float16' }))
    expect(Array.from(half.data as Uint16Array)).toEqual([0x3800, 0x7bff, 0x7c00]) // 1e6 overflows to Inf
    const bool = asArray(normalize({ data: [2, 0, -1], shape: [3], dtype: 'bool' }))
    expect(Array.from(bool.data as Uint8Array)).toEqual([1, 0, 1])
  })

  test('more dimensions than numpy allows are refused', () => {
    expect(() => normalize({ data: [1], shape: new Array(65).fill(1) })).toThrow(
      "65 dimensions, more than numpy's 64",
    )
  })

  test('records nest, plain objects and Maps alike, in insertion order', () => {
    const node = normalize({ b: 1, a: new Map([['x', [1, 2]]]) })
    expect(isRecordNode(node)).toBe(true)
    if (!isRecordNode(node)) return
    expect([...node.entries.keys()]).toEqual(['b', 'a'])
  })

  test('errors are typed and name the side and the dotted key', () => {
    try {
      normalize({ blocks: { conv: 'oops' } }, 'expected')
      expect.unreachable()
    } catch (e) {
      expect(e).toBeInstanceOf(AlignInputError)
      expect(e).toMatchObject({ key: 'blocks.conv', side: 'expected' })
      expect((e as Error).message).toBe("expected key 'blocks.conv': unsupported type string")
    }
    expect(() => normalize(null)).toThrow('actual value: got null, expected an array or a record')
    expect(() => normalize(new Date())).toThrow(/unsupported object Date/)
  })
})
