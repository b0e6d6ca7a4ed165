/**
 * The port on the wasm backend, from a random well-scaled state_dict (the numerical agreement with
 * torch is the alignment stages' job, against the committed reference): it runs, leaks no
 * tensors, round-trips its weights, updates running statistics torch's way, and each named
 * porting bug really changes what it computes.
 */
import * as tf from '@tensorflow/tfjs'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import type { NdArray } from 'vitest-align'
import {
  batchMoments,
  disposeBatchStats,
  fromNchw,
  hardswish,
  MobileNetV3Small,
  PORT_BUGS,
  PortInputError,
  toStateDict,
  useBackend,
  WeightError,
} from '../../../examples/mobilenetv3/model/index.js'
import { randomArray, randomStateDict, sameArray } from './random-state-dict.js'

let sd: Record<string, NdArray>
let port: MobileNetV3Small
let x: tf.Tensor4D

beforeAll(async () => {
  await useBackend('wasm')
  sd = randomStateDict(10, 1)
  port = MobileNetV3Small.fromStateDict(sd)
  x = fromNchw(randomArray([2, 3, 32, 32]))
})

afterAll(() => {
  port.dispose()
  x.dispose()
})

/** max |a - b| / max |b|. */
function relDiff(a: tf.Tensor, b: tf.Tensor): number {
  const [da, db] = [a.dataSync(), b.dataSync()]
  let d = 0
  let r = 0
  for (let i = 0; i < db.length; i++) {
    d = Math.max(d, Math.abs((da[i] as number) - (db[i] as number)))
    r = Math.max(r, Math.abs(db[i] as number))
  }
  return d / r
}

/** `f()`'s tensors are all disposed by the time it returns: the count before and after. */
function tensorsAround(f: () => void): [number, number] {
  const before = tf.memory().numTensors
  f()
  return [before, tf.memory().numTensors]
}

