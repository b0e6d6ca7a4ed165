import fc from 'fast-check'
import { describe, expect, test } from 'vitest'
import { DTYPES } from '../../src/compare/dtype.js'
import { MAX_NDIM, NpyHeaderError, parseHeaderDict } from '../../src/io/npy-header.js'
import { descrOf, itemsizeOf, nativeLittleEndian, parseDescr } from '../../src/io/numpy-dtype.js'

describe('parseHeaderDict accepts what numpy writes and reads', () => {
  test.each([
    ["{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", '<f4', false, [2, 3]],
    ["{'descr': '|b1', 'fortran_order': False, 'shape': (), }   \n", '|b1', false, []],
    ["{'descr': '>i8', 'fortran_order': True, 'shape': (5,), }", '>i8', true, [5]],
    // numpy < 1.9 had no trailing comma; any key order, double quotes, tabs and newlines
    ["{'descr': '<f8', 'fortran_order': False, 'shape': (0, 3)}", '<f8', false, [0, 3]],
    ['{"shape":(4,5,),"fortran_order":True,"descr":"<u2"}', '<u2', true, [4, 5]],
    ["\t{ 'shape' : ( 7 , ) ,\n 'descr':'<i4' , 'fortran_order' :False ,} \n", '<i4', false, [7]],
    [
      "{'descr': '<f4', 'fortran_order': False, 'shape': (9007199254740991,), }",
      '<f4',
      false,
      [2 ** 53 - 1],
    ],
  ])('%j', (text, descr, fortranOrder, shape) => {
    expect(parseHeaderDict(text)).toEqual({ descr, fortranOrder, shape })
  })

  test('any shape numpy would write parses back (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.maxSafeNat(), { maxLength: MAX_NDIM }),
        fc.boolean(),
        fc.constantFrom(...DTYPES),
        (shape, fortran, dtype) => {
          const tuple = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`
          const text = `{'descr': '${descrOf(dtype)}', 'fortran_order': ${fortran ? 'True' : 'False'}, 'shape': ${tuple}, }      \n`
          expect(parseHeaderDict(text)).toEqual({
            descr: descrOf(dtype),
            fortranOrder: fortran,
            shape,
          })
        },
      ),
    )
  })
})

describe('parseHeaderDict refuses anything else, with a reason', () => {
  const ok = { descr: "'<f4'", fortran_order: 'False', shape: '(2, 3)' }
  const dict = (parts: { [k: string]: string }) =>
    `{${Object.entries(parts)
      .map(([k, v]) => `'${k}': ${v}`)
      .join(', ')}}`
  test.each([
    ['', "expected '{'"],
    ['[1, 2]', "expected '{'"],
    [dict({ descr: ok.descr, shape: ok.shape }), "missing 'fortran_order'"],
    [dict({ ...ok, extra: '1' }), "unexpected key 'extra'"],
    [
      `{'descr': '<f4', 'descr': '<f8', 'fortran_order': False, 'shape': (2,)}`,
      "duplicate key 'descr'",
    ],
    [dict({ ...ok, shape: '(3)' }), 'a 1-d shape is written (3,)'],
    [dict({ ...ok, shape: '[2, 3]' }), 'a list'],
    [dict({ ...ok, shape: '(-1,)' }), 'negative dimension -1'],
    [dict({ ...ok, shape: '(2.5,)' }), "expected ',' or ')'"],
    [dict({ ...ok, shape: '(1e3,)' }), "expected ',' or ')'"],
    [dict({ ...ok, shape: '(0x10,)' }), "expected ',' or ')'"],
    [dict({ ...ok, shape: '(012,)' }), 'leading zero'],
    [dict({ ...ok, shape: '(9007199254740993,)' }), 'larger than 2^53 - 1'],
    [dict({ ...ok, shape: '(1, , 2)' }), 'expected an integer'],
    [dict({ ...ok, shape: '(2, 3' }), "expected ',' or ')'"],
    [
      dict({
        ...ok,
        shape: `(${Array(MAX_NDIM + 1)
          .fill(1)
          .join(', ')})`,
      }),
      'more than 64 dimensions',
    ],
    [dict({ ...ok, shape: "'(2, 3)'" }), "'shape' is not a tuple"],
    [dict({ ...ok, descr: '4' }), 'expected a string, True, False or a tuple'],
    [dict({ ...ok, descr: 'True' }), "'descr' is not a string"],
    [dict({ ...ok, descr: "[('a', '<f4')]" }), 'structured dtype'],
    [dict({ ...ok, fortran_order: '0' }), 'expected a string, True, False or a tuple'],
    [dict({ ...ok, fortran_order: "'False'" }), "'fortran_order' is not True or False"],
    ["{'descr': '<f4", 'unterminated string'],
    [dict({ ...ok, descr: "'<f\\x34'" }), 'unsupported character in a string'],
    [`${dict(ok)} junk`, 'junk after the closing brace'],
    [`${dict(ok)}}`, 'junk after the closing brace'],
    [`{'descr': '<f4' 'fortran_order': False, 'shape': ()}`, "',' or '}'"],
    [`{'descr' '<f4', 'fortran_order': False, 'shape': ()}`, "':' after the key 'descr'"],
    [`{'descr': '<f4', 'fortran_order': Falsey, 'shape': ()}`, "',' or '}'"],
    [
      "{'descr': '<f4', 'fortran_order': False, 'shape': (), # comment\n}",
      'expected a quoted string',
    ],
  ])('%j: %s', (text, reason) => {
    expect(() => parseHeaderDict(text)).toThrow(NpyHeaderError)
    expect(() => parseHeaderDict(text)).toThrow(reason)
  })

  test('the message says where and shows what was found', () => {
    expect(() => parseHeaderDict("{'descr': '<f4', 'shape': (2, x)}")).toThrow(
      'bad header at character 30: expected an integer, found "x)}"',
    )
  })

  test('arbitrary text never throws anything but NpyHeaderError (property)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary-ascii', maxLength: 80 }), (text) => {
        try {
          parseHeaderDict(text)
        } catch (e) {
          expect(e).toBeInstanceOf(NpyHeaderError)
        }
      }),
    )
  })
})

describe('parseDescr', () => {
  test.each([
    ['<f2', 'float16', 2, true],
    ['>f2', 'float16', 2, false],
    ['<f4', 'float32', 4, true],
    ['>f8', 'float64', 8, false],
    ['|b1', 'bool', 1, true],
    ['<b1', 'bool', 1, true], // npyjs's dump writes this
    ['?', 'bool', 1, true],
    ['|?', 'bool', 1, true],
    ['|i1', 'int8', 1, true],
    ['>u1', 'uint8', 1, true], // byte order is moot for one byte
    ['<i2', 'int16', 2, true],
    ['>u4', 'uint32', 4, false],
    ['<i8', 'int64', 8, true],
    ['>u8', 'uint64', 8, false],
    // like numpy: '=', '|' or nothing is the native order
    ['=f4', 'float32', 4, nativeLittleEndian],
    ['|f4', 'float32', 4, nativeLittleEndian],
    ['f4', 'float32', 4, nativeLittleEndian],
  ] as const)('%s is %s', (descr, dtype, itemsize, littleEndian) => {
    expect(parseDescr(descr)).toEqual({ dtype, itemsize, littleEndian })
  })

  test.each([
    ['|O', 'a pickled object array: use readReprodLog / load for reprod_log records'],
    ['<O8', 'a pickled object array'],
    ['|S3', 'byte-string array'],
    ['|a5', 'byte-string array'],
    ['<U5', 'unicode string array'],
    ['<c8', 'complex array'],
    ['>c16', 'complex array'],
    ['<M8[ns]', 'datetime64 array'],
    ['<m8[s]', 'timedelta64 array'],
    ['|V8', "raw void (numpy 'V') array"],
    ['<f16', 'long double array'],
    ['<i3', 'unsupported item size'],
    ['<f', "unknown descr '<f'"],
    ['float32', "unknown descr 'float32'"],
    ['', "unknown descr ''"],
  ])('%s is refused: %s', (descr, reason) => {
    expect(() => parseDescr(descr)).toThrow(NpyHeaderError)
    expect(() => parseDescr(descr)).toThrow(reason)
  })

  test('descrOf writes what numpy writes, and parseDescr reads it back', () => {
    expect(DTYPES.map(descrOf)).toEqual([
      '|b1',
      '|i1',
      '<i2',
      '<i4',
      '<i8',
      '|u1',
      '<u2',
      '<u4',
      '<u8',
      '<f2',
      '<f4',
      '<f8',
    ])
    for (const d of DTYPES) {
      expect(parseDescr(descrOf(d))).toEqual({
        dtype: d,
        itemsize: itemsizeOf(d),
        littleEndian: true,
      })
    }
  })
})
