import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import type { NdArray } from '../../src/compare/dtype.js'
import { AlignOptionsError } from '../../src/compare/errors.js'
import { load, readReprodLog } from '../../src/io/index.js'
import { annotationOf } from '../../src/vitest/defaults.js'
import {
  defineAlignment,
  FAKE_DATA_SHAPE,
  generateFakeData,
  TensorLeakError,
} from '../../src/vitest/fixtures.js'
import type { AlignCheck } from '../../src/vitest/record.js'
import { runVitestCli } from '../helpers/run-vitest.js'

const project = fileURLToPath(new URL('../fixtures/projects/fixtures/', import.meta.url))
const paddle = fileURLToPath(new URL('../fixtures/reprod_log/paddle-mobilenetv3/', import.meta.url))

describe('generateFakeData', () => {
  test('has the shape, dtype and range of np.random.rand(1, 3, 224, 224).astype(np.float32) - 0.5', () => {
    const d = generateFakeData()
    expect([d.shape, d.dtype, d.data.length]).toEqual([[...FAKE_DATA_SHAPE], 'float32', 150528])
    expect(d.data).toBeInstanceOf(Float32Array)
    expect(d.data.every((x) => x >= -0.5 && x < 0.5)).toBe(true)
  })

  test('is deterministic by seed: mulberry32, k / 2^24 - 0.5', () => {
    const a = generateFakeData({ shape: [3], seed: 1 })
    expect(a.data).toEqual(generateFakeData({ shape: [3], seed: 1 }).data)
    expect(a.data).not.toEqual(generateFakeData({ shape: [3], seed: 2 }).data)
    // every value is on the 2^24 grid, so float32 holds it exactly
    expect(Array.from(a.data, (x) => (x + 0.5) * 2 ** 24)).toEqual(
      Array.from(a.data, (x) => Math.round((x + 0.5) * 2 ** 24)),
    )
    // pinned, so the generator never drifts
    expect(Array.from(generateFakeData({ shape: [4], seed: 0 }).data)).toMatchInlineSnapshot(`
      [
        -0.23357081413269043,
        -0.49967026710510254,
        -0.27672797441482544,
        -0.3537978529930115,
      ]
    `)
  })

  test('refuses a bad shape or seed, naming it', () => {
    expect(() => generateFakeData({ shape: [2, -1] })).toThrow("option 'shape'")
    expect(() => generateFakeData({ seed: 0.5 })).toThrow("option 'seed'")
  })
})

describe('defineAlignment options', () => {
  test('a misspelt or malformed option is refused, naming it', () => {
    const bad = (o: unknown) => () => defineAlignment(o as never)
    expect(bad({ fakedata: {} })).toThrow(AlignOptionsError)
    expect(bad({ fakedata: {} })).toThrow(
      "option 'fakedata': unknown option; did you mean 'fakeData'? known: fakeData,",
    )
    expect(bad({ fakeData: { input: { shape: [1], sed: 1 } } })).toThrow("'fakeData.input.sed'")
    expect(bad({ reference: { forward: { pth: 'x.npy' } } })).toThrow("'reference.forward'")
    expect(bad({ models: { candidat: () => 1 } })).toThrow("'models.candidat'")
    expect(bad({ models: { scope: 'test' } })).toThrow("'models.scope'")
    expect(bad({ tf: {} })).toThrow("'tf': must have memory().numTensors")
    expect(bad({ recordPath: 3 })).toThrow("'recordPath'")
  })

  test('a leak names its count', () => {
    expect(new TensorLeakError(2, 5, 7).message).toMatch(
      /^the test leaked 2 tensors \(tf.memory\(\).numTensors was 5 before it and 7 after\)/,
    )
  })
})

