/**
 * Against real numpy: Python writes `.npy` (every dtype x byte order x C/Fortran x format
 * version x shape) and `.npz` (savez, savez_compressed, a zip64 archive) that the readers must
 * read exactly; the writers' files must be loaded by `np.load` with the same dtype, shape and
 * values, byte for byte what numpy itself writes. One Python run does all of it.
 */
import { Buffer } from 'node:buffer'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import {
  DTYPES,
  type DType,
  decodeFloat16,
  type NdArray,
  STORAGE,
} from '../../src/compare/dtype.js'
import { readNpy, writeNpy } from '../../src/io/npy.js'
import { readNpz, writeNpz } from '../../src/io/npz.js'
import { descrOf } from '../../src/io/numpy-dtype.js'
import { hasNumpy, runPython } from '../helpers/python.js'

const CODE_TO_DTYPE: { readonly [code: string]: DType } = {
  b1: 'bool',
  i1: 'int8',
  u1: 'uint8',
  i2: 'int16',
  u2: 'uint16',
  i4: 'int32',
  u4: 'uint32',
  i8: 'int64',
  u8: 'uint64',
  f2: 'float16',
  f4: 'float32',
  f8: 'float64',
}

/** One array Python wrote: where, what numpy says it is, its values in C order as strings. */
interface PyCase {
  file: string
  code: string
  shape: number[]
  fortran: boolean
  version: number
  /** Little-endian C-order bytes, hex. */
  hex: string
  values: string[]
}

interface PyOutput {
  cases: PyCase[]
  npz: { file: string; compressed: boolean; members: { key: string; case: string }[] }[]
  zip64: { file: string; keys: string[] }
  verdict: { checked: number; failures: string[] }
}

