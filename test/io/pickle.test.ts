import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import * as fc from 'fast-check'
import { describe, expect, test } from 'vitest'
import type { NdArray } from '../../src/compare/dtype.js'
import { orderedKeys } from '../../src/compare/key-order.js'
import {
  FileFormatError,
  ForbiddenGlobalError,
  PickleFormatError,
  WriteError,
} from '../../src/io/errors.js'
import { ALLOWED_GLOBALS, unpickleRecord } from '../../src/io/pickle.js'
import { pickleRecord } from '../../src/io/pickle-writer.js'
import type { NdRecord } from '../../src/io/types.js'
import { expectFileError } from '../helpers/file-errors.js'

const DIR = fileURLToPath(new URL('../fixtures/reprod_log/paddle-mobilenetv3', import.meta.url))
const FIXTURES = ['forward', 'loss', 'losses', 'metric'].flatMap((n) => [`${n}_ref`, `${n}_paddle`])
/** The pickle of a fixture record (after its 128-byte `.npy` header). */
const fixturePickle = (name: string): Uint8Array =>
  new Uint8Array(readFileSync(`${DIR}/${name}.npy`)).subarray(128)

const arr = (v: unknown): NdArray => v as NdArray
const hex = (a: NdArray): string =>
  Buffer.from(a.data.buffer, a.data.byteOffset, a.data.byteLength).toString('hex')

// ---------------------------------------------------------------------------------------------
// A small pickle assembler, to craft by hand what numpy writes (and what it never would)

class P {
  readonly b: number[] = []
  op(...bytes: number[]): this {
    this.b.push(...bytes)
    return this
  }
  u32(v: number): this {
    return this.op(v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff)
  }
  raw(bytes: ArrayLike<number>): this {
    for (let i = 0; i < bytes.length; i++) this.b.push(bytes[i] as number)
    return this
  }
  proto(v = 3): this {
    return this.op(0x80, v)
  }
  global(module: string, name: string): this {
    return this.op(0x63).raw(Buffer.from(`${module}\n${name}\n`))
  }
  str(s: string): this {
    const b = Buffer.from(s, 'utf8')
    return this.op(0x58).u32(b.length).raw(b)
  }
  sstr(s: string): this {
    const b = Buffer.from(s, 'utf8')
    return this.op(0x8c, b.length).raw(b)
  }
  bytes(b: ArrayLike<number>): this {
    return b.length < 256 ? this.op(0x43, b.length).raw(b) : this.op(0x42).u32(b.length).raw(b)
  }
  int(v: number | bigint): this {
    const n = BigInt(v)
    if (n >= 0n && n < 256n) return this.op(0x4b, Number(n))
    if (n >= -(2n ** 31n) && n < 2n ** 31n) {
      const u = Number(BigInt.asUintN(32, n))
      return this.op(0x4a).u32(u)
    }
    const out: number[] = []
    let x = n
    for (;;) {
      const byte = Number(BigInt.asUintN(8, x))
      out.push(byte)
      x >>= 8n
      if ((x === 0n && byte < 0x80) || (x === -1n && byte >= 0x80)) break
    }
    return this.op(0x8a, out.length, ...out)
  }
  float(x: number): this {
    const buf = Buffer.alloc(8)
    buf.writeDoubleBE(x)
    return this.op(0x47).raw(buf)
  }
  tuple(...items: ((p: this) => void)[]): this {
    if (items.length === 0) return this.op(0x29)
    if (items.length > 3) this.op(0x28)
    for (const item of items) item(this)
    return this.op(items.length > 3 ? 0x74 : 0x84 + items.length)
  }
  /** `numpy.dtype(code, False, True)` with its BUILD state `(3, order, None, None, None, -1, -1, 0)`. */
  dtype(code: string, order: string, module = 'numpy'): this {
    this.global(module, 'dtype').str(code).op(0x89, 0x88, 0x87, 0x52)
    return this.op(0x28)
      .int(3)
      .str(order)
      .op(0x4e, 0x4e, 0x4e)
      .int(-1)
      .int(-1)
      .int(0)
      .op(0x74, 0x62)
  }
  /** An ndarray as numpy pickles it: `_reconstruct(ndarray, (0,), b'b')` then BUILD. */
  array(
    code: string,
    order: string,
    shape: number[],
    data: ArrayLike<number> | ((p: this) => void),
    fortran = false,
    module = 'numpy.core.multiarray',
  ): this {
    this.global(module, '_reconstruct')
      .global('numpy', 'ndarray')
      .tuple((p) => p.int(0))
      .bytes([0x62])
      .op(0x87, 0x52)
    this.op(0x28).int(1)
    this.tuple(...shape.map((d) => (p: this) => p.int(d)))
    this.dtype(code, order)
    this.op(fortran ? 0x88 : 0x89)
    if (typeof data === 'function') data(this)
    else this.bytes(data)
    return this.op(0x74, 0x62)
  }
  /** The 0-d object array holding a dict, whose items `items` writes (key, value, key, value...). */
  record(items: (p: this) => void, proto = 3): this {
    this.proto(proto)
    this.global('numpy.core.multiarray', '_reconstruct')
      .global('numpy', 'ndarray')
      .tuple((p) => p.int(0))
      .bytes([0x62])
      .op(0x87, 0x52)
    this.op(0x28).int(1).op(0x29)
    this.dtype('O8', '|')
    this.op(0x89, 0x5d) // NEWFALSE EMPTY_LIST
    this.op(0x7d, 0x28) // EMPTY_DICT MARK
    items(this)
    return this.op(0x75, 0x61, 0x74, 0x62, 0x2e) // SETITEMS APPEND TUPLE BUILD STOP
  }
  done(): Uint8Array {
    return Uint8Array.from(this.b)
  }
}

