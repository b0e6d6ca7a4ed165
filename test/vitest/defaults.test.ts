import { describe, expect, test } from 'vitest'
import { compare } from '../../src/compare/compare.js'
import {
  annotateChecksOf,
  annotateNewChecks,
  annotationOf,
  meanDiffDefaults,
  noiseDefaults,
  PROVIDE_KEY,
  projectDefaults,
  setProjectDefaults,
  settleAnnotations,
  withProjectDefaults,
} from '../../src/vitest/defaults.js'
import { type AlignCheck, toCheck } from '../../src/vitest/record.js'

describe('project defaults under call options', () => {
  const project = { tolerances: { float32: { rtol: 1e-4 } }, equalNan: true }

  test('no defaults: the call as it is', () => {
    const call = { atol: 1, keys: (k: string) => (k === 'a' ? { atol: 2 } : undefined) }
    expect(withProjectDefaults(undefined, call)).toBe(call)
    expect(withProjectDefaults({}, undefined)).toEqual({})
    expect(withProjectDefaults(project, undefined)).toBe(project)
  })

  test("merged per field and per dtype: a call's atol keeps the project's tolerances", () => {
    expect(withProjectDefaults(project, { atol: 1e-3, equalNan: false })).toEqual({
      tolerances: { float32: { rtol: 1e-4 } },
      atol: 1e-3,
      equalNan: false,
    })
    expect(
      withProjectDefaults(
        { tolerances: { float32: { rtol: 1e-4, atol: 1e-6 }, float64: { rtol: 1e-9 } } },
        { tolerances: { float32: { rtol: 1e-3 } } },
      ),
    ).toEqual({
      tolerances: { float32: { rtol: 1e-3, atol: 1e-6 }, float64: { rtol: 1e-9 } },
    })
  })

  test("a call's per-dtype tolerance beats the project's blanket atol", () => {
    const merged = withProjectDefaults({ atol: 1e-2 }, { tolerances: { float32: { atol: 1e-6 } } })
    expect(merged.atol).toBeUndefined()
    expect(merged.tolerances?.float32).toEqual({ atol: 1e-6 })
    expect(merged.tolerances?.float64).toEqual({ atol: 1e-2 })
    // the project's blanket value stays when the call does not touch that field
    expect(withProjectDefaults({ atol: 1e-2 }, { tolerances: { float32: { rtol: 0 } } })).toEqual({
      atol: 1e-2,
      tolerances: { float32: { rtol: 0 } },
    })
  })

  test("keys: merged per pattern, the call's after the project's; a call function over the project's patterns", () => {
    const merged = withProjectDefaults(
      { keys: { 'loss*': { atol: 0.5, rtol: 0 }, '**': { equalNan: true } } },
      { keys: { 'loss*': { atol: 0.1 }, logits: { rtol: 1e-3 } } },
    )
    expect(merged.keys).toEqual({
      '**': { equalNan: true },
      'loss*': { atol: 0.1, rtol: 0 },
      logits: { rtol: 1e-3 },
    })
    expect(Object.keys(merged.keys ?? {})).toEqual(['**', 'loss*', 'logits'])
    const fn = withProjectDefaults(
      { keys: { 'loss*': { atol: 0.5, rtol: 0 } } },
      { keys: (k) => (k === 'loss_1' ? { atol: 1 } : undefined) },
    ).keys
    expect(typeof fn).toBe('function')
    const call = fn as (k: string) => unknown
    expect(call('loss_1')).toEqual({ atol: 1, rtol: 0 })
    expect(call('loss_2')).toEqual({ atol: 0.5, rtol: 0 })
    expect(call('logits')).toBeUndefined()
  })

  test("toHaveMeanDiffBelow takes the project's defaults without the rule's fields", () => {
    expect(
      meanDiffDefaults({
        method: 'max',
        threshold: 1,
        atol: 1,
        tolerances: { float32: { rtol: 1 } },
        equalNan: true,
        keys: { loss: { threshold: 2, shape: 'squeeze' } },
      }),
    ).toEqual({ equalNan: true, keys: { loss: { shape: 'squeeze' } } })
  })
})

