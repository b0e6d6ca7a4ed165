/**
 * The benchmarks' pair: two float32 arrays, b = a·(1 ± 2e-6) with a random sign, so every element
 * is within tolerance and nothing can stop early. A fixed LCG, so every process (and numpy, which
 * loads the same arrays from .npy) sees the same data.
 *
 * @param {number} n
 * @returns {[Float32Array, Float32Array]}
 */
export function benchPair(n) {
  const a = new Float32Array(n)
  const b = new Float32Array(n)
  let seed = 12345
  const rand = () => {
    seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0
    return seed / 4294967296
  }
  for (let i = 0; i < n; i++) {
    const v = (rand() - 0.5) * 200
    a[i] = v
    b[i] = v * (1 + (rand() < 0.5 ? -2e-6 : 2e-6))
  }
  return [a, b]
}
