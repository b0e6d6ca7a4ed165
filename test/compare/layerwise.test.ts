import { describe, expect, test } from 'vitest'
import { withKeyOrder } from '../../src/compare/key-order.js'
import { compareLayerwise, layerTree } from '../../src/compare/layerwise.js'
import { formatLayerwise } from '../../src/compare/layerwise-format.js'

const f32 = (xs: number[]) => Float32Array.from(xs)

const MODULES = [
  'features.0.0',
  'features.0.1',
  'features.1.block.0.0',
  'features.1.block.0.1',
  'features.1.block.1.0',
  'features.1',
  'features.2.block.0.0',
  'features.2',
  'classifier.0',
]

/** A chain of module outputs: the reference, and a candidate off by `err(i)` relative. */
function chain(err: (i: number) => number) {
  const ref: Record<string, Float32Array> = {}
  const cand: Record<string, Float32Array> = {}
  MODULES.forEach((m, i) => {
    const base = Array.from({ length: 16 }, (_, j) => Math.sin(i + j) + 2)
    ref[m] = f32(base)
    cand[m] = f32(base.map((v, j) => v * (1 + err(i) * (j % 2 ? 1 : -1))))
  })
  return { ref, cand }
}

describe('compareLayerwise', () => {
  test('error growing geometrically through depth (×3 per module) is drift, not a break', () => {
    const { ref, cand } = chain((i) => 1e-6 * 3 ** i)
    const r = compareLayerwise(cand, ref)
    expect(r.pass).toBe(true)
    expect(r.firstBreak).toBeUndefined()
    expect(r.modules.map((m) => m.module)).toEqual(MODULES)
    // tight default tolerance: the late modules are over it, but grew only ×3 each
    expect(r.modules.filter((m) => m.status === 'drift').length).toBeGreaterThan(3)
    expect(r.modules[8]?.growth).toBeCloseTo(3, 1)
    expect(formatLayerwise(r)).toMatch(/^9 modules aligned layer by layer/)
  })

  test('a jump at one module is reported at exactly that module', () => {
    const { ref, cand } = chain((i) => (i >= 4 ? 0.3 : 1e-6 * 2 ** i))
    const r = compareLayerwise(cand, ref)
    expect(r.pass).toBe(false)
    expect(r.firstBreak).toBe(4)
    expect(r.modules[4]?.module).toBe('features.1.block.1.0')
    expect(r.modules[4]?.status).toBe('break')
    expect(r.modules[5]?.status).toBe('drift') // downstream of the break: no new jump
    expect(r.failures[0]).toMatchObject({ kind: 'break', module: 'features.1.block.1.0' })
    const text = formatLayerwise(r)
    expect(text.split('\n')[0]).toMatch(/^alignment breaks at features\.1\.block\.1\.0: error 0\.3/)
    expect(text).toContain('<- alignment breaks here')
    const breakLine = text.split('\n').find((l) => l.includes('<- alignment breaks here'))
    expect(breakLine).toMatch(/^ {8}0 +0\.3 +×37300 +BREAK/)
  })

  test('the growth factor decides: a ×20 jump breaks at 10, not at 50', () => {
    const { ref, cand } = chain((i) => (i >= 3 ? 2e-5 : 1e-6))
    expect(compareLayerwise(cand, ref).firstBreak).toBe(3)
    expect(compareLayerwise(cand, ref, { growthFactor: 50 }).pass).toBe(true)
    expect(() => compareLayerwise(cand, ref, { growthFactor: 0.5 })).toThrow(/growthFactor/)
  })

  test('a module within its tolerance never breaks, whatever its growth', () => {
    const { ref, cand } = chain((i) => (i >= 3 ? 1e-4 : 1e-8))
    expect(compareLayerwise(cand, ref, { atol: 1e-3 }).pass).toBe(true)
    // per-module tolerances through keys
    const loose = { atol: 1e-3 }
    const r = compareLayerwise(cand, ref, { keys: { 'features.1': loose, 'features.1.**': loose } })
    expect(r.modules.slice(3, 6).map((m) => m.status)).toEqual(['aligned', 'aligned', 'aligned'])
    // over its tolerance, but no bigger than the error already there: drift
    expect(r.modules[6]?.status).toBe('drift')
    expect(r.pass).toBe(true)
  })

  test('a NaN output breaks there; a shape mismatch too; missing modules fail', () => {
    const { ref, cand } = chain(() => 1e-7)
    const nan = { ...cand, 'features.1': f32([Number.NaN, ...Array(15).fill(2)]) }
    expect(compareLayerwise(nan, ref).modules[5]?.status).toBe('break')
    const shape = { ...cand, 'features.0.1': f32([1, 2]) }
    const s = compareLayerwise(shape, ref)
    expect(s.firstBreak).toBe(1)
    expect(s.modules[1]?.error).toBe(Number.POSITIVE_INFINITY)
    const { 'features.2': _, ...without } = cand
    const m = compareLayerwise({ ...without, extra: f32([1]) }, ref)
    expect(m.pass).toBe(false)
    expect(m.failures).toEqual([{ kind: 'modules', missing: ['features.2'], extra: ['extra'] }])
    expect(formatLayerwise(m)).toContain('modules missing from actual: features.2')
  })

  test('every module vacuous (outputs within atol of zero) fails', () => {
    const tiny = { a: f32([1e-10, 2e-10]), b: f32([3e-10, 1e-10]) }
    const r = compareLayerwise(tiny, tiny)
    expect(r.pass).toBe(false)
    expect(r.failures).toEqual([{ kind: 'vacuous' }])
  })

  test('the order is the expected record’s, as a file keeps it (integer-like keys too)', () => {
    const ref = withKeyOrder({ '3': f32([1]), '1': f32([2]), '2': f32([3]) }, ['3', '1', '2'])
    const r = compareLayerwise({ '1': f32([2]), '2': f32([3]), '3': f32([1]) }, ref)
    expect(r.modules.map((m) => m.module)).toEqual(['3', '1', '2'])
  })
})

describe('layerTree', () => {
  test('headings for path segments, a module row each, a parent after its children', () => {
    const rows = layerTree(['features.0.0', 'features.0.1', 'features.1.block.0', 'features.1'])
    expect(
      rows.map(
        (r) => `${'  '.repeat(r.depth)}${r.label}${r.module !== undefined ? ` #${r.module}` : ''}`,
      ),
    ).toEqual([
      'features',
      '  0',
      '    0 #0',
      '    1 #1',
      '  1',
      '    block',
      '      0 #2',
      '  1 #3',
    ])
  })
})