const le = (Ctor: { from(v: ArrayLike<number>): ArrayBufferView }, v: number[]) => {
  const a = Ctor.from(v)
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength)
}
const read = (p: P, options = {}): NdRecord => unpickleRecord(p.done(), options)

/** The error `f` throws (fails when it returns). */
function thrown(f: () => unknown): Error {
  try {
    f()
  } catch (e) {
    return e as Error
  }
  throw new Error('expected a throw')
}

// ---------------------------------------------------------------------------------------------

describe('the MobileNetV3 fixture records (numpy 1.x, protocol 3)', () => {
  test('read to the values of the fixtures README', () => {
    const losses = unpickleRecord(fixturePickle('losses_ref'), { source: 'losses_ref.npy' })
    expect(Object.keys(losses)).toEqual(['loss_0', 'lr_0', 'loss_1', 'lr_1', 'loss_2', 'lr_2'])
    expect(losses.loss_0).toEqual({ data: Float32Array.of(10.842716), shape: [], dtype: 'float32' })
    expect(losses.lr_0).toEqual({ data: Float64Array.of(0.001), shape: [1], dtype: 'float64' })
    const lossesP = unpickleRecord(fixturePickle('losses_paddle'))
    expect(arr(lossesP.loss_0).shape).toEqual([1])
    expect(arr(lossesP.lr_2)).toEqual({ data: Float64Array.of(0.001), shape: [], dtype: 'float64' })

    const fwd = unpickleRecord(fixturePickle('forward_ref'))
    expect(arr(fwd.logits).dtype).toBe('float32')
    expect(arr(fwd.logits).shape).toEqual([1, 1000])
    expect(arr(fwd.logits).data).toBeInstanceOf(Float32Array)
    expect(arr(fwd.logits).data[0]).toBe(Math.fround(-2.2624626))

    const loss = unpickleRecord(fixturePickle('loss_ref'))
    const lossP = unpickleRecord(fixturePickle('loss_paddle'))
    expect(arr(loss.loss).shape).toEqual([])
    expect(arr(lossP.loss).shape).toEqual([1])
    const metric = unpickleRecord(fixturePickle('metric_ref'))
    expect(metric.acc_top5).toEqual({ data: Float32Array.of(100), shape: [], dtype: 'float32' })
    expect(arr(unpickleRecord(fixturePickle('metric_paddle')).acc_top1).shape).toEqual([1])
  })

  test('the data is a fresh aligned copy, not a view of the input', () => {
    const bytes = fixturePickle('forward_ref')
    const logits = arr(unpickleRecord(bytes).logits)
    expect(logits.data.byteOffset).toBe(0)
    expect(logits.data.buffer).not.toBe(bytes.buffer)
  })
})

