import { describe, expect, expectTypeOf, test } from 'vitest'
import type { AlignOptions, AlignResult, KeyResult, LayerwiseOptions } from '../../src/index.js'
import { compare } from '../../src/index.js'
import type {
  AlignMatchers,
  MeanDiffOptions,
  NoiseMatcherOptions,
} from '../../src/vitest/matchers/index.js'
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

  test('toStayWithinNoise needs the noise runs and takes no reprod_log rule', () => {
    const losses = { loss: logits }
    expect(losses).toStayWithinNoise(losses, { noise: [losses, losses] })
    expect(losses).toStayWithinNoise(losses, { noise: [losses], factor: 5, rtol: 1e-5 })
    expect(losses).not.toStayWithinNoise(losses, { noise: [new Map([['loss', logits]])] })
    // @ts-expect-error the noise runs are required
    expect(losses).toStayWithinNoise(losses)
    // @ts-expect-error the noise runs are required
    expect(losses).toStayWithinNoise(losses, { factor: 3 })
    // @ts-expect-error the rule is the noise band, not a reprod_log statistic
    expect(losses).toStayWithinNoise(losses, { noise: [losses], method: 'mean' })
    // @ts-expect-error misspelt option
    expect(losses).toStayWithinNoise(losses, { noise: [losses], facter: 3 })
    expectTypeOf<NoiseMatcherOptions['factor']>().toEqualTypeOf<number | undefined>()
  })

  test('toAlignLayerwise takes the compare options and a growth factor', () => {
    const layers = { 'features.0': logits, 'features.1': logits }
    expect(layers).toAlignLayerwise(layers)
    expect(layers).toAlignLayerwise(layers, { rtol: 0, atol: 1e-5, growthFactor: 10 })
    expect(layers).toAlignLayerwise(layers, { keys: (key: string) => ({ atol: key.length }) })
    expect(layers).not.toAlignLayerwise(layers, { method: 'max', threshold: 1e-6 })
    // @ts-expect-error misspelt option
    expect(layers).toAlignLayerwise(layers, { growthFactr: 10 })
    // @ts-expect-error the growth factor is a number
    expect(layers).toAlignLayerwise(layers, { growthFactor: '10' })
    expectTypeOf<LayerwiseOptions>().toExtend<AlignOptions>()
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
