/**
 * reprod_log records across the language boundary, with Debian's numpy 1.24: numpy writes
 * (np.save, every pickle protocol, numpy 2.x module names) and TypeScript reads; TypeScript
 * writes and numpy reads (np.load, as reprod_log's ReprodDiffHelper.load_info does), byte for
 * byte what numpy itself writes; a pickle exploit that np.load runs is refused here; and
 * reports on random records equal what reprod_log's format computes in numpy.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import type { NdArray } from '../../src/compare/dtype.js'
import { ForbiddenGlobalError } from '../../src/io/errors.js'
import { diffReprodLogs } from '../../src/io/reprod-diff.js'
import { ReprodLogger, readReprodLog, writeReprodLog } from '../../src/io/reprod-log.js'
import type { NdRecord } from '../../src/io/types.js'
import { hasNumpy, runPython } from '../helpers/python.js'

/** Python helpers shared by both scripts: a record flattened to {path: [dtype, shape, LE hex]}. */
const FLATTEN = `
import json, os, pickle, struct, sys
def flat(v, path, out):
    if isinstance(v, dict):
        for k, x in v.items():
            flat(x, path + [k], out)
        return
    if isinstance(v, bool):
        a = np.asarray(v)
    elif isinstance(v, int):
        a = np.asarray(v, dtype=np.int64)
    elif isinstance(v, float):
        a = np.asarray(v, dtype=np.float64)
    elif isinstance(v, (np.ndarray, np.generic)):
        a = np.asarray(v)
    else:
        raise TypeError(type(v))
    le = np.ascontiguousarray(a, dtype=a.dtype.newbyteorder('<'))
    out['.'.join(path)] = [a.dtype.name, list(a.shape), le.tobytes().hex()]
    return out
def flatten(d):
    out = {}
    flat(d, [], out)
    return out
`

