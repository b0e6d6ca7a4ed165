/**
 * Every bad input of issue 8 that io owns: each is refused with a typed error naming the file
 * (or argument), the key where there is one, and the reason, without unbounded work or memory.
 * No assertion depends on the machine's speed: the inputs are sized so that the old behaviour
 * would run for minutes or exhaust memory, and the timeouts are generous.
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { inflateSync } from 'fflate'
import { afterAll, describe, expect, test } from 'vitest'
import { AlignOptionsError } from '../../src/compare/errors.js'
import { orderedKeys } from '../../src/compare/key-order.js'
import {
  FileFormatError,
  NpyFormatError,
  NpzFormatError,
  PickleFormatError,
  WriteError,
} from '../../src/io/errors.js'
import { load } from '../../src/io/load.js'
import { encodeNpy, readNpy, writeNpy } from '../../src/io/npy.js'
import { readNpz, writeNpz } from '../../src/io/npz.js'
import { unpickleRecord } from '../../src/io/pickle.js'
import { pickleRecord } from '../../src/io/pickle-writer.js'
import {
  encodeReprodLog,
  ReprodLogger,
  readReprodLog,
  writeReprodLog,
} from '../../src/io/reprod-log.js'
import { expectFileError } from '../helpers/file-errors.js'

const TIMEOUT = 60_000
const dir = mkdtempSync(join(tmpdir(), 'vitest-align-bad-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

// ---------------------------------------------------------------------------------------------
// Builders

/** A fixed-Huffman deflate stream: one literal 0, then `matches` copies of (length 258, distance 1). */
function repeatDeflate(matches: number): Uint8Array {
  const out = new Uint8Array(Math.ceil((3 + 8 + matches * 13 + 7) / 8) + 1)
  let at = 0
  let acc = 0
  let n = 0
  const bits = (value: number, count: number) => {
    acc |= value << n
    n += count
    while (n >= 8) {
      out[at++] = acc & 0xff
      acc >>>= 8
      n -= 8
    }
  }
  // Huffman codes are sent most significant bit first.
  const code = (value: number, count: number) => {
    let r = 0
    for (let i = 0; i < count; i++) r |= ((value >> i) & 1) << (count - 1 - i)
    bits(r, count)
  }
  bits(1, 1) // BFINAL
  bits(1, 2) // BTYPE 01: fixed Huffman
  code(0b00110000, 8) // literal 0
  for (let i = 0; i < matches; i++) {
    code(0b11000101, 8) // length code 285: 258
    code(0, 5) // distance code 0: 1
  }
  code(0, 7) // end of block
  if (n > 0) out[at++] = acc & 0xff
  return out.subarray(0, at)
}

/** A one-member zip, deflated, whose directory declares `size` bytes. */
function zipOf(name: string, packed: Uint8Array, size: number, crc: number): Uint8Array {
  const nameBytes = new TextEncoder().encode(name)
  const local = new Uint8Array(30 + nameBytes.length)
  const lv = new DataView(local.buffer)
  lv.setUint32(0, 0x04034b50, true)
  lv.setUint16(4, 20, true)
  lv.setUint16(8, 8, true)
  lv.setUint32(14, crc, true)
  lv.setUint32(18, packed.length, true)
  lv.setUint32(22, size, true)
  lv.setUint16(26, nameBytes.length, true)
  local.set(nameBytes, 30)
  const cd = new Uint8Array(46 + nameBytes.length)
  const cv = new DataView(cd.buffer)
  cv.setUint32(0, 0x02014b50, true)
  cv.setUint16(4, 20, true)
  cv.setUint16(6, 20, true)
  cv.setUint16(10, 8, true)
  cv.setUint32(16, crc, true)
  cv.setUint32(20, packed.length, true)
  cv.setUint32(24, size, true)
  cv.setUint16(28, nameBytes.length, true)
  cd.set(nameBytes, 46)
  const end = new Uint8Array(22)
  const ev = new DataView(end.buffer)
  ev.setUint32(0, 0x06054b50, true)
  ev.setUint16(8, 1, true)
  ev.setUint16(10, 1, true)
  ev.setUint32(12, cd.length, true)
  ev.setUint32(16, local.length + packed.length, true)
  const out = new Uint8Array(local.length + packed.length + cd.length + end.length)
  out.set(local)
  out.set(packed, local.length)
  out.set(cd, local.length + packed.length)
  out.set(end, local.length + packed.length + cd.length)
  return out
}

