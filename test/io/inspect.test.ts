import { describe, expect, test } from 'vitest'
import { withKeyOrder } from '../../src/compare/key-order.js'
import { formatInspect, inspectRows } from '../../src/io/inspect.js'
import type { NdRecord } from '../../src/io/types.js'

const f32 = (n: number, shape = [n]) => ({
  data: new Float32Array(n),
  shape,
  dtype: 'float32' as const,
})

describe('inspectRows', () => {
  test("every array, nested records as dotted paths, in the file's order", () => {
    const nested = withKeyOrder({ '2': f32(1), '10': f32(2) } as NdRecord, ['10', '2'])
    const record = withKeyOrder({ w: f32(6, [2, 3]), opt: nested } as NdRecord, ['w', 'opt'])
    expect(inspectRows(record)).toEqual([
      { key: 'w', dtype: 'float32', shape: [2, 3], elements: 6, bytes: 24 },
      { key: 'opt.10', dtype: 'float32', shape: [2], elements: 2, bytes: 8 },
      { key: 'opt.2', dtype: 'float32', shape: [1], elements: 1, bytes: 4 },
    ])
  })

  test('a lone array is one row with the empty key; sizes are of the data as held', () => {
    const half = { data: new Uint16Array(3), shape: [3], dtype: 'float16' as const }
    expect(inspectRows(half)).toEqual([
      { key: '', dtype: 'float16', shape: [3], elements: 3, bytes: 6 },
    ])
    const step = { data: BigInt64Array.of(7n), shape: [], dtype: 'int64' as const }
    expect(inspectRows({ step } as NdRecord)[0]).toMatchObject({ shape: [], elements: 1, bytes: 8 })
  })
})

describe('formatInspect', () => {
  test('aligned columns, numbers right-aligned with separators, then the totals', () => {
    const text = formatInspect([
      {
        key: 'features.0.weight',
        dtype: 'float32',
        shape: [16, 3, 3, 3],
        elements: 432,
        bytes: 1728,
      },
      { key: 'a\nb', dtype: 'int64', shape: [], elements: 1, bytes: 8 },
    ])
    expect(text.split('\n')).toEqual([
      'key                dtype    shape          elements  bytes',
      'features.0.weight  float32  (16, 3, 3, 3)       432  1,728',
      'a\\nb               int64    ()                    1      8',
      '',
      '2 arrays, 433 elements, 1,736 bytes',
    ])
  })

  test('one array, and none', () => {
    expect(formatInspect([{ key: '', dtype: 'uint8', shape: [0], elements: 0, bytes: 0 }])).toMatch(
      /\(value\) +uint8 +\(0,\) +0 +0\n\n1 array, 0 elements, 0 bytes$/,
    )
    expect(formatInspect([]).split('\n').at(-1)).toBe('0 arrays, 0 elements, 0 bytes')
  })
})