describe('values', () => {
  test('every dtype in both byte orders; big-endian data is swapped', () => {
    const cases: [string, string, ArrayLike<number>, string, unknown[]][] = [
      ['f4', '>', [0x3f, 0xc0, 0, 0], 'float32', [1.5]],
      ['f8', '>', [0x3f, 0xf8, 0, 0, 0, 0, 0, 0], 'float64', [1.5]],
      ['f2', '>', [0x3e, 0x00], 'float16', [0x3e00]],
      ['f2', '<', [0x00, 0x3e], 'float16', [0x3e00]],
      ['i2', '>', [0xff, 0xfe], 'int16', [-2]],
      ['i4', '>', [0, 0, 1, 0], 'int32', [256]],
      ['i8', '>', [0x80, 0, 0, 0, 0, 0, 0, 1], 'int64', [-(2n ** 63n) + 1n]],
      ['u8', '<', [1, 0, 0, 0, 0, 0, 0, 0x80], 'uint64', [2n ** 63n + 1n]],
      ['u2', '>', [0x01, 0x02], 'uint16', [0x0102]],
      ['u4', '<', [1, 2, 3, 4], 'uint32', [0x04030201]],
      ['i1', '|', [0xff], 'int8', [-1]],
      ['u1', '|', [0xff], 'uint8', [255]],
      ['b1', '|', [0, 1, 2], 'bool', [0, 1, 1]],
    ]
    for (const [code, order, data, dtype, values] of cases) {
      const n = values.length
      const rec = read(new P().record((p) => p.str('x').array(code, order, [n], data)))
      expect(arr(rec.x).dtype, `${order}${code}`).toBe(dtype)
      expect(Array.from(arr(rec.x).data as ArrayLike<unknown>), `${order}${code}`).toEqual(values)
    }
  })

  test('a float16 NaN payload and -0 survive as raw bits', () => {
    const rec = read(new P().record((p) => p.str('h').array('f2', '<', [2], [0x01, 0x7e, 0, 0x80])))
    expect(Array.from(arr(rec.h).data as Uint16Array)).toEqual([0x7e01, 0x8000])
  })

  test('Fortran-order arrays come back in C order', () => {
    // numpy's bytes of np.asfortranarray(np.arange(6).reshape(2, 3)): 0 3 1 4 2 5
    const f = le(Int16Array, [0, 3, 1, 4, 2, 5])
    const rec = read(new P().record((p) => p.str('f').array('i2', '<', [2, 3], f, true)))
    // data in C order, marked as held in Fortran order (renderers sum in numpy's memory order)
    expect(arr(rec.f)).toEqual({
      data: Int16Array.of(0, 1, 2, 3, 4, 5),
      shape: [2, 3],
      dtype: 'int16',
      order: 'F',
    })
    // 3-D: np.arange(24).reshape(2, 3, 4) in Fortran order
    const c = Array.from({ length: 24 }, (_, i) => i)
    const fortran: number[] = []
    for (let k = 0; k < 4; k++)
      for (let j = 0; j < 3; j++)
        for (let i = 0; i < 2; i++) fortran.push(c[i * 12 + j * 4 + k] as number)
    const rec3 = read(
      new P().record((p) =>
        p
          .str('g')
          .array(
            'f8',
            '>',
            [2, 3, 4],
            (q) => q.bytes(new Uint8Array(le(Float64Array, fortran)).reverse()).op(),
            true,
          ),
      ),
    )
    // (big-endian too: the bytes reversed wholesale are each element swapped, in reverse order)
    expect(Array.from(arr(rec3.g).data as Float64Array).reverse()).toEqual(c)
  })

  test('0-d and empty arrays', () => {
    const rec = read(
      new P().record((p) =>
        p
          .str('s')
          .array('f4', '<', [], le(Float32Array, [2.5]))
          .str('e')
          .array('f4', '<', [0, 3], [])
          .str('e2')
          .array('i8', '<', [2, 0, 4], [], true),
      ),
    )
    expect(rec.s).toEqual({ data: Float32Array.of(2.5), shape: [], dtype: 'float32' })
    expect(rec.e).toEqual({ data: new Float32Array(0), shape: [0, 3], dtype: 'float32' })
    expect(rec.e2).toEqual({
      data: new BigInt64Array(0),
      shape: [2, 0, 4],
      dtype: 'int64',
      order: 'F',
    })
  })

  test('numpy scalars, Python floats, ints (any size within int64) and bools', () => {
    const rec = read(
      new P().record((p) => {
        p.str('np32').global('numpy.core.multiarray', 'scalar').dtype('f4', '<')
        p.bytes(le(Float32Array, [1.5])).op(0x86, 0x52)
        p.str('np64').global('numpy._core.multiarray', 'scalar').dtype('i8', '>')
        p.bytes([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfb]).op(0x86, 0x52)
        p.str('f').float(0.1)
        p.str('i').int(7)
        p.str('neg').int(-3)
        p.str('big').int(2n ** 62n + 1n)
        p.str('negbig').int(-(2n ** 40n))
        p.str('t').op(0x88)
        p.str('n').op(0x89)
      }),
    )
    expect(rec.np32).toEqual({ data: Float32Array.of(1.5), shape: [], dtype: 'float32' })
    expect(rec.np64).toEqual({ data: BigInt64Array.of(-5n), shape: [], dtype: 'int64' })
    expect(rec.f).toEqual({ data: Float64Array.of(0.1), shape: [], dtype: 'float64' })
    expect(rec.i).toEqual({ data: BigInt64Array.of(7n), shape: [], dtype: 'int64' })
    expect(arr(rec.neg).data[0]).toBe(-3n)
    expect(arr(rec.big).data[0]).toBe(2n ** 62n + 1n)
    expect(arr(rec.negbig).data[0]).toBe(-(2n ** 40n))
    expect(rec.t).toEqual({ data: Uint8Array.of(1), shape: [], dtype: 'bool' })
    expect(rec.n).toEqual({ data: Uint8Array.of(0), shape: [], dtype: 'bool' })
  })

  test('an int beyond int64 is refused, naming the key', () => {
    const e = thrown(() => read(new P().record((p) => p.str('huge').int(2n ** 70n))))
    expect(e).toBeInstanceOf(PickleFormatError)
    expect(e.message).toContain("[key 'huge']")
    expect(e.message).toContain('1180591620717411303424')
  })

  test('nested dicts and OrderedDicts become nested records, in order', () => {
    const rec = read(
      new P().record((p) => {
        p.str('outer').op(0x7d, 0x28)
        p.str('b').float(1)
        p.str('a').global('collections', 'OrderedDict').op(0x29, 0x52, 0x28)
        p.str('z').int(1).str('y').int(2)
        p.op(0x75) // SETITEMS of the OrderedDict
        p.op(0x75) // SETITEMS of outer
        p.str('flat').float(2)
      }),
    )
    expect(Object.keys(rec)).toEqual(['outer', 'flat'])
    const outer = rec.outer as NdRecord
    expect(Object.keys(outer)).toEqual(['b', 'a'])
    expect(Object.keys(outer.a as NdRecord)).toEqual(['z', 'y'])
  })

  test("protocol 2: bytes as _codecs.encode(str, 'latin1') and empty bytes as bytes()", () => {
    const data = [0x00, 0x00, 0xc0, 0x3f, 0xff, 0x80, 0x7f, 0x00]
    const latin1 = String.fromCharCode(...data)
    const rec = read(
      new P().record((p) => {
        p.str('x').array('f4', '<', [2], (q) =>
          q.global('_codecs', 'encode').str(latin1).str('latin1').op(0x86, 0x52),
        )
        p.str('e').array('f8', '<', [0], (q) => q.global('__builtin__', 'bytes').op(0x29, 0x52))
      }, 2),
    )
    expect(hex(arr(rec.x))).toBe(Buffer.from(data).toString('hex'))
    expect(arr(rec.e).data).toEqual(new Float64Array(0))
  })

  test('protocol 5: _frombuffer of an in-band BYTEARRAY8, in C and Fortran order', () => {
    const frombuffer = (p: P, module: string, data: number[], shape: number[], order: string) => {
      p.global(module, '_frombuffer').op(0x28)
      p.op(0x96, data.length, 0, 0, 0, 0, 0, 0, 0).raw(data)
      p.dtype('i2', '<')
        .tuple(...shape.map((d) => (q: P) => q.int(d)))
        .str(order)
      return p.op(0x74, 0x52)
    }
    const rec = read(
      new P().record((p) => {
        frombuffer(
          p.str('c'),
          'numpy.core.numeric',
          [...le(Int16Array, [1, 2, 3, 4, 5, 6])],
          [2, 3],
          'C',
        )
        frombuffer(
          p.str('f'),
          'numpy._core.numeric',
          [...le(Int16Array, [1, 4, 2, 5, 3, 6])],
          [2, 3],
          'F',
        )
      }, 5),
    )
    expect(rec.c).toEqual({ data: Int16Array.of(1, 2, 3, 4, 5, 6), shape: [2, 3], dtype: 'int16' })
    expect(rec.f).toEqual({ ...arr(rec.c), order: 'F' })
  })

  test('protocol 4 STACK_GLOBAL, FRAME and MEMOIZE, numpy 2.x module names', () => {
    const p = new P().proto(4)
    p.op(0x95, 0, 0, 0, 0, 0, 0, 0, 0) // a FRAME (its length is not checked against opcodes)
    p.sstr('numpy._core.multiarray').op(0x94).sstr('_reconstruct').op(0x94, 0x93, 0x94) // memo 0 1 2
    p.sstr('numpy').op(0x94).sstr('ndarray').op(0x94, 0x93, 0x94) // memo 3 4 5
    p.tuple((q) => q.int(0))
      .bytes([0x62])
      .op(0x87, 0x52)
    p.op(0x28).int(1).op(0x29).dtype('O8', '|').op(0x89, 0x5d, 0x7d)
    p.sstr('k').op(0x68, 2, 0x68, 5) // BINGET the memoized globals
    p.tuple((q) => q.int(0))
      .bytes([0x62])
      .op(0x87, 0x52)
    p.op(0x28)
      .int(1)
      .tuple((q) => q.int(2))
      .dtype('f8', '<')
      .op(0x89)
      .bytes(le(Float64Array, [1, 2]))
    p.op(0x74, 0x62, 0x73, 0x61, 0x74, 0x62, 0x2e)
    expect(read(p).k).toEqual({ data: Float64Array.of(1, 2), shape: [2], dtype: 'float64' })
  })

  test("a '__proto__' key is a key like any other (no prototype change, no pollution)", () => {
    const rec = read(new P().record((p) => p.str('__proto__').float(1).str('constructor').float(2)))
    expect(Object.keys(rec)).toEqual(['__proto__', 'constructor'])
    expect(Object.getPrototypeOf(rec)).toBe(Object.prototype)
    expect(arr(Object.getOwnPropertyDescriptor(rec, '__proto__')?.value).data[0]).toBe(1)
    expect(({} as Record<string, unknown>).data).toBeUndefined()
  })

  test('a crafted BUILD that would swap a prototype is refused: only dtypes and arrays are built', () => {
    // {'d': BUILD({}, {'__proto__': []})} and {'l': BUILD([], {'__proto__': {}})}
    const onDict = new P().record((p) => {
      p.str('d').op(0x7d).op(0x7d).str('__proto__').op(0x5d, 0x73, 0x62)
    })
    expect(thrown(() => read(onDict)).message).toMatch(
      /BUILD at byte \d+: BUILD on a dict \(only numpy dtypes and arrays are built\)/,
    )
    const onList = new P().record((p) => {
      p.str('l').op(0x5d).op(0x7d).str('__proto__').op(0x7d, 0x73, 0x62)
    })
    expect(thrown(() => read(onList)).message).toContain('BUILD on a tuple or list of 0 items')
    expect(Object.getPrototypeOf({})).toBe(Object.prototype)
    expect(Object.getPrototypeOf([])).toBe(Array.prototype)
  })

  test('a value referenced twice (memo) is read once and shared', () => {
    const p = new P().record((q) => {
      q.str('a')
        .array('f4', '<', [1], le(Float32Array, [3]))
        .op(0x71, 200) // BINPUT 200
      q.str('b').op(0x68, 200)
    })
    const rec = read(p)
    expect(rec.b).toBe(rec.a)
  })
})

