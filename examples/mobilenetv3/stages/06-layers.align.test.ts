/**
 * Stage 6, layer by layer: every recorded module's output and the gradient of the loss flowing
 * into it (`d loss / d output`), the port's against torch's (`reference/layers.py`), keyed by
 * torch's module path and compared with `toAlignLayerwise`, which names the first module where
 * the two part. Two passes, as the reference records them: eval mode on one training image
 * (`eval.input`, whole tensors) and train mode (batch statistics, dropout off) on the first
 * training batch through the TypeScript pipeline, of which only the first image's slice is
 * compared (the reference stores `[0:1]` of every tensor; the loss is the batch mean).
 *
 * The negative controls are one-block porting bugs (`model/block-bugs.ts`): the comparison must
 * fail, and name the bug's own module as the first break: going forward, and going backward when
 * the backward pass is replayed block by block (`model/replay.ts`).
 */
import { describe, expect } from 'vitest'
import { compareLayerwise, type LayerwiseOptions, type NdArray } from 'vitest-align'
import {
  BATCH_SIZE,
  type BlockBug,
  batchLabels,
  fromNchw,
  type LayerRecord,
  layerRecord,
  loadMobileNetV3,
  type MobileNetV3Small,
  type Replay,
  replayBackward,
  transformBatch,
} from '../model/index.js'
import { dataFile, type Subsets, test } from './fixtures.js'

type Rec = Record<string, NdArray>
type Mode = 'eval' | 'train'
type Kind = 'out' | 'grad_in'

/**
 * The tolerances, each a bound on a module's layer-wise error (max |Δ| / max |expected| over
 * its tensor, the error `toAlignLayerwise` reports): see {@link scaled}. Both sides compute in
 * float32 and sum each convolution in their own order, so the error is rounding, growing with
 * depth. Measured on this checkpoint (wasm), the largest error over all 162 modules:
 *
 * - eval outputs 7.6e-7 (`features.6.block.2.fc2`): bound 1e-5, 13x;
 * - eval gradients 2.7e-6 (`features.1.block.1.fc1`): bound 3e-5, 11x;
 * - train outputs 1.2e-6 (`features.8.block.1.0`): bound 1e-5, 8x;
 * - train gradients 2.0e-4 (`avgpool`; BatchNorm's backward through the batch statistics
 *   subtracts the batch means of the gradient, and the cancellation costs digits): bound 2e-3,
 *   10x.
 *
 * The smallest forward break of the controls below is 7.4e-2 (`se-sigmoid`, eval; the largest
 * error before it 7.6e-7), 7,400 times the outputs' bound. torch's float32 default (rtol 1.3e-6,
 * atol 1e-5) passes the correct port, but its absolute 1e-5 is above a train gradient's whole
 * scale (the batch-mean loss divides by 32): the train gradients of `hardswish-as-relu6` and
 * `se-sigmoid` pass it. rtol 1.3e-6 alone (atol 0) fails the correct port at the first module,
 * on elements near zero.
 */
const EVAL_OUT = 1e-5
const EVAL_GRAD = 3e-5
const TRAIN_OUT = 1e-5
const TRAIN_GRAD = 2e-3
const BOUND: Record<Mode, Record<Kind, number>> = {
  eval: { out: EVAL_OUT, grad_in: EVAL_GRAD },
  train: { out: TRAIN_OUT, grad_in: TRAIN_GRAD },
}

/**
 * Module `m` passes when every |Δ| ≤ `bound` · max |expected of m|: its error within `bound`.
 * An elementwise rtol would be decided by the elements near zero that every conv, ReLU and
 * gradient has; scaling atol to each module's own magnitude makes one bound fit the stem's
 * outputs (~1) and the train gradients (~1e-4) alike. Growth factor: the default 10.
 */
function scaled(expected: Rec, bound: number): LayerwiseOptions {
  const atol = new Map<string, number>()
  for (const [m, a] of Object.entries(expected)) {
    let max = 0
    for (const v of a.data as Float32Array) max = Math.max(max, Math.abs(v))
    atol.set(m, bound * max)
  }
  return { rtol: 0, atol: 0, keys: (key: string) => ({ atol: atol.get(key) ?? 0 }) }
}

/** The module paths in forward execution order, as the reference file keeps them. */
const modulesOf = (ref: Rec): string[] =>
  Object.keys(ref)
    .filter((k) => k.startsWith('eval.out.'))
    .map((k) => k.slice('eval.out.'.length))

/**
 * The order each kind is compared in. Outputs: forward execution order. Gradients: the reverse,
 * the order the backward pass computes them (from the logits to the stem), so that "the first
 * module where alignment breaks" is the first gradient computed wrong: every gradient depends on
 * the ones computed before it, as every output on the outputs before it.
 */
