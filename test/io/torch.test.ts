/**
 * The torch readers (src/io/torch.ts, torch-pickle.ts, torch-tensor.ts) on real small files and
 * on hand-assembled ones that each break one rule of a safe reader: every refusal is a typed
 * error naming the file, the key where there is one, and the reason.
 */
import { readFileSync } from 'node:fs'
import { describe, expect, test } from 'vitest'
import type { NdArray } from '../../src/compare/dtype.js'
import { orderedKeys } from '../../src/compare/key-order.js'
import { readCheckpoint } from '../../src/io/checkpoint.js'
import {
  CheckpointFormatError,
  ForbiddenGlobalError,
  PickleFormatError,
} from '../../src/io/errors.js'
import { detectKind, load } from '../../src/io/load.js'
import { readTorch } from '../../src/io/torch.js'
import { encodeZip } from '../../src/io/zip-write.js'
import { expectFileError } from '../helpers/file-errors.js'
import {
  f32,
  Pickle,
  pushTensor,
  stateDictPickle,
  torchLegacy,
  torchZip,
} from '../helpers/torch-file.js'

const fixture = (name: string) =>
  new Uint8Array(readFileSync(new URL(`../fixtures/checkpoints/${name}`, import.meta.url)))
const B = '<bytes>'

const one = (over: Partial<Parameters<typeof pushTensor>[1]> = {}) =>
  stateDictPickle([{ name: 'w', key: '0', numel: 4, shape: [2, 2], ...over }])
const zipOf = (
  pickle: Uint8Array,
  records: Record<string, Uint8Array> = { '0': f32(1, 2, 3, 4) },
) => torchZip(pickle, records)

describe('real files written by torch 1.13', () => {
  test.each(['small.pt', 'small_legacy.pt'])('%s: a state_dict in file order', (name) => {
    const r = load(fixture(name)) as Record<string, NdArray>
    expect(orderedKeys(r)).toEqual(['fc.weight', 'fc.weight_t', 'bn.num_batches_tracked', 'half'])
    expect(Array.from((r['fc.weight'] as NdArray).data as Float32Array)).toEqual([
      0, 0.25, 0.5, 0.75, 1, 1.25,
    ])
    expect(r['fc.weight_t']?.shape).toEqual([3, 2])
    expect(Array.from((r['fc.weight_t'] as NdArray).data as Float32Array)).toEqual([
      0, 0.75, 0.25, 1, 0.5, 1.25,
    ])
    expect(r['bn.num_batches_tracked']).toMatchObject({ dtype: 'int64', shape: [] })
    expect(((r['bn.num_batches_tracked'] as NdArray).data as BigInt64Array)[0]).toBe(7n)
    expect(Array.from((r.half as NdArray).data as Uint16Array)).toEqual([0x3c00, 0xc100])
  })

  test("torch's container as it is: a ZIP64 end record, sizes 0 in the local headers, padded data", () => {
    const bytes = fixture('small.pt')
    const dv = new DataView(bytes.buffer, bytes.byteOffset)
    const at = (sig: number) =>
      bytes.findIndex((_, p) => p + 4 <= bytes.length && dv.getUint32(p, true) === sig)
    expect(at(0x06064b50)).toBeGreaterThan(0) // the ZIP64 end record torch always writes
    expect([dv.getUint32(18, true), dv.getUint32(22, true)]).toEqual([0, 0]) // local sizes
    expect(dv.getUint16(28, true)).toBeGreaterThan(0) // the local padding field ('FB')
    expect(Object.keys(load(bytes) as object)).toHaveLength(4) // read through all of it
  })

  test('the format is told by the bytes, and the archive prefix taken from the first entry', () => {
    expect(detectKind(fixture('small.pt'))).toBe('torch') // prefix 'small', not 'archive'
    expect(detectKind(fixture('small_legacy.pt'))).toBe('torch-legacy')
    const other = torchZip(one(), { '0': f32(1, 2, 3, 4) }, 'my.weights')
    expect(Array.from((load(other) as Record<string, NdArray>).w?.data as Float32Array)).toEqual([
      1, 2, 3, 4,
    ])
  })

  test('a CRC of 0 is accepted (set_crc32_options(False)); a wrong one is not', () => {
    const good = zipOf(one())
    const zeroed = setCrcs(good, 0)
    expect(Object.keys(load(zeroed) as object)).toEqual(['w'])
    expectFileError(
      CheckpointFormatError,
      () => load(setCrcs(good, 1)),
      B,
      'archive/data.pkl',
      'CRC-32',
    )
  })
})