const FORBIDDEN = [
  ['os', 'system'],
  ['posix', 'system'],
  ['nt', 'system'],
  ['subprocess', 'Popen'],
  ['subprocess', 'check_output'],
  ['builtins', 'eval'],
  ['builtins', 'exec'],
  ['builtins', 'getattr'],
  ['builtins', '__import__'],
  ['__builtin__', 'eval'],
  ['builtins', 'set'],
  ['copyreg', '_reconstructor'],
  ['pickle', 'loads'],
  ['numpy', 'load'],
  ['numpy.testing._private.utils', 'runstring'],
  ['torch._utils', '_rebuild_tensor_v2'],
  ['numpy.core', 'multiarray._reconstruct'], // a dotted name that concatenates to an allowed one
  ['numpy', 'core.multiarray._reconstruct'],
] as const

describe('forbidden globals', () => {
  test('the allow list is exactly numpy array globals and the pickle plumbing they need', () => {
    expect([...ALLOWED_GLOBALS].sort()).toEqual([
      '__builtin__.bytes',
      '_codecs.encode',
      'builtins.bytes',
      'collections.OrderedDict',
      'numpy._core.multiarray._reconstruct',
      'numpy._core.multiarray.scalar',
      'numpy._core.numeric._frombuffer',
      'numpy.core.multiarray._reconstruct',
      'numpy.core.multiarray.scalar',
      'numpy.core.numeric._frombuffer',
      'numpy.dtype',
      'numpy.ndarray',
    ])
  })

  test.each(FORBIDDEN)('GLOBAL %s %s is refused at the instruction', (module, name) => {
    for (const proto of [2, 3]) {
      const bytes = new P().proto(proto).global(module, name).str('x').op(0x85, 0x52, 0x2e).done()
      const e = thrown(() => unpickleRecord(bytes, { source: 'evil.npy' }))
      expect(e).toBeInstanceOf(ForbiddenGlobalError)
      expect((e as ForbiddenGlobalError).global).toBe(`${module}.${name}`)
      expect(e.message).toBe(
        `evil.npy: refused global '${module}.${name}': only numpy array globals are allowed`,
      )
    }
  })

  test.each(FORBIDDEN)('STACK_GLOBAL %s %s is refused at the instruction', (module, name) => {
    const bytes = new P().proto(4).sstr(module).sstr(name).op(0x93).sstr('x').op(0x85, 0x52, 0x2e)
    const e = thrown(() => unpickleRecord(bytes.done()))
    expect(e).toBeInstanceOf(ForbiddenGlobalError)
    expect((e as ForbiddenGlobalError).global).toBe(`${module}.${name}`)
  })

  test('STACK_GLOBAL with names fetched from the memo, and INST, are refused too', () => {
    const memo = new P()
      .proto(4)
      .sstr('os')
      .op(0x94)
      .sstr('system')
      .op(0x94, 0x68, 0, 0x68, 1, 0x93)
    expect(
      (thrown(() => unpickleRecord(memo.op(0x2e).done())) as ForbiddenGlobalError).global,
    ).toBe('os.system')
    const inst = new P()
      .proto(2)
      .op(0x28)
      .str('id')
      .op(0x69)
      .raw(Buffer.from('os\nsystem\n'))
      .op(0x2e)
    expect((thrown(() => unpickleRecord(inst.done())) as ForbiddenGlobalError).global).toBe(
      'os.system',
    )
  })

  test('a forbidden global deep inside a real record is refused before any REDUCE after it', () => {
    // losses_ref with its 'numpy dtype' GLOBAL renamed to 'posix execv' (same length)
    const bytes = fixturePickle('losses_ref').slice()
    const at = Buffer.from(bytes).indexOf('numpy\ndtype\n')
    bytes.set(Buffer.from('posix\nexecv\n'), at)
    const e = thrown(() => unpickleRecord(bytes))
    expect((e as ForbiddenGlobalError).global).toBe('posix.execv')
  })

  test('a STACK_GLOBAL of something else than two str is refused', () => {
    const bytes = new P().proto(4).int(1).sstr('system').op(0x93, 0x2e).done()
    expect(thrown(() => unpickleRecord(bytes)).message).toContain('not two str')
  })

  test('allowed globals refuse misuse: ndarray called, _reconstruct of something else, bytes(x)', () => {
    const cases: [P, string][] = [
      [new P().proto(2).global('numpy', 'ndarray').op(0x29, 0x52, 0x2e), 'called directly'],
      [
        new P()
          .proto(2)
          .global('numpy.core.multiarray', '_reconstruct')
          .global('numpy', 'dtype')
          .tuple((p) => p.int(0))
          .bytes([0x62])
          .op(0x87, 0x52, 0x2e),
        'not numpy.ndarray',
      ],
      [
        new P()
          .proto(2)
          .global('builtins', 'bytes')
          .tuple((p) => p.str('x'))
          .op(0x52, 0x2e),
        'bytes(...)',
      ],
      [
        new P()
          .proto(2)
          .global('_codecs', 'encode')
          .tuple(
            (p) => p.str('x'),
            (p) => p.str('utf-16'),
          )
          .op(0x52, 0x2e),
        'latin1',
      ],
      [
        new P()
          .proto(2)
          .global('collections', 'OrderedDict')
          .tuple((p) => p.int(1))
          .op(0x52, 0x2e),
        'OrderedDict',
      ],
    ]
    for (const [p, message] of cases) {
      const e = thrown(() => unpickleRecord(p.done()))
      expect(e).toBeInstanceOf(PickleFormatError)
      expect(e.message).toContain(message)
    }
  })
})

