import { describe, expect, test } from 'vitest'

const f32 = (xs: number[]) => Float32Array.from(xs)

/** The error an assertion throws, so its message can be read. */
function failureOf(assertion: () => void): Error {
  try {
    assertion()
  } catch (e) {
    return e as Error
  }
  throw new Error('the assertion did not fail')
}

const PATHS = [
  'features.0.0',
  'features.0.1',
  'features.1.block.0.0',
  'features.1.block.1.0',
  'features.1',
  'classifier.0',
]

/** Module outputs: the reference, and a port whose error is `err(i)` relative at module i. */
function layers(err: (i: number) => number) {
  const torch: Record<string, Float32Array> = {}
  const tfjs: Record<string, Float32Array> = {}
  PATHS.forEach((p, i) => {
    const ref = Array.from({ length: 8 }, (_, j) => Math.cos(i * 7 + j) + 1.5)
    torch[p] = f32(ref)
    tfjs[p] = f32(ref.map((v, j) => v * (1 + (j % 2 ? err(i) : -err(i)))))
  })
  return { torch, tfjs }
}

describe('toAlignLayerwise', () => {
  test('passes when error only grows through depth, and records one check with every module', ({
    task,
  }) => {
    const { torch, tfjs } = layers((i) => 1e-7 * 4 ** i)
    expect(tfjs).toAlignLayerwise(torch)
    const check = task.meta.align?.[0]
    expect(task.meta.align).toHaveLength(1)
    expect(check?.matcher).toBe('toAlignLayerwise')
    expect(check?.pass).toBe(true)
    expect(check?.layerwise?.modules.map((m) => m.module)).toEqual(PATHS)
    expect(check?.layerwise?.firstBreak).toBeUndefined()
    expect(check?.layerwise?.growthFactor).toBe(10)
  })

  test('fails at the first break, with the module tree in the message', ({ task }) => {
    const { torch, tfjs } = layers((i) => (i >= 3 ? 0.05 : 1e-7))
    const e = failureOf(() => expect(tfjs).toAlignLayerwise(torch))
    const lines = e.message.split('\n')
    expect(lines[0]).toMatch(
      /^toAlignLayerwise: expected received to align layer by layer with expected, but alignment breaks at features\.1\.block\.1\.0: error 0\.05 /,
    )
    expect(e.message).toContain('features\n  0\n    0 ')
    expect(lines.find((l) => l.includes('<- alignment breaks here'))).toMatch(/^ {8}0 .* BREAK/)
    const check = task.meta.align?.[0]
    expect(check?.pass).toBe(false)
    expect(check?.layerwise?.firstBreak).toBe('features.1.block.1.0')
    expect(check?.failures[0]).toMatchObject({ kind: 'break', module: 'features.1.block.1.0' })
    expect(check?.layerwise?.modules[3]?.status).toBe('break')
  })

  test('.not holds for a one-module bug (the negative control); growthFactor is an option', () => {
    const { torch, tfjs } = layers((i) => (i === 2 ? 3e-5 : 1e-6))
    expect(tfjs).not.toAlignLayerwise(torch)
    expect(tfjs).toAlignLayerwise(torch, { growthFactor: 100 })
    expect(() => expect(tfjs).toAlignLayerwise(torch, { growthFactor: 0 })).toThrow(/growthFactor/)
  })
})