describe('annotations', () => {
  const check = (over: Partial<AlignCheck>): AlignCheck => ({
    matcher: 'toAlignWith',
    key: 'logits',
    pass: true,
    negated: false,
    rule: { method: 'allclose', atol: 1e-5, rtol: 1.3e-6 },
    stats: { n: 3, maxAbs: 2e-6, maxRel: 1e-6 },
    failures: [],
    callPass: over.pass ?? true, // a lone-key call: the call's verdict is the key's
    ...over,
  })

  test('a pass is a notice, a failure an error, a negative control by its outcome', () => {
    expect(annotationOf(check({}), true)).toEqual({
      type: 'notice',
      message:
        'toAlignWith logits: aligned, max |Δ| 2e-6, max rel Δ 1e-6 (allclose atol=1e-5 rtol=1.3e-6)',
    })
    expect(
      annotationOf(
        check({
          pass: false,
          actual: { shape: [3], dtype: 'float32' },
          expected: { shape: [4], dtype: 'float32' },
          failures: [{ kind: 'shape' }],
        }),
        false,
      ),
    ).toEqual({
      type: 'error',
      message:
        'toAlignWith logits: not aligned: shape (3,) != (4,), max |Δ| 2e-6, max rel Δ 1e-6 (allclose atol=1e-5 rtol=1.3e-6)',
    })
    expect(annotationOf(check({ negated: true, pass: false }), true).type).toBe('notice')
    expect(annotationOf(check({ negated: true, pass: true }), false)).toMatchObject({
      type: 'error',
      message: expect.stringContaining('the negative control is broken'),
    })
  })
})

/** One `<testcase>` of a JUnit report: its name, its properties (type, message), its failure. */
function junitCases(xml: string) {
  const decodeXml = (s: string) =>
    s
      .replaceAll('&lt;', '<')
      .replaceAll('&gt;', '>')
      .replaceAll('&quot;', '"')
      .replaceAll('&amp;', '&')
  return xml
    .split('<testcase ')
    .slice(1)
    .map((c) => ({
      name: decodeXml(/ name="([^"]*)"/.exec(c)?.[1] ?? ''),
      properties: [...c.matchAll(/<property name="([^"]*)" value="([^"]*)"/g)].map((m) => ({
        type: m[1],
        message: decodeXml(m[2] ?? ''),
      })),
      failure: decodeXml(/<failure message="([^"]*)"/.exec(c)?.[1] ?? ''),
    }))
}

