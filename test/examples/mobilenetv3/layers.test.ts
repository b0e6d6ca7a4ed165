/**
 * The layer-by-layer view of the port: every module the reference records (the committed
 * manifest's list and order), in torch layouts, with the gradient flowing into each; and the
 * one-block bugs, each changing the outputs first at the module it names.
 */
import { readFileSync } from 'node:fs'
import * as tf from '@tensorflow/tfjs'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import type { NdArray } from 'vitest-align'
import {
  BLOCK_BUG_KINDS,
  type BlockBug,
  blocksFor,
  fromNchw,
  type LayerRecord,
  layerRecord,
  MobileNetV3Small,
  useBackend,
} from '../../../examples/mobilenetv3/model/index.js'
import { randomArray, randomStateDict } from './random-state-dict.js'

const manifest = JSON.parse(
  readFileSync(
    new URL('../../../examples/mobilenetv3/data/manifest.json', import.meta.url),
    'utf8',
  ),
) as { layers: { modules: string[] } }

let sd: Record<string, NdArray>
let port: MobileNetV3Small
let x: tf.Tensor4D
const labels = [3, 7]
let evalRec: LayerRecord
let trainRec: LayerRecord

beforeAll(async () => {
  await useBackend('wasm')
  sd = randomStateDict(10, 4)
  port = MobileNetV3Small.fromStateDict(sd)
  x = fromNchw(randomArray([2, 3, 32, 32], 6))
  evalRec = layerRecord(port, x, labels, 'eval')
  trainRec = layerRecord(port, x, labels, 'train')
})

afterAll(() => {
  port.dispose()
  x.dispose()
})

const maxAbsDiff = (a: NdArray, b: NdArray): number => {
  let d = 0
  for (let i = 0; i < b.data.length; i++) {
    d = Math.max(d, Math.abs((a.data[i] as number) - (b.data[i] as number)))
  }
  return d
}

describe('layerRecord', () => {
  test("the reference's modules, in its execution order, both modes", () => {
    expect(manifest.layers.modules).toHaveLength(162)
    expect(evalRec.order).toEqual(manifest.layers.modules)
    expect(trainRec.order).toEqual(manifest.layers.modules)
    expect([...evalRec.outputs.keys()]).toEqual(manifest.layers.modules)
    expect([...trainRec.grads.keys()]).toEqual(manifest.layers.modules)
  })

  test('torch layouts: NCHW, (N, C, 1, 1) for SE and avgpool, (N, F) for the classifier', () => {
    const shape = (p: string) => evalRec.outputs.get(p)?.shape
    expect(shape('features.0.0')).toEqual([2, 16, 16, 16])
    expect(shape('features.1.block.1.avgpool')).toEqual([2, 16, 1, 1])
    expect(shape('features.1.block.1.fc1')).toEqual([2, 8, 1, 1])
    expect(shape('features.1.block.1.scale_activation')).toEqual([2, 16, 1, 1])
    expect(shape('features.1.block.1')).toEqual([2, 16, 8, 8])
    expect(shape('avgpool')).toEqual([2, 576, 1, 1])
    expect(shape('classifier.0')).toEqual([2, 1024])
    expect(shape('classifier.3')).toEqual([2, 10])
    for (const p of evalRec.order) {
      expect(evalRec.grads.get(p)?.shape, p).toEqual(evalRec.outputs.get(p)?.shape)
    }
  })

  test('outputs are the forward: the last module is the logits, eval logits are predict()', () => {
    const logits = port.predict(x)
    const want: NdArray = {
      data: logits.dataSync() as Float32Array,
      shape: [2, 10],
      dtype: 'float32',
    }
    expect(maxAbsDiff(evalRec.logits, want)).toBe(0)
    expect(maxAbsDiff(evalRec.outputs.get('classifier.3') as NdArray, want)).toBe(0)
    logits.dispose()
    // a block's output without a residual is its last child's
    const a = evalRec.outputs.get('features.0') as NdArray
    expect(maxAbsDiff(a, evalRec.outputs.get('features.0.2') as NdArray)).toBe(0)
  })

  test('gradients: (softmax - onehot) / N into the logits; a shared tensor gets the same one', () => {
    for (const rec of [evalRec, trainRec]) {
      const p = tf.tidy(() =>
        tf.softmax(tf.tensor2d(rec.logits.data as Float32Array, [2, 10])).dataSync(),
      )
      const g = rec.grads.get('classifier.3')?.data as Float32Array
      for (let i = 0; i < 20; i++) {
        const onehot = i % 10 === labels[Math.floor(i / 10)] ? 1 : 0
        expect(g[i]).toBeCloseTo(((p[i] as number) - onehot) / 2, 6)
      }
      const g0 = rec.grads.get('features.0') as NdArray
      expect(maxAbsDiff(g0, rec.grads.get('features.0.2') as NdArray)).toBe(0)
      expect(Math.max(...Array.from(g0.data as Float32Array, Math.abs))).toBeGreaterThan(0)
    }
  })

  test('a finite-difference check of one intermediate gradient (eval mode)', () => {
    // d loss / d (features.12.2 output) at one element, by perturbing that output through a tap
    const path = 'features.12.2'
    const g = evalRec.grads.get(path) as NdArray
    const [n, c, h, w] = g.shape as [number, number, number, number]
    const k = 5 // channel 5 of image 0 at (0, 0): NCHW index k * h * w
    const lossWith = (eps: number): number =>
      tf.tidy(() => {
        const logits = port.forwardTapped(x, 'eval', (p, t) => {
          if (p !== path) return t
          const bump = tf.buffer([n, h, w, c])
          bump.set(eps, 0, 0, 0, k)
          return tf.add(t, bump.toTensor())
        })
        const lp = tf.logSoftmax(logits).arraySync() as number[][]
        return -((lp[0]?.[3] as number) + (lp[1]?.[7] as number)) / 2
      })
    const eps = 1e-2
    const fd = (lossWith(eps) - lossWith(-eps)) / (2 * eps)
    expect(fd).toBeCloseTo(g.data[k * h * w] as number, 4)
  })

  test('no tensor left behind', () => {
    const before = tf.memory().numTensors
    layerRecord(port, x, labels, 'train', { keep: 1 })
    expect(tf.memory().numTensors).toBe(before)
  })

  test('keep: the first images only', () => {
    const r = layerRecord(port, x, labels, 'eval', { keep: 1 })
    expect(r.outputs.get('features.0.0')?.shape).toEqual([1, 16, 16, 16])
    expect(r.logits.shape).toEqual([1, 10])
  })
})

