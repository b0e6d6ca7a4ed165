/**
 * The shared memory's layout: the control words, parameters, results and per-slot descriptors
 * of the first 64 KiB page must not overlap, for the ring's number of slots (64 slots took the
 * descriptors, laid out for 4, over the results once).
 */
import { expect, test } from 'vitest'
import { CHUNK_BYTES, LAYOUT } from '../../src/compare/kernel/wasm.js'

test('the regions of the first page are disjoint and inside it; the slots follow it', () => {
  const L = LAYOUT
  const R = L.ringSlots
  const regions: [string, number, number][] = [
    ['ctl', L.ctl, 4 * L.ctlWords],
    ['params', L.params, 16],
    ['mainResult', L.mainResult, 8 * 13],
    ['tailResult', L.tailResult, 8 * 12],
    ['result', L.result, 8 * 12],
    ['desc', L.desc, 16 * R],
    ['bdesc', L.bdesc, 48 * R],
    ['bresult', L.bresult, 96 * R],
  ]
  for (const [name, at, size] of regions) {
    expect(at % 8, name).toBe(0)
    expect(at + size, name).toBeLessThanOrEqual(L.mainSlot)
  }
  for (let i = 0; i < regions.length; i++) {
    for (let j = i + 1; j < regions.length; j++) {
      const [a, x, n] = regions[i] as [string, number, number]
      const [b, y, m] = regions[j] as [string, number, number]
      expect(x + n <= y || y + m <= x, `${a} overlaps ${b}`).toBe(true)
    }
  }
  expect(L.mainSlot).toBe(65536)
  expect(L.slotBytes).toBe(2 * CHUNK_BYTES)
  expect(L.ring).toBe(L.mainSlot + L.slotBytes)
  expect(R).toBeGreaterThanOrEqual(1)
})
