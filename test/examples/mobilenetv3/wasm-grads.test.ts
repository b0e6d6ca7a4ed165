/**
 * The convolution-gradient kernels registered for wasm (`model/wasm-grads.ts`) against the cpu
 * backend's built-in ones, through `tf.grads` as the port's backward pass calls them, on many
 * shapes: kernel 1, 3, 5; stride 1, 2; odd and even sizes; batch 1 and 32; few and realistic
 * channels; the port's symmetric explicit padding (and TF's 'same', the `same-padding` bug).
 *
 * Tolerance, element by element, from float32 accumulation: a sum of L float32 products computed
 * in float32 is within γ_L = L·u (u = 2⁻²⁴, unit roundoff) of exact, relative to Σ|aᵢ·bᵢ|, the
 * same sum of absolute values (for these bilinear ops: the same gradient of |x|, |w|, |dy|,
 * computed on cpu). The cpu backend adds in float64 and rounds once (u·|ref|), so the bound is
 * `|wasm − cpu| ≤ (L + 2)·u·Σ|aᵢ·bᵢ|` with L the longest float32 run of the wasm formulation:
 * - Conv2DBackpropFilter: dots of ≤ 2·MATMUL_CHUNK = 512 products (then summed in float64);
 * - DepthwiseConv2dNativeBackpropInput: kh·kw·multiplier taps;
 * - DepthwiseConv2dNativeBackpropFilter: oh·ow taps per image (the batch summed in float64);
 * - Conv2DBackpropInput (wasm's own kernel; a matMul for 1x1 convs): kh·kw·co;
 * - BatchMatMul (transposes made explicit), Sum (float64): K, and exact.
 * A wrong index, padding or flip gives errors of the order of the values, far above these.
 */
import * as tf from '@tensorflow/tfjs'
import { beforeAll, describe, expect, test } from 'vitest'
import {
  MATMUL_CHUNK,
  registerWasmGradKernels,
  sumFloat64,
  useBackend,
  WASM_GRAD_KERNELS,
} from '../../../examples/mobilenetv3/model/index.js'
import { rng } from './random-state-dict.js'

const U = 2 ** -24

interface Case {
  /** kernel, stride, input height and width, batch, channels in (and out, or multiplier) */
  k: number
  s: number
  h: number
  w: number
  n: number
  ci: number
  co: number
  depthwise: boolean
  pad?: 'same'
}

const conv = (c: Omit<Case, 'depthwise'>): Case => ({ ...c, depthwise: false })
const dw = (c: Omit<Case, 'depthwise'>): Case => ({ ...c, depthwise: true })

const CASES: Case[] = [
  // the port's convs at 32x32, batch 32: the stem, an expand, the last 1x1
  conv({ k: 3, s: 2, h: 32, w: 32, n: 32, ci: 3, co: 16 }),
  conv({ k: 1, s: 1, h: 8, w: 8, n: 32, ci: 16, co: 72 }),
  conv({ k: 1, s: 1, h: 1, w: 1, n: 32, ci: 96, co: 576 }),
  // kernel 1, 3, 5 × stride 1, 2 × odd / even sizes, batch 1, few channels
  ...[1, 3, 5].flatMap((k) =>
    [1, 2].flatMap((s) => [
      conv({ k, s, h: 9, w: 9, n: 1, ci: 3, co: 4 }),
      conv({ k, s, h: 8, w: 10, n: 1, ci: 2, co: 5 }),
    ]),
  ),
  conv({ k: 3, s: 2, h: 16, w: 16, n: 1, ci: 3, co: 8, pad: 'same' }),
  conv({ k: 5, s: 2, h: 11, w: 11, n: 32, ci: 8, co: 8 }),
  // the port's depthwise convs at 32x32, batch 32
  dw({ k: 3, s: 2, h: 16, w: 16, n: 32, ci: 16, co: 1 }),
  dw({ k: 3, s: 2, h: 8, w: 8, n: 32, ci: 72, co: 1 }),
  dw({ k: 3, s: 1, h: 4, w: 4, n: 32, ci: 88, co: 1 }),
  dw({ k: 5, s: 2, h: 4, w: 4, n: 32, ci: 96, co: 1 }),
  dw({ k: 5, s: 1, h: 1, w: 1, n: 32, ci: 576, co: 1 }),
  ...[1, 3, 5].flatMap((k) =>
    [1, 2].flatMap((s) => [
      dw({ k, s, h: 9, w: 9, n: 1, ci: 3, co: 1 }),
      dw({ k, s, h: 8, w: 12, n: 1, ci: 4, co: 1 }),
    ]),
  ),
  dw({ k: 3, s: 2, h: 16, w: 16, n: 2, ci: 5, co: 1, pad: 'same' }),
  dw({ k: 5, s: 2, h: 15, w: 15, n: 32, ci: 24, co: 1 }),
  // a channel multiplier (the port has none; the kernels support it)
  dw({ k: 3, s: 2, h: 7, w: 7, n: 2, ci: 3, co: 2 }),
]