/** A pickle assembled from opcodes; strings as BINUNICODE. */
class Pickle {
  readonly b: number[] = [0x80, 3]
  op(...bytes: number[]): this {
    this.b.push(...bytes)
    return this
  }
  str(s: string): this {
    const u = new TextEncoder().encode(s)
    this.op(0x58, u.length & 0xff, (u.length >> 8) & 0xff, (u.length >> 16) & 0xff, u.length >>> 24)
    for (const x of u) this.b.push(x)
    return this
  }
  float(x: number): this {
    const v = new DataView(new ArrayBuffer(8))
    v.setFloat64(0, x, false)
    return this.op(0x47, ...new Uint8Array(v.buffer))
  }
  global(module: string, name: string): this {
    this.op(0x63)
    for (const c of `${module}\n${name}\n`) this.b.push(c.charCodeAt(0))
    return this
  }
  done(): Uint8Array {
    return Uint8Array.from([...this.b, 0x2e])
  }
}

/** The npy header numpy writes before a record's pickle. */
const RECORD_HEADER = encodeReprodLog({}).subarray(0, 128)
const asRecordFile = (pickle: Uint8Array): Uint8Array => {
  const out = new Uint8Array(128 + pickle.length)
  out.set(RECORD_HEADER)
  out.set(pickle, 128)
  return out
}

/** An `.npy` with the given header dict text. */
function npyWithHeader(dict: string, data = new Uint8Array(0)): Uint8Array {
  const text = `${dict}\n`
  const out = new Uint8Array(10 + text.length + data.length)
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, text.length & 0xff, text.length >> 8])
  for (let i = 0; i < text.length; i++) out[10 + i] = text.charCodeAt(i)
  out.set(data, 10 + text.length)
  return out
}

// ---------------------------------------------------------------------------------------------

describe('a deflate bomb inside an .npz', () => {
  test('the test stream is valid deflate and inflates to what it says', () => {
    expect(inflateSync(repeatDeflate(10))).toEqual(new Uint8Array(1 + 2580))
  })

  test(
    '3 MB of deflate declared as 1,000 bytes stops at the declared size',
    () => {
      const packed = repeatDeflate(1_850_000) // ~3 MB, inflating to ~477 MB
      expect(packed.length).toBeGreaterThan(3_000_000)
      const zip = zipOf('bomb.npy', packed, 1000, 0)
      expectFileError(
        NpzFormatError,
        () => readNpz(zip, { source: 'bomb.npz' }),
        'bomb.npz',
        'bomb',
        'inflates to more than its declared 1000 bytes',
      )
    },
    TIMEOUT,
  )

  test('a valid deflated member still reads; one that stops short is refused', () => {
    const npy = encodeNpy(Float32Array.of(1, 2, 3))
    const packed = repeatDeflate(1) // 259 zero bytes: not an .npy, and shorter than declared
    const zip = zipOf('short.npy', packed, 1000, 0)
    expectFileError(
      NpzFormatError,
      () => readNpz(zip),
      '<bytes>',
      'short',
      'inflates to 259 bytes, it declares 1000',
    )
    const ok = readNpz(writeAndRead('ok.npz', { x: Float32Array.of(1, 2, 3) }))
    expect(ok.x).toEqual({ data: Float32Array.of(1, 2, 3), shape: [3], dtype: 'float32' })
    expect(npy.length).toBeGreaterThan(0)
  })
})

function writeAndRead(name: string, record: { [k: string]: Float32Array }): string {
  const path = join(dir, name)
  writeNpz(path, record, { compress: true })
  return path
}