const orderOf = (ref: Rec, kind: Kind): string[] =>
  kind === 'out' ? modulesOf(ref) : modulesOf(ref).reverse()

const refLayers = (ref: Rec, mode: Mode, kind: Kind): Rec =>
  Object.fromEntries(orderOf(ref, kind).map((m) => [m, ref[`${mode}.${kind}.${m}`] as NdArray]))

const portLayers = (rec: LayerRecord, ref: Rec, kind: Kind): Rec => {
  const from = kind === 'out' ? rec.outputs : rec.grads
  return Object.fromEntries(orderOf(ref, kind).map((m) => [m, from.get(m) as NdArray]))
}

/** One pass of `layerRecord` as the reference's `mode` ran it; leaves no tensor behind. */
function pass(port: MobileNetV3Small, mode: Mode, ref: Rec, subsets: Subsets): LayerRecord {
  const x =
    mode === 'eval'
      ? fromNchw(ref['eval.input'] as NdArray)
      : transformBatch(subsets.train, 0, BATCH_SIZE)
  const labels =
    mode === 'eval'
      ? Array.from(ref['eval.label']?.data as ArrayLike<number | bigint>, Number)
      : batchLabels(subsets.train, 0, BATCH_SIZE)
  try {
    return layerRecord(port, x, labels, mode, mode === 'train' ? { keep: 1 } : {})
  } finally {
    x.dispose()
  }
}

/** The pass's records (plain arrays, no tensors), computed once per port and mode in this file. */
const records = new Map<string, LayerRecord>()
function recordOf(id: string, port: MobileNetV3Small, mode: Mode, ref: Rec, s: Subsets) {
  const key = `${id}/${mode}`
  let r = records.get(key)
  if (r === undefined) {
    r = pass(port, mode, ref, s)
    records.set(key, r)
  }
  return r
}

/** The eval-mode backward replayed block by block (`model/replay.ts`), once per port. */
const replays = new Map<string, Replay>()
function replayOf(id: string, port: MobileNetV3Small, ref: Rec): Replay {
  let r = replays.get(id)
  if (r === undefined) {
    r = replayBackward(port, ref)
    replays.set(id, r)
  }
  return r
}

/** Both passes and the replay of a port with `bug`, the port disposed before returning. */
async function brokenRecords(bug: BlockBug, ref: Rec, s: Subsets): Promise<void> {
  const id = `${bug.kind}@${bug.block}`
  if (replays.has(id)) return
  const port = await loadMobileNetV3(dataFile('mobilenet_v3_small.pth'), { blockBug: bug })
  try {
    for (const mode of ['eval', 'train'] as const) recordOf(id, port, mode, ref, s)
    replayOf(id, port, ref)
  } finally {
    port.dispose()
  }
}

/** A replay's two sides as records, in its block order (backward: classifier.3 first). */
const replaySides = (r: Replay): { actual: Rec; expected: Rec } => ({
  actual: Object.fromEntries(r.blocks.map((b) => [b, r.actual.get(b) as NdArray])),
  expected: Object.fromEntries(r.blocks.map((b) => [b, r.expected.get(b) as NdArray])),
})

const firstBreakOf = (
  actual: Rec,
  expected: Rec,
  options: LayerwiseOptions,
): string | undefined => {
  const r = compareLayerwise(actual, expected, options)
  return r.firstBreak === undefined ? undefined : r.modules[r.firstBreak]?.module
}

const MODES: readonly Mode[] = ['eval', 'train']

describe.each(MODES)('%s mode, layer by layer', (mode) => {
  test('every module output aligns with torch', ({ reference, candidate, subsets, record }) => {
    const ref = reference.layers as Rec
    const rec = recordOf('port', candidate, mode, ref, subsets)
    const expected = refLayers(ref, mode, 'out')
    record.add(`${mode}_logits`, rec.logits)
    expect(portLayers(rec, ref, 'out')).toAlignLayerwise(
      expected,
      scaled(expected, BOUND[mode].out),
    )
  })

  test('every gradient into a module aligns with torch', ({ reference, candidate, subsets }) => {
    const ref = reference.layers as Rec
    const rec = recordOf('port', candidate, mode, ref, subsets)
    const expected = refLayers(ref, mode, 'grad_in')
    expect(portLayers(rec, ref, 'grad_in')).toAlignLayerwise(
      expected,
      scaled(expected, BOUND[mode].grad_in),
    )
  })
})

