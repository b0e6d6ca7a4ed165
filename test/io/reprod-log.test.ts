import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, test } from 'vitest'
import type { NdArray } from '../../src/compare/dtype.js'
import { AlignOptionsError } from '../../src/compare/errors.js'
import { NpyFormatError, PickleFormatError, WriteError } from '../../src/io/errors.js'
import { diffReprodLogs, formatReprodLog } from '../../src/io/reprod-diff.js'
import {
  encodeReprodLog,
  ReprodLogger,
  readReprodLog,
  recordPickleOffset,
  writeReprodLog,
} from '../../src/io/reprod-log.js'
import type { NdRecord } from '../../src/io/types.js'

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

const tmp = mkdtempSync(join(tmpdir(), 'reprod-log-'))
afterAll(() => rmSync(tmp, { recursive: true, force: true }))

describe('readReprodLog on the MobileNetV3 fixtures', () => {
  test('dtypes and shapes as the fixtures README lists them (reference / paddle)', () => {
    const summary = (r: NdRecord) =>
      Object.fromEntries(
        Object.entries(r).map(([k, v]) => [k, `${(v as NdArray).dtype} (${(v as NdArray).shape})`]),
      )
    const [fr, fp] = pair('forward')
    expect(summary(fr)).toEqual({ logits: 'float32 (1,1000)' })
    expect(summary(fp)).toEqual({ logits: 'float32 (1,1000)' })
    const [lr, lp] = pair('loss')
    expect([summary(lr), summary(lp)]).toEqual([{ loss: 'float32 ()' }, { loss: 'float32 (1)' }])
    const [sr, sp] = pair('losses')
    expect(summary(sr)).toEqual({
      loss_0: 'float32 ()',
      lr_0: 'float64 (1)',
      loss_1: 'float32 ()',
      lr_1: 'float64 (1)',
      loss_2: 'float32 ()',
      lr_2: 'float64 (1)',
    })
    expect(summary(sp).lr_0).toBe('float64 ()')
    expect(summary(sp).loss_0).toBe('float32 (1)')
    expect((sr.loss_0 as NdArray).data[0]).toBe(Math.fround(10.842716))
    expect((sr.lr_0 as NdArray).data[0]).toBe(0.001)
    const [mr, mp] = pair('metric')
    expect([summary(mr), summary(mp)]).toEqual([
      { acc_top1: 'float32 ()', acc_top5: 'float32 ()' },
      { acc_top1: 'float32 (1)', acc_top5: 'float32 (1)' },
    ])
  })

  test('from a path, a Node Buffer at any offset, a Uint8Array or an ArrayBuffer', () => {
    const path = `${DIR}/losses_ref.npy`
    const want = readReprodLog(path)
    const buf = readFileSync(path)
    const shifted = new Uint8Array(buf.length + 3).subarray(3)
    shifted.set(buf)
    expect(readReprodLog(shifted)).toEqual(want)
    expect(readReprodLog(buf)).toEqual(want)
    expect(readReprodLog(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length))).toEqual(
      want,
    )
  })

  test('a plain .npy array is refused with a reason', () => {
    let e: unknown
    try {
      readReprodLog(`${DIR}/fake_data.npy`)
    } catch (err) {
      e = err
    }
    expect(e).toBeInstanceOf(NpyFormatError)
    expect((e as Error).message).toBe(
      `${DIR}/fake_data.npy: descr '<f4' with shape (1, 3, 224, 224): a plain array, not a reprod_log record (a pickled dict, descr '|O')`,
    )
  })

  test('errors name the source given, or <bytes>', () => {
    const bytes = readFileSync(`${DIR}/loss_ref.npy`).subarray(0, 200)
    expect(() => readReprodLog(bytes)).toThrow(/^<bytes>: truncated/)
    expect(() => readReprodLog(bytes, { source: 'loss.npy' })).toThrow(PickleFormatError)
    expect(() => readReprodLog(bytes, { source: 'loss.npy' })).toThrow(/^loss\.npy: /)
  })
})