describe('refused content, named by key', () => {
  const cases: [string, (p: P) => void, string][] = [
    ['a str', (p) => p.str('text'), '[key \'v\']: the str "text" is not an array'],
    ['bytes', (p) => p.bytes([1, 2]), 'bytes of length 2 is not'],
    ['a list', (p) => p.op(0x5d), 'a tuple or list of 0 items is not'],
    ['None', (p) => p.op(0x4e), 'None is not'],
    [
      'an object array',
      (p) => p.array('O8', '|', [1], (q) => q.op(0x5d)),
      "numpy dtype '|O8' (object) is not supported",
    ],
    [
      'a complex array',
      (p) => p.array('c8', '<', [1], [0, 0, 0, 0, 0, 0, 0, 0]),
      "numpy dtype '<c8' (complex) is not supported",
    ],
    ['a str array', (p) => p.array('U1', '<', [1], [0x41, 0, 0, 0]), "'<U1' (str)"],
    ['a datetime array', (p) => p.array('M8', '<', [1], [0, 0, 0, 0, 0, 0, 0, 0]), 'datetime64'],
    ['longdouble', (p) => p.array('f16', '<', [1], new Array(16).fill(0)), "'<f16' (float)"],
  ]
  test.each(cases)('%s', (_, value, message) => {
    const e = thrown(() =>
      read(
        new P().record((p) => {
          p.str('blk').op(0x7d).str('v')
          value(p)
          p.op(0x73) // SETITEM into blk
        }),
      ),
    )
    expect(e).toBeInstanceOf(PickleFormatError)
    expect(e.message).toContain(message.replace("[key 'v']", "[key 'blk.v']"))
    expect(e.message).toContain("[key 'blk.v']")
  })

  test('a structured dtype (names and fields in its state)', () => {
    const p = new P().record((q) => {
      q.str('s').array('V8', '|', [1], [0, 0, 0, 0, 0, 0, 0, 0])
    })
    // the V8 dtype state's names (its 2nd None) made an empty tuple, then its subarray (1st)
    const bytes = p.done()
    const none = bytes.indexOf(0x4e, Buffer.from(bytes).indexOf(Buffer.from('V8')))
    bytes[none + 1] = 0x29
    expect(thrown(() => unpickleRecord(bytes)).message).toContain("'|V8' is a structured dtype")
    bytes[none] = 0x29
    expect(thrown(() => unpickleRecord(bytes)).message).toContain("'|V8' is a subarray dtype")
  })

  test('a pickle that is not a record: a plain array, a list, an int', () => {
    const plain = new P().proto(3).array('f4', '<', [1], [0, 0, 0, 0]).op(0x2e)
    expect(thrown(() => read(plain)).message).toContain(
      'holds a f4 array of shape (1,), not a record',
    )
    expect(thrown(() => read(new P().proto(3).op(0x5d, 0x2e))).message).toContain('not a dict')
    expect(thrown(() => read(new P().proto(3).int(3).op(0x2e))).message).toContain('the int 3')
  })

  test('a bare pickled dict is a record too', () => {
    const p = new P().proto(3).op(0x7d, 0x28).str('x').float(1).op(0x75, 0x2e)
    expect(read(p)).toEqual({ x: { data: Float64Array.of(1), shape: [], dtype: 'float64' } })
  })

  test('int dict keys are read as their decimal text (reprod_log reads {0: arr}); others are refused', () => {
    const p = new P().proto(3).op(0x7d, 0x28).int(10).float(1).int(2).float(2).op(0x75, 0x2e)
    const rec = read(p)
    expect(Object.keys(rec).sort()).toEqual(['10', '2'])
    // the file's order, not a plain object's integer-key order
    expect(orderedKeys(rec)).toEqual(['10', '2'])
    const float = new P().proto(3).op(0x7d).float(1).float(1).op(0x73, 0x2e)
    expect(thrown(() => read(float)).message).toContain(
      'a dict key that is the float 1, not a str or an int within int64',
    )
    const both = new P().proto(3).op(0x7d, 0x28).int(0).float(1).str('0').float(2).op(0x75, 0x2e)
    expectFileError(
      PickleFormatError,
      () => read(both),
      '<bytes>',
      '0',
      "two dict keys read as '0' (an int and a str)",
    )
  })
})

