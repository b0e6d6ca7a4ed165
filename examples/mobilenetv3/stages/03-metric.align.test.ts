/**
 * Stage 3, metric: the recipe's top-1 / top-5 accuracy (percent, `correct.sum() * (100 / batch)`
 * in float32) computed by the TypeScript metric on torch's own logits equals torch's exactly, on
 * the first validation batch, the whole subset and tied logits (where the order torch's topk
 * breaks ties in decides); and the port's own top-1 over the whole validation subset equals the
 * reference model's.
 */
import { describe, expect } from 'vitest'
import { compare, type NdArray } from 'vitest-align'
import { accuracy, BATCH_SIZE, minTop2Gap, topk } from '../model/index.js'
import { predictAll, test } from './fixtures.js'

/** A metric is arithmetic on integers and one float32 product: it must be equal, not close. */
const EXACT = { atol: 0, rtol: 0 } as const

const f32 = (value: number): NdArray<'float32'> => ({
  data: Float32Array.of(value),
  shape: [],
  dtype: 'float32',
})
const asF32 = (a: NdArray): Float32Array => a.data as Float32Array
const asNumbers = (a: NdArray): number[] => Array.from(a.data as ArrayLike<number | bigint>, Number)

describe('metric on torch logits', () => {
  test('top-1 / top-5 of the first validation batch equal torch', ({ reference, record }) => {
    const logits = asF32(reference.forward.val_logits).subarray(0, BATCH_SIZE * 10)
    const labels = asNumbers(reference.data.val_labels_0)
    const [top1, top5] = accuracy(logits, labels, BATCH_SIZE, 10, [1, 5])
    record.add('acc_top1', f32(top1 as number))
    record.add('acc_top5', f32(top5 as number))
    expect({ acc_top1: f32(top1 as number), acc_top5: f32(top5 as number) }).toAlignWith(
      { acc_top1: reference.metric.acc_top1, acc_top5: reference.metric.acc_top5 },
      EXACT,
    )
  })

  test('top-1 / top-5 of the whole validation subset equal torch', ({ reference, subsets }) => {
    const [top1, top5] = accuracy(
      asF32(reference.forward.val_logits),
      subsets.val.labels,
      subsets.val.length,
      10,
      [1, 5],
    )
    expect({ val_acc_top1: f32(top1 as number), val_acc_top5: f32(top5 as number) }).toAlignWith(
      { val_acc_top1: reference.metric.val_acc_top1, val_acc_top5: reference.metric.val_acc_top5 },
      EXACT,
    )
  })

  test('on tied logits, topk breaks ties as torch does, and the accuracies equal torch', ({
    reference,
    record,
  }) => {
    const { ties_logits: logits, ties_labels: labels } = reference.metric
    const [rows, cols] = logits.shape as [number, number]
    const indices: NdArray<'int32'> = {
      data: topk(asF32(logits), rows, cols, 5),
      shape: [rows, 5],
      dtype: 'int32',
    }
    const [top1, top5] = accuracy(asF32(logits), asNumbers(labels), rows, cols, [1, 5])
    const candidate = {
      ties_topk: indices,
      ties_acc_top1: f32(top1 as number),
      ties_acc_top5: f32(top5 as number),
    }
    for (const [key, value] of Object.entries(candidate)) record.add(key, value)
    expect(candidate).toAlignWith(
      {
        ties_topk: reference.metric.ties_topk,
        ties_acc_top1: reference.metric.ties_acc_top1,
        ties_acc_top5: reference.metric.ties_acc_top5,
      },
      EXACT,
    )
  })
})

describe("the port's accuracy", () => {
  test('top-1 over the whole validation subset equals the reference model', ({
    reference,
    subsets,
    candidate,
    record,
  }) => {
    const logits = predictAll(candidate, subsets.val)
    const [top1, top5] = accuracy(logits.data, subsets.val.labels, subsets.val.length, 10, [1, 5])
    record.add('val_acc_top1', f32(top1 as number))
    record.add('val_acc_top5', f32(top5 as number))
    expect({ val_acc_top1: f32(top1 as number) }).toAlignWith(
      { val_acc_top1: reference.metric.val_acc_top1 },
      EXACT,
    )
    // Why equal accuracy is not luck: no row's top two logits are closer than twice the largest
    // logit difference, so no argmax can flip between the two sides.
    const diff = compare(logits, reference.forward.val_logits, { rtol: 1e-4, atol: 1e-5 })
    const maxAbs = diff.keys[0]?.stats?.maxAbs ?? Number.POSITIVE_INFINITY
    expect(2 * maxAbs).toBeLessThan(minTop2Gap(asF32(reference.forward.val_logits), 1000, 10))
  })
})

describe('negative control: top-k ties broken in index order (a stable sort)', () => {
  test('the tied indices and both accuracies fail', ({ reference }) => {
    const { ties_logits: logits, ties_labels: labels } = reference.metric
    const [rows, cols] = logits.shape as [number, number]
    const stable = { ties: 'stable' } as const
    const indices: NdArray<'int32'> = {
      data: topk(asF32(logits), rows, cols, 5, stable),
      shape: [rows, 5],
      dtype: 'int32',
    }
    const [top1, top5] = accuracy(asF32(logits), asNumbers(labels), rows, cols, [1, 5], stable)
    expect({ ties_topk: indices }).not.toAlignWith({ ties_topk: reference.metric.ties_topk }, EXACT)
    expect({ ties_acc_top1: f32(top1 as number) }).not.toAlignWith(
      { ties_acc_top1: reference.metric.ties_acc_top1 },
      EXACT,
    )
    expect({ ties_acc_top5: f32(top5 as number) }).not.toAlignWith(
      { ties_acc_top5: reference.metric.ties_acc_top5 },
      EXACT,
    )
  })
})
