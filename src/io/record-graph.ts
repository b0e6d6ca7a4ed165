/**
 * The shape of a record a writer is given, checked before anything walks it recursively: a
 * cycle, nesting deeper than a reader accepts, or sharing that would expand beyond a bound
 * are each a {@link WriteError} naming the key, instead of a stack overflow or a hang.
 */
import { MAX_DIMS } from '../compare/tensor-like.js'
import { WriteError } from './errors.js'

/** Most entries a record to write may expand to, counting each shared sub-record each time. */
export const MAX_WRITE_ENTRIES = 1_000_000

/**
 * Checks a record before it is normalized: no record (plain object or Map) or nested array
 * inside itself, nesting at most `maxDepth` (the readers' default, so what is written reads
 * back), and at most {@link MAX_WRITE_ENTRIES} entries once shared sub-records are expanded
 * (a pickle of a dict holding itself under two keys, 32 deep, would be 2^32 entries).
 * Iterative, so that no input overflows the stack.
 */
export function checkRecordGraph(record: unknown, source: string, maxDepth: number): void {
  const isContainer = (v: unknown): v is object => {
    if (typeof v !== 'object' || v === null) return false
    if (v instanceof Map || Array.isArray(v)) return true
    if (ArrayBuffer.isView(v)) return false
    const proto = Object.getPrototypeOf(v)
    return proto === Object.prototype || proto === null
  }
  const childrenOf = (v: object): [string, unknown][] => {
    if (v instanceof Map) return [...v].map(([k, c]) => [String(k), c])
    if (Array.isArray(v)) return v.map((c, i) => [String(i), c])
    // an NdArray-like's data and shape are leaves, not sub-records
    const o = v as { data?: unknown; shape?: unknown }
    if (Array.isArray(o.shape) && o.data !== undefined) return []
    return Object.entries(v)
  }
  /** Entries each finished container expands to. */
  const size = new Map<object, number>()
  const onPath = new Set<object>()
  type Frame = {
    node: object
    key: string
    children: [string, unknown][]
    next: number
    total: number
    /** Records and nested arrays on the path, this one included. */
    records: number
    arrays: number
  }
  const stack: Frame[] = []
  const enter = (node: object, key: string): void => {
    const parent = stack[stack.length - 1]
    const array = Array.isArray(node)
    const records = (parent?.records ?? 0) + (array ? 0 : 1)
    const arrays = array ? (parent?.arrays ?? 0) + 1 : 0
    if (records > maxDepth) {
      throw new WriteError(
        source,
        key || undefined,
        `records nested deeper than ${maxDepth} (the readers' maxDepth)`,
      )
    }
    if (arrays > MAX_DIMS) {
      throw new WriteError(
        source,
        key || undefined,
        `arrays nested deeper than ${MAX_DIMS} dimensions`,
      )
    }
    onPath.add(node)
    stack.push({ node, key, children: childrenOf(node), next: 0, total: 0, records, arrays })
  }
  if (!isContainer(record)) return
  enter(record, '')
  while (stack.length > 0) {
    const f = stack[stack.length - 1] as Frame
    if (f.next === f.children.length) {
      stack.pop()
      onPath.delete(f.node)
      size.set(f.node, f.total)
      const parent = stack[stack.length - 1]
      if (parent !== undefined) parent.total += f.total + 1
      if (f.total > MAX_WRITE_ENTRIES) {
        throw new WriteError(
          source,
          f.key || undefined,
          `expands to more than ${MAX_WRITE_ENTRIES} entries (a sub-record shared many times over)`,
        )
      }
      continue
    }
    const [k, child] = f.children[f.next++] as [string, unknown]
    const key = f.key === '' ? k : `${f.key}.${k}`
    if (!isContainer(child)) {
      f.total += 1
      continue
    }
    if (onPath.has(child)) {
      throw new WriteError(source, key, 'a record that contains itself (a cycle)')
    }
    const known = size.get(child)
    if (known !== undefined) f.total += known + 1
    else enter(child, key)
  }
}