describe('refused opcodes and protocols', () => {
  const cases: [string, number[], string][] = [
    ['no PROTO (protocol 0/1)', [0x4e, 0x2e], 'protocol 0/1 pickles are not supported'],
    ['protocol 6', [0x80, 6, 0x4e, 0x2e], 'pickle protocol 6'],
    ['protocol 1 text ops', [0x80, 2, 0x49, 0x31, 0x0a, 0x2e], 'protocol 0/1 text opcodes'],
    ['PERSID', [0x80, 2, 0x50, 0x31, 0x0a, 0x2e], 'persistent ids'],
    ['BINPERSID', [0x80, 2, 0x4e, 0x51, 0x2e], 'persistent ids'],
    ['EXT1', [0x80, 2, 0x82, 1, 0x2e], 'extension-registry'],
    ['NEWOBJ', [0x80, 2, 0x4e, 0x29, 0x81, 0x2e], 'NEWOBJ'],
    ['OBJ', [0x80, 2, 0x28, 0x4e, 0x6f, 0x2e], 'OBJ'],
    ['EMPTY_SET', [0x80, 4, 0x8f, 0x2e], 'sets are not part'],
    ['BINSTRING (Python 2 str)', [0x80, 2, 0x55, 1, 0x41, 0x2e], 'Python 2 str'],
    ['NEXT_BUFFER (out-of-band)', [0x80, 5, 0x97, 0x98, 0x2e], 'out-of-band buffers'],
    ['an unknown opcode', [0x80, 2, 0xff, 0x2e], 'unknown opcode 0xff at byte 2'],
  ]
  test.each(cases)('%s', (_, bytes, message) => {
    const e = thrown(() => unpickleRecord(Uint8Array.from(bytes)))
    expect(e).toBeInstanceOf(PickleFormatError)
    expect(e.message).toContain(message)
  })
})

