/**
 * `.safetensors` against Python: a file laid out by the format's specification with numpy's
 * bytes (json + struct, as the reference writer lays it out: alignment then name, the header
 * padded with spaces) is read here value for value, and ours is parsed back by Python with
 * numpy. Where Python's `safetensors` package is installed, its own writer and reader take part
 * too; Debian does not package it, so there it is skipped with the reason.
 */

import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { describe, expect, test } from 'vitest'
import { type NdArray, numericView } from '../../src/compare/dtype.js'
import { orderedKeys } from '../../src/compare/key-order.js'
import { encodeSafetensors, readSafetensors } from '../../src/io/safetensors.js'
import { hasNumpy, PYTHON, runPython } from '../helpers/python.js'

const hasSafetensors =
  spawnSync(PYTHON, ['-c', 'import safetensors'], { encoding: 'utf8' }).status === 0

/** Python: write arrays by the spec, in the reference writer's order. */
const WRITE_BY_SPEC = `
import json, struct, sys
arrays = {
  'w': np.arange(12, dtype='<f4').reshape(3, 4) / 7,
  'b': np.array([1.5, -2.25], dtype='<f8'),
  'h': np.array([1, -2.5, 65504], dtype='<f2'),
  'i': np.array([[2**62 + 1], [-3]], dtype='<i8'),
  'm': np.array([True, False, True]),
  's': np.array(0.25, dtype='<f4'),
}
codes = {'f4': 'F32', 'f8': 'F64', 'f2': 'F16', 'i8': 'I64', 'b1': 'BOOL'}
order = sorted(arrays, key=lambda k: (-arrays[k].dtype.itemsize, k))
header, data, at = {'__metadata__': {'format': 'np'}}, b'', 0
for k in order:
  a = arrays[k]  # all C-contiguous; np.ascontiguousarray would make the 0-d one 1-d
  raw = a.tobytes()
  header[k] = {'dtype': codes[a.dtype.str[1:]], 'shape': list(a.shape), 'data_offsets': [at, at + len(raw)]}
  data += raw
  at += len(raw)
text = json.dumps(header, separators=(',', ':'))
text += ' ' * (-len(text) % 8)
open(sys.argv[1] if len(sys.argv) > 1 else 'spec.safetensors', 'wb').write(struct.pack('<Q', len(text)) + text.encode() + data)
print(json.dumps({k: [str(x) for x in arrays[k].reshape(-1).tolist()] for k in order}))
`

/** Python: parse our file by the spec and print every tensor's dtype, shape and values. */
const READ_BY_SPEC = `
import json, struct
b = open('ours.safetensors', 'rb').read()
n = struct.unpack('<Q', b[:8])[0]
h = json.loads(b[8:8 + n])
codes = {'F32': '<f4', 'F64': '<f8', 'F16': '<f2', 'I64': '<i8', 'U8': '|u1', 'BOOL': '|b1'}
out = {}
for k, e in h.items():
  if k == '__metadata__':
    out[k] = e
    continue
  s, t = e['data_offsets']
  a = np.frombuffer(b[8 + n + s:8 + n + t], dtype=codes[e['dtype']]).reshape(e['shape'])
  out[k] = [e['dtype'], list(a.shape), [str(x) for x in a.reshape(-1).tolist()]]
print(json.dumps({'n': n, 'end': 8 + n + max(e['data_offsets'][1] for k, e in h.items() if k != '__metadata__'), 'len': len(b), 'tensors': out}))
`

const str = (a: NdArray): string[] =>
  Array.from(a.data as ArrayLike<number | bigint>, (x) =>
    typeof x === 'bigint' ? x.toString() : a.dtype === 'bool' ? (x ? 'True' : 'False') : String(x),
  )

describe.skipIf(!hasNumpy)(
  '.safetensors between Python (numpy, by the spec) and TypeScript',
  () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'va-st-interop-'))

    test('Python → TS: every tensor read with its dtype, shape and exact values, in data order', () => {
      const expected = JSON.parse(runPython(WRITE_BY_SPEC, dir)) as Record<string, string[]>
      const r = readSafetensors(path.join(dir, 'spec.safetensors'))
      expect(orderedKeys(r)).toEqual(Object.keys(expected))
      expect(Object.fromEntries(orderedKeys(r).map((k) => [k, (r[k] as NdArray).dtype]))).toEqual({
        b: 'float64',
        i: 'int64',
        w: 'float32',
        s: 'float32',
        h: 'float16',
        m: 'bool',
      })
      // Python prints its floats' shortest repr ('1.0'), so floats compare as numbers, exactly
      const numbers = (k: string) => Array.from(numericView(r[k] as NdArray))
      for (const k of ['b', 'w', 's', 'h']) expect(numbers(k), k).toEqual(expected[k]?.map(Number))
      expect(str(r.i as NdArray)).toEqual(expected.i) // int64 beyond 2^53, digit for digit
      expect(str(r.m as NdArray)).toEqual(expected.m)
      expect((r.w as NdArray).shape).toEqual([3, 4])
      expect((r.i as NdArray).shape).toEqual([2, 1])
      expect((r.s as NdArray).shape).toEqual([])
    })

    test('TS → Python: numpy reads ours by the spec, with no trailing byte', () => {
      const bytes = encodeSafetensors(
        {
          w: { data: Float32Array.of(0.1, 2, 3), shape: [3, 1], dtype: 'float32' },
          d: Float64Array.of(Math.PI),
          i: BigInt64Array.of(-(2n ** 62n) - 3n),
          m: { data: Uint8Array.of(0, 1), shape: [2], dtype: 'bool' },
        },
        { metadata: { format: 'pt' } },
      )
      fs.writeFileSync(path.join(dir, 'ours.safetensors'), bytes)
      const py = JSON.parse(runPython(READ_BY_SPEC, dir))
      expect(py.n % 8).toBe(0)
      expect(py.end).toBe(py.len)
      expect(py.tensors.__metadata__).toEqual({ format: 'pt' })
      expect(py.tensors.w).toEqual(['F32', [3, 1], [String(Math.fround(0.1)), '2.0', '3.0']])
      expect(py.tensors.d).toEqual(['F64', [1], [String(Math.PI)]])
      expect(py.tensors.i).toEqual(['I64', [1], [String(-(2n ** 62n) - 3n)]])
      expect(py.tensors.m).toEqual(['BOOL', [2], ['False', 'True']])
    })

    test.skipIf(!hasSafetensors)("Python's safetensors reads ours and writes what we read", () => {
      const bytes = encodeSafetensors({ a: Float32Array.of(1, 2), b: Int32Array.of(3) })
      fs.writeFileSync(path.join(dir, 'ref-in.safetensors'), bytes)
      const out = runPython(
        `from safetensors.numpy import load_file, save_file
d = load_file('ref-in.safetensors')
print(d['a'].tolist(), d['b'].tolist())
save_file({'x': np.arange(3, dtype=np.float32)}, 'ref-out.safetensors')`,
        dir,
      )
      expect(out.trim()).toBe('[1.0, 2.0] [3]')
      const r = readSafetensors(path.join(dir, 'ref-out.safetensors'))
      expect(str(r.x as NdArray)).toEqual(['0', '1', '2'])
    })
  },
)
