/**
 * The generated stage input: a deterministic stand-in for the reference recipe's
 * `np.random.rand(*shape).astype(np.float32) - 0.5`.
 */
import type { NdArray } from '../compare/dtype.js'
import { AlignOptionsError } from '../compare/errors.js'
import type { FakeRandom } from './fixture-options.js'

/** The default shape of a generated input: one 224×224 RGB image, as the reference recipe's. */
export const FAKE_DATA_SHAPE: readonly number[] = [1, 3, 224, 224]

/**
 * A deterministic stand-in for `np.random.rand(*shape).astype(np.float32) - 0.5`: the same
 * shape, dtype and range, not numpy's values (load the reference's `fake_data.npy` for those).
 *
 * Each element is `k / 2^24 - 0.5`, where `k` is the top 24 bits of the next output of
 * mulberry32 seeded with `seed` (modulo 2^32). So the values are float32 exactly, uniform on
 * [-0.5, 0.5) (numpy's float64 → float32 cast can round up to 0.5; this cannot), in row-major
 * order, and the same for the same seed and shape on every platform.
 */
export function generateFakeData(options: FakeRandom = {}): NdArray<'float32'> {
  const shape = [...(options.shape ?? FAKE_DATA_SHAPE)]
  const seed = options.seed ?? 0
  if (!shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw new AlignOptionsError('shape', `must be integers >= 0, got [${shape.join(', ')}]`)
  }
  if (!Number.isSafeInteger(seed)) {
    throw new AlignOptionsError('seed', `must be an integer, got ${String(seed)}`)
  }
  const n = shape.reduce((p, d) => p * d, 1)
  if (n > 2 ** 30) throw new AlignOptionsError('shape', `too large: ${n} elements`)
  const data = new Float32Array(n)
  let a = Number(BigInt.asUintN(32, BigInt(seed)))
  for (let i = 0; i < n; i++) {
    // mulberry32
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    const u = (t ^ (t >>> 14)) >>> 0
    data[i] = (u >>> 8) / 2 ** 24 - 0.5
  }
  return { data, shape, dtype: 'float32' }
}