/** The archive with every central directory CRC set to `crc`. */
function setCrcs(zip: Uint8Array, crc: number): Uint8Array {
  const out = new Uint8Array(zip)
  const dv = new DataView(out.buffer)
  for (let p = 0; p + 4 <= out.length; p++) {
    if (dv.getUint32(p, true) === 0x02014b50) dv.setUint32(p + 16, crc, true)
  }
  return out
}

describe('the zip container', () => {
  test('a duplicate member and an encrypted one are refused', () => {
    const pickle = one()
    const member = (name: string, data: Uint8Array) => ({
      nameBytes: new TextEncoder().encode(name),
      utf8: false,
      size: data.length,
      store: (o: Uint8Array, a: number) => o.set(data, a),
    })
    const dup = encodeZip([
      member('archive/data.pkl', pickle),
      member('archive/data/0', f32(1, 2, 3, 4)),
      member('archive/data/0', f32(1, 2, 3, 4)),
    ])
    expectFileError(
      CheckpointFormatError,
      () => load(dup),
      B,
      'archive/data/0',
      "duplicate member 'archive/data/0'",
    )
    const encrypted = zipOf(pickle)
    const dv = new DataView(encrypted.buffer, encrypted.byteOffset)
    const central = encrypted.findIndex(
      (_, p) => p + 4 <= encrypted.length && dv.getUint32(p, true) === 0x02014b50,
    )
    dv.setUint16(central + 8, dv.getUint16(central + 8, true) | 1, true)
    expectFileError(
      CheckpointFormatError,
      () => load(encrypted),
      B,
      'archive/data.pkl',
      'encrypted members are not supported',
    )
  })

  test('no data.pkl under the prefix', () => {
    const zip = encodeZip([
      {
        nameBytes: new TextEncoder().encode('archive/other'),
        utf8: false,
        size: 1,
        store: (o, a) => {
          o[a] = 1
        },
      },
    ])
    expectFileError(
      CheckpointFormatError,
      () => readTorch(zip),
      B,
      undefined,
      "no 'archive/data.pkl'",
    )
  })

  test.each([['archive/constants.pkl'], ['archive/code/__torch__.py']])(
    'a TorchScript archive (%s) is refused with what to save instead',
    (member) => {
      const zip = torchZip(one(), { '0': f32(1, 2, 3, 4) }, 'archive', {
        [member]: Uint8Array.of(1),
      })
      expectFileError(
        CheckpointFormatError,
        () => load(zip),
        B,
        undefined,
        'TorchScript',
        'model.state_dict()',
      )
    },
  )

  test('a storage without its record', () => {
    expectFileError(
      CheckpointFormatError,
      () => load(zipOf(one(), {})),
      B,
      'w',
      "no record 'archive/data/0'",
    )
  })

  test('a record whose size is not numel * itemsize (CVE-2026-24747)', () => {
    expectFileError(
      CheckpointFormatError,
      () => load(zipOf(one(), { '0': f32(1, 2, 3) })),
      B,
      'w',
      'holds 12 bytes',
      '4 float32 (16 bytes)',
    )
  })

  test('a deflated member is inflated no further than the directory declares', async () => {
    const { deflateSync } = await import('fflate')
    const bomb = deflateSync(new Uint8Array(1 << 20))
    const pickle = one()
    const zip = encodeZip([
      {
        nameBytes: new TextEncoder().encode('archive/data.pkl'),
        utf8: false,
        size: pickle.length,
        store: (o, a) => o.set(pickle, a),
      },
      {
        nameBytes: new TextEncoder().encode('archive/data/0'),
        utf8: false,
        size: 16,
        deflated: { bytes: bomb, crc: 0 },
      },
    ])
    expectFileError(
      CheckpointFormatError,
      () => load(zip),
      B,
      'archive/data/0',
      'more than its declared 16 bytes',
    )
  })
})