describe('the .npy header of a record', () => {
  const header = (major: number, dict: string): Uint8Array => {
    const text = `${dict}\n`
    const prefix = major === 1 ? 10 : 12
    const out = new Uint8Array(prefix + Buffer.byteLength(text))
    out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, major, 0])
    const v = new DataView(out.buffer)
    if (major === 1) v.setUint16(8, Buffer.byteLength(text), true)
    else v.setUint32(8, Buffer.byteLength(text), true)
    out.set(Buffer.from(text), prefix)
    return out
  }
  const OK = "{'descr': '|O', 'fortran_order': False, 'shape': (), }"

  test('versions 1.0, 2.0 and 3.0', () => {
    expect(recordPickleOffset(header(1, OK))).toBe(10 + OK.length + 1)
    expect(recordPickleOffset(header(2, OK))).toBe(12 + OK.length + 1)
    const v3 = "{'shape':(),'fortran_order':True,'descr':'|O'}"
    expect(recordPickleOffset(header(3, v3))).toBe(12 + v3.length + 1)
  })

  test.each([
    ['no magic', new Uint8Array(20), 'no \\x93NUMPY magic'],
    [
      'version 4',
      (() => {
        const h = header(1, OK)
        h[6] = 4
        return h
      })(),
      'unknown .npy version 4.0',
    ],
    ['a truncated header', header(1, OK).subarray(0, 40), 'truncated .npy header'],
    [
      'an object array of shape (2,)',
      header(1, "{'descr': '|O', 'fortran_order': False, 'shape': (2,), }"),
      'shape (2,), not a record',
    ],
    [
      'a header without shape',
      header(1, "{'descr': '|O', 'fortran_order': False}"),
      'without descr, fortran_order and shape',
    ],
    [
      'a structured descr',
      header(1, "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': ()}"),
      'without descr',
    ],
  ])('refuses %s', (_, bytes, message) => {
    expect(() => recordPickleOffset(bytes)).toThrow(NpyFormatError)
    expect(() => recordPickleOffset(bytes)).toThrow(message)
  })

  test('maxHeaderBytes', () => {
    expect(() => recordPickleOffset(header(1, OK), { maxHeaderBytes: 10 })).toThrow(
      'header of 55 bytes is over maxHeaderBytes 10',
    )
  })
})

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

  test('NaN and infinities fail closed (reprod_log passes them)', () => {
    const ref = { a: f32(Number.NaN, 1), b: f32(Number.POSITIVE_INFINITY), c: f32(1) }
    const cand = {
      a: f32(Number.NaN, 1),
      b: f32(Number.POSITIVE_INFINITY),
      c: f32(Number.POSITIVE_INFINITY),
    }
    const diff = diffReprodLogs(ref, cand, { method: 'all' })
    expect(diff.lines).toEqual([
      'a: ',
      '\tmin diff: check passed: False, value: nan',
      '\tmax diff: check passed: False, value: nan',
      '\tmean diff: check passed: False, value: nan',
      'b: ',
      '\tmin diff: check passed: False, value: nan',
      '\tmax diff: check passed: False, value: nan',
      '\tmean diff: check passed: False, value: nan',
      'c: ',
      '\tmin diff: check passed: False, value: inf',
      '\tmax diff: check passed: False, value: inf',
      '\tmean diff: check passed: False, value: inf',
      'diff check failed',
    ])
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
      '\tcheck failed: shapes differ beyond size-1 dimensions: reference (2, 3), candidate (3, 2)',
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
    expect(strict.lines[2]).toMatch(/^\tcheck failed: vacuous: an all-zero actual would pass too/)
    expect(strict.lines.at(-1)).toBe('diff check failed')
    expect(strict.pass).toBe(false)
    const lax = diffReprodLogs(ref, cand, { allowVacuous: true })
    expect(lax.lines).toHaveLength(3)
    expect(lax.pass).toBe(true)
  })

  test("when numpy's float32 mean passes but the exact mean does not, a line says so", () => {
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
    expect(diff.lines[1]).toContain('check passed: True')
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
    // the core compares |1 - 0| = 1 and passes too; with threshold 0.9 it fails, with its reason
    const tight = diffReprodLogs({ c: u8(0, 5) }, { c: u8(1, 5) }, { threshold: 0.9 })
    expect(tight.lines[1]).toBe('\tmean diff: check passed: False, value: 127.5')
    expect(tight.pass).toBe(false)
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

describe('writing', () => {
  test('encodeReprodLog writes numpy 1.x bytes: each fixture file exactly', () => {
    for (const name of ['forward_ref', 'loss_paddle', 'losses_ref', 'metric_paddle']) {
      const bytes = readFileSync(`${DIR}/${name}.npy`)
      expect(Buffer.from(encodeReprodLog(readReprodLog(bytes))).equals(bytes), name).toBe(true)
    }
  })

  test('writeReprodLog appends .npy when missing and creates the folder', () => {
    const rec = { x: f32(1, 2) }
    const file = writeReprodLog(join(tmp, 'a', 'b', 'rec'), rec)
    expect(file).toBe(join(tmp, 'a', 'b', 'rec.npy'))
    expect(readReprodLog(file)).toEqual(rec)
    expect(writeReprodLog(join(tmp, 'c.npy'), rec)).toBe(join(tmp, 'c.npy'))
  })

  test('values that are not arrays are a WriteError naming the key', () => {
    expect(() => encodeReprodLog({ a: 'x' as never })).toThrow(WriteError)
    expect(() => encodeReprodLog({ blk: { a: null as never } })).toThrow("[key 'blk.a']")
  })
})

describe('ReprodLogger', () => {
  test('add normalizes any array input and stores a copy; data is the live record', () => {
    const logger = new ReprodLogger()
    const src = Float32Array.of(1, 2)
    logger.add('typed', src)
    logger.add('nested', [
      [1, 2],
      [3, 4],
    ])
    logger.add('number', 0.5)
    logger.add('tensor', { shape: [2], dtype: 'int32', dataSync: () => Int32Array.of(7, 8) })
    src[0] = 99
    const data = logger.data
    expect(Object.keys(data)).toEqual(['typed', 'nested', 'number', 'tensor'])
    expect(data.typed).toEqual({ data: Float32Array.of(1, 2), shape: [2], dtype: 'float32' })
    expect((data.nested as NdArray).shape).toEqual([2, 2])
    expect(data.number).toEqual({ data: Float64Array.of(0.5), shape: [], dtype: 'float64' })
    expect((data.tensor as NdArray).dtype).toBe('int32')
    logger.add('typed', Float32Array.of(3)) // silently overwritten, as reprod_log
    expect(logger.data.typed).toEqual({ data: Float32Array.of(3), shape: [1], dtype: 'float32' })
    expect(logger.data).toBe(data)
  })

  test('remove returns whether the key was there; clear empties', () => {
    const logger = new ReprodLogger()
    logger.add('a', 1)
    logger.add('b', 2)
    expect(logger.remove('a')).toBe(true)
    expect(logger.remove('a')).toBe(false)
    expect(Object.keys(logger.data)).toEqual(['b'])
    logger.clear()
    expect(logger.data).toEqual({})
  })

  test('add refuses what is not an array', () => {
    const logger = new ReprodLogger()
    expect(() => logger.add('r', { a: 1 } as never)).toThrow(WriteError)
    expect(() => logger.add('s', 'text' as never)).toThrow("ReprodLogger [key 's']")
  })

  test('save writes what numpy would, where reprod_log would', () => {
    const logger = new ReprodLogger()
    logger.add('logits', Float32Array.of(1.5, -2))
    logger.add('__proto__', 3)
    const file = logger.save(join(tmp, 'result', 'forward_ts'))
    expect(file).toBe(join(tmp, 'result', 'forward_ts.npy'))
    expect(existsSync(file)).toBe(true)
    const back = readReprodLog(file)
    expect(Object.keys(back)).toEqual(['logits', '__proto__'])
    expect(Buffer.from(readFileSync(file)).equals(Buffer.from(encodeReprodLog(logger.data)))).toBe(
      true,
    )
  })
})
