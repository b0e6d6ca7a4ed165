/**
 * The metric against torch's: topk's tie order on metric_ref's tied logits, the accuracies in
 * percent bit for bit (tied logits, the validation logits), the stable-ties control.
 */
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import fc from 'fast-check'
import { beforeAll, describe, expect, test } from 'vitest'
import type { NdArray } from 'vitest-align'
import { readReprodLog } from 'vitest-align/files'
import {
  accuracy,
  loadFashionMnist,
  METRIC_BUGS,
  minTop2Gap,
  topk,
  topkStable,
} from '../../../examples/mobilenetv3/model/index.js'

const data = fileURLToPath(new URL('../../../examples/mobilenetv3/data/', import.meta.url))

let metric: Record<string, NdArray>
let valLogits: Float32Array
let valLabels: Uint8Array
let tiesLogits: Float32Array
let tiesLabels: number[]
beforeAll(() => {
  metric = readReprodLog(join(data, 'metric_ref.npy')) as Record<string, NdArray>
  const forward = readReprodLog(join(data, 'forward_ref.npy')) as Record<string, NdArray>
  const logits = forward.val_logits as NdArray<'float32'>
  expect(logits.shape).toEqual([1000, 10])
  valLogits = logits.data
  valLabels = loadFashionMnist(
    join(data, 't10k-images-idx3-ubyte.gz'),
    join(data, 't10k-labels-idx1-ubyte.gz'),
  ).labels
  tiesLogits = (metric.ties_logits as NdArray<'float32'>).data
  tiesLabels = Array.from((metric.ties_labels as NdArray<'int64'>).data, Number)
})

/** A recorded 0-d float32 value. */
const scalar = (key: string): number => (metric[key] as NdArray<'float32'>).data[0] as number

describe('topk', () => {
  test('equals torch’s topk(5) indices on the 256 tied rows, exactly', () => {
    const want = metric.ties_topk as NdArray<'int64'>
    expect(want.shape).toEqual([256, 5])
    expect(Array.from(topk(tiesLogits, 256, 10, 5))).toEqual(Array.from(want.data, Number))
  })

  test('ten equal values: torch’s [8, 6, 7, 5, 9] for k = 5, [8] for k = 1', () => {
    const ones = new Float32Array(10).fill(1)
    expect(Array.from(topk(ones, 1, 10, 5))).toEqual([8, 6, 7, 5, 9])
    expect(Array.from(topk(ones, 1, 10, 1))).toEqual([8])
    expect(Array.from(topkStable(ones, 1, 10, 5))).toEqual([0, 1, 2, 3, 4])
  })

  test('NaN ranks above every number, as torch’s comparator puts it', () => {
    const row = Float32Array.from([1, Number.NaN, 3, 2, 0, 0, 0, 0, 0, 0])
    expect(Array.from(topk(row, 1, 10, 3))).toEqual([1, 2, 3])
  })

  test('property: the k largest values, non-increasing, distinct indices (both orders)', () => {
    const arb = fc
      .record({
        rows: fc.integer({ min: 1, max: 6 }),
        cols: fc.integer({ min: 1, max: 200 }),
        levels: fc.integer({ min: 1, max: 6 }),
        seed: fc.integer(),
      })
      .chain((s) =>
        fc.tuple(
          fc.constant(s),
          fc.integer({ min: 1, max: s.cols }),
          fc.array(fc.integer({ min: 0, max: s.levels - 1 }), {
            minLength: s.rows * s.cols,
            maxLength: s.rows * s.cols,
          }),
        ),
      )
    fc.assert(
      fc.property(arb, ([{ rows, cols }, k, ints]) => {
        const values = Float32Array.from(ints, (x) => x / 4)
        for (const f of [topk, topkStable]) {
          const idx = f(values, rows, cols, k)
          expect(idx).toHaveLength(rows * k)
          for (let r = 0; r < rows; r++) {
            const row = Array.from(values.subarray(r * cols, (r + 1) * cols))
            const got = Array.from(idx.subarray(r * k, (r + 1) * k))
            expect(new Set(got).size).toBe(k)
            for (const j of got) expect(j >= 0 && j < cols).toBe(true)
            const picked = got.map((j) => row[j] as number)
            const largest = [...row].sort((a, b) => b - a).slice(0, k)
            expect(picked).toEqual(largest)
          }
        }
      }),
      { numRuns: 300 },
    )
  })

  test('bad shapes and k are refused', () => {
    expect(() => topk(new Float32Array(10), 2, 10, 1)).toThrow(RangeError)
    expect(() => topk(new Float32Array(10), 1, 10, 0)).toThrow(RangeError)
    expect(() => topk(new Float32Array(10), 1, 10, 11)).toThrow(RangeError)
  })
})