describe('a Python int of 2^25 bits', () => {
  test(
    'is refused with a short message naming the key',
    () => {
      const n = 2 ** 22 // bytes: 2^25 bits
      const head = new Pickle().op(0x7d).str('huge').b
      const bytes = new Uint8Array(head.length + 5 + n + 2)
      bytes.set(head)
      let at = head.length
      bytes[at++] = 0x8b // LONG4
      new DataView(bytes.buffer).setUint32(at, n, true)
      at += 4
      bytes.fill(0x5a, at, at + n)
      at += n
      bytes[at++] = 0x73 // SETITEM
      bytes[at++] = 0x2e
      const e = expectFileError(
        PickleFormatError,
        () => unpickleRecord(bytes, { source: 'big.npy' }),
        'big.npy',
        'huge',
        'does not fit in int64',
        'the int <about 33554432 bits, …5a5a5a5a5a5a5a5a in hex>',
      )
      expect(e.message.length).toBeLessThan(200)
    },
    TIMEOUT,
  )
})

describe('paths that are not regular files, and inputs that are not paths', () => {
  const fifo = join(dir, 'fifo')
  execFileSync('mkfifo', [fifo])
  const folder = join(dir, 'folder')
  execFileSync('mkdir', [folder])
  const readers = [
    ['load', load, FileFormatError],
    ['readNpy', readNpy, NpyFormatError],
    ['readNpz', readNpz, NpzFormatError],
    ['readReprodLog', readReprodLog, NpyFormatError],
  ] as const
  const cases: [string, string][] = [
    ['/dev/zero', 'is a character device (such as /dev/zero), not a regular file'],
    [fifo, 'is a FIFO (named pipe), not a regular file: it is not opened'],
    [folder, 'is a directory, not a file'],
    [join(dir, 'missing.npy'), 'cannot read the file: no such file or folder (ENOENT)'],
    [join(dir, 'missing', 'x.npy'), 'no such file or folder (ENOENT)'],
  ]
  for (const [name, read, Err] of readers) {
    test.each(cases)(`${name}(%s) is refused`, (path, reason) => {
      expectFileError(Err as never, () => read(path), path, undefined, reason)
    })
    test(`${name}(42) and ${name}(null) name the argument`, () => {
      expectFileError(Err as never, () => read(42 as never), '<bytes>', undefined, 'got 42')
      expectFileError(Err as never, () => read(null as never), '<bytes>', undefined, 'got null')
    })
  }

  test('a file through a symbolic link reads; the link to a FIFO is refused without blocking', () => {
    const file = join(dir, 'a.npy')
    writeNpy(file, Float32Array.of(1))
    execFileSync('ln', ['-s', file, join(dir, 'link.npy')])
    execFileSync('ln', ['-s', fifo, join(dir, 'link-fifo')])
    expect(readNpy(join(dir, 'link.npy')).data).toEqual(Float32Array.of(1))
    expectFileError(
      FileFormatError,
      () => load(join(dir, 'link-fifo')),
      join(dir, 'link-fifo'),
      undefined,
      'FIFO',
    )
  })

  test('a file larger than the limits allow is refused from its size, before it is read', () => {
    const file = join(dir, 'big.npy')
    writeNpy(file, new Float64Array(1000))
    expectFileError(
      NpyFormatError,
      () => readNpy(file, { maxArrayBytes: 100, maxHeaderBytes: 100 }),
      file,
      undefined,
      'file of 8128 bytes is larger than the limits allow',
    )
  })
})

