import { describe, expect, test } from 'vitest'
import { AlignInputError, AlignOptionsError } from '../../src/compare/errors.js'

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

describe('toAlignWith', () => {
  test('passes on aligned arrays and records', () => {
    expect(f32(1, 2, 3)).toAlignWith([1, 2, 3])
    expect({ logits: f32(1, 2), loss: f32(3) }).toAlignWith({ logits: [1, 2], loss: [3] })
  })

  test('fails with a plain first line naming the key, the counts and the worst element', () => {
    const e = failureOf(() =>
      expect({ logits: f32(1, 2, 3) }).toAlignWith({ logits: f32(1, 2, 3.5) }),
    )
    const [first] = e.message.split('\n')
    expect(first).not.toContain('\u001b') // no colour codes
    expect(first).toBe(
      'toAlignWith: expected received to align with expected, but 1 of 1 key not aligned: logits: 1 / 3 (33.3%) elements outside allclose atol=1e-5 rtol=1.3e-6, worst at [2]: 3 vs 3.5; passes at atol=0.5',
    )
    expect(e.message).toContain('mean |Δ|')
  })

  test("a shape mismatch that only size-1 dimensions make names shape: 'squeeze', and only then", () => {
    const e = failureOf(() =>
      expect({ loss: { data: f32(1), shape: [1, 1] } }).toAlignWith({ loss: f32(1) }),
    )
    expect(e.message.split('\n')[0]).toBe(
      "toAlignWith: expected received to align with expected, but 1 of 1 key not aligned: loss: shape (1, 1) != (1,); they differ only in size-1 dimensions, which shape: 'squeeze' ignores",
    )
    expect({ loss: { data: f32(1), shape: [1, 1] } }).toAlignWith(
      { loss: f32(1) },
      { shape: 'squeeze' },
    )
    // (3, 2) vs (2, 3): squeezing cannot help, so no hint
    const other = failureOf(() =>
      expect({ data: f32(1, 2, 3, 4, 5, 6), shape: [3, 2] }).toAlignWith({
        data: f32(1, 2, 3, 4, 5, 6),
        shape: [2, 3],
      }),
    )
    expect(other.message).toContain('shape (3, 2) != (2, 3)')
    expect(other.message).not.toContain('squeeze')
  })

  test('.not fails on aligned input and says what was too close', () => {
    const e = failureOf(() => expect(f32(1, 2)).not.toAlignWith(f32(1, 2)))
    expect(e.message.split('\n')[0]).toBe(
      'toAlignWith: expected received not to align with expected, but it did: 1 key aligned, max rel Δ 0',
    )
    expect(f32(1, 2)).not.toAlignWith(f32(1, 3))
  })

  test('options reach the comparison', () => {
    expect(f32(1)).not.toAlignWith(f32(1.1))
    expect(f32(1)).toAlignWith(f32(1.1), { atol: 0.2 })
    expect(f32(2)).toAlignWith({ data: f32(2), shape: [] }, { shape: 'squeeze' })
  })

  test('bad input and bad options throw typed errors, they do not fail quietly', () => {
    expect(() => expect('logits').toAlignWith([1])).toThrow(AlignInputError)
    expect(() => expect([1]).toAlignWith([1], { atoll: 1 } as never)).toThrow(AlignOptionsError)
    // .not cannot turn a bad input into a pass
    expect(() => expect('logits').not.toAlignWith([1])).toThrow(AlignInputError)
  })

  test('works as an asymmetric matcher inside toEqual', () => {
    expect({ step: 3, logits: f32(1, 2) }).toEqual({ step: 3, logits: expect.toAlignWith([1, 2]) })
    expect({ logits: f32(1, 2) }).toEqual({ logits: expect.not.toAlignWith([1, 5]) })
    expect(() =>
      expect({ logits: f32(1, 2) }).toEqual({ logits: expect.toAlignWith([1, 5]) }),
    ).toThrow()
  })
})

describe('toAlignWith under expect.soft', () => {
  let reachedAfterSoftFailure = false

  test.fails('a soft failure is recorded and the test goes on', () => {
    expect.soft(f32(1)).toAlignWith(f32(2))
    reachedAfterSoftFailure = true
  })

  test('the test body ran past the soft failure', () => {
    expect(reachedAfterSoftFailure).toBe(true)
  })
})
