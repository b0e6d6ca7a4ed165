/**
 * The Paddle reader (src/io/paddle.ts) on real pickles written by numpy's pickle as paddle.save
 * and the tutorial's torch2paddle write them (test/fixtures/checkpoints/generate.py), and on
 * ones that break its rules.
 */
import { readFileSync } from 'node:fs'
import { describe, expect, test } from 'vitest'
import type { NdArray } from '../../src/compare/dtype.js'
import { orderedKeys } from '../../src/compare/key-order.js'
import {
  CheckpointFormatError,
  ForbiddenGlobalError,
  PickleFormatError,
} from '../../src/io/errors.js'
import { detectKind, load } from '../../src/io/load.js'
import { readPdparams } from '../../src/io/paddle.js'
import { expectFileError } from '../helpers/file-errors.js'
import { Pickle } from '../helpers/torch-file.js'

const fixture = (name: string) =>
  new Uint8Array(readFileSync(new URL(`../fixtures/checkpoints/${name}`, import.meta.url)))
const B = '<bytes>'

describe('readPdparams', () => {
  test('protocol 2: latin1 bytes, a Fortran-ordered weight read row-major, the name table apart', () => {
    const bytes = fixture('small.pdparams')
    expect(detectKind(bytes)).toBe('pdparams')
    const c = readPdparams(bytes)
    const r = c.value as Record<string, NdArray>
    expect(orderedKeys(r)).toEqual(['fc.weight', 'fc.bias'])
    expect(r['fc.weight']).toMatchObject({ shape: [3, 2], dtype: 'float32', order: 'F' })
    expect(Array.from((r['fc.weight'] as NdArray).data as Float32Array)).toEqual([
      0, 0.75, 0.25, 1, 0.5, 1.25,
    ])
    expect({ ...c.nameTable }).toEqual({ 'fc.weight': 'linear_0.w_0', 'fc.bias': 'linear_0.b_0' })
    expect(c.skipped).toEqual([])
  })

  test("Paddle's tensor tuple and eval form, and split arrays rebuilt in the first slice's place", () => {
    const r = load(fixture('split.pdparams')) as Record<string, NdArray>
    expect(orderedKeys(r)).toEqual(['fc.weight', 'lod', 'big'])
    expect(r['fc.weight']?.shape).toEqual([2, 3])
    expect(Array.from((r.lod as NdArray).data as Float64Array)).toEqual([1.5, 2.5])
    expect(r.big?.shape).toEqual([2, 5])
    expect(Array.from((r.big as NdArray).data as Float32Array)).toEqual([
      0, 1, 2, 3, 4, 5, 6, 7, 8, 9,
    ])
  })

  test('split arrays that do not fill their OriginShape', () => {
    expectFileError(
      CheckpointFormatError,
      () => load(fixture('split_bad.pdparams')),
      B,
      'big',
      'hold 10 elements, OriginShape (3, 5) needs 15',
    )
  })

  test('builtins.eval of anything but the exact form is refused, never run', () => {
    expectFileError(
      PickleFormatError,
      () => load(fixture('evil.pdparams')),
      B,
      undefined,
      "read only in Paddle's form eval('data', {'data': array}), and never run",
    )
  })

  test.each([
    ['os', 'system', 'not one of the globals a Paddle state_dict holds'],
    ['paddle.nn.layer.common', 'Linear', "save the layer's state_dict()"],
  ])('%s.%s is refused by name', (module, name, advice) => {
    const p = new Pickle().global(module, name).emptyTuple().reduce().stop()
    expectFileError(
      ForbiddenGlobalError,
      () => readPdparams(p),
      B,
      undefined,
      `refused global '${module}.${name}'`,
      advice,
    )
  })

  test('_codecs.encode only to latin1, and only of latin1 characters', () => {
    const encode = (text: string, encoding: string) =>
      new Pickle()
        .emptyDict()
        .str('w')
        .global('_codecs', 'encode')
        .mark()
        .str(text)
        .str(encoding)
        .tuple()
        .reduce()
        .op(0x73)
        .stop()
    expectFileError(
      PickleFormatError,
      () => readPdparams(encode('\u0100', 'latin1')),
      B,
      undefined,
      'beyond latin1',
    )
    expectFileError(
      PickleFormatError,
      () => readPdparams(encode('ab', 'utf-8')),
      B,
      undefined,
      '_codecs.encode to the str "utf-8" (pickle uses latin1)',
    )
  })

  test('a pickle that is not a dict', () => {
    expectFileError(
      CheckpointFormatError,
      () => readPdparams(new Pickle().op(0x5d).stop()),
      B,
      undefined,
      'not a dict of arrays',
    )
  })
})