describe('descrs and dtype codes that name Object.prototype members', () => {
  test.each([
    '<constructor',
    '__proto__',
    'toString',
    '|hasOwnProperty',
    '<valueOf',
    '>__defineGetter__',
  ])('.npy descr %s is an unknown descr', (descr) => {
    const bytes = npyWithHeader(
      `{'descr': '${descr}', 'fortran_order': False, 'shape': (1,), }`,
      new Uint8Array(8),
    )
    expectFileError(
      NpyFormatError,
      () => readNpy(bytes, { source: 'p.npy' }),
      'p.npy',
      undefined,
      `unknown descr '${descr}'`,
    )
    expectFileError(NpyFormatError, () => load(bytes), '<bytes>', undefined, 'unknown descr')
  })

  test.each(['constructor', '__proto__', 'toString', 'hasOwnProperty'])(
    "a pickled numpy.dtype('%s') is refused, naming the key",
    (code) => {
      // {'x': _reconstruct(ndarray, (0,), b'b') BUILD (1, (1,), dtype(code, False, True), False, b'\0')}
      const p = new Pickle().op(0x7d).str('x')
      p.global('numpy.core.multiarray', '_reconstruct').global('numpy', 'ndarray')
      p.op(0x4b, 0, 0x85, 0x43, 1, 0x62, 0x87, 0x52) // (0,) b'b' TUPLE3 REDUCE
      p.op(0x28, 0x4b, 1, 0x4b, 1, 0x85) // MARK 1 (1,)
      p.global('numpy', 'dtype').str(code).op(0x89, 0x88, 0x87, 0x52) // dtype(code, False, True)
      p.op(0x89, 0x43, 1, 0, 0x74, 0x62) // False b'\0' TUPLE BUILD
      p.op(0x73) // SETITEM
      expectFileError(
        PickleFormatError,
        () => unpickleRecord(p.done(), { source: 'r.npy' }),
        'r.npy',
        'x',
        `numpy dtype '${code}' is not supported`,
      )
    },
  )
})

describe('limits: one check, every reader', () => {
  const npy = encodeNpy(Float32Array.of(1))
  const readers: [string, (o: object) => unknown][] = [
    ['readNpy', (o) => readNpy(npy, o)],
    ['readNpz', (o) => readNpz(new Uint8Array(22), o)],
    ['readReprodLog', (o) => readReprodLog(encodeReprodLog({ a: 1 }), o)],
    ['load', (o) => load(npy, o)],
    ['unpickleRecord', (o) => unpickleRecord(new Uint8Array(0), o)],
  ]
  const bad: [string, unknown][] = [
    ['maxArrayBytes', Number.NaN],
    ['maxHeaderBytes', -1],
    ['maxInflatedBytes', '10'],
    ['maxMembers', null],
    ['maxDepth', 10n],
  ]
  for (const [name, read] of readers) {
    test.each(bad)(`${name} refuses %s = %s, naming the option`, (option, value) => {
      let err: unknown
      try {
        read({ [option]: value })
      } catch (e) {
        err = e
      }
      expect(err).toBeInstanceOf(AlignOptionsError)
      expect((err as Error).message).toContain(option)
      expect((err as Error).message).toContain('must be a number >= 0 (Infinity for no limit)')
    })
  }
  test('Infinity is no limit; a source that is not a string is refused', () => {
    expect(readNpy(npy, { maxArrayBytes: Infinity }).data).toEqual(Float32Array.of(1))
    expect(() => readNpy(npy, { source: 3 as never })).toThrow(AlignOptionsError)
  })
})

describe('records read as the file holds them', () => {
  test(
    'dicts sharing one another 32 levels deep read fast and stay shared',
    () => {
      // d0 = {'x': 1.0}; d(i) = {'a': d(i-1), 'b': d(i-1)}, each memoised and fetched twice
      const p = new Pickle().op(0x7d).str('top')
      p.op(0x7d).str('x').float(1).op(0x73, 0x71, 0, 0x30) // ... BINPUT 0 POP
      for (let i = 1; i <= 32; i++) {
        p.op(0x7d, 0x28)
          .str('a')
          .op(0x68, i - 1)
          .str('b')
          .op(0x68, i - 1)
          .op(0x75, 0x71, i)
        if (i < 32) p.op(0x30) // POP: the next level fetches it from the memo
      }
      p.op(0x73)
      const bytes = asRecordFile(p.done())
      expect(bytes.length).toBeLessThan(1000)
      const rec = readReprodLog(bytes) as { [k: string]: { a: unknown; b: unknown } }
      let node = rec.top as { a: unknown; b: unknown }
      for (let i = 0; i < 31; i++) {
        expect(node.a).toBe(node.b)
        node = node.a as { a: unknown; b: unknown }
      }
    },
    TIMEOUT,
  )

  test('control characters and prototype names in keys are kept as they are', () => {
    const keys = [
      '\u001b]0;pwned\u0007',
      'a\n[2026] root INFO: diff check passed',
      '__proto__',
      'constructor',
      '10',
      '2',
    ]
    const p = new Pickle().op(0x7d, 0x28)
    for (const [i, k] of keys.entries()) p.str(k).float(i)
    p.op(0x75)
    const rec = readReprodLog(asRecordFile(p.done()))
    expect(orderedKeys(rec)).toEqual(keys)
    expect(Object.getPrototypeOf(rec)).toBe(Object.prototype)
    expect(({} as { [k: string]: unknown }).constructor).toBe(Object)
  })

  test('.npz members keep the archive order, and Fortran-order .npy arrays are marked', () => {
    const path = join(dir, 'order.npz')
    writeNpz(
      path,
      new Map([
        ['10', Float32Array.of(1)],
        ['2', Float32Array.of(2)],
      ]),
    )
    expect(orderedKeys(readNpz(path))).toEqual(['10', '2'])
    const f = npyWithHeader(
      "{'descr': '<i2', 'fortran_order': True, 'shape': (2, 3), }",
      new Uint8Array(Int16Array.of(0, 3, 1, 4, 2, 5).buffer),
    )
    expect(readNpy(f)).toEqual({
      data: Int16Array.of(0, 1, 2, 3, 4, 5),
      shape: [2, 3],
      dtype: 'int16',
      order: 'F',
    })
  })
})