describe('noiseDefaults and the worker state', () => {
  test("toStayWithinNoise keeps the band's floor (atol, rtol, tolerances) but not the rule", () => {
    expect(
      noiseDefaults({
        method: 'mean',
        threshold: 1,
        atol: 1e-6,
        tolerances: { float32: { rtol: 1e-5 } },
        keys: { 'loss_*': { method: 'max', rtol: 0 } },
      }),
    ).toEqual({
      atol: 1e-6,
      tolerances: { float32: { rtol: 1e-5 } },
      keys: { 'loss_*': { rtol: 0 } },
    })
    expect(noiseDefaults(undefined)).toBeUndefined()
  })

  test('the defaults are set once per worker and read back; none without the plugin', () => {
    expect(PROVIDE_KEY).toBe('vitest-align')
    const before = projectDefaults()
    try {
      setProjectDefaults({ atol: 1 })
      expect(projectDefaults()).toEqual({ atol: 1 })
      setProjectDefaults(undefined)
      expect(projectDefaults()).toBeUndefined()
    } finally {
      setProjectDefaults(before)
    }
  })
})

const f32 = (...v: number[]) => Float32Array.from(v)

/** The checks a toAlignWith call records for this comparison. */
function checksOf(actual: unknown, expected: unknown, negated = false): AlignCheck[] {
  const result = compare(actual, expected)
  return result.keys.map((k) => toCheck('toAlignWith', negated, k, result.pass))
}

describe('annotationOf', () => {
  test('an aligned key is a notice with its numbers and its rule', () => {
    const [c] = checksOf({ logits: f32(1, 2) }, { logits: f32(1, 2) })
    expect(annotationOf(c as AlignCheck, true)).toEqual({
      message:
        'toAlignWith logits: aligned, max |Δ| 0, max rel Δ 0 (allclose atol=1e-5 rtol=1.3e-6)',
      type: 'notice',
    })
  })

  test('a failing key is an error that says why, naming the rule once', () => {
    const [c] = checksOf({ logits: f32(1, 2) }, { logits: f32(1, 3) })
    const { message, type } = annotationOf(c as AlignCheck, false)
    expect(type).toBe('error')
    expect(message).toMatch(
      /^toAlignWith logits: not aligned: 1 \/ 2 \(50\.0%\) elements outside allclose/,
    )
    expect(message.split('allclose atol=1e-5 rtol=1.3e-6')).toHaveLength(2)
  })

  test('a negative control says whether it holds', () => {
    const [broken] = checksOf(f32(1), f32(1), true)
    expect(annotationOf(broken as AlignCheck, false)).toMatchObject({
      type: 'error',
      message: expect.stringMatching(
        /^toAlignWith \(negative control\): aligned, .*; the negative control is broken$/,
      ),
    })
    const [holds] = checksOf(f32(1), f32(2), true)
    expect(annotationOf(holds as AlignCheck, true)).toMatchObject({
      type: 'notice',
      message: expect.stringMatching(/: not aligned, .*; the negative control holds$/),
    })
  })

  test('a key with a newline stays on one line', () => {
    const [c] = checksOf({ 'a\nb': f32(1) }, { 'a\nb': f32(1) })
    expect(annotationOf(c as AlignCheck, true).message).toMatch(/^toAlignWith a\\nb: aligned/)
  })
})

describe('annotateNewChecks', () => {
  /** A running test as a matcher sees it: its recorded checks and its annotate. */
  function running() {
    const annotations: [string, string][] = []
    const task = {
      meta: { align: [] as AlignCheck[] },
      context: {
        annotate: (message: string, type: string) => {
          annotations.push([message, type])
          return Promise.resolve()
        },
      },
    }
    return { task, annotations }
  }

  test('annotates only a marked test, and only the checks after `from`', async () => {
    const { task, annotations } = running()
    task.meta.align.push(...checksOf({ a: f32(1) }, { a: f32(1) }))
    const state = { task, isNot: false } as never
    annotateNewChecks(state, 0, true)
    expect(annotations).toEqual([]) // not marked
    annotateChecksOf(task)
    task.meta.align.push(...checksOf({ b: f32(1) }, { b: f32(2) }))
    annotateNewChecks(state, 1, false)
    expect(annotations.map(([m, t]) => [m.split(':')[0], t])).toEqual([['toAlignWith b', 'error']])
    await settleAnnotations(task)
    // unmarked again
    annotateNewChecks(state, 0, true)
    expect(annotations).toHaveLength(1)
  })

  test('under .not, a failed comparison is the control holding', () => {
    const { task, annotations } = running()
    annotateChecksOf(task)
    task.meta.align.push(...checksOf(f32(1), f32(2), true))
    annotateNewChecks({ task, isNot: true } as never, 0, false)
    expect(annotations[0]?.[1]).toBe('notice')
  })

  test('no running test: nothing happens', () => {
    expect(() => annotateNewChecks({ task: undefined } as never, 0, true)).not.toThrow()
  })
})