describe('bounds', () => {
  test('a shape whose size differs from the data is refused, naming the key and both sizes', () => {
    const more = new P().record((p) => p.str('x').array('f4', '<', [2, 3], new Array(20).fill(0)))
    expect(thrown(() => read(more)).message).toBe(
      "<bytes> [key 'x']: float32 (2, 3) needs 24 bytes of data, the pickle holds 20",
    )
    const less = new P().record((p) => p.str('x').array('f8', '<', [1], new Array(16).fill(0)))
    expect(thrown(() => read(less)).message).toContain('needs 8 bytes of data, the pickle holds 16')
    const huge = new P().record((p) => p.str('x').array('f8', '<', [2 ** 40, 2 ** 40], []))
    expect(thrown(() => read(huge)).message).toContain('too large')
  })

  test('maxArrayBytes bounds each array before it is copied', () => {
    const p = new P().record((q) => q.str('x').array('f8', '<', [4], new Array(32).fill(0)))
    expect(read(p, { maxArrayBytes: 32 }).x).toBeDefined()
    const e = thrown(() => read(p, { maxArrayBytes: 31 }))
    expect(e.message).toContain(
      "[key 'x']: array of 32 bytes (float64 (4,)) is over maxArrayBytes 31",
    )
  })

  test('maxDepth bounds the nesting of dicts', () => {
    const nested = (depth: number) =>
      new P().record((p) => {
        for (let i = 1; i < depth; i++) p.str(`d${i}`).op(0x7d)
        p.str('x').float(1)
        for (let i = 1; i < depth; i++) p.op(0x73)
      })
    expect(read(nested(3), { maxDepth: 3 })).toBeDefined()
    expect(thrown(() => read(nested(4), { maxDepth: 3 })).message).toContain(
      "[key 'd1.d2.d3']: dicts nested deeper than maxDepth 3",
    )
    expect(thrown(() => read(nested(101))).message).toContain('maxDepth 100')
    // MARKs nested past what maxDepth dicts need are refused while parsing
    const marks = new P().proto(2).op(...new Array(300).fill(0x28))
    expect(thrown(() => unpickleRecord(marks.done(), { maxDepth: 100 })).message).toContain(
      'nesting deeper than 216 MARKs',
    )
  })

  test('a dict that contains itself is refused', () => {
    const p = new P().proto(3).op(0x7d, 0x71, 0).str('me').op(0x68, 0, 0x73, 0x2e)
    expect(thrown(() => read(p)).message).toContain("[key 'me']: a dict that contains itself")
  })

  test('stack, memo and MARK misuse is refused at its instruction', () => {
    const cases: [number[], string][] = [
      [[0x80, 2, 0x4e, 0x86, 0x2e], 'TUPLE2 at byte 3 on a stack of 1 items (stack underflow)'],
      [[0x80, 2, 0x2e], 'STOP at byte 2 on a stack of 0 items'],
      [[0x80, 2, 0x68, 3, 0x2e], 'memo get of index 3, which was never put'],
      [[0x80, 2, 0x71, 0, 0x2e], 'BINPUT at byte 2 on a stack of 0 items'],
      [[0x80, 2, 0x4e, 0x74, 0x2e], 'TUPLE at byte 3 without a MARK'],
      [[0x80, 2, 0x7d, 0x28, 0x4e, 0x75, 0x2e], 'an odd number of items (1) for a dict'],
      [[0x80, 2, 0x28, 0x4e, 0x2e], 'STOP inside a MARK'],
      [[0x80, 2, 0x4e, 0x2e, 0x4e], '1 bytes after the pickle'],
      [[0x80, 2, 0x58, 2, 0, 0, 0, 0xc3, 0x28, 0x2e], 'not valid UTF-8'],
      [[0x80, 2, 0x8b, 0xff, 0xff, 0xff, 0xff, 0x2e], 'a negative length'],
      [
        [0x80, 4, 0x95, 0xff, 0, 0, 0, 0, 0, 0, 0, 0x4e, 0x2e],
        'FRAME at byte 2 announces 255 bytes',
      ],
      [[0x80, 2, 0x80, 2, 0x2e], 'PROTO after the start'],
    ]
    for (const [bytes, message] of cases) {
      const e = thrown(() => unpickleRecord(Uint8Array.from(bytes)))
      expect(e, message).toBeInstanceOf(PickleFormatError)
      expect(e.message, message).toContain(message)
    }
  })

  test('operations on the wrong kind of value are refused, naming the instruction', () => {
    const cases: [number[], string][] = [
      [
        [0x80, 2, 0x4b, 1, 0x7d, 0x28, 0x58, 1, 0, 0, 0, 0x61, 0x4b, 1, 0x75, 0x62, 0x2e],
        'BUILD at byte 15: BUILD on the int 1',
      ],
      [[0x80, 2, 0x5d, 0x4b, 1, 0x4b, 2, 0x73, 0x2e], 'SETITEM at byte 7 into a tuple or list'],
      [[0x80, 2, 0x4b, 1, 0x29, 0x52, 0x2e], 'REDUCE at byte 5: REDUCE of the int 1, not a global'],
      [[0x80, 2, 0x29, 0x4b, 1, 0x61, 0x2e], 'APPEND at byte 5 to a tuple or list of 0 items'],
    ]
    for (const [bytes, message] of cases) {
      const e = thrown(() => unpickleRecord(Uint8Array.from(bytes)))
      expect(e).toBeInstanceOf(PickleFormatError)
      expect(e.message).toContain(message)
    }
  })
})

