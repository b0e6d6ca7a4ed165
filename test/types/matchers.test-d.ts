import { describe, expect, expectTypeOf, test } from 'vitest'
import type { AlignOptions, AlignResult, KeyResult } from '../../src/index.js'
import { compare } from '../../src/index.js'
import type { AlignMatchers, MeanDiffOptions } from '../../src/vitest/matchers/index.js'
import '../../src/vitest/setup.js'

const logits = new Float32Array(4)

describe('matcher types', () => {
  test('toAlignWith takes the documented options and rejects misspelt ones', () => {
    expect(logits).toAlignWith(logits, { atol: 1 })
    expect(logits).toAlignWith([1, 2, 3, 4], { method: 'mean', threshold: 1e-5, shape: 'squeeze' })
    expect({ a: logits }).toAlignWith(new Map([['a', logits]]), {
      keys: { 'loss_*': { rtol: 1e-4 } },
    })
    // @ts-expect-error misspelt option
    expect(logits).toAlignWith(logits, { atoll: 1 })
    // @ts-expect-error unknown method
    expect(logits).toAlignWith(logits, { method: 'median' })
    // @ts-expect-error a string is not an array
    expect(logits).toAlignWith('logits')
  })

  test('toHaveMeanDiffBelow needs a threshold and takes no rule options', () => {
    expect(logits).toHaveMeanDiffBelow(logits, 1e-5)
    expect(logits).toHaveMeanDiffBelow(logits, 1e-5, { shape: 'squeeze', equalNan: true })
    // @ts-expect-error the threshold is required
    expect(logits).toHaveMeanDiffBelow(logits)
    // @ts-expect-error the rule is fixed to reprod_log's mean
    expect(logits).toHaveMeanDiffBelow(logits, 1e-5, { method: 'max' })
    expectTypeOf<MeanDiffOptions>().not.toHaveProperty('atol')
  })

  test('the asymmetric forms exist on expect and expect.not', () => {
    expectTypeOf(expect.toAlignWith).parameter(1).toEqualTypeOf<AlignOptions | undefined>()
    expectTypeOf(expect.not.toHaveMeanDiffBelow).parameter(1).toEqualTypeOf<number>()
    expectTypeOf<AlignMatchers<void>['toAlignWith']>().returns.toEqualTypeOf<void>()
  })

  test('compare returns plain, readonly result data', () => {
    const r = compare(logits, logits)
    expectTypeOf(r).toEqualTypeOf<AlignResult>()
    expectTypeOf(r.keys).toEqualTypeOf<readonly KeyResult[]>()
    expectTypeOf(r.keys[0]?.stats?.worst?.index).toEqualTypeOf<readonly number[] | undefined>()
  })
})