describe('persistent ids and views', () => {
  test("a persistent id that is not ('storage', class, key, location, numel)", () => {
    expectFileError(
      PickleFormatError,
      () => load(zipOf(one({ tag: 'module' }))),
      `${B}:archive/data.pkl`,
      undefined,
      "persistent id that is not ('storage'",
    )
  })

  test('a storage class that is not one (a dtype)', () => {
    expectFileError(
      PickleFormatError,
      () => load(zipOf(one({ storageClass: 'float32' }))),
      `${B}:archive/data.pkl`,
      undefined,
      'storage class',
    )
  })

  test('a size beyond 2^53', () => {
    expectFileError(
      PickleFormatError,
      () => load(zipOf(one({ numel: 2n ** 60n }))),
      `${B}:archive/data.pkl`,
      undefined,
      'out of range',
    )
  })

  test.each([
    [{ offset: 1 }, 'reaches element 4 of a storage of 4'],
    [{ shape: [3, 2], stride: [2, 1] }, 'reaches element 5'],
    [{ offset: -1 }, 'offset -1'],
    [{ stride: [2, -1] }, 'negative stride -1'],
  ])('a view outside its storage %o', (over, reason) => {
    expectFileError(CheckpointFormatError, () => load(zipOf(one(over))), B, 'w', reason)
  })

  test('a strided view is gathered, a stride of 0 repeats', () => {
    const r = load(zipOf(one({ shape: [2, 3], stride: [1, 0] }))) as Record<string, NdArray>
    expect(Array.from((r.w as NdArray).data as Float32Array)).toEqual([1, 1, 1, 2, 2, 2])
  })

  test('one storage named twice with different sizes', () => {
    const p = stateDictPickle([
      { name: 'a', key: '0', numel: 4, shape: [4] },
      { name: 'b', key: '0', numel: 2, shape: [2] },
    ])
    expectFileError(
      PickleFormatError,
      () => load(zipOf(p)),
      `${B}:archive/data.pkl`,
      undefined,
      "storage '0' named twice",
    )
  })

  test('a lazily conjugated view is refused with what to save', () => {
    const p = new Pickle()
      .global('collections', 'OrderedDict')
      .emptyTuple()
      .reduce()
      .mark()
      .str('w')
    p.global('torch._utils', '_rebuild_tensor_v2').mark()
    p.mark()
      .str('storage')
      .global('torch', 'FloatStorage')
      .str('0')
      .str('cpu')
      .int(4)
      .tuple()
      .op(0x51)
    p.int(0).ints([4]).ints([1]).bool(false)
    p.global('collections', 'OrderedDict').emptyTuple().reduce()
    p.emptyDict().str('conj').bool(true).op(0x73) // {'conj': True}
    p.tuple().reduce().setitems()
    expectFileError(CheckpointFormatError, () => load(zipOf(p.stop())), B, 'w', 'resolve_conj()')
  })
})