describe('accuracy', () => {
  test('the tied logits: torch’s ties_acc_top1 and ties_acc_top5, exactly', () => {
    const [top1, top5] = accuracy(tiesLogits, tiesLabels, 256, 10)
    expect([top1, top5]).toEqual([scalar('ties_acc_top1'), scalar('ties_acc_top5')])
  })

  test('the validation logits: torch’s val_acc_top1/5 (1000 rows) and acc_top1/5 (first 32)', () => {
    const all = accuracy(valLogits, valLabels, 1000, 10, [1, 5])
    expect(all).toEqual([scalar('val_acc_top1'), scalar('val_acc_top5')])
    const first = accuracy(valLogits.subarray(0, 320), valLabels.subarray(0, 32), 32, 10)
    expect(first).toEqual([scalar('acc_top1'), scalar('acc_top5')])
  })

  test('the percent is fround(count * fround(100 / n)), as torch computes it', () => {
    // 9 of 1000 correct: torch gives float32 0.9000000357627869 (its float32 100/1000 times
    // 9), where rounding the double 9 * (100 / 1000) once would give 0.8999999761581421
    const logits = new Float32Array(1000 * 2)
    const labels = new Int32Array(1000).fill(1)
    for (let r = 0; r < 9; r++) logits[r * 2 + 1] = 1
    for (let r = 9; r < 1000; r++) logits[r * 2] = 1
    expect(accuracy(logits, labels, 1000, 2, [1])).toEqual([0.9000000357627869])
  })

  test('labels may be int64 (BigInt64Array), as the records store them', () => {
    const labels = metric.ties_labels as NdArray<'int64'>
    expect(accuracy(tiesLogits, labels.data, 256, 10)).toEqual(
      accuracy(tiesLogits, tiesLabels, 256, 10),
    )
  })

  test('negative control: stable ties change the indices, and the top-5 accuracy', () => {
    expect(METRIC_BUGS).toEqual(['stable-ties'])
    const torch = Array.from(topk(tiesLogits, 256, 10, 5))
    const stable = Array.from(topkStable(tiesLogits, 256, 10, 5))
    expect(Array.from(topk(tiesLogits, 256, 10, 5, { ties: 'stable' }))).toEqual(stable)
    let rows = 0
    for (let r = 0; r < 256; r++) {
      if (torch.slice(r * 5, r * 5 + 5).join() !== stable.slice(r * 5, r * 5 + 5).join()) rows++
    }
    expect(rows).toBeGreaterThan(100)
    const [, top5] = accuracy(tiesLogits, tiesLabels, 256, 10, [1, 5], { ties: 'stable' })
    expect(top5).not.toBe(scalar('ties_acc_top5'))
    // and torch's order is k's: topk(1) is not topk(5)'s first column on tied rows
    const first = torch.filter((_, i) => i % 5 === 0)
    expect(Array.from(topk(tiesLogits, 256, 10, 1))).not.toEqual(first)
  })

  test('bad arguments are refused', () => {
    expect(() => accuracy(tiesLogits, tiesLabels.slice(1), 256, 10)).toThrow(/255 labels/)
    expect(() => accuracy(tiesLogits, tiesLabels, 256, 10, [11])).toThrow(RangeError)
    const ties = { ties: 'random' } as unknown as { ties: 'torch' }
    expect(() => accuracy(tiesLogits, tiesLabels, 256, 10, [1], ties)).toThrow(/'random'/)
  })
})

describe('minTop2Gap', () => {
  test('the smallest top-1 margin over rows; 0 on a tie at the top', () => {
    const m = Float32Array.from([3, 1, 2, /**/ 0, 5, 4.5, /**/ -1, -3, -2])
    expect(minTop2Gap(m, 3, 3)).toBe(0.5)
    expect(minTop2Gap(Float32Array.from([1, 1, 0]), 1, 3)).toBe(0)
    expect(() => minTop2Gap(Float32Array.from([1, Number.NaN]), 1, 2)).toThrow(/NaN/)
  })

  test('the validation logits: about 0.0051, and no argmax changes within half of it', () => {
    const gap = minTop2Gap(valLogits, 1000, 10)
    expect(gap).toBeGreaterThan(0.005)
    expect(gap).toBeLessThan(0.0052)
    // every logit moved by just under half the gap, against the row's winner: same top-1
    const moved = valLogits.slice()
    const top = topk(valLogits, 1000, 10, 1)
    for (let r = 0; r < 1000; r++) {
      for (let j = 0; j < 10; j++) {
        const i = r * 10 + j
        moved[i] = (moved[i] as number) + (j === top[r] ? -0.49 : 0.49) * gap
      }
    }
    expect(Array.from(topk(moved, 1000, 10, 1))).toEqual(Array.from(top))
  })
})