/** Writes every kind of record numpy may hold, in every protocol and module naming. */
const WRITE = `${FLATTEN}
rng = np.random.default_rng(7)
def values(dt, shape):
    n = int(np.prod(shape))
    if dt.kind == 'f':
        v = rng.normal(0, 100, n)
        v[: min(n, 4)] = [np.nan, np.inf, -np.inf, -0.0][: min(n, 4)]
        return v.astype(dt).reshape(shape)
    if dt.kind == 'b':
        return (rng.integers(0, 2, n) == 1).reshape(shape)
    info = np.iinfo(dt)
    v = rng.integers(info.min, info.max, n, dtype=dt.newbyteorder('='), endpoint=True)
    v[:2] = [info.min, info.max][: min(n, 2)]
    return v.astype(dt).reshape(shape)
rec = {}
for code in ['f2', 'f4', 'f8', 'i1', 'i2', 'i4', 'i8', 'u1', 'u2', 'u4', 'u8', 'b1']:
    for order in '<>':
        dt = np.dtype(order + code)
        if dt.itemsize == 1 and order == '>':
            continue
        rec[order + code] = values(dt, (2, 3))
rec['fortran'] = {
    'f4': np.asfortranarray(np.arange(24, dtype='<f4').reshape(2, 3, 4)),
    'i8_be': np.asfortranarray(values(np.dtype('>i8'), (3, 4))),
    'b1': np.asfortranarray(values(np.dtype('b1'), (4, 2))),
}
assert rec['fortran']['f4'].flags.f_contiguous and not rec['fortran']['f4'].flags.c_contiguous
rec['zero_d'] = {'f4': np.array(1.5, np.float32), 'u8_be': np.array(2**64 - 1, '>u8')}
rec['empty'] = {'f8': np.zeros((0,), np.float64), 'i2_be': np.zeros((2, 0, 4), '>i2'),
                'f2_fortran': np.asfortranarray(np.zeros((0, 3), np.float16))}
rec['scalars'] = {code: np.dtype(code).type(values(np.dtype(code), (1,))[0])
                  for code in ['f2', 'f4', 'f8', 'i1', 'i2', 'i4', 'i8', 'u1', 'u2', 'u4', 'u8', 'b1']}
rec['python'] = {'float': 0.1, 'nan': float('nan'), 'int': 7, 'neg': -3, 'big': 2**62 + 1,
                 'negbig': -2**40, 'true': True, 'false': False}
rec['nested'] = {'a': {'b': {'c': np.arange(3, dtype=np.int32)}}, 'empty': {}}
rec['strided'] = np.arange(40, dtype=np.float64).reshape(4, 10)[::2, ::3]
rec['4d'] = values(np.dtype('f2'), (1, 2, 1, 3))
rec['keys ключ 鍵 😀'] = np.float32(1)
def header(f, arr):
    np.lib.format.write_array_header_1_0(f, np.lib.format.header_data_from_array_1_0(arr))
obj = np.empty((), dtype=object)
obj[()] = rec
files = {}
np.save('np_save.npy', rec, allow_pickle=True)
files['np_save.npy'] = flatten(rec)
for p in (2, 3, 4, 5):
    with open('proto%d.npy' % p, 'wb') as f:
        header(f, obj)
        pickle.dump(obj, f, protocol=p)
    files['proto%d.npy' % p] = files['np_save.npy']
# numpy 2.x module names (numpy._core), which numpy 1.24 cannot write: alias the modules and
# let the pure-Python pickler name them so
import numpy.core.multiarray, numpy.core.numeric
sys.modules['numpy._core'] = numpy.core
sys.modules['numpy._core.multiarray'] = numpy.core.multiarray
sys.modules['numpy._core.numeric'] = numpy.core.numeric
which = pickle.whichmodule
pickle.whichmodule = lambda o, n: which(o, n).replace('numpy.core.', 'numpy._core.')
class Pickler(pickle._Pickler):
    # Protocol 5 writes each in-band buffer as a temporary bytes (CPython's C pickler does not
    # memoize it); the pure-Python one memoizes it and trips on reused ids and on the cached
    # empty and one-byte bytes: keep them alive, and write a repeated one without the memo.
    keep = []
    def save_bytearray(self, obj):
        self.keep.append(obj)
        if id(obj) in self.memo:
            self.write(pickle.BYTEARRAY8 + struct.pack('<Q', len(obj)) + bytes(obj))
            return
        super().save_bytearray(obj)
core = {}
for p in (2, 3, 4, 5):
    name = 'core%d.npy' % p
    with open(name, 'wb') as f:
        header(f, obj)
        Pickler(f, protocol=p).dump(obj)
    data = open(name, 'rb').read()
    core[name] = [data.count(b'numpy._core'), data.count(b'numpy.core')]
    files[name] = files['np_save.npy']
pickle.whichmodule = which
# a pickle exploit: np.load(allow_pickle=True) would run os.system('touch pwned')
class Exploit:
    def __reduce__(self):
        return (os.system, ('touch pwned',))
evil = np.empty((), dtype=object)
evil[()] = {'loss': Exploit()}
np.save('evil.npy', evil, allow_pickle=True)
# random record pairs and their reprod_log report lines, computed in numpy
def report(ref, cand, method, threshold):
    lines = []
    ok_all = True
    for k in ref:
        lines.append('{}: '.format(k))
        d = np.abs(ref[k] - cand[k])
        for m in (['min', 'max', 'mean'] if method == 'all' else [method]):
            v = getattr(d, m)()
            ok = not (v > threshold)
            ok_all = ok_all and ok
            lines.append('\\t{} diff: check passed: {}, value: {}'.format(m, ok, v))
    lines.append('diff check passed' if ok_all else 'diff check failed')
    return lines
reports = []
for i in range(12):
    dt = [np.float32, np.float64][i % 2]
    ref, cand = {}, {}
    for j in range(4):
        shape = [(1, 1000), (37,), (), (3, 5, 7), (1,), (2, 4097)][(i + j) % 6]
        scale = 10.0 ** rng.integers(-3, 4)
        a = (rng.normal(0, scale, shape)).astype(dt)
        b = (a * (1 + rng.normal(0, 3e-6, shape)) + rng.normal(0, 1e-7, shape)).astype(dt)
        ref['k%d' % j] = np.asarray(a)
        cand['k%d' % j] = np.asarray(b).reshape(shape[1:] if len(shape) > 1 and shape[0] == 1 else shape)
    method = ['mean', 'all', 'max', 'min'][i % 4]
    threshold = [1e-6, 1e-5, 1e-4, 1e-3][i % 4]
    np.save('ref%d.npy' % i, ref)
    np.save('cand%d.npy' % i, cand)
    reports.append([method, threshold, report(ref, cand, method, threshold)])
print(json.dumps({'files': files, 'core': core, 'reports': reports}))
`

/** Reads what TypeScript wrote, as numpy and reprod_log do, and re-saves it with numpy. */
const READ = `${FLATTEN}
def load_info(path):
    # ReprodDiffHelper.load_info: a bare assert, then np.load(...).tolist()
    assert os.path.exists(path)
    return np.load(path, allow_pickle=True).tolist()
names = json.load(open('ts_files.json'))
out = {}
for name in names:
    d = load_info(name)
    d2 = np.load(name, allow_pickle=True).tolist()
    np.save('resaved_' + name, d)
    same = open(name, 'rb').read() == open('resaved_' + name, 'rb').read()
    arrays = []
    def walk(x):
        for v in x.values():
            if isinstance(v, dict): walk(v)
            else: arrays.append(isinstance(v, np.ndarray))
    walk(d)
    out[name] = {'flat': flatten(d), 'flat2': flatten(d2), 'is_dict': isinstance(d, dict),
                 'all_ndarray': all(arrays), 'same_bytes_as_numpy': same}
np.load('evil.npy', allow_pickle=True)
out['evil ran under np.load'] = os.path.exists('pwned')
print(json.dumps(out))
`