describe('truncated and garbage input', () => {
  test.each(['forward_ref', 'losses_paddle'])(
    'every truncation of %s throws a typed error',
    (name) => {
      const bytes = fixturePickle(name)
      for (let n = 0; n < bytes.length; n++) {
        const e = thrown(() => unpickleRecord(bytes.subarray(0, n)))
        if (!(e instanceof PickleFormatError)) throw new Error(`prefix ${n}: ${e}`)
      }
    },
  )

  test('random byte changes in a real record give a record or a typed error', () => {
    const base = fixturePickle('losses_ref')
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(base.length - 1), fc.integer({ min: 0, max: 255 })), {
          minLength: 1,
          maxLength: 4,
        }),
        (edits) => {
          const bytes = base.slice()
          for (const [at, v] of edits) bytes[at] = v
          try {
            unpickleRecord(bytes)
          } catch (e) {
            if (!(e instanceof FileFormatError)) throw e
          }
        },
      ),
      { numRuns: 500 },
    )
  })

  test('random opcode streams give a record or a typed error, never anything else', () => {
    const ops = [
      0x28, 0x2e, 0x30, 0x31, 0x32, 0x4e, 0x52, 0x5d, 0x61, 0x62, 0x65, 0x73, 0x74, 0x75, 0x7d,
      0x29, 0x85, 0x86, 0x87, 0x88, 0x89, 0x93, 0x94,
    ]
    const piece = fc.oneof(
      fc.constantFrom(...ops).map((op) => [op]),
      fc.nat(255).map((v) => [0x4b, v]),
      fc.nat(255).map((v) => [0x68, v % 4]),
      fc.nat(3).map((v) => [0x71, v]),
      fc.constantFrom(
        [0x63, ...Buffer.from('numpy\ndtype\n')],
        [0x63, ...Buffer.from('numpy.core.multiarray\n_reconstruct\n')],
        [0x63, ...Buffer.from('numpy\nndarray\n')],
        [0x63, ...Buffer.from('collections\nOrderedDict\n')],
        [0x63, ...Buffer.from('numpy.core.multiarray\nscalar\n')],
        [0x8c, 2, 0x66, 0x34],
        [0x8c, 1, 0x3c],
        [0x43, 1, 0x62],
        [0x43, 4, 0, 0, 0x80, 0x3f],
      ),
    )
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 60 }), (pieces) => {
        const bytes = Uint8Array.from([0x80, 3, ...pieces.flat(), 0x2e])
        try {
          unpickleRecord(bytes)
        } catch (e) {
          if (!(e instanceof FileFormatError)) throw e
        }
      }),
      { numRuns: 2000 },
    )
  })
})

describe('the writer', () => {
  test('re-encoding each fixture record gives its bytes exactly', () => {
    for (const name of FIXTURES) {
      const bytes = fixturePickle(name)
      expect(
        Buffer.from(pickleRecord(unpickleRecord(bytes))).equals(Buffer.from(bytes)),
        name,
      ).toBe(true)
    }
  })

  const dtypes = fc.constantFrom(
    ...([
      ['bool', Uint8Array],
      ['int8', Int8Array],
      ['int16', Int16Array],
      ['int32', Int32Array],
      ['int64', BigInt64Array],
      ['uint8', Uint8Array],
      ['uint16', Uint16Array],
      ['uint32', Uint32Array],
      ['uint64', BigUint64Array],
      ['float16', Uint16Array],
      ['float32', Float32Array],
      ['float64', Float64Array],
    ] as const),
  )
  const array = fc
    .tuple(dtypes, fc.array(fc.integer({ min: 0, max: 3 }), { maxLength: 5 }))
    .chain(([[dtype, Ctor], shape]) => {
      const size = shape.reduce((a, b) => a * b, 1)
      return fc
        .uint8Array({
          minLength: size * Ctor.BYTES_PER_ELEMENT,
          maxLength: size * Ctor.BYTES_PER_ELEMENT,
        })
        .map((raw) => {
          const data = new Ctor(raw.buffer) as NdArray['data']
          if (dtype === 'bool') for (let i = 0; i < raw.length; i++) raw[i] = (raw[i] as number) & 1
          return { data, shape, dtype } as NdArray
        })
    })
  const record: fc.Arbitrary<NdRecord> = fc.letrec((tie) => ({
    rec: fc.dictionary(
      fc.string({ maxLength: 3 }),
      fc.oneof(
        { depthSize: 'small', withCrossShrink: true },
        array,
        tie('rec') as fc.Arbitrary<NdRecord>,
      ),
      { maxKeys: 5 },
    ),
  })).rec as fc.Arbitrary<NdRecord>

  test('round trip: write then read gives the same record, bit for bit', () => {
    fc.assert(
      fc.property(record, (rec) => {
        const back = unpickleRecord(pickleRecord(rec))
        expect(back).toEqual(rec)
        // NaN payloads and -0 too: compare the bytes of every array
        const walk = (a: NdRecord, b: NdRecord) => {
          for (const k of Object.keys(a)) {
            const x = a[k] as NdArray | NdRecord
            if ('dtype' in x && ArrayBuffer.isView(x.data))
              expect(hex(b[k] as NdArray)).toBe(hex(x as NdArray))
            else walk(x as NdRecord, b[k] as NdRecord)
          }
        }
        walk(rec, back)
      }),
      { numRuns: 200 },
    )
  })

  test('round trip of large records: LONG_BINPUT past 256 memo slots, SETITEMS batches of 1000', () => {
    const rec: NdRecord = {}
    for (let i = 0; i < 2500; i++)
      rec[`k${i}`] = { data: Float32Array.of(i), shape: [], dtype: 'float32' }
    const back = unpickleRecord(pickleRecord(rec))
    expect(Object.keys(back)).toEqual(Object.keys(rec))
    expect(arr(back.k2499).data[0]).toBe(2499)
  })

  test('a dimension of 2^31 or more is written as LONG1', () => {
    const rec: NdRecord = {
      e: { data: new Float32Array(0), shape: [0, 2 ** 31, 2 ** 40], dtype: 'float32' },
    }
    expect(arr(unpickleRecord(pickleRecord(rec)).e).shape).toEqual([0, 2 ** 31, 2 ** 40])
  })

  test('values that are not arrays are a WriteError naming the key', () => {
    const e = thrown(() => pickleRecord({ a: { b: 'text' as never } }))
    expect(e).toBeInstanceOf(WriteError)
    expect(e.message).toContain("[key 'a.b']")
    expect(thrown(() => pickleRecord(Float32Array.of(1) as never))).toBeInstanceOf(WriteError)
  })
})
