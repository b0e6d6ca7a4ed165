import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { describe, expect, test } from 'vitest'
import type { NdArray } from '../../src/compare/dtype.js'
import { AlignOptionsError } from '../../src/compare/errors.js'
import { diffReprodLogs, formatReprodLog } from '../../src/io/reprod-diff.js'
import { readReprodLog } from '../../src/io/reprod-log.js'

const DIR = fileURLToPath(new URL('../fixtures/reprod_log/paddle-mobilenetv3', import.meta.url))
const pair = (name: string) =>
  [readReprodLog(`${DIR}/${name}_ref.npy`), readReprodLog(`${DIR}/${name}_paddle.npy`)] as const

const PREFIX = /^\[(\d{4})\/(\d\d)\/(\d\d) (\d\d):(\d\d):(\d\d)\] root INFO: /
/** A reprod_log log file: its lines without the logger's prefix, and the date of its first line. */
function logFile(name: string): { text: string; lines: string[]; date: Date } {
  const text = readFileSync(`${DIR}/log/${name}`, 'utf8')
  const raw = text.split('\n').slice(0, -1)
  const m = PREFIX.exec(raw[0] as string) as RegExpExecArray
  const [y, mo, d, h, mi, s] = m.slice(1).map(Number) as number[]
  const date = new Date(y as number, (mo as number) - 1, d, h, mi, s)
  return { text, lines: raw.map((l) => l.replace(PREFIX, '')), date }
}

const f32 = (...v: number[]): NdArray => ({
  data: Float32Array.from(v),
  shape: [v.length],
  dtype: 'float32',
})
const f32s = (v: number): NdArray => ({ data: Float32Array.of(v), shape: [], dtype: 'float32' })

describe('the reports equal reprod_log logs of the tutorial', () => {
  test.each([
    ['losses', 'backward_diff.log'],
    ['loss', 'loss_diff.log'],
    ['metric', 'metric_diff.log'],
    ['metric', 'acc_diff.log'],
  ])('%s → log/%s, line for line and byte for byte', (name, log) => {
    const [ref, cand] = pair(name)
    const { text, lines, date } = logFile(log)
    const diff = diffReprodLogs(ref, cand)
    expect(diff.lines).toEqual(lines)
    expect(formatReprodLog(diff.lines, date)).toBe(text)
    expect(diff.pass).toBe(lines.at(-1) === 'diff check passed')
  })

  test('forward (threshold 1e-5) → log/forward_diff.log but for the value, from a later run', () => {
    const [ref, cand] = pair('forward')
    const diff = diffReprodLogs(ref, cand, { threshold: 1e-5 })
    const { lines } = logFile('forward_diff.log')
    expect(lines[1]).toBe('\tmean diff: check passed: True, value: 1.7629824924370041e-06')
    expect(diff.lines).toEqual([
      lines[0],
      '\tmean diff: check passed: True, value: 2.308018565599923e-06',
      lines[2],
    ])
    expect(diff.pass).toBe(true)
    expect(diff.result.keys[0]?.stats?.maxAbs).toBeCloseTo(8.821487426757812e-6, 18)
  })

  test('the verdict is returned, and the core result is the same comparison', () => {
    const [ref, cand] = pair('losses')
    const diff = diffReprodLogs(ref, cand)
    expect(diff.pass).toBe(false)
    expect(diff.result.pass).toBe(false)
    expect(diff.result.keys.map((k) => [k.key, k.pass])).toEqual([
      ['loss_0', false],
      ['lr_0', true],
      ['loss_1', true],
      ['lr_1', true],
      ['loss_2', false],
      ['lr_2', true],
    ])
  })
})

