import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as fc from 'fast-check'
import { describe, expect, test } from 'vitest'
import { pyFloatRepr } from '../../src/io/py-repr.js'
import { hasNumpy, runPython } from '../helpers/python.js'

describe('pyFloatRepr', () => {
  test.each([
    [0, '0.0'],
    [-0, '-0.0'],
    [1, '1.0'],
    [-2.5, '-2.5'],
    [123, '123.0'],
    [0.1, '0.1'],
    [1e-6, '1e-06'],
    [2.308018565599923e-6, '2.308018565599923e-06'],
    [Math.fround(2.3080186e-6), '2.308018565599923e-06'],
    [1.9073486328125e-6, '1.9073486328125e-06'],
    [9.5367431640625e-7, '9.5367431640625e-07'],
    [0.0001, '0.0001'],
    [0.00012, '0.00012'],
    [1e-5, '1e-05'],
    [1.5e-5, '1.5e-05'],
    [1e15, '1000000000000000.0'],
    [9999999999999998, '9999999999999998.0'],
    [1e16, '1e+16'],
    [1.2345e16, '1.2345e+16'],
    [1e22, '1e+22'],
    [1e100, '1e+100'],
    [5e-324, '5e-324'],
    [1.7976931348623157e308, '1.7976931348623157e+308'],
    [Number.NaN, 'nan'],
    [Number.POSITIVE_INFINITY, 'inf'],
    [Number.NEGATIVE_INFINITY, '-inf'],
  ])('%s → %s', (x, repr) => {
    expect(pyFloatRepr(x)).toBe(repr)
  })

  test('reads back to the same double, in the shape Python writes', () => {
    fc.assert(
      fc.property(fc.double({ noNaN: true }), (x) => {
        const s = pyFloatRepr(x)
        const back = s.endsWith('inf') ? (s.startsWith('-') ? -Infinity : Infinity) : Number(s)
        expect(Object.is(back, x)).toBe(true)
        expect(s).toMatch(/^-?(inf|\d+\.\d+|\d(\.\d+)?e[+-]\d{2,3})$/)
      }),
      { numRuns: 5000 },
    )
  })
})

describe.skipIf(!hasNumpy)("equals Python's repr(float)", () => {
  test('on 30,000 doubles: random, float32 values, powers of ten and their neighbours', () => {
    const values = [
      ...fc.sample(fc.double(), { numRuns: 12_000, seed: 42 }),
      ...fc.sample(fc.float(), { numRuns: 8_000, seed: 43 }).map(Math.fround),
      ...fc.sample(fc.integer({ min: -(2 ** 40), max: 2 ** 40 }), { numRuns: 2_000, seed: 44 }),
      ...fc
        .sample(fc.tuple(fc.integer({ min: -30, max: 30 }), fc.double({ min: 1, max: 10 })), {
          numRuns: 4_000,
          seed: 45,
        })
        .map(([e, m]) => m * 10 ** e),
    ]
    for (let e = -325; e <= 308; e++) {
      const p = Number(`1e${e}`)
      values.push(p, p * (1 + Number.EPSILON), p * (1 - Number.EPSILON / 2), -p)
    }
    // exact bits in both directions: the doubles go to Python as hex
    const bits = values.map((x) => {
      const b = Buffer.alloc(8)
      b.writeDoubleBE(x)
      return b.toString('hex')
    })
    const dir = mkdtempSync(join(tmpdir(), 'py-repr-'))
    try {
      writeFileSync(join(dir, 'in.json'), JSON.stringify(bits))
      const out = runPython(
        `import json, struct
bits = json.load(open('in.json'))
print(json.dumps([repr(struct.unpack('>d', bytes.fromhex(h))[0]) for h in bits]))`,
        dir,
      )
      const expected = JSON.parse(out) as string[]
      expect(expected).toHaveLength(values.length)
      const wrong = values.flatMap((x, i) =>
        pyFloatRepr(x) === expected[i] ? [] : [`${bits[i]}: ${pyFloatRepr(x)} vs ${expected[i]}`],
      )
      expect(wrong).toEqual([])
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