describe('globals and opcodes', () => {
  const evil = (module: string, name: string) =>
    zipOf(new Pickle().global(module, name).mark().str('echo pwned').tuple().reduce().stop())

  test.each([
    ['os', 'system'],
    ['builtins', 'eval'],
    ['posix', 'system'],
    ['torch', 'load'],
  ])('%s.%s is refused by name before anything is called', (module, name) => {
    const e = expectFileError(
      ForbiddenGlobalError,
      () => load(evil(module, name)),
      `${B}:archive/data.pkl`,
      undefined,
      `refused global '${module}.${name}'`,
    )
    expect(e.global).toBe(`${module}.${name}`)
  })

  test('a whole-module save names its class and says to save the state_dict', () => {
    const p = new Pickle().global('torch.nn.modules.linear', 'Linear').emptyTuple().op(0x81).stop()
    expectFileError(
      ForbiddenGlobalError,
      () => load(zipOf(p)),
      `${B}:archive/data.pkl`,
      undefined,
      'torch.nn.modules.linear.Linear',
      'whole-module save',
      'model.state_dict()',
    )
  })

  test.each([
    ['_rebuild_qtensor', 'quantized'],
    ['_rebuild_sparse_tensor', 'to_dense()'],
  ])('torch._utils.%s: %s', (name, advice) => {
    const p = new Pickle().global('torch._utils', name).stop()
    expectFileError(
      ForbiddenGlobalError,
      () => load(zipOf(p)),
      `${B}:archive/data.pkl`,
      undefined,
      advice,
    )
  })

  test('BUILD only on an OrderedDict with _metadata', () => {
    const withState = (key: string) =>
      zipOf(
        new Pickle()
          .global('collections', 'OrderedDict')
          .emptyTuple()
          .reduce()
          .emptyDict()
          .str(key)
          .emptyDict()
          .op(0x73, 0x62)
          .stop(),
      )
    expect(load(withState('_metadata'))).toEqual({})
    expectFileError(
      PickleFormatError,
      () => load(withState('__class__')),
      `${B}:archive/data.pkl`,
      undefined,
      "BUILD on a dict (only numpy arrays and dtypes, and an OrderedDict's _metadata",
    )
  })

  test('BUILD on a tensor is refused, naming what it is', () => {
    const p = pushTensor(new Pickle(), { name: '', key: '0', numel: 4, shape: [4] })
      .emptyDict()
      .op(0x62)
      .stop()
    expectFileError(
      PickleFormatError,
      () => load(zipOf(p)),
      `${B}:archive/data.pkl`,
      undefined,
      'BUILD on a torch tensor',
    )
  })

  test('SETITEM only on dicts, APPEND only on lists', () => {
    const setOnList = new Pickle().op(0x5d).str('k').str('v').op(0x73).stop()
    expectFileError(
      PickleFormatError,
      () => load(zipOf(setOnList)),
      `${B}:archive/data.pkl`,
      undefined,
      'not a dict',
    )
    const appendOnDict = new Pickle().emptyDict().str('v').op(0x61).stop()
    expectFileError(
      PickleFormatError,
      () => load(zipOf(appendOnDict)),
      `${B}:archive/data.pkl`,
      undefined,
      'not a list',
    )
  })

  test('a __proto__ key stays a key', () => {
    const p = stateDictPickle([{ name: '__proto__', key: '0', numel: 4, shape: [4] }])
    const r = load(zipOf(p)) as Record<string, NdArray>
    expect(Object.getPrototypeOf(r)).toBe(Object.prototype)
    expect(Object.keys(r)).toEqual(['__proto__'])
  })
})