describe('the fixtures in a project (Vitest CLI, JUnit and JSON reporters)', () => {
  let out: string
  let run: ReturnType<typeof runVitestCli>
  let states: Map<string, { status: string; failureMessages: string[] }>
  let events: string[]
  const count = (line: string) => events.filter((e) => e === line).length

  beforeAll(() => {
    out = mkdtempSync(join(tmpdir(), 'vitest-align-fixtures-'))
    process.env.ALIGN_OUT = out
    try {
      run = runVitestCli(project, [
        '--reporter=default',
        '--reporter=junit',
        `--outputFile.junit=${join(out, 'junit.xml')}`,
        '--reporter=json',
        `--outputFile.json=${join(out, 'results.json')}`,
      ])
    } finally {
      delete process.env.ALIGN_OUT
    }
    const results = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as {
      testResults: {
        assertionResults: { title: string; status: string; failureMessages: string[] }[]
      }[]
    }
    states = new Map(
      results.testResults.flatMap((f) => f.assertionResults.map((a) => [a.title, a])),
    )
    events = readFileSync(join(out, 'events.log'), 'utf8').trim().split('\n')
  }, 60_000)

  afterAll(() => rmSync(out, { recursive: true, force: true }))

  test('the run: every test as intended, the two failures on purpose', () => {
    expect(run.status, run.output).toBe(1)
    const failed = [...states].filter(([, s]) => s.status === 'failed').map(([t]) => t)
    expect(failed).toEqual([
      'forward: a failing check (on purpose)',
      'a test that leaks a tensor fails, naming the count (on purpose)',
    ])
    expect(states.size).toBe(13)
  })

  test('fakeData: loaded from .npy and generated (shape, range, determinism checked in the project)', () => {
    expect(states.get('fakeData: a .npy file and a seeded generated input')?.status).toBe('passed')
    expect(count('load fake_data.npy')).toBe(1)
  })

  test('reference: each stage file read lazily, once per test file', () => {
    // forward: touched by 3 tests of 02-forward and 1 of 03-loss; loss: by 03-loss only
    expect(count('load forward_ref.npy')).toBe(2)
    expect(count('load loss_ref.npy')).toBe(1)
    // two stages of one file: read once for each
    expect(count('load fake_label.npy')).toBe(2)
    expect(states.get('a reference file of one array is a one-key record')?.status).toBe('passed')
    expect(states.get('this file reads the forward reference again, once')?.status).toBe('passed')
  })

  test('models: made once per scope, disposed after it', () => {
    // worker scope: one candidate for both files (one worker, isolate: false)
    expect(count('create worker')).toBe(1)
    expect(count('dispose worker')).toBe(1)
    // file scope, async factories, a dispose hook: once for the file's two tests
    expect(count('create file')).toBe(1)
    expect(count('dispose file')).toBe(1)
    expect(count('dispose reference hook')).toBe(1)
    expect(events.indexOf('dispose file')).toBeGreaterThan(events.indexOf('create file'))
  })

  test('record: saved after the test as the stage candidate record, readable by readReprodLog', () => {
    const forward = readReprodLog(join(out, 'forward_candidate.npy'))
    const paddleLogits = (load(join(paddle, 'forward_paddle.npy')) as { logits: NdArray }).logits
    expect(Object.keys(forward)).toEqual(['logits'])
    expect(forward.logits).toEqual(paddleLogits)
    // two tests of the loss stage add their keys up
    const loss = readReprodLog(join(out, 'loss_candidate.npy'))
    expect(loss).toEqual({
      loss: { data: Float32Array.of(2.5), shape: [1], dtype: 'float32' },
      loss_scale: { data: Float32Array.of(0.5), shape: [1], dtype: 'float32' },
    })
    // recordPath as configured
    expect(Object.keys(readReprodLog(join(out, 'custom', 'loss.npy')))).toEqual(['weight'])
  })

  test('leak guard: a leaking test fails naming the count; opting out and disposing pass', () => {
    const leak = states.get('a test that leaks a tensor fails, naming the count (on purpose)')
    expect(leak?.failureMessages.join('\n')).toContain(
      'TensorLeakError: the test leaked 1 tensor (tf.memory().numTensors was 1 before it and 2 after)',
    )
    expect(states.get('a leak is allowed here')?.status).toBe('passed')
    expect(states.get('a disposed tensor is no leak')?.status).toBe('passed')
  })

  test('annotations: JUnit has one <property> per compared key, notice or error', () => {
    const cases = new Map(
      junitCases(readFileSync(join(out, 'junit.xml'), 'utf8')).map((c) => [c.name, c]),
    )
    expect(cases.get('forward: logits align with torch')?.properties).toEqual([
      {
        type: 'notice',
        message:
          'toAlignWith: aligned, max |Δ| 8.82e-6, max rel Δ 7.81e-4 (allclose atol=1e-5 rtol=1.3e-6)',
      },
      {
        type: 'notice',
        message:
          'toHaveMeanDiffBelow: aligned, max |Δ| 8.82e-6, max rel Δ 7.81e-4 (mean |Δ| <= 1e-5)',
      },
    ])
    expect(cases.get('forward: negative control')?.properties).toEqual([
      {
        type: 'notice',
        message: expect.stringMatching(/^toAlignWith \(negative control\): not aligned, .*holds$/),
      },
    ])
    // a failed assertion throws, yet its annotation is there
    const failing = cases.get('forward: a failing check (on purpose)')
    expect(failing?.properties).toEqual([
      { type: 'error', message: expect.stringMatching(/^toAlignWith logits: not aligned: shape/) },
    ])
    expect(failing?.failure).toMatch(/^toAlignWith: expected received to align/)
    expect(
      cases.get('loss: the worker-scoped candidate is the one the forward stage used')?.properties,
    ).toEqual([{ type: 'notice', message: expect.stringMatching(/^toAlignWith loss: aligned/) }])
    // no compared key, no property
    expect(cases.get('a disposed tensor is no leak')?.properties).toEqual([])
  })
})