describe('writers', () => {
  const file = join(dir, 'file.txt')
  writeFileSync(file, 'x')

  test('a path under a file is a WriteError naming the path', () => {
    const target = join(file, 'x')
    expectFileError(
      WriteError,
      () => writeReprodLog(target, { a: 1 }),
      `${target}.npy`,
      undefined,
      'cannot create the folder',
      'EEXIST',
    )
    const logger = new ReprodLogger()
    logger.add('a', 1)
    expectFileError(WriteError, () => logger.save(target), `${target}.npy`, undefined, 'EEXIST')
    expectFileError(
      WriteError,
      () => writeNpy(target, 1),
      target,
      undefined,
      'cannot write the file',
      'ENOTDIR',
    )
    expectFileError(
      WriteError,
      () => writeNpz(join(dir, 'nope', 'x.npz'), { a: 1 }),
      join(dir, 'nope', 'x.npz'),
      undefined,
      'ENOENT',
    )
    expectFileError(WriteError, () => writeNpy(dir, 1), dir, undefined, 'EISDIR')
    expectFileError(
      WriteError,
      () => writeReprodLog(42 as never, { a: 1 }),
      '<argument>',
      undefined,
      'expected a file path, got 42',
    )
  })

  test('a record that contains itself is a WriteError naming the key', () => {
    const a: { [k: string]: unknown } = { x: 1 }
    a.self = { again: a }
    expectFileError(
      WriteError,
      () => pickleRecord(a as never),
      '<bytes>',
      'self.again',
      'a record that contains itself',
    )
    const m = new Map<string, unknown>([['x', 1]])
    m.set('me', m)
    expectFileError(
      WriteError,
      () => encodeReprodLog(m as never),
      '<bytes>',
      'me',
      'contains itself',
    )
  })

  test('nesting past maxDepth, and sharing that expands past a million entries, are refused', () => {
    let deep: { [k: string]: unknown } = { x: 1 }
    for (let i = 0; i < 10_000; i++) deep = { d: deep }
    const e = expectFileError(
      WriteError,
      () => pickleRecord(deep as never),
      '<bytes>',
      `${'d.'.repeat(99)}d`, // the root and 99 records inside are what a reader takes
      "records nested deeper than 100 (the readers' maxDepth)",
    )
    expect(e.message.length).toBeLessThan(500)
    let shared: { [k: string]: unknown } = { x: 1 }
    for (let i = 0; i < 32; i++) shared = { a: shared, b: shared }
    expectFileError(
      WriteError,
      () => pickleRecord(shared as never),
      '<bytes>',
      // the first sub-record that passes the bound: 2^20 entries, 13 levels down
      Array(13).fill('a').join('.'),
      'expands to more than 1000000 entries',
    )
  })
})
