/**
 * Merging the statistics of parts of a pair into those of the whole, exactly as one pass in
 * element order would give them (ties keep the first index).
 */
import type { KernelStats } from '../stats.js'

/**
 * The statistics of the whole pair from those of its first `head.n` elements and of the rest, as
 * one pass over all of them would give (strict `>`: a tie keeps the earlier index).
 */
export function mergeStats(head: KernelStats, rest: KernelStats): KernelStats {
  const off = head.n
  const later = (h: number, r: number) => rest.n > 0 && r > h
  return {
    n: off + rest.n,
    sumAbs: head.sumAbs + rest.sumAbs,
    maxAbs: later(head.maxAbs, rest.maxAbs) ? rest.maxAbs : head.maxAbs,
    argMaxAbs: later(head.maxAbs, rest.maxAbs) ? rest.argMaxAbs + off : head.argMaxAbs,
    minAbs: rest.n > 0 ? Math.min(head.minAbs, rest.minAbs) : head.minAbs,
    maxRel: later(head.maxRel, rest.maxRel) ? rest.maxRel : head.maxRel,
    argMaxRel: later(head.maxRel, rest.maxRel) ? rest.argMaxRel + off : head.argMaxRel,
    maxExcess: later(head.maxExcess, rest.maxExcess) ? rest.maxExcess : head.maxExcess,
    argMaxExcess: later(head.maxExcess, rest.maxExcess)
      ? rest.argMaxExcess + off
      : head.argMaxExcess,
    mismatches: head.mismatches + rest.mismatches,
    sumAbsExpected: head.sumAbsExpected + rest.sumAbsExpected,
    maxAbsExpected: Math.max(head.maxAbsExpected, rest.maxAbsExpected),
    minAbsExpected:
      rest.n > 0 ? Math.min(head.minAbsExpected, rest.minAbsExpected) : head.minAbsExpected,
    // the wasm kernel only keeps finite heads
    actual: rest.actual,
    expected: rest.expected,
  }
}

/**
 * The statistics of the union of two disjoint sets of chunks, each run in increasing order by
 * one thread, as one pass in element order would give: a larger max wins, a tie goes to the
 * smaller (flat) index. A thread that ran no chunk has every max at -Infinity with index -1, and
 * a thread that ran some has every max above -Infinity, so it never wins against one.
 */
export function mergeThreads(a: KernelStats, b: KernelStats): KernelStats {
  const pick = (va: number, ia: number, vb: number, ib: number): [number, number] =>
    vb > va || (vb === va && ib < ia) ? [vb, ib] : [va, ia]
  const [maxAbs, argMaxAbs] = pick(a.maxAbs, a.argMaxAbs, b.maxAbs, b.argMaxAbs)
  const [maxRel, argMaxRel] = pick(a.maxRel, a.argMaxRel, b.maxRel, b.argMaxRel)
  const [maxExcess, argMaxExcess] = pick(a.maxExcess, a.argMaxExcess, b.maxExcess, b.argMaxExcess)
  return {
    n: a.n + b.n,
    sumAbs: a.sumAbs + b.sumAbs,
    maxAbs,
    argMaxAbs,
    minAbs: Math.min(a.minAbs, b.minAbs),
    maxRel,
    argMaxRel,
    maxExcess,
    argMaxExcess,
    mismatches: a.mismatches + b.mismatches,
    sumAbsExpected: a.sumAbsExpected + b.sumAbsExpected,
    maxAbsExpected: Math.max(a.maxAbsExpected, b.maxAbsExpected),
    minAbsExpected: Math.min(a.minAbsExpected, b.minAbsExpected),
    actual: a.actual,
    expected: a.expected,
  }
}