/** Python: write the numpy side, then check every file TypeScript wrote (listed in ts.json). */
const SCRIPT = String.raw`
import io, json, math, os, zipfile
from numpy.lib import format as npf

CODES = ['b1', 'i1', 'u1', 'i2', 'u2', 'i4', 'u4', 'i8', 'u8', 'f2', 'f4', 'f8']
SHAPES = [(), (0, 3), (2, 3), (2, 3, 4)]

def fmt(x, code):
    if code == 'b1':
        return '1' if x else '0'
    if code[0] in 'iu':
        return str(int(x))
    f = float(x)
    if math.isnan(f):
        return 'NaN'
    if math.isinf(f):
        return 'Infinity' if f > 0 else '-Infinity'
    return repr(f)

def values(code, n):
    dt = np.dtype('<' + code)
    if code == 'b1':
        return np.arange(n) % 3 == 0
    if code[0] in 'iu':
        a = (np.arange(n, dtype=np.int64) * 37 - 50).astype(dt)
        info = np.iinfo(dt)
        if n >= 2:
            a[0], a[1] = info.min, info.max
        if n >= 3 and dt.itemsize == 8:
            a[2] = 2**53 + 1
        return a
    a = (np.arange(n, dtype=np.float64) * 0.37 - 1.5).astype(dt)
    fi = np.finfo(dt)
    special = [np.nan, np.inf, -np.inf, -0.0, fi.max, fi.tiny / 4, fi.min, 1 / 3]
    for i, v in enumerate(special[:n]):
        a[i] = v
    return a

def le_hex(a):
    return np.ascontiguousarray(a).astype(a.dtype.newbyteorder('<')).tobytes().hex()

os.makedirs('py', exist_ok=True)
cases, by_name = [], {}
for code in CODES:
    for bo in (['|'] if code in ('b1', 'i1', 'u1') else ['<', '>']):
        for shape in SHAPES:
            arr = values(code, int(np.prod(shape))).reshape(shape).astype(bo + code)
            for fortran in ([False, True] if len(shape) >= 2 and 0 not in shape else [False]):
                # a copy in the asked order (np.ascontiguousarray would make a 0-d array 1-d)
                a = arr.copy(order='F' if fortran else 'C')
                assert a.flags.f_contiguous and not a.flags.c_contiguous if fortran else True
                for version in (1, 2, 3):
                    name = '%s_%s_%s_%s_v%d' % (code, {'|': 'na', '<': 'le', '>': 'be'}[bo],
                        'x'.join(map(str, shape)) or 'scalar', 'F' if fortran else 'C', version)
                    with open('py/' + name + '.npy', 'wb') as f:
                        npf.write_array(f, a, version=(version, 0))
                    by_name[name] = a
                    cases.append(dict(file='py/' + name + '.npy', code=code, shape=list(shape),
                        fortran=fortran, version=version, hex=le_hex(a),
                        values=[fmt(x, code) for x in a.ravel(order='C').tolist()]))

npz = []
v1 = {n: a for n, a in by_name.items() if n.endswith('_v1')}
keys = {('dir/' + n if i % 5 == 0 else n): n for i, n in enumerate(v1)}
for compressed, save in ((False, np.savez), (True, np.savez_compressed)):
    file = 'py/all_%s.npz' % ('deflated' if compressed else 'stored')
    save(file, **{k: v1[n] for k, n in keys.items()})
    npz.append(dict(file=file, compressed=compressed,
        members=[dict(key=k, case='py/' + n + '.npy') for k, n in keys.items()]))

# zip64 everywhere, in a small archive: lower zipfile's limits (module globals it reads at
# write time) so it writes zip64 extra fields (sizes, offsets) and zip64 end records
import zipfile as zf
limits = zf.ZIP64_LIMIT, zf.ZIP_FILECOUNT_LIMIT
zf.ZIP64_LIMIT, zf.ZIP_FILECOUNT_LIMIT = 100, 2
zip64_keys = ['a', 'b/c', 'd']
np.savez('py/zip64.npz', **{k: by_name['f8_le_2x3x4_C_v1'] + i for i, k in enumerate(zip64_keys)})
zf.ZIP64_LIMIT, zf.ZIP_FILECOUNT_LIMIT = limits
with open('py/zip64.npz', 'rb') as f:
    raw = f.read()
assert raw[-22 - 20:-22][:4] == b'PK\x06\x07'  # the zip64 end locator is there

# --- check what TypeScript wrote ---
failures, checked = [], 0
def check(where, a, want, raw=None):
    global checked
    checked += 1
    def fail(msg):
        failures.append('%s: %s' % (where, msg))
    if a.dtype.str != want['descr']:
        return fail('dtype %s, expected %s' % (a.dtype.str, want['descr']))
    if list(a.shape) != want['shape']:
        return fail('shape %s, expected %s' % (a.shape, want['shape']))
    if le_hex(a) != want['hex']:
        return fail('bytes differ')
    code = want['descr'][1:]
    for x, s in zip(a.ravel().tolist(), want['values']):
        if code == 'b1' or code[0] in 'iu':
            ok = int(x) == int(s)
        else:
            e = float(s)
            ok = (math.isnan(x) and math.isnan(e)) or (x == e and math.copysign(1, x) == math.copysign(1, e))
        if not ok:
            return fail('value %r, expected %s' % (x, s))
    if raw is not None:
        b = io.BytesIO()
        npf.write_array(b, a, version=(want['version'], 0))
        if b.getvalue() != raw:
            fail('not the bytes numpy writes')

ts = json.load(open('ts/ts.json'))
for want in ts['npy']:
    raw = open(want['file'], 'rb').read()
    check(want['file'], np.load(want['file']), want, raw)
for arc in ts['npz']:
    with zipfile.ZipFile(arc['file']) as z:
        if z.testzip() is not None:
            failures.append(arc['file'] + ': CRC check failed')
        methods = {i.compress_type for i in z.infolist()}
        if methods != {zipfile.ZIP_DEFLATED if arc['compressed'] else zipfile.ZIP_STORED}:
            failures.append('%s: compression %s' % (arc['file'], methods))
    with np.load(arc['file']) as f:
        if f.files != [m['key'] for m in arc['members']]:
            failures.append('%s: keys %s' % (arc['file'], f.files))
        for m in arc['members']:
            check(arc['file'] + ':' + m['key'], f[m['key']], m)
with np.load(ts['zip64']['file']) as f:
    checked += 1
    if len(f.files) != ts['zip64']['count'] or int(f['m%d' % (ts['zip64']['count'] - 1)]) != 7:
        failures.append('zip64: %d members' % len(f.files))

print(json.dumps(dict(cases=cases, npz=npz, zip64=dict(file='py/zip64.npz', keys=zip64_keys),
    verdict=dict(checked=checked, failures=failures))))
`

// ---------------------------------------------------------------------------------------------
// What TypeScript writes