describe('diffReprodLogs beyond reprod_log', () => {
  test('nested dicts: the key without a colon, its keys one tab deeper', () => {
    const ref = { blk: { a: f32(1), b: f32(2) } }
    const cand = { blk: { a: f32(1), b: f32(3) } }
    expect(diffReprodLogs(ref, cand, { allowVacuous: true }).lines).toEqual([
      'blk',
      '\ta: ',
      '\t\tmean diff: check passed: True, value: 0.0',
      '\tb: ',
      '\t\tmean diff: check passed: False, value: 1.0',
      'diff check failed',
    ])
  })

  test('a missing or an extra key is a line and a failure (reprod_log: a bare assert)', () => {
    const ref = { loss_0: f32s(1), loss_3: f32s(2), blk: { x: f32s(1) } }
    const cand = { loss_0: f32s(1), extra: f32s(5), blk: { x: f32s(1), y: f32s(2) } }
    const diff = diffReprodLogs(ref, cand)
    expect(diff.lines).toEqual([
      'loss_0: ',
      '\tmean diff: check passed: True, value: 0.0',
      'loss_3: missing from candidate',
      'blk',
      '\tx: ',
      '\t\tmean diff: check passed: True, value: 0.0',
      '\ty: missing from reference',
      'extra: missing from reference',
      'diff check failed',
    ])
    expect(diff.pass).toBe(false)
  })

  test('NaN and unmatched infinities fail closed (reprod_log passes them)', () => {
    const ref = { a: f32(Number.NaN, 1), c: f32(1) }
    const cand = { a: f32(Number.NaN, 1), c: f32(Number.POSITIVE_INFINITY) }
    const diff = diffReprodLogs(ref, cand, { method: 'all' })
    expect(diff.lines).toEqual([
      'a: ',
      '\tmin diff: check passed: False, value: nan',
      '\tmax diff: check passed: False, value: nan',
      '\tmean diff: check passed: False, value: nan',
      'c: ',
      '\tmin diff: check passed: False, value: inf',
      '\tmax diff: check passed: False, value: inf',
      '\tmean diff: check passed: False, value: inf',
      'diff check failed',
    ])
    expect(diff.pass).toBe(false)
  })

  test("equal infinities match: numpy's nan prints, the line and the verdict say passed", () => {
    // issue 8: {'a': float32 [1, inf]} against itself exited 0 while its log said failed
    const a = { a: f32(1, Number.POSITIVE_INFINITY) }
    const diff = diffReprodLogs(a, { a: f32(1, Number.POSITIVE_INFINITY) })
    expect(diff.lines).toEqual([
      'a: ',
      '\tmean diff: check passed: True, value: nan',
      "\tnote: judged on mean |Δ| computed exactly (float64), 0.0, within 1e-06: equal infinities count as equal, where numpy's inf - inf is nan",
      'diff check passed',
    ])
    expect(diff.pass).toBe(true)
    expect(diff.result.pass).toBe(true)
  })

  test("'all' prints min, max, mean; a failing max does not turn the mean False (reprod_log bug)", () => {
    const ref = { w: f32(0, 0, 0, 0, 10) }
    const cand = { w: f32(0, 0, 0, 0, 10.000004) }
    const diff = diffReprodLogs(ref, cand, { method: 'all', threshold: 1e-6, allowVacuous: true })
    expect(diff.lines).toEqual([
      'w: ',
      '\tmin diff: check passed: True, value: 0.0',
      '\tmax diff: check passed: False, value: 3.814697265625e-06',
      '\tmean diff: check passed: True, value: 7.629394644936838e-07',
      'diff check failed',
    ])
  })

  test('a value equal to the threshold passes, as in reprod_log (strictly greater fails)', () => {
    const ref = { x: f32(1) }
    const cand = { x: f32(1.5) }
    expect(diffReprodLogs(ref, cand, { threshold: 0.5 }).pass).toBe(true)
    expect(diffReprodLogs(ref, cand, { threshold: 0.4999 }).pass).toBe(false)
  })

  test('shapes that differ beyond size-1 dims: no statistics, a line saying why', () => {
    const ref = { x: { data: new Float32Array(6), shape: [2, 3], dtype: 'float32' } as NdArray }
    const cand = { x: { data: new Float32Array(6), shape: [3, 2], dtype: 'float32' } as NdArray }
    expect(diffReprodLogs(ref, cand).lines).toEqual([
      'x: ',
      '\tnote: reference (2, 3) and candidate (3, 2) are compared element by element; reprod_log cannot broadcast them (numpy raises)',
      '\tmean diff: check passed: True, value: 0.0',
      '\tcheck failed: shape (3, 2) != (2, 3) (candidate vs reference)',
      'diff check failed',
    ])
    const four = { x: { data: new Float32Array(4), shape: [4], dtype: 'float32' } as NdArray }
    expect(diffReprodLogs(ref, four).lines).toEqual([
      'x: ',
      '\tcheck failed: shape (4,) != (2, 3) (candidate vs reference)',
      'diff check failed',
    ])
  })

  test('size-1 dims are squeezed: (1, 3) vs (3,) and () vs (1,) are paired element by element', () => {
    const ref = {
      x: { data: Float32Array.of(1, 2, 3), shape: [1, 3], dtype: 'float32' } as NdArray,
    }
    const cand = { x: f32(1, 2, 3.5) }
    expect(diffReprodLogs(ref, cand, { threshold: 0.2 }).lines[1]).toBe(
      '\tmean diff: check passed: True, value: 0.1666666716337204',
    )
  })

  test('a vacuous check (an all-zero candidate would pass) fails with a line; allowVacuous lifts it', () => {
    const ref = { g: f32(1e-8, -2e-8) }
    const cand = { g: f32(1.1e-8, -2e-8) }
    const strict = diffReprodLogs(ref, cand)
    expect(strict.lines[1]).toMatch(/^\tmean diff: check passed: True, value: 5\.\d+e-10$/)
    expect(strict.lines[2]).toMatch(
      /^\tcheck failed: vacuous: an all-zero candidate would pass too \(mean \|reference\| /,
    )
    expect(strict.lines.at(-1)).toBe('diff check failed')
    expect(strict.pass).toBe(false)
    const lax = diffReprodLogs(ref, cand, { allowVacuous: true })
    expect(lax.lines).toHaveLength(3)
    expect(lax.pass).toBe(true)
  })

  test("when numpy's float32 mean passes but the exact mean does not: False, and a line says why", () => {
    // find a pair whose float32 |Δ| rounds down: its exact |Δ| is above the float32 value
    let a = 0
    let b = 0
    for (let i = 1; ; i++) {
      a = Math.fround(1 + i * 1e-3)
      b = Math.fround(Math.PI * i)
      if (Math.abs(a - b) > Math.fround(Math.abs(a - b))) break
    }
    const threshold = Math.fround(Math.abs(a - b))
    const diff = diffReprodLogs({ x: f32s(a) }, { x: f32s(b) }, { threshold })
    expect(diff.lines[1]).toBe(`\tmean diff: check passed: False, value: ${threshold}`)
    expect(diff.lines[2]).toBe(
      `\tcheck failed: mean |Δ| computed exactly (float64) is ${Math.abs(a - b)}, above ${threshold}`,
    )
    expect(diff.pass).toBe(false)
  })

  test('a dict against an array, and two empty records', () => {
    const diff = diffReprodLogs({ x: { y: f32(1) } }, { x: f32(1) })
    expect(diff.lines).toEqual([
      'x: ',
      '\tcheck failed: the reference is a dict, the candidate an array',
      'diff check failed',
    ])
    expect(diffReprodLogs({}, {}).lines).toEqual([
      'check failed: nothing was compared (no keys)',
      'diff check failed',
    ])
  })

  test('integers: wrap-around as numpy (uint8 0 - 1 = 255), max and min printed as ints', () => {
    const u8 = (...v: number[]): NdArray => ({
      data: Uint8Array.from(v),
      shape: [v.length],
      dtype: 'uint8',
    })
    const diff = diffReprodLogs({ c: u8(0, 5) }, { c: u8(1, 5) }, { method: 'all', threshold: 300 })
    expect(diff.lines.slice(1, 4)).toEqual([
      '\tmin diff: check passed: True, value: 0',
      '\tmax diff: check passed: True, value: 255',
      '\tmean diff: check passed: True, value: 127.5',
    ])
    // the core's exact mean |1 - 0| / 2 = 0.5 judges: within 0.9, though numpy's 127.5 is not
    const tight = diffReprodLogs({ c: u8(0, 5) }, { c: u8(1, 5) }, { threshold: 0.9 })
    expect(tight.lines).toEqual([
      'c: ',
      '\tmean diff: check passed: True, value: 127.5',
      "\tnote: judged on mean |Δ| computed exactly (float64), 0.5, within 0.9; the value printed is numpy's, in uint8 arithmetic",
      'diff check passed',
    ])
    expect(tight.pass).toBe(true)
    expect(diffReprodLogs({ c: u8(0, 5) }, { c: u8(1, 5) }, { threshold: 0.4 }).lines[1]).toBe(
      '\tmean diff: check passed: False, value: 127.5',
    )
  })

  test('bad options are typed errors', () => {
    expect(() => diffReprodLogs({}, {}, { threshold: -1 })).toThrow(AlignOptionsError)
    expect(() => diffReprodLogs({}, {}, { method: 'median' as never })).toThrow(AlignOptionsError)
  })

  test('each call reports once: nothing accumulates between calls', () => {
    const [ref, cand] = pair('loss')
    const a = diffReprodLogs(ref, cand).lines
    const b = diffReprodLogs(ref, cand).lines
    expect(b).toEqual(a)
    expect(a).toHaveLength(3)
  })
})

describe('formatReprodLog', () => {
  test("prefixes each line with reprod_log's logger format, local time", () => {
    const date = new Date(2022, 0, 3, 6, 5, 4)
    expect(formatReprodLog(['a: ', '\tb'], date)).toBe(
      '[2022/01/03 06:05:04] root INFO: a: \n[2022/01/03 06:05:04] root INFO: \tb\n',
    )
  })
})

describe('one verdict: the lines render the result, never judge again', () => {
  test('float32 mean above the threshold, exact mean within: the exact one judges (issue 8)', () => {
    const ref = { x: f32(0.9577587, -0.19980213, 0.024259565) }
    const cand = { x: f32(0.9577603, -0.19980158, 0.024259061) }
    const threshold = 8.686135307319395e-7
    const diff = diffReprodLogs(ref, cand, { threshold, shape: 'squeeze' })
    expect(diff.lines).toEqual([
      'x: ',
      // numpy's float32 mean, as reprod_log prints it (reprod_log: False)
      '\tmean diff: check passed: True, value: 8.686135402058426e-07',
      "\tnote: judged on mean |Δ| computed exactly (float64), 8.686135212580363e-07, within 8.686135307319395e-07; the value printed is numpy's, in float32 arithmetic",
      'diff check passed',
    ])
    expect(diff.pass).toBe(true)
    expect(diff.result.pass).toBe(true)
  })

  test("the caller's options reach compare(): shape 'strict' fails () vs (1,), and the last line says so", () => {
    const diff = diffReprodLogs({ loss: f32s(2) }, { loss: f32(2) }, { shape: 'strict' })
    expect(diff.pass).toBe(false)
    expect(diff.lines).toEqual([
      'loss: ',
      '\tmean diff: check passed: True, value: 0.0',
      '\tcheck failed: shape (1,) != () (candidate vs reference); they differ only in size-1 dimensions, which --shape squeeze ignores',
      'diff check failed',
    ])
    expect(diffReprodLogs({ loss: f32s(2) }, { loss: f32(2) }, { allowVacuous: true }).pass).toBe(
      true,
    )
  })

  test('pairs numpy would broadcast: a note line says they are compared element by element', () => {
    const arr = (shape: number[]): NdArray => ({
      data: Float32Array.from({ length: shape.reduce((p, d) => p * d, 1) }, (_, i) => i + 1),
      shape,
      dtype: 'float32',
    })
    const cases: [number[], number[], string][] = [
      [[2, 1, 3], [2, 3], 'reprod_log would broadcast them to (2, 2, 3)'],
      [[3, 1], [3], 'reprod_log would broadcast them to (3, 3)'],
      [[2, 3, 1], [1, 2, 3], 'reprod_log cannot broadcast them (numpy raises)'],
    ]
    for (const [r, c, tail] of cases) {
      const diff = diffReprodLogs({ w: arr(r) }, { w: arr(c) })
      expect(diff.lines[1]).toBe(
        `\tnote: reference ${fmt(r)} and candidate ${fmt(c)} are compared element by element; ${tail}`,
      )
      expect(diff.lines[2]).toBe('\tmean diff: check passed: True, value: 0.0')
    }
    // numpy pairs these element by element too: no note
    for (const [r, c] of [
      [[1, 3], [3]],
      [[], [1]],
    ] as const) {
      expect(diffReprodLogs({ w: arr([...r]) }, { w: arr([...c]) }).lines).toHaveLength(3)
    }
  })

  test('a key cannot plant a line: control characters and newlines are escaped in the log', () => {
    const evil = 'a\n[2024/01/01 00:00:00] root INFO: diff check passed\u001b]0;pwned\u0007'
    const diff = diffReprodLogs({ [evil]: f32(1) }, { [evil]: f32(2) })
    const log = formatReprodLog(diff.lines, new Date(2024, 0, 1))
    expect(log.split('\n')).toHaveLength(diff.lines.length + 1)
    expect(hasControl(log.replaceAll('\n', '').replaceAll('\t', ''))).toBe(false)
    expect(diff.lines[0]).toBe(
      'a\\n[2024/01/01 00:00:00] root INFO: diff check passed\\x1b]0;pwned\\x07: ',
    )
    expect(log.trimEnd().split('\n').at(-1)).toMatch(/root INFO: diff check failed$/)
    // whatever a caller passes to formatReprodLog stays one line each; tabs stay reprod_log's
    expect(formatReprodLog(['x\ny', '\tz'], new Date(2024, 0, 1))).toBe(
      '[2024/01/01 00:00:00] root INFO: x\\ny\n[2024/01/01 00:00:00] root INFO: \tz\n',
    )
  })
})

const fmt = (shape: readonly number[]) =>
  shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`

/** Whether text holds a C0 control character or DEL. */
const hasControl = (text: string): boolean =>
  [...text].some((ch) => (ch.codePointAt(0) as number) < 0x20 || ch === '\u007f')
