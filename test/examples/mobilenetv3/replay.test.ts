/**
 * The backward replayed block by block (`model/replay.ts`), against a reference made by the port
 * itself: replaying a record on its own tensors gives back its own gradients, and a port with a
 * one-block bug, replayed on the correct port's record, differs at that block and at no other.
 */
import * as tf from '@tensorflow/tfjs'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import type { NdArray } from 'vitest-align'
import {
  type BlockBug,
  crossEntropy,
  fromNchw,
  layerRecord,
  MobileNetV3Small,
  REPLAY_BLOCK,
  type Replay,
  replayBackward,
  toTorchLayout,
  useBackend,
} from '../../../examples/mobilenetv3/model/index.js'
import { randomArray, randomStateDict } from './random-state-dict.js'

let sd: Record<string, NdArray>
let port: MobileNetV3Small
/** The port's own eval-mode record of one image, in the reference's keys. */
let ref: Record<string, NdArray>
let own: Replay

const asArray = (t: tf.Tensor): NdArray => ({
  data: Float32Array.from(t.dataSync() as Float32Array),
  shape: [...t.shape],
  dtype: 'float32',
})

beforeAll(async () => {
  await useBackend('wasm')
  sd = randomStateDict(10, 4)
  port = MobileNetV3Small.fromStateDict(sd)
  const image = randomArray([1, 3, 32, 32], 6)
  const labels = [3]
  const x = fromNchw(image)
  const rec = layerRecord(port, x, labels, 'eval')
  const g = tf.grad((v: tf.Tensor) =>
    crossEntropy(
      port.forwardTapped(v as tf.Tensor4D, 'eval', (_p, t) => t),
      labels,
    ),
  )(x)
  const nchw = toTorchLayout('input', g)
  const gradInput = asArray(nchw)
  tf.dispose([g, nchw])
  x.dispose()
  ref = { 'eval.input': image, 'eval.grad_input': gradInput }
  for (const p of rec.order) {
    ref[`eval.out.${p}`] = rec.outputs.get(p) as NdArray
    ref[`eval.grad_in.${p}`] = rec.grads.get(p) as NdArray
  }
  own = replayBackward(port, ref)
})

afterAll(() => port.dispose())

/** max |Δ| / max |expected| of one block's input gradient. */
const errorAt = (r: Replay, block: string): number => {
  const a = r.actual.get(block) as NdArray
  const e = r.expected.get(block) as NdArray
  expect(a.shape).toEqual(e.shape)
  let d = 0
  let m = 0
  for (let i = 0; i < e.data.length; i++) {
    d = Math.max(d, Math.abs((a.data[i] as number) - (e.data[i] as number)))
    m = Math.max(m, Math.abs(e.data[i] as number))
  }
  expect(m).toBeGreaterThan(0)
  return d / m
}

describe('replayBackward', () => {
  test('the 17 chained blocks, in backward order', () => {
    expect(own.blocks).toEqual([
      'classifier.3',
      'classifier.1',
      'classifier.0',
      'avgpool',
      ...Array.from({ length: 13 }, (_, i) => `features.${12 - i}`),
    ])
    expect(own.blocks.every((b) => REPLAY_BLOCK.test(b))).toBe(true)
    expect(REPLAY_BLOCK.test('features.4.block.1.0')).toBe(false)
    expect(REPLAY_BLOCK.test('classifier.2')).toBe(false)
  })

  test("replaying a record on its own tensors gives back the record's gradients", () => {
    // the same kernels on the same values, summed in another order: float32 rounding only
    for (const b of own.blocks) expect(errorAt(own, b), b).toBeLessThan(1e-5)
    // torch layouts: the stem's input gradient is the image's, avgpool's input features.12's
    expect(own.actual.get('features.0')?.shape).toEqual([1, 3, 32, 32])
    expect(own.actual.get('avgpool')?.shape).toEqual([1, 576, 1, 1])
    expect(own.actual.get('classifier.0')?.shape).toEqual([1, 576, 1, 1])
    expect(own.actual.get('classifier.3')?.shape).toEqual([1, 1024])
  })

  const bugs: BlockBug[] = [
    { kind: 'depthwise-same-padding', block: 'features.4' },
    { kind: 'hardswish-as-relu6', block: 'features.6' },
    { kind: 'se-sigmoid', block: 'features.8' },
  ]
  test.each(bugs)('$kind in $block: only that block differs', (blockBug) => {
    const buggy = MobileNetV3Small.fromStateDict(sd, { blockBug })
    const before = tf.memory().numTensors
    const r = replayBackward(buggy, ref)
    expect(tf.memory().numTensors).toBe(before)
    buggy.dispose()
    for (const b of r.blocks) {
      const got = (r.actual.get(b) as NdArray).data as Float32Array
      const want = (own.actual.get(b) as NdArray).data as Float32Array
      const same = got.every((v, i) => v === want[i])
      // every other block runs on the same tensors through the same code: bit for bit
      expect(same, b).toBe(b !== blockBug.block)
    }
    expect(errorAt(r, blockBug.block)).toBeGreaterThan(1e-3)
  })

  test('no tensor left behind; a reference without a key is refused by name', () => {
    const before = tf.memory().numTensors
    replayBackward(port, ref)
    expect(tf.memory().numTensors).toBe(before)
    const { 'eval.grad_in.features.7': _, ...missing } = ref
    expect(() => replayBackward(port, missing)).toThrow(
      "the layer reference has no 'eval.grad_in.features.7'",
    )
    expect(tf.memory().numTensors).toBe(before)
  })
})