const label = (c: Case): string =>
  `${c.depthwise ? 'depthwise' : 'conv'} k${c.k} s${c.s} ${c.h}x${c.w} n${c.n} ` +
  `${c.ci}→${c.depthwise ? `×${c.co}` : c.co}${c.pad ? ` pad ${c.pad}` : ''}`

function normals(n: number, seed: number): Float32Array {
  const next = rng(seed)
  const out = new Float32Array(n)
  for (let i = 0; i < n; i++) {
    out[i] = Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next())
  }
  return out
}

interface Shapes {
  x: [number, number, number, number]
  f: [number, number, number, number]
  y: [number, number, number, number]
}

function shapesOf(c: Case): Shapes {
  const p = (c.k - 1) / 2
  const out = (len: number): number =>
    c.pad === 'same' ? Math.ceil(len / c.s) : Math.floor((len + 2 * p - c.k) / c.s) + 1
  const yc = c.depthwise ? c.ci * c.co : c.co
  return {
    x: [c.n, c.h, c.w, c.ci],
    f: [c.k, c.k, c.ci, c.co],
    y: [c.n, out(c.h), out(c.w), yc],
  }
}

/** ∂/∂x and ∂/∂w of Σ conv(x, w)·dy on the current backend. */
function grads(c: Case, x: Float32Array, f: Float32Array, dy: Float32Array) {
  const sh = shapesOf(c)
  const pad = c.pad ?? (c.k - 1) / 2
  return tf.tidy(() => {
    const dyT = tf.tensor4d(dy, sh.y)
    const g = tf.grads((xt: tf.Tensor, ft: tf.Tensor) => {
      const [x4, f4] = [xt as tf.Tensor4D, ft as tf.Tensor4D]
      const y = c.depthwise ? tf.depthwiseConv2d(x4, f4, c.s, pad) : tf.conv2d(x4, f4, c.s, pad)
      return tf.sum(tf.mul(y, dyT))
    })
    const [dx, df] = g([tf.tensor4d(x, sh.x), tf.tensor4d(f, sh.f)])
    return { dx: dx?.dataSync() as Float32Array, df: df?.dataSync() as Float32Array }
  })
}

/** The largest |got − want| / bound over elements (≤ 1 passes), and where. */
function worst(got: Float32Array, want: Float32Array, bound: Float32Array): [number, number] {
  let r = 0
  let at = -1
  for (let i = 0; i < want.length; i++) {
    const e = Math.abs((got[i] as number) - (want[i] as number))
    const q = e / Math.max(bound[i] as number, Number.MIN_VALUE)
    if (q > r) [r, at] = [q, i]
  }
  return [r, at]
}

beforeAll(async () => {
  await useBackend('cpu')
  await useBackend('wasm')
}, 60_000)

