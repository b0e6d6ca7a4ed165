import { describe, expect, expectTypeOf, test } from 'vitest'
import type { NdArray, NdRecord } from '../../src/index.js'
import type { ReprodLogger } from '../../src/io/index.js'
import type { AlignmentFixtures, AlignmentTest, StageInfo } from '../../src/vitest/fixtures.js'
import { defineAlignment } from '../../src/vitest/fixtures.js'
import type { AlignPluginOptions } from '../../src/vitest/plugin.js'
import { align } from '../../src/vitest/plugin.js'
import '../../src/vitest/setup.js'

class Port {
  forward(x: NdArray): Float32Array {
    return new Float32Array(x.data.length)
  }
  dispose(): void {}
}

/** As a fixtures module writes it, its type inferred (test/fixtures/projects/fixtures/fixtures.ts exports one). */
const alignTest = defineAlignment({
  fakeData: { input: 'data/fake_data.npy', noise: { shape: [1, 3, 8, 8], seed: 1 } },
  reference: {
    forward: { path: 'data/forward_ref.npy', keys: ['logits'] },
    loss: 'data/loss_ref.npy',
  },
  models: { candidate: async () => new Port(), reference: () => ({ name: 'torch' }) },
})

describe('defineAlignment types', () => {
  test('the fixtures are typed from the options', () => {
    alignTest('forward', ({ fakeData, reference, candidate, referenceModel, record, stage }) => {
      expectTypeOf(fakeData.input).toEqualTypeOf<NdArray>()
      expectTypeOf(fakeData.noise).toEqualTypeOf<NdArray<'float32'>>()
      expectTypeOf(reference.forward.logits).toEqualTypeOf<NdArray>()
      expectTypeOf(reference.loss).toEqualTypeOf<NdRecord>()
      expectTypeOf(candidate).toEqualTypeOf<Port>()
      expectTypeOf(referenceModel).toEqualTypeOf<{ name: string }>()
      expectTypeOf(record).toEqualTypeOf<ReprodLogger>()
      expectTypeOf(stage).toEqualTypeOf<StageInfo>()
      // what the stage specs do with them typechecks
      expect(candidate.forward(fakeData.input)).toAlignWith(reference.forward.logits)
      expect(reference.loss).toHaveMeanDiffBelow(reference.loss, 1e-6)
      record.add('logits', candidate.forward(fakeData.input))
      // @ts-expect-error a stage that was not declared
      reference.metric
      // @ts-expect-error an input that was not declared
      fakeData.label
    })
  })

  test('the returned test is a named type, so an exported test emits declarations', () => {
    type FixturesOf<T> =
      T extends AlignmentTest<infer F, infer R, infer C, infer M>
        ? AlignmentFixtures<F, R, C, M>
        : never
    expectTypeOf<FixturesOf<typeof alignTest>>().toEqualTypeOf<
      AlignmentFixtures<
        { readonly input: NdArray; readonly noise: NdArray<'float32'> },
        { readonly forward: { readonly logits: NdArray }; readonly loss: NdRecord },
        Port,
        { name: string }
      >
    >()
    expectTypeOf<AlignmentFixtures>().toHaveProperty('fakeData')
  })

  test('defaults: the generated input, no reference, no models', () => {
    const bare = defineAlignment()
    bare('x', ({ fakeData, candidate }) => {
      expectTypeOf(fakeData.input).toEqualTypeOf<NdArray<'float32'>>()
      expectTypeOf(candidate).toBeNever()
    })
    const custom = defineAlignment({ fakeData: async () => ({ image: new Float32Array(3) }) })
    custom('y', ({ fakeData }) => {
      expectTypeOf(fakeData).toEqualTypeOf<{ image: Float32Array<ArrayBuffer> }>()
    })
  })

  test('wrong option names do not compile', () => {
    // @ts-expect-error misspelt option
    defineAlignment({ fakedata: { input: 'x.npy' } })
    // @ts-expect-error a reference entry needs `path`
    defineAlignment({ reference: { forward: { pth: 'x.npy' } } })
    // @ts-expect-error misspelt model option
    defineAlignment({ models: { candidat: () => 1 } })
    // @ts-expect-error no 'test' scope for models
    defineAlignment({ models: { candidate: () => 1, scope: 'test' } })
    // @ts-expect-error a generated input takes shape and seed only
    defineAlignment({ fakeData: { input: { shape: [1], sed: 2 } } })
    // @ts-expect-error a reference file takes path and keys only
    defineAlignment({ reference: { forward: { path: 'x.npy', kyes: ['logits'] } } })
    // @ts-expect-error tf must have memory()
    defineAlignment({ tf: {} })
  })

  test('dispose gets the models the factories make, awaited', () => {
    defineAlignment({
      models: {
        candidate: async () => new Port(),
        reference: () => ({ name: 'torch' }),
        dispose: (m, name) => {
          expectTypeOf(m).toEqualTypeOf<Port | { name: string }>()
          expectTypeOf(name).toEqualTypeOf<'candidate' | 'reference'>()
        },
      },
    })
    defineAlignment({ models: { candidate: async () => new Port(), dispose: (m) => m.dispose() } })
    defineAlignment({
      models: {
        reference: () => ({ name: 'torch' }),
        // @ts-expect-error the reference model has no dispose()
        dispose: (m) => m.dispose(),
      },
    })
  })

  test('per-test opt-out of the leak guard is typed on meta', () => {
    alignTest('leaky', { meta: { leakGuard: false } }, () => {})
    // @ts-expect-error a boolean
    alignTest('leaky', { meta: { leakGuard: 'no' } }, () => {})
  })
})

describe('align() options', () => {
  test('takes the project defaults, reportDir and reporter', () => {
    align({
      tolerances: { float32: { atol: 1e-5, rtol: 1e-4 } },
      atol: 1e-6,
      threshold: 1e-5,
      method: 'allclose',
      equalNan: true,
      shape: 'squeeze',
      checkDtype: true,
      allowVacuous: false,
      keys: { 'loss_*': { atol: 1e-3 } },
      reportDir: 'out',
      reporter: false,
    })
    // @ts-expect-error misspelt
    align({ tolerance: { atol: 1e-5 } })
    // @ts-expect-error a function cannot reach the workers
    align({ keys: (key: string) => (key === 'loss' ? { atol: 1 } : undefined) })
    expectTypeOf<AlignPluginOptions['reporter']>().toEqualTypeOf<boolean | undefined>()
  })
})