const TS_SHAPES: readonly (readonly number[])[] = [[], [0, 3], [5], [2, 3], [2, 3, 4]]

/** Edge values of each dtype, as numbers or bigints (float16 as bits). */
const EDGES: { readonly [D in DType]: readonly (number | bigint)[] } = {
  bool: [1, 0, 0, 1],
  int8: [-128, 127, 0, -1, 42],
  uint8: [0, 255, 1, 200],
  int16: [-32768, 32767, -1, 1000],
  uint16: [0, 65535, 40000],
  int32: [-(2 ** 31), 2 ** 31 - 1, -1, 7],
  uint32: [0, 2 ** 32 - 1, 3e9],
  int64: [-(2n ** 63n), 2n ** 63n - 1n, 2n ** 53n + 1n, -1n],
  uint64: [0n, 2n ** 64n - 1n, 2n ** 53n + 1n],
  float16: [0x3c00, 0x7c00, 0xfc00, 0x7e00, 0x8000, 0x0001, 0x7bff, 0x3555],
  float32: [0.1, Infinity, -Infinity, NaN, -0, 1e-45, 3.4028234663852886e38, -1 / 3],
  float64: [0.1, Infinity, -Infinity, NaN, -0, Number.MIN_VALUE, Number.MAX_VALUE, -1 / 3],
}

function sample(dtype: DType, shape: readonly number[], shift = 0): NdArray {
  const n = shape.reduce((a, b) => a * b, 1)
  const data = new STORAGE[dtype](n)
  const edges = EDGES[dtype]
  for (let i = 0; i < n; i++) {
    ;(data as { [i: number]: number | bigint })[i] = edges[(i + shift) % edges.length] as number
  }
  return { data, shape: [...shape], dtype } as NdArray
}

/** Values as strings, in the format Python parses: exact for every dtype, -0 and NaN kept. */
function valueStrings(a: NdArray): string[] {
  const nums =
    a.dtype === 'float16'
      ? Array.from(decodeFloat16(a.data as Uint16Array))
      : Array.from(a.data as ArrayLike<number | bigint>)
  return nums.map((x) => (Object.is(x, -0) ? '-0.0' : String(x)))
}

const hexOf = (a: NdArray) =>
  Buffer.from(a.data.buffer, a.data.byteOffset, a.data.byteLength).toString('hex')

const describeNumpy = describe.skipIf(!hasNumpy)