describe('the legacy format', () => {
  const legacy = fixture('small_legacy.pt')

  test('a wrong magic number', () => {
    const bad = new Uint8Array(legacy)
    bad[13] = 0x18
    expectFileError(CheckpointFormatError, () => readTorch(bad), B, undefined, 'magic number')
  })

  test("the system info's byte order is honoured", () => {
    const object = stateDictPickle([{ name: 'w', key: 'k', numel: 2, shape: [2], legacy: true }])
    const big = new Uint8Array(8)
    new DataView(big.buffer).setFloat32(0, 1.5, false)
    new DataView(big.buffer).setFloat32(4, -2, false)
    const r = load(torchLegacy(object, [['k', 2, big]], false)) as Record<string, NdArray>
    expect(Array.from(r.w?.data as Float32Array)).toEqual([1.5, -2])
    const little = load(torchLegacy(object, [['k', 2, f32(1.5, -2)]])) as Record<string, NdArray>
    expect(Array.from(little.w?.data as Float32Array)).toEqual([1.5, -2])
  })

  test('a protocol other than 1001', () => {
    const bad = new Uint8Array(legacy)
    // the second pickle: PROTO 2, BININT2 1001 (e9 03), STOP
    const at = bad.findIndex((b, i) => b === 0x4d && bad[i + 1] === 0xe9 && bad[i + 2] === 0x03)
    bad[at + 1] = 0xea
    expectFileError(
      CheckpointFormatError,
      () => readTorch(bad),
      B,
      undefined,
      'legacy protocol the int 1002, not 1001',
    )
  })

  test('bytes after the last storage, and a storage cut short', () => {
    const longer = new Uint8Array(legacy.length + 3)
    longer.set(legacy)
    expectFileError(
      CheckpointFormatError,
      () => load(longer),
      B,
      undefined,
      '3 bytes after the last storage',
    )
    expectFileError(
      CheckpointFormatError,
      () => load(legacy.subarray(0, legacy.length - 1)),
      B,
      undefined,
      'run past the end',
    )
  })

  test("a storage count that differs from its id's", () => {
    // the first storage's int64 count follows the key list's pickle: find the 6 it declares
    const bad = new Uint8Array(legacy)
    const dv = new DataView(bad.buffer)
    const at = findCount(bad, 6n)
    dv.setBigInt64(at, 5n, true)
    expectFileError(
      CheckpointFormatError,
      () => load(bad),
      B,
      undefined,
      'holds 5 elements, its id declares 6',
    )
  })
})

/** Where the legacy file's first storage count (`n`, int64 LE) is, after the last STOP. */
function findCount(bytes: Uint8Array, n: bigint): number {
  const dv = new DataView(bytes.buffer, bytes.byteOffset)
  for (let p = bytes.length - 8; p >= 0; p--) {
    if (bytes[p - 1] === 0x2e && dv.getBigInt64(p, true) === n) return p
  }
  throw new Error('no count')
}

describe('what holds no tensor', () => {
  test('a pickle of None or a str', () => {
    expectFileError(
      CheckpointFormatError,
      () => load(zipOf(new Pickle().none().stop())),
      B,
      undefined,
      'the file holds None, no tensors',
    )
  })

  test('a tensor saved alone: load gives its array, readCheckpoint says to use load', () => {
    const alone = zipOf(
      pushTensor(new Pickle(), { name: '', key: '0', numel: 4, shape: [4] }).stop(),
    )
    expect(Array.from((load(alone) as NdArray).data as Float32Array)).toEqual([1, 2, 3, 4])
    expectFileError(
      CheckpointFormatError,
      () => readCheckpoint(alone),
      B,
      undefined,
      'one tensor saved alone',
      'load()',
    )
  })
})

describe('readCheckpoint', () => {
  test('names the format, and refuses a file that is no checkpoint', () => {
    expect(readCheckpoint(fixture('small.pt')).format).toBe('torch')
    expect(readCheckpoint(fixture('small.pdparams')).format).toBe('pdparams')
    const npy = new Uint8Array(
      readFileSync(
        new URL('../fixtures/reprod_log/paddle-mobilenetv3/forward_paddle.npy', import.meta.url),
      ),
    )
    expectFileError(
      CheckpointFormatError,
      () => readCheckpoint(npy),
      B,
      undefined,
      'not a checkpoint',
      'load()',
    )
  })

  test("float16: 'float32' widens, anything else is an options error", () => {
    const r = readCheckpoint(fixture('small.pt'), { float16: 'float32' }).record as Record<
      string,
      NdArray
    >
    expect(r.half).toMatchObject({ dtype: 'float32' })
    expect(Array.from((r.half as NdArray).data as Float32Array)).toEqual([1, -2.5])
    expect(() => readCheckpoint(fixture('small.pt'), { float16: 'f32' as 'float32' })).toThrow(
      /option 'float16'/,
    )
  })
})