type Flat = Record<string, [string, number[], string]>

/** A record flattened as the Python side does it. */
function flatten(rec: NdRecord, path: string[] = [], out: Flat = {}): Flat {
  for (const [k, v] of Object.entries(rec)) {
    if ('dtype' in v && ArrayBuffer.isView((v as NdArray).data)) {
      const a = v as NdArray
      const hex = Buffer.from(a.data.buffer, a.data.byteOffset, a.data.byteLength).toString('hex')
      // defineProperty: a '__proto__' key is data here too
      Object.defineProperty(out, [...path, k].join('.'), {
        value: [a.dtype, [...a.shape], hex],
        enumerable: true,
      })
    } else flatten(v as NdRecord, [...path, k], out)
  }
  return out
}

const f = <T extends NdArray['data']>(data: T, shape: number[], dtype: NdArray['dtype']) =>
  ({ data, shape, dtype }) as NdArray

describe.skipIf(!hasNumpy)('reprod_log records between numpy 1.24 and TypeScript', () => {
  let dir = ''
  let written: {
    files: Record<string, Flat>
    core: Record<string, [number, number]>
    reports: [string, number, string[]][]
  }

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'reprod-interop-'))
    written = JSON.parse(runPython(WRITE, dir))
  })
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  test('numpy → TS: np.save and protocols 2-5, every dtype and byte order, Fortran, 0-d, empty, scalars, Python numbers, nested', () => {
    const names = Object.keys(written.files)
    expect(names).toEqual([
      'np_save.npy',
      'proto2.npy',
      'proto3.npy',
      'proto4.npy',
      'proto5.npy',
      'core2.npy',
      'core3.npy',
      'core4.npy',
      'core5.npy',
    ])
    for (const name of names) {
      const got = flatten(readReprodLog(join(dir, name)))
      expect(got, name).toEqual(written.files[name])
    }
    expect(Object.keys(written.files['np_save.npy'] as Flat)).toHaveLength(53)
  })

  test('numpy 2.x module names (numpy._core) really are in the core*.npy pickles', () => {
    for (const [name, [core, old]] of Object.entries(written.core)) {
      expect(core, name).toBeGreaterThan(0)
      expect(old, name).toBe(0)
    }
  })

  test('an exploit that np.load would run is refused here; numpy then runs it (below)', () => {
    let e: unknown
    try {
      readReprodLog(join(dir, 'evil.npy'))
    } catch (err) {
      e = err
    }
    expect(e).toBeInstanceOf(ForbiddenGlobalError)
    expect((e as ForbiddenGlobalError).global).toBe('posix.system')
    expect(existsSync(join(dir, 'pwned'))).toBe(false)
  })

  test('TS → numpy: np.load and reprod_log load_info give the same dict, bytes as numpy writes them', () => {
    const records: Record<string, NdRecord> = {
      'dtypes.npy': {
        f2: f(Uint16Array.of(0x3c00, 0x7e01, 0x8000, 0x7c00), [4], 'float16'),
        f4: f(Float32Array.of(1.5, Number.NaN, -0, Number.NEGATIVE_INFINITY), [2, 2], 'float32'),
        f8: f(Float64Array.of(0.1, 5e-324, -1e308), [3], 'float64'),
        i1: f(Int8Array.of(-128, 127), [2], 'int8'),
        i2: f(Int16Array.of(-32768, 32767), [2, 1], 'int16'),
        i4: f(Int32Array.of(-(2 ** 31), 2 ** 31 - 1), [2], 'int32'),
        i8: f(BigInt64Array.of(-(2n ** 63n), 2n ** 63n - 1n), [2], 'int64'),
        u1: f(Uint8Array.of(0, 98, 255), [3], 'uint8'),
        u2: f(Uint16Array.of(65535), [1], 'uint16'),
        u4: f(Uint32Array.of(2 ** 32 - 1), [], 'uint32'),
        u8: f(BigUint64Array.of(2n ** 64n - 1n), [1, 1, 1, 1], 'uint64'),
        b1: f(Uint8Array.of(1, 0, 1), [3], 'bool'),
        b: f(Int8Array.of(98), [], 'int8'), // its one byte is b'b', the typecode: memo shared
        empty: f(new Float32Array(0), [0, 3], 'float32'),
        empty2: f(new Int16Array(0), [2, 0], 'int16'),
      },
      'nested.npy': {
        a: {
          b: { c: f(Float32Array.of(1, 2, 3), [3], 'float32') },
          d: f(Float64Array.of(4), [], 'float64'),
        },
        e: {},
        ['__proto__']: f(Float32Array.of(5), [1], 'float32'),
        x: f(Float32Array.of(6), [], 'float32'),
        'ключ 鍵 😀': f(Float32Array.of(7), [], 'float32'),
      },
      'many.npy': Object.fromEntries(
        Array.from({ length: 1500 }, (_, i) => [`key_${i}`, f(Float32Array.of(i), [1], 'float32')]),
      ),
    }
    for (const [name, rec] of Object.entries(records)) writeReprodLog(join(dir, name), rec)
    const logger = new ReprodLogger()
    logger.add('logits', { data: Float32Array.of(-2.25, 0.5, 3), shape: [1, 3] })
    logger.add('loss', 10.842716)
    logger.add('labels', { data: BigInt64Array.of(0n, 3n), shape: [2] })
    records['logger.npy'] = logger.data
    expect(logger.save(join(dir, 'logger'))).toBe(join(dir, 'logger.npy'))

    runPython(
      `open('ts_files.json', 'w').write(${JSON.stringify(JSON.stringify(Object.keys(records)))})`,
      dir,
    )
    const read = JSON.parse(runPython(READ, dir))
    for (const [name, rec] of Object.entries(records)) {
      const r = read[name]
      expect(r.is_dict, name).toBe(true)
      expect(r.all_ndarray, name).toBe(true)
      expect(r.flat, name).toEqual(flatten(rec))
      expect(r.flat2, name).toEqual(r.flat)
      expect(r.same_bytes_as_numpy, `${name}: numpy re-saves the same bytes`).toBe(true)
    }
    // the exploit is real: np.load ran it, after readReprodLog refused it above
    expect(read['evil ran under np.load']).toBe(true)
  })

  test('reports on random float32/float64 records equal the lines numpy and Python format give', () => {
    written.reports.forEach(([method, threshold, lines], i) => {
      const ref = readReprodLog(join(dir, `ref${i}.npy`))
      const cand = readReprodLog(join(dir, `cand${i}.npy`))
      const diff = diffReprodLogs(ref, cand, {
        method: method as 'mean',
        threshold,
        allowVacuous: true,
      })
      expect(diff.lines, `pair ${i}, ${method} <= ${threshold}`).toEqual(lines)
    })
  })
})

