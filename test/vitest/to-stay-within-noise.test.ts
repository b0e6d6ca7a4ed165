import { describe, expect, test } from 'vitest'
import { AlignOptionsError } from '../../src/compare/errors.js'

const f32 = (...v: number[]) => Float32Array.from(v)

/** The error an assertion throws, so its message can be read. */
function failureOf(assertion: () => void): Error {
  try {
    assertion()
  } catch (e) {
    return e as Error
  }
  throw new Error('the assertion did not fail')
}

const torch = { loss: [2.3, 2.1, 1.9, 1.7] }
const noise = [{ loss: [2.3, 2.11, 1.92, 1.75] }, { loss: [2.3, 2.09, 1.87, 1.66] }]

describe('toStayWithinNoise', () => {
  test('passes inside factor × the reference spread, records the noise rule', ({ task }) => {
    expect({ loss: f32(2.3, 2.12, 1.95, 1.8) }).toStayWithinNoise(torch, { noise })
    const check = task.meta.align?.[0]
    expect(check?.matcher).toBe('toStayWithinNoise')
    expect(check?.rule).toMatchObject({ method: 'noise', factor: 3, runs: 2 })
    expect(check?.noise?.curve?.expected).toEqual(torch.loss)
    expect(check?.noise?.outside).toBe(0)
  })

  test('fails outside with a plain first line naming the key, the worst index and its spread', () => {
    const e = failureOf(() =>
      expect({ loss: f32(2.3, 2.1, 1.9, 2.2) }).toStayWithinNoise(torch, { noise, factor: 2 }),
    )
    const [first] = e.message.split('\n')
    expect(first).toMatch(
      /^toStayWithinNoise: expected received to align with expected, but 1 of 1 key not aligned: loss: 1 \/ 4 \(25\.0%\) elements outside 2 × spread of 2 noise runs \+ atol=1e-5 rtol=1\.3e-6, worst at \[3\]: 2\.20000005 vs 1\.7, \|Δ\| 0\.5 where the runs spread 0\.05 \(bound 0\.1\d*, 10 × spread\); passes at factor=10$/,
    )
  })

  test('.not holds for a broken candidate: the negative control', () => {
    expect({ loss: f32(2.3, 2.5, 2.7, 2.9) }).not.toStayWithinNoise(torch, { noise })
  })

  test('noise runs are required, and bad options throw', () => {
    expect(() => expect(f32(1)).toStayWithinNoise([1], { noise: [] })).toThrow(AlignOptionsError)
    expect(() => expect(f32(1)).toStayWithinNoise([1], undefined as never)).toThrow(
      AlignOptionsError,
    )
    expect(() =>
      expect(f32(1)).not.toStayWithinNoise([1], { noise: [[1]], factor: Number.NaN }),
    ).toThrow(/factor/)
  })
})