describe('wasm gradient kernels', () => {
  test('registered for wasm by useBackend; registering again adds nothing', () => {
    for (const name of WASM_GRAD_KERNELS) expect(tf.getKernel(name, 'wasm')).toBeDefined()
    for (const name of ['Sum', 'BatchMatMul', 'Conv2DBackpropInput']) {
      expect(tf.getKernel(name, 'wasm')).toBeDefined()
    }
    expect(WASM_GRAD_KERNELS).toEqual([
      'Conv2DBackpropFilter',
      'DepthwiseConv2dNativeBackpropInput',
      'DepthwiseConv2dNativeBackpropFilter',
    ])
    expect(registerWasmGradKernels()).toEqual([])
  })

  test('wasm Sum accumulates float32 in float64 (any axes, keepDims); int32 goes to the original', () => {
    const v = new Float32Array(3 * 1001).fill(1)
    for (let r = 0; r < 3; r++) v[r * 1001] = 2 ** 24
    tf.tidy(() => {
      const x = tf.tensor2d(v, [3, 1001])
      // a float32 running sum stalls at 2²⁴: 2²⁴ + 1 rounds back to 2²⁴
      expect([...tf.sum(x, 1).dataSync()]).toEqual([1, 2, 3].map(() => 2 ** 24 + 1000))
      expect(tf.sum(x, 1, true).shape).toEqual([3, 1])
      expect(tf.sum(tf.reshape(x, [3, 7, 143]), [0, 2]).shape).toEqual([7])
      expect(tf.sum(x).dataSync()[0]).toBe(3 * (2 ** 24 + 1000))
      expect([...tf.sum(tf.tensor2d([1, 2, 3, 4], [2, 2], 'int32'), 0).dataSync()]).toEqual([4, 6])
      expect(tf.sum(tf.tensor1d([1, 2], 'int32')).dtype).toBe('int32')
    })
  })

  test.each([
    [false, false],
    [true, false],
    [false, true],
    [true, true],
  ])(
    'wasm BatchMatMul, transposeA %s transposeB %s: within K·u of cpu, ranks 2 and 3',
    async (ta, tb) => {
      const shapes: Array<[number[], number[], number]> = [
        [ta ? [96, 32] : [32, 96], tb ? [576, 96] : [96, 576], 96],
        [ta ? [32, 1024] : [1024, 32], tb ? [10, 32] : [32, 10], 32],
        [ta ? [4, 256, 27] : [4, 27, 256], tb ? [4, 16, 256] : [4, 256, 16], 256],
      ]
      for (const [sa, sb, k] of shapes) {
        const size = (s: number[]): number => s.reduce((p, d) => p * d, 1)
        const [a, b] = [normals(size(sa), 4), normals(size(sb), 5)]
        const run = (x: Float32Array, y: Float32Array) =>
          tf.tidy(
            () => tf.matMul(tf.tensor(x, sa), tf.tensor(y, sb), ta, tb).dataSync() as Float32Array,
          )
        await useBackend('cpu')
        const want = run(a, b)
        const mag = run(a.map(Math.abs), b.map(Math.abs))
        await useBackend('wasm')
        const before = tf.memory().numTensors
        const got = run(a, b)
        expect(tf.memory().numTensors).toBe(before)
        expect(got.length).toBe(want.length)
        const [r] = worst(
          got,
          want,
          mag.map((m) => (k + 2) * U * m),
        )
        expect(r, `${sa} x ${sb}`).toBeLessThanOrEqual(1)
      }
    },
  )

  test.each(CASES.map((c) => [label(c), c] as const))(
    '%s: within the float32 accumulation bound of cpu',
    async (_, c) => {
      const sh = shapesOf(c)
      const size = (s: number[]): number => s.reduce((a, b) => a * b, 1)
      const x = normals(size(sh.x), 1)
      const f = normals(size(sh.f), 2)
      const dy = normals(size(sh.y), 3)
      await useBackend('cpu')
      const want = grads(c, x, f, dy)
      const abs = (a: Float32Array): Float32Array => a.map(Math.abs)
      const mag = grads(c, abs(x), abs(f), abs(dy))
      await useBackend('wasm')
      const before = tf.memory().numTensors
      const got = grads(c, x, f, dy)
      expect(tf.memory().numTensors).toBe(before)

      const [oh, ow] = [sh.y[1], sh.y[2]]
      const lFilter = c.depthwise ? oh * ow : 2 * MATMUL_CHUNK
      const lInput = c.k * c.k * c.co
      const bound = (m: Float32Array, l: number): Float32Array => m.map((v) => (l + 2) * U * v)
      const [rf, atF] = worst(got.df, want.df, bound(mag.df, lFilter))
      const [rx, atX] = worst(got.dx, want.dx, bound(mag.dx, lInput))
      expect(got.df.length).toBe(want.df.length)
      expect(got.dx.length).toBe(want.dx.length)
      expect(
        rf,
        `filter gradient, worst at ${atF}: ${got.df[atF]} vs ${want.df[atF]}`,
      ).toBeLessThanOrEqual(1)
      expect(
        rx,
        `input gradient, worst at ${atX}: ${got.dx[atX]} vs ${want.dx[atX]}`,
      ).toBeLessThanOrEqual(1)
      // not vacuous: the gradients are O(1) and not all zero
      expect(Math.max(...want.df.map(Math.abs))).toBeGreaterThan(0.1)
    },
    120_000,
  )
})

describe('sumFloat64', () => {
  test('sums over any axes, adjacent or not, as exact integer arithmetic says', () => {
    const shape = [2, 3, 4, 5]
    const v = Float32Array.from({ length: 120 }, (_, i) => i)
    const at = (a: number, b: number, c: number, d: number): number => ((a * 3 + b) * 4 + c) * 5 + d
    const s013 = sumFloat64(v, shape, [0, 1, 3])
    for (let c = 0; c < 4; c++) {
      let e = 0
      for (let a = 0; a < 2; a++)
        for (let b = 0; b < 3; b++) for (let d = 0; d < 5; d++) e += at(a, b, c, d)
      expect(s013[c]).toBe(e)
    }
    const s2 = sumFloat64(v, shape, [-2])
    expect(s2.length).toBe(30)
    expect(s2[7]).toBe([0, 1, 2, 3].reduce((p, c) => p + at(0, 1, c, 2), 0))
    expect([...sumFloat64(v, shape, [0, 1, 2, 3])]).toEqual([(119 * 120) / 2])
    expect([...sumFloat64(v, shape, [])]).toEqual([...v])
  })

  test('accumulates in float64: 2²⁴ + 1 + 1 + … does not stall as a float32 sum does', () => {
    const v = new Float32Array(1001).fill(1)
    v[0] = 2 ** 24
    expect(sumFloat64(v, [1001], [0])[0]).toBe(2 ** 24 + 1000)
  })
})
