/** See data.mjs. */
export function benchPair(n: number): [Float32Array, Float32Array]