describe.skipIf(!hasNumpy)('numpy sums in memory order', () => {
  const dir = mkdtempSync(join(tmpdir(), 'reprod-log-fortran-'))
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  test("Fortran-ordered records: the printed mean is numpy's, summed in Fortran order", () => {
    // float32 sums that differ between C and Fortran order, so the order shows in the last bits
    const out = runPython(
      `
rng = np.random.default_rng(6)
shape = (9, 2000)
scale = np.logspace(0, 6, shape[1])
ref = np.asfortranarray((rng.normal(0, 1, shape) * scale).astype(np.float32))
cand = np.asfortranarray((ref + rng.normal(0, 1, shape) * scale * 1e-3).astype(np.float32))
mixed = np.ascontiguousarray(cand)
np.save('ref.npy', {'w': ref})
np.save('cand.npy', {'w': cand})
np.save('mixed.npy', {'w': mixed})
f = '{}'.format(np.abs(ref - cand).mean())
c = '{}'.format(np.abs(ref - mixed).mean())
cf = '{}'.format(np.abs(np.ascontiguousarray(ref) - mixed).mean())
print(f, c, cf)
`,
      dir,
    )
    const [fortran, mixedMean, cOrder] = out.trim().split(' ')
    expect(fortran).not.toBe(cOrder) // else the test would prove nothing
    const ref = readReprodLog(join(dir, 'ref.npy'))
    expect((ref.w as NdArray).order).toBe('F')
    const line = (cand: string) =>
      diffReprodLogs(ref, readReprodLog(join(dir, cand)), { threshold: 1e3 }).lines[1]
    expect(line('cand.npy')).toBe(`\tmean diff: check passed: True, value: ${fortran}`)
    // one side in C order: numpy's result is in C order, and so is its sum
    expect(mixedMean).toBe(cOrder)
    expect(line('mixed.npy')).toBe(`\tmean diff: check passed: True, value: ${mixedMean}`)
  })
})