describeNumpy('interop with numpy', () => {
  let dir = ''
  let py: PyOutput
  const tsWrote = { npy: 0, npzMembers: 0 }

  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vitest-align-interop-'))
    fs.mkdirSync(path.join(dir, 'ts'))
    const manifest: { npy: object[]; npz: object[]; zip64: object } = {
      npy: [],
      npz: [],
      zip64: {},
    }
    const want = (a: NdArray) => ({
      descr: descrOf(a.dtype),
      shape: a.shape,
      hex: hexOf(a),
      values: valueStrings(a),
    })
    const record: { [key: string]: NdArray } = {}
    for (const dtype of DTYPES) {
      for (const shape of TS_SHAPES) {
        const name = `${dtype}_${shape.join('x') || 'scalar'}`
        for (const version of [1, 2, 3] as const) {
          const a = sample(dtype, shape, version)
          const file = `ts/${name}_v${version}.npy`
          writeNpy(path.join(dir, file), a, { version })
          manifest.npy.push({ file, version, ...want(a) })
        }
        record[dtype === 'float32' ? `dir/${name}` : name] = sample(dtype, shape)
      }
    }
    const unicode = 'ünïcödé' // a name zip stores with the utf-8 flag
    record[unicode] = sample('int8', [3])
    for (const compress of [false, true]) {
      const file = `ts/all_${compress ? 'deflated' : 'stored'}.npz`
      writeNpz(path.join(dir, file), record, { compress })
      const members = Object.entries(record).map(([key, a]) => ({ key, ...want(a) }))
      manifest.npz.push({ file, compressed: compress, members })
    }
    // 65,535 members: Python itself would not yet use zip64 end records here; this writer does
    const many = new Map<string, NdArray>()
    const seven = { data: Int8Array.of(7), shape: [], dtype: 'int8' } as NdArray
    for (let i = 0; i < 65_535; i++) many.set(`m${i}`, seven)
    writeNpz(path.join(dir, 'ts/zip64.npz'), many)
    manifest.zip64 = { file: 'ts/zip64.npz', count: 65_535 }
    tsWrote.npy = manifest.npy.length
    tsWrote.npzMembers = 2 * Object.keys(record).length
    fs.writeFileSync(path.join(dir, 'ts/ts.json'), JSON.stringify(manifest))

    py = JSON.parse(runPython(SCRIPT, dir)) as PyOutput
  }, 60_000)

  afterAll(() => {
    if (dir) fs.rmSync(dir, { recursive: true, force: true })
  })

  /** The mismatches between what readNpy/readNpz gave and what numpy printed, by file. */
  function compare(where: string, a: NdArray, c: PyCase): string[] {
    const dtype = CODE_TO_DTYPE[c.code]
    if (a.dtype !== dtype) return [`${where}: dtype ${a.dtype}, numpy says ${c.code}`]
    if (JSON.stringify(a.shape) !== JSON.stringify(c.shape)) return [`${where}: shape ${a.shape}`]
    if (a.data.length !== c.values.length) return [`${where}: ${a.data.length} elements`]
    if (hexOf(a) !== c.hex) return [`${where}: bytes differ`]
    const out: string[] = []
    const floats = a.dtype === 'float16' ? decodeFloat16(a.data as Uint16Array) : undefined
    c.values.forEach((s, i) => {
      const v = floats ? floats[i] : a.data[i]
      const ok =
        typeof v === 'bigint'
          ? v === BigInt(s)
          : a.dtype.startsWith('float')
            ? Object.is(v, Number(s))
            : v === Number(s)
      if (!ok) out.push(`${where}[${i}]: ${String(v)}, numpy says ${s}`)
    })
    return out
  }

  test('reads every .npy numpy writes: dtype x byte order x C/Fortran x version x shape', () => {
    // 9 multi-byte dtypes x 2 orders + 3 one-byte, x (2 shapes in C + 2 shapes in C and F) x 3 versions
    expect(py.cases).toHaveLength(21 * 6 * 3)
    const failures: string[] = []
    for (const c of py.cases) failures.push(...compare(c.file, readNpy(path.join(dir, c.file)), c))
    expect(failures).toEqual([])
    // the set really covers what the brief asks for
    expect(new Set(py.cases.map((c) => c.version))).toEqual(new Set([1, 2, 3]))
    expect(py.cases.filter((c) => c.fortran && c.file.includes('_be_')).length).toBeGreaterThan(0)
  })

  test('reads np.savez and np.savez_compressed archives', () => {
    const byFile = new Map(py.cases.map((c) => [c.file, c]))
    const failures: string[] = []
    for (const arc of py.npz) {
      const record = readNpz(path.join(dir, arc.file))
      expect(Object.keys(record)).toEqual(arc.members.map((m) => m.key))
      for (const m of arc.members) {
        failures.push(
          ...compare(
            `${arc.file}:${m.key}`,
            record[m.key] as NdArray,
            byFile.get(m.case) as PyCase,
          ),
        )
      }
    }
    expect(failures).toEqual([])
    expect(py.npz.map((a) => a.compressed)).toEqual([false, true])
    expect(py.npz[0]?.members.some((m) => m.key.startsWith('dir/'))).toBe(true)
  })

  test('reads a zip64 archive Python wrote (zip64 sizes, offsets and end records)', () => {
    const record = readNpz(path.join(dir, py.zip64.file))
    expect(Object.keys(record)).toEqual(py.zip64.keys)
    const base = readNpy(path.join(dir, 'py/f8_le_2x3x4_C_v1.npy')).data as Float64Array
    py.zip64.keys.forEach((k, i) => {
      expect((record[k] as NdArray).data).toEqual(base.map((x) => x + i))
    })
  })

  test('np.load reads every file the writers wrote: same dtype, shape, values and bytes', () => {
    // Python also checks that each .npy is the very bytes numpy's write_array gives for the
    // array it loaded (header included), and the archives' CRCs and compression methods.
    expect(py.verdict.failures).toEqual([])
    // every .npy, every member of both archives, the zip64 archive
    expect(py.verdict.checked).toBe(tsWrote.npy + tsWrote.npzMembers + 1)
    expect(tsWrote.npy).toBe(DTYPES.length * TS_SHAPES.length * 3)
  })
})