describe('one-block bugs', () => {
  const cases: [BlockBug, string][] = [
    [{ kind: 'depthwise-same-padding', block: 'features.4' }, 'features.4.block.1.0'],
    [{ kind: 'hardswish-as-relu6', block: 'features.6' }, 'features.6.block.0.2'],
    [{ kind: 'se-sigmoid', block: 'features.8' }, 'features.8.block.2.scale_activation'],
  ]

  test.each(cases)('%o: outputs first differ at %s, forward and backward', (blockBug, first) => {
    const buggy = MobileNetV3Small.fromStateDict(sd, { blockBug })
    const before = tf.memory().numTensors
    const rec = layerRecord(buggy, x, labels, 'eval')
    expect(tf.memory().numTensors).toBe(before)
    buggy.dispose()
    const differs = rec.order.filter(
      (p) => maxAbsDiff(rec.outputs.get(p) as NdArray, evalRec.outputs.get(p) as NdArray) > 0,
    )
    expect(differs[0]).toBe(first)
    // every module before it is bit-identical; the gradient into that module differs too
    const at = rec.order.indexOf(first)
    expect(rec.order.slice(0, at).every((p) => !differs.includes(p))).toBe(true)
    expect(
      maxAbsDiff(rec.grads.get(first) as NdArray, evalRec.grads.get(first) as NdArray),
    ).toBeGreaterThan(0)
  })

  test('which blocks take which bug; bad choices refused', () => {
    expect(BLOCK_BUG_KINDS).toHaveLength(3)
    expect(blocksFor(port.arch, 'depthwise-same-padding')).toEqual([
      'features.1',
      'features.2',
      'features.4',
      'features.9',
    ])
    expect(blocksFor(port.arch, 'se-sigmoid')).toEqual([
      'features.1',
      ...Array.from({ length: 8 }, (_, i) => `features.${i + 4}`),
    ])
    expect(blocksFor(port.arch, 'hardswish-as-relu6')[0]).toBe('features.4')
    expect(() =>
      MobileNetV3Small.fromStateDict(sd, {
        blockBug: { kind: 'depthwise-same-padding', block: 'features.3' },
      }),
    ).toThrow(/cannot go in 'features.3'/)
    expect(() =>
      MobileNetV3Small.fromStateDict(sd, { blockBug: { kind: 'se-sigmoid', block: 'features.2' } }),
    ).toThrow(/applies to features.1, features.4/)
    const notAKind = { kind: 'x', block: 'features.1' } as unknown as BlockBug
    expect(() => MobileNetV3Small.fromStateDict(sd, { blockBug: notAKind })).toThrow(
      /unknown block bug 'x'/,
    )
  })
})