describe('MobileNetV3Small on wasm', () => {
  test('eval forward: (batch, numClasses) finite O(1) logits, no tensor left behind', () => {
    expect(port.numClasses).toBe(10)
    expect(port.bug).toBeUndefined()
    const [before, after] = tensorsAround(() => {
      const logits = port.predict(x)
      expect(logits.shape).toEqual([2, 10])
      expect(logits.dtype).toBe('float32')
      const v = [...logits.dataSync()]
      expect(v.every(Number.isFinite)).toBe(true)
      // not vacuous: a comparison against these is meaningful
      expect(Math.max(...v.map(Math.abs))).toBeGreaterThan(0.1)
      // deterministic
      const again = port.predict(x)
      expect(relDiff(again, logits)).toBe(0)
      tf.dispose([logits, again])
    })
    expect(after).toBe(before)
  })

  test('train forward: batch statistics per BatchNorm, in forward order; eval and train differ', () => {
    const [before, after] = tensorsAround(() => {
      const { logits, batchStats } = port.forwardTrain(x)
      expect(logits.shape).toEqual([2, 10])
      expect([...batchStats.keys()]).toEqual(port.arch.batchNorms)
      const stem = batchStats.get('features.0.1')
      expect(stem?.count).toBe(2 * 16 * 16)
      expect(stem?.mean.shape).toEqual([16])
      expect(batchStats.get('features.12.1')?.count).toBe(2 * 1 * 1)
      expect(batchStats.get('features.12.1')?.variance.shape).toEqual([576])
      const evalLogits = port.predict(x)
      expect(relDiff(logits, evalLogits)).toBeGreaterThan(1e-2)
      tf.dispose([logits, evalLogits])
      disposeBatchStats(batchStats)
    })
    expect(after).toBe(before)
  })

  test("the stem's batch statistics are the mean and biased variance of its conv output", () => {
    tf.tidy(() => {
      const { batchStats } = port.forwardTrain(x)
      const w = port.params.get('features.0.0.weight') as tf.Tensor4D
      const y = tf.conv2d(x, w, 2, 1)
      const n = y.size / 16
      const yd = y.dataSync()
      const mean = new Float64Array(16)
      const m2 = new Float64Array(16)
      for (let i = 0; i < yd.length; i++) mean[i % 16] = (mean[i % 16] ?? 0) + (yd[i] ?? 0) / n
      for (let i = 0; i < yd.length; i++) {
        const d = (yd[i] ?? 0) - (mean[i % 16] ?? 0)
        m2[i % 16] = (m2[i % 16] ?? 0) + (d * d) / n
      }
      const s = batchStats.get('features.0.1')
      const [gm, gv] = [s?.mean.dataSync() ?? [], s?.variance.dataSync() ?? []]
      for (let c = 0; c < 16; c++) {
        expect(gm[c]).toBeCloseTo(mean[c] as number, 5)
        expect(Math.abs((gv[c] as number) - (m2[c] as number)) / (m2[c] as number)).toBeLessThan(
          1e-5,
        )
      }
      disposeBatchStats(batchStats)
    })
  })

  test("updateRunningStats follows torch's rule (momentum 0.01, unbiased variance)", () => {
    const p = MobileNetV3Small.fromStateDict(sd)
    try {
      const { logits, batchStats } = p.forwardTrain(x)
      p.updateRunningStats(batchStats)
      const after = toStateDict(p)
      for (const bn of ['features.0.1', 'features.6.block.3.1', 'features.12.1']) {
        const s = batchStats.get(bn)
        if (s === undefined) throw new Error(bn)
        const [m, v] = [s.mean.dataSync(), s.variance.dataSync()]
        const [rm0, rv0] = [sd[`${bn}.running_mean`]?.data, sd[`${bn}.running_var`]?.data]
        const [rm1, rv1] = [after[`${bn}.running_mean`]?.data, after[`${bn}.running_var`]?.data]
        for (let c = 0; c < m.length; c++) {
          const wantMean = 0.99 * (rm0?.[c] as number) + 0.01 * (m[c] as number)
          const wantVar =
            0.99 * (rv0?.[c] as number) + (0.01 * ((v[c] as number) * s.count)) / (s.count - 1)
          expect(rm1?.[c] as number).toBeCloseTo(wantMean, 6)
          expect(rv1?.[c] as number).toBeCloseTo(wantVar, 6)
        }
        expect(after[`${bn}.num_batches_tracked`]?.data[0]).toBe(8n)
      }
      // train-mode logits do not read the running statistics; eval-mode ones do
      const { logits: again, batchStats: again2 } = p.forwardTrain(x)
      expect(relDiff(again, logits)).toBe(0)
      const evalBefore = port.predict(x)
      const evalAfter = p.predict(x)
      expect(relDiff(evalAfter, evalBefore)).toBeGreaterThan(1e-4)
      tf.dispose([logits, again, evalBefore, evalAfter])
      disposeBatchStats(batchStats)
      disposeBatchStats(again2)
      expect(() => p.updateRunningStats(new Map())).toThrow(
        /batch statistics missing for features\.0\.1, /,
      )
      expect(() => p.updateRunningStats(new Map(), 2)).toThrow(/momentum must be in \[0, 1\]/)
    } finally {
      p.dispose()
    }
  })

  test('toStateDict gives back the checkpoint, bit for bit, in torch layouts and order', () => {
    const out = toStateDict(port)
    expect(Object.keys(out)).toEqual(Object.keys(sd))
    for (const [k, v] of Object.entries(sd)) expect(sameArray(out[k] as NdArray, v), k).toBe(true)
  })

  test('dispose frees every tensor the port made', () => {
    const before = tf.memory().numTensors
    const p = MobileNetV3Small.fromStateDict(sd)
    expect(tf.memory().numTensors - before).toBe(p.params.size + p.buffers.size)
    expect(p.params.size + p.buffers.size).toBe(210)
    p.dispose()
    p.dispose() // a second call does nothing
    expect(tf.memory().numTensors).toBe(before)
    expect(() => p.predict(x)).toThrow(PortInputError)
  })

  test('each porting bug changes the logits, eval and train mode', () => {
    const [before, after] = tensorsAround(() => {
      const good = port.predict(x)
      const goodTrain = port.forwardTrain(x)
      for (const bug of PORT_BUGS) {
        const p = MobileNetV3Small.fromStateDict(sd, { bug })
        expect(p.bug).toBe(bug)
        const y = p.predict(x)
        const t = p.forwardTrain(x)
        // measured: eval 0.11 / 1.5 / 1.1e-3, train 1.1 / 0.86 / 0.79; float noise is ~1e-7
        expect(relDiff(y, good), bug).toBeGreaterThan(5e-4)
        expect(relDiff(t.logits, goodTrain.logits), bug).toBeGreaterThan(1e-2)
        tf.dispose([y, t.logits])
        disposeBatchStats(t.batchStats)
        p.dispose()
      }
      tf.dispose([good, goodTrain.logits])
      disposeBatchStats(goodTrain.batchStats)
    })
    expect(after).toBe(before)
  })

  test('dropout applies in train mode only', () => {
    const p = MobileNetV3Small.fromStateDict(sd, { dropout: 0.5 })
    try {
      tf.tidy(() => {
        expect(relDiff(p.predict(x), port.predict(x))).toBe(0)
        const withDropout = p.forwardTrain(x).logits
        const without = port.forwardTrain(x).logits
        expect(relDiff(withDropout, without)).toBeGreaterThan(1e-3)
      })
    } finally {
      p.dispose()
    }
    expect(() => MobileNetV3Small.fromStateDict(sd, { dropout: 1 })).toThrow(
      /dropout must be in \[0, 1\)/,
    )
  })

  test('a bad state_dict is one WeightError, and no tensor is made', () => {
    const bad = { ...sd }
    delete bad['features.5.block.2.fc2.bias']
    const [before, after] = tensorsAround(() => {
      expect(() => MobileNetV3Small.fromStateDict(bad)).toThrow(WeightError)
    })
    expect(after).toBe(before)
  })
})