test("eval mode: every block's backward, replayed on torch's tensors, aligns", ({
  reference,
  candidate,
}) => {
  const { actual, expected } = replaySides(replayOf('port', candidate, reference.layers as Rec))
  expect(Object.keys(actual)).toHaveLength(17)
  expect(actual).toAlignLayerwise(expected, scaled(expected, REPLAY_GRAD))
})

/** Each bug, and the module where the forward comparison must first break (measured). */
const CONTROLS: readonly (BlockBug & { readonly breaksAt: string })[] = [
  { kind: 'depthwise-same-padding', block: 'features.4', breaksAt: 'features.4.block.1.0' },
  { kind: 'hardswish-as-relu6', block: 'features.6', breaksAt: 'features.6.block.0.2' },
  { kind: 'se-sigmoid', block: 'features.8', breaksAt: 'features.8.block.2.scale_activation' },
]

/**
 * Backward, a forward bug breaks at the loss end, `classifier.3`, the first gradient the backward
 * pass computes: d loss / d logits = (softmax - onehot) / batch is a function of the logits, and
 * the bug has already moved them (measured, max |Δ| / max |expected| of that gradient: 1.6e-3
 * for `se-sigmoid` in eval mode at the least, 20 times or more its bound in either mode). Each
 * gradient below depends on the ones above it and on the (wrong) activations, so nothing further
 * down can be a new break. Read in forward order instead, the record would "break" at
 * `features.0.0`, whose gradient carries every error of the whole backward pass: no better. So a
 * gradient record localizes a bug in the backward pass itself only when the forward aligns; a
 * forward bug is found by the outputs. The controls assert exactly that: the gradients fail, and
 * fail where the backward pass starts. To find a forward bug from the gradients too, the eval-mode
 * backward is replayed block by block on torch's own tensors (`model/replay.ts`): each block is
 * then checked alone, and the bug's block is the one that breaks (asserted below). Train mode
 * cannot be replayed from the stored record: BatchNorm's batch statistics couple the 32 images,
 * and the reference keeps the first image's tensors only.
 */
const BACKWARD_BREAK = 'classifier.3'

/**
 * The replay's bound, on the same scaled error (see {@link scaled}): each block's gradient is
 * computed from torch's own input and output gradient, so its error is that one block's
 * rounding, not the whole backward pass's. Measured on this checkpoint (wasm), the largest over
 * the 17 blocks: 3.1e-7 (`features.4`); bound 3e-5, as the end-to-end eval gradients', 97x. The
 * controls break only at their block, each block before and after it exactly as in the correct
 * port: 1.0 (`depthwise-same-padding`), 0.20 (`hardswish-as-relu6`), 2.5e-2 (`se-sigmoid`), 830
 * times the bound at the least.
 */
const REPLAY_GRAD = 3e-5

describe.each(CONTROLS)('negative control: $kind in $block', (control) => {
  const { breaksAt, ...bug } = control
  const id = `${bug.kind}@${bug.block}`

  test.for(MODES)(
    '%s mode: the outputs break first at the bug',
    async (mode, { reference, subsets }) => {
      const ref = reference.layers as Rec
      await brokenRecords(bug, ref, subsets)
      const actual = portLayers(records.get(`${id}/${mode}`) as LayerRecord, ref, 'out')
      const expected = refLayers(ref, mode, 'out')
      const options = scaled(expected, BOUND[mode].out)
      expect(actual).not.toAlignLayerwise(expected, options)
      expect(firstBreakOf(actual, expected, options)).toBe(breaksAt)
    },
  )

  test('eval mode: the backward replayed block by block breaks first at the bug', async ({
    reference,
    subsets,
  }) => {
    const ref = reference.layers as Rec
    await brokenRecords(bug, ref, subsets)
    const { actual, expected } = replaySides(replays.get(id) as Replay)
    const options = scaled(expected, REPLAY_GRAD)
    expect(actual).not.toAlignLayerwise(expected, options)
    expect(firstBreakOf(actual, expected, options)).toBe(bug.block)
  })

  test.for(MODES)(
    '%s mode: the gradients break first at the loss end',
    async (mode, { reference, subsets }) => {
      const ref = reference.layers as Rec
      await brokenRecords(bug, ref, subsets)
      const actual = portLayers(records.get(`${id}/${mode}`) as LayerRecord, ref, 'grad_in')
      const expected = refLayers(ref, mode, 'grad_in')
      const options = scaled(expected, BOUND[mode].grad_in)
      expect(actual).not.toAlignLayerwise(expected, options)
      expect(firstBreakOf(actual, expected, options)).toBe(BACKWARD_BREAK)
    },
  )
})
