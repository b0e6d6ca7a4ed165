import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, test } from 'vitest'
import type { NdArray } from '../../src/compare/dtype.js'
import { NpyFormatError, PickleFormatError, WriteError } from '../../src/io/errors.js'
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

const f32 = (...v: number[]): NdArray => ({
  data: Float32Array.from(v),
  shape: [v.length],
  dtype: 'float32',
})

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
    ['no magic', new Uint8Array(20), 'not the magic "\\x93NUMPY"'],
    [
      'version 4',
      (() => {
        const h = header(1, OK)
        h[6] = 4
        return h
      })(),
      'unsupported .npy format version 4.0',
    ],
    ['a truncated header', header(1, OK).subarray(0, 40), 'truncated header: it claims 55 bytes'],
    [
      'an object array of shape (2,)',
      header(1, "{'descr': '|O', 'fortran_order': False, 'shape': (2,), }"),
      'shape (2,), not a record',
    ],
    [
      'a header without shape',
      header(1, "{'descr': '|O', 'fortran_order': False}"),
      "bad header: missing 'shape'",
    ],
    [
      'a structured descr',
      header(1, "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': ()}"),
      'a list, such as the descr of a structured dtype (not supported)',
    ],
    [
      // the regexes this parser replaced read this header as a record and ignored the key
      'an extra header key',
      header(1, "{'descr': '|O', 'fortran_order': False, 'shape': (), 'x': 1}"),
      "unexpected key 'x'",
    ],
    [
      'a plain array',
      header(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }"),
      "descr '<f4' with shape (3,): a plain array, not a reprod_log record",
    ],
  ])('refuses %s', (_, bytes, message) => {
    expect(() => recordPickleOffset(bytes)).toThrow(NpyFormatError)
    expect(() => recordPickleOffset(bytes)).toThrow(message)
  })

  test('maxHeaderBytes', () => {
    expect(() => recordPickleOffset(header(1, OK), { maxHeaderBytes: 10 })).toThrow(
      'header of 55 bytes is over maxHeaderBytes (10)',
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