describe('inputs', () => {
  test('fromNchw: torch NCHW → NHWC, values in place', () => {
    const a: NdArray = {
      data: Float32Array.from({ length: 12 }, (_, i) => i),
      shape: [1, 3, 2, 2],
      dtype: 'float32',
    }
    const t = fromNchw(a)
    expect(t.shape).toEqual([1, 2, 2, 3])
    // NHWC [0, h, w, c] = NCHW [0, c, h, w] = c * 4 + h * 2 + w
    expect([...t.dataSync()]).toEqual([0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11])
    t.dispose()
    expect(() =>
      fromNchw({ data: new Int32Array(12), shape: [1, 3, 2, 2], dtype: 'int32' }),
    ).toThrow(PortInputError)
  })

  test('predict refuses an NCHW tensor, naming fromNchw', () => {
    const nchw = tf.zeros([1, 3, 32, 32]) as tf.Tensor4D
    expect(() => port.predict(nchw)).toThrow(
      /NHWC float32 \(batch, height, width, 3\).*got float32 \(1, 3, 32, 32\).*fromNchw/,
    )
    nchw.dispose()
  })

  test("hardswish is torch's: x * relu6(x + 3) / 6, the product first", () => {
    tf.tidy(() => {
      const v = [-4, -3, -1.5, 0, 0.1, 1, 2.5, 3, 10]
      const got = [...hardswish(tf.tensor1d(v)).dataSync()]
      const f32 = Math.fround
      const want = v.map((a) => f32(f32(a * f32(Math.min(Math.max(f32(a + 3), 0), 6))) / 6))
      expect(got).toEqual(want)
    })
  })

  test('batchMoments: mean and biased variance over (batch, height, width)', () => {
    tf.tidy(() => {
      const t = tf.tensor4d([1, 10, 2, 20, 3, 30, 6, 60], [2, 2, 1, 2])
      const { mean, variance } = batchMoments(t)
      expect([...mean.dataSync()]).toEqual([3, 30])
      expect([...variance.dataSync()]).toEqual([3.5, 350])
    })
  })
})
