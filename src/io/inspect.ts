/**
 * What a file holds, without comparing it: `vitest-align inspect FILE` lists every array of any
 * file `load` reads (its key, dtype, shape, element count and size), then the totals. Pure: it
 * takes what `load` returned.
 */
import type { NdArray } from '../compare/dtype.js'
import { alignColumns, formatShape, keyName } from '../compare/format.js'
import { orderedKeys } from '../compare/key-order.js'
import type { Loaded } from './load.js'
import type { NdRecord } from './types.js'

/** One array of a file. */
export interface InspectRow {
  /** Its dotted path in the record (`''` for a lone `.npy` array). */
  readonly key: string
  readonly dtype: NdArray['dtype']
  readonly shape: readonly number[]
  readonly elements: number
  /** Bytes of its data as read (float16 as 2 per element; a BF16 tensor, widened, as 4). */
  readonly bytes: number
}

const isArray = (v: NdArray | NdRecord): v is NdArray =>
  'dtype' in v && 'data' in v && 'shape' in v && ArrayBuffer.isView((v as NdArray).data)

/** Every array of what `load` returned, in the file's order, nested records as dotted paths. */
export function inspectRows(loaded: Loaded): InspectRow[] {
  const rows: InspectRow[] = []
  const walk = (node: NdArray | NdRecord, path: string): void => {
    if (isArray(node)) {
      rows.push({
        key: path,
        dtype: node.dtype,
        shape: node.shape,
        elements: node.data.length,
        bytes: node.data.byteLength,
      })
      return
    }
    for (const k of orderedKeys(node))
      walk(node[k] as NdArray | NdRecord, path ? `${path}.${k}` : k)
  }
  walk(loaded, '')
  return rows
}

const count = (n: number): string => n.toLocaleString('en-US')

/** The listing: one aligned row per array, then `N arrays, E elements, B bytes`. */
export function formatInspect(rows: readonly InspectRow[]): string {
  const table = [
    ['key', 'dtype', 'shape', 'elements', 'bytes'],
    ...rows.map((r) => [
      keyName(r.key),
      r.dtype,
      formatShape(r.shape),
      count(r.elements),
      count(r.bytes),
    ]),
  ]
  // numbers right-aligned, text left-aligned
  const lines = alignColumns(table, (c) => c >= 3)
  const elements = rows.reduce((s, r) => s + r.elements, 0)
  const bytes = rows.reduce((s, r) => s + r.bytes, 0)
  const arrays = `${count(rows.length)} ${rows.length === 1 ? 'array' : 'arrays'}`
  return [...lines, '', `${arrays}, ${count(elements)} elements, ${count(bytes)} bytes`].join('\n')
}
