/**
 * A safe unpickler for numpy records (what `np.save(path, dict)` writes after its `.npy`
 * header), on top of pickleparser's `Parser` and `NameRegistry`.
 *
 * Safety, in layers:
 * 1. Every instruction is decoded here first, by {@link InstructionReader} (the `IReader` the
 *    parser reads through), before the parser executes it. Only the opcodes a numpy record
 *    needs (protocols 2 to 5) get through; a truncated argument, an undefined memo index, a
 *    stack underflow or a misplaced MARK is refused before it happens. A global that is not in
 *    {@link ALLOWED_GLOBALS} is refused at its GLOBAL instruction, or for STACK_GLOBAL by the
 *    registry at the instruction itself: either way before anything could call it.
 * 2. The registry holds only functions written here, made per parse and frozen. They check
 *    their arguments and build inert objects; none calls back into anything.
 * 3. Numbers, floats, bytes and numpy objects arrive as frozen boxes recognised by brand (a
 *    private field), never by prototype, so a crafted BUILD cannot disguise one value as another.
 * 4. Every error is a {@link PickleFormatError} (or {@link ForbiddenGlobalError}) naming the
 *    source; whatever pickleparser throws is wrapped. Sizes are checked against the bytes
 *    present and the limits before anything is copied.
 */

import { NameRegistry, Parser } from 'pickleparser'
import { type DType, type NdArray, STORAGE, type TypedArray } from '../compare/dtype.js'
import { FileFormatError, ForbiddenGlobalError, PickleFormatError } from './errors.js'
import { CODES } from './npy-header.js'
import { DEFAULT_LIMITS, type NdRecord, type ReadOptions } from './types.js'

// ---------------------------------------------------------------------------------------------
// Values

/** A Python int (pickled ints are exact: bigint inside). */
class PyInt {
  readonly #value: bigint
  constructor(value: bigint) {
    this.#value = value
    Object.freeze(this)
  }
  static is(v: unknown): v is PyInt {
    return typeof v === 'object' && v !== null && #value in v
  }
  static value(v: PyInt): bigint {
    return v.#value
  }
}

/** A Python float. */
class PyFloat {
  readonly #value: number
  constructor(value: number) {
    this.#value = value
    Object.freeze(this)
  }
  static is(v: unknown): v is PyFloat {
    return typeof v === 'object' && v !== null && #value in v
  }
  static value(v: PyFloat): number {
    return v.#value
  }
}

/** A Python bytes (or in-band bytearray): a view of the pickle, never handed out. */
class PyBytes {
  readonly #bytes: Uint8Array
  constructor(bytes: Uint8Array) {
    this.#bytes = bytes
    Object.freeze(this)
  }
  static is(v: unknown): v is PyBytes {
    return typeof v === 'object' && v !== null && #bytes in v
  }
  static bytes(v: PyBytes): Uint8Array {
    return v.#bytes
  }
}

for (const c of [PyInt, PyFloat, PyBytes]) Object.freeze(c.prototype)

/** A numpy dtype as pickled: `dtype(code, align, copy)` then BUILD with its state. */
class PickledDtype {
  readonly #code: string
  #byteorder = '='
  #unsupported: string | undefined
  #built = false
  constructor(code: string) {
    this.#code = code
    Object.freeze(this)
  }
  static is(v: unknown): v is PickledDtype {
    return typeof v === 'object' && v !== null && #code in v
  }
  static info(v: PickledDtype): { code: string; byteorder: string; unsupported?: string } {
    return v.#unsupported === undefined
      ? { code: v.#code, byteorder: v.#byteorder }
      : { code: v.#code, byteorder: v.#byteorder, unsupported: v.#unsupported }
  }
  /** `(version, byteorder, subarray, names, fields, elsize, alignment, flags[, metadata])`. */
  __setstate__(state: unknown): void {
    if (!PickledDtype.is(this)) throw bad('a dtype BUILD on something else')
    if (this.#built) throw bad('a dtype was given its state twice')
    this.#built = true
    if (!Array.isArray(state) || (state.length !== 8 && state.length !== 9)) {
      throw bad('a dtype state that is not a tuple of 8 or 9 items')
    }
    const version = intOf(state[0], 'the dtype state version')
    if (version !== 3 && version !== 4) throw bad(`dtype state version ${version} (numpy writes 3)`)
    const order = state[1]
    if (order !== '<' && order !== '>' && order !== '|' && order !== '=') {
      throw bad(`a dtype byte order ${describe(order)}`)
    }
    this.#byteorder = order
    if (state[2] !== null) this.#unsupported = 'a subarray dtype'
    else if (state[3] !== null || state[4] !== null) this.#unsupported = 'a structured dtype'
    else if (state.length === 9 && state[8] !== null) this.#unsupported = 'a dtype with metadata'
  }
}

interface ArrayState {
  shape: number[]
  dtype: PickledDtype
  fortran: boolean
  data: PyBytes | unknown[]
}

/** A numpy ndarray as pickled: `_reconstruct(ndarray, (0,), b'b')` then BUILD, or `_frombuffer`. */
class PickledArray {
  #state: ArrayState | undefined
  constructor(state?: ArrayState) {
    this.#state = state
    Object.freeze(this)
  }
  static is(v: unknown): v is PickledArray {
    return typeof v === 'object' && v !== null && #state in v
  }
  static state(v: PickledArray): ArrayState | undefined {
    return v.#state
  }
  /** `([version,] shape, dtype, is_fortran, rawdata)`, as numpy's `ndarray.__setstate__`. */
  __setstate__(state: unknown): void {
    if (!PickledArray.is(this)) throw bad('an ndarray BUILD on something else')
    if (this.#state !== undefined) throw bad('an ndarray was given its state twice')
    if (!Array.isArray(state) || (state.length !== 4 && state.length !== 5)) {
      throw bad('an ndarray state that is not a tuple of 4 or 5 items')
    }
    const [shape, dtype, fortran, data] = state.length === 5 ? state.slice(1) : state
    if (state.length === 5) {
      const version = intOf(state[0], 'the ndarray state version')
      if (version !== 1) throw bad(`ndarray state version ${version} (numpy writes 1)`)
    }
    if (!PickledDtype.is(dtype)) throw bad(`an ndarray dtype that is ${describe(dtype)}`)
    const isFortran = boolOf(fortran, 'the ndarray Fortran flag')
    if (!PyBytes.is(data) && !Array.isArray(data)) {
      throw bad(`ndarray data that is ${describe(data)}`)
    }
    this.#state = { shape: shapeOf(shape), dtype, fortran: isFortran, data }
  }
}

/** A numpy scalar as pickled: `scalar(dtype, raw bytes)`. */
class PickledScalar {
  readonly #dtype: PickledDtype
  readonly #data: unknown
  constructor(dtype: PickledDtype, data: unknown) {
    this.#dtype = dtype
    this.#data = data
    Object.freeze(this)
  }
  static is(v: unknown): v is PickledScalar {
    return typeof v === 'object' && v !== null && #dtype in v
  }
  static parts(v: PickledScalar): { dtype: PickledDtype; data: unknown } {
    return { dtype: v.#dtype, data: v.#data }
  }
}

for (const c of [PickledDtype, PickledArray, PickledScalar]) Object.freeze(c.prototype)

// ---------------------------------------------------------------------------------------------
// Errors raised while parsing (the source is added when they are caught)

/** A refusal found during a parse, before the source is known to the code that found it. */
class Refusal extends Error {
  constructor(
    readonly reason: string,
    readonly forbidden?: string,
  ) {
    super(reason)
  }
}

const bad = (reason: string) => new Refusal(reason)

function describe(v: unknown): string {
  if (v === null) return 'None'
  if (v === undefined) return 'nothing'
  if (typeof v === 'boolean') return v ? 'True' : 'False'
  if (typeof v === 'string')
    return `the str ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)}`
  if (PyInt.is(v)) return `the int ${PyInt.value(v)}`
  if (PyFloat.is(v)) return `the float ${PyFloat.value(v)}`
  if (PyBytes.is(v)) return `bytes of length ${PyBytes.bytes(v).length}`
  if (Array.isArray(v)) return `a tuple or list of ${v.length} items`
  if (isMap(v)) return 'a dict'
  if (PickledArray.is(v)) return 'an ndarray'
  if (PickledDtype.is(v)) return 'a numpy dtype'
  if (PickledScalar.is(v)) return 'a numpy scalar'
  if (typeof v === 'function') return 'a global'
  return 'an unknown value'
}

function intOf(v: unknown, what: string): number {
  if (!PyInt.is(v)) throw bad(`${what} is ${describe(v)}, not an int`)
  const n = PyInt.value(v)
  if (n < BigInt(Number.MIN_SAFE_INTEGER) || n > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw bad(`${what} ${n} is out of range`)
  }
  return Number(n)
}

function boolOf(v: unknown, what: string): boolean {
  if (typeof v === 'boolean') return v
  if (PyInt.is(v) && (PyInt.value(v) === 0n || PyInt.value(v) === 1n)) return PyInt.value(v) === 1n
  throw bad(`${what} is ${describe(v)}, not a bool`)
}

function shapeOf(v: unknown): number[] {
  if (!Array.isArray(v)) throw bad(`an ndarray shape that is ${describe(v)}`)
  return Array.from({ length: v.length }, (_, i) => {
    const d = intOf(v[i], 'a dimension')
    if (d < 0) throw bad(`a negative dimension ${d}`)
    return d
  })
}

/** Whether `v` is a real Map (a pickled dict), by brand, whatever its prototype says. */
function isMap(v: unknown): v is Map<unknown, unknown> {
  if (typeof v !== 'object' || v === null) return false
  try {
    Map.prototype.has.call(v, undefined)
    return true
  } catch {
    return false
  }
}

/** A Map's entries through the intrinsic, whatever its prototype or own properties say. */
function mapEntries(m: Map<unknown, unknown>): [unknown, unknown][] {
  const out: [unknown, unknown][] = []
  Map.prototype.forEach.call(m, (value: unknown, key: unknown) => {
    out.push([key, value])
  })
  return out
}

// ---------------------------------------------------------------------------------------------
// Globals

/**
 * Every global a numpy record may name, as `module.name`: nothing else resolves. numpy 1.x
 * and 2.x module paths both; `_codecs.encode` and `bytes` are how protocol 2 writes bytes;
 * `_frombuffer` is how protocol 5 writes contiguous arrays; `OrderedDict` is a dict.
 */
export const ALLOWED_GLOBALS: readonly string[] = [
  'numpy.core.multiarray._reconstruct',
  'numpy._core.multiarray._reconstruct',
  'numpy.core.multiarray.scalar',
  'numpy._core.multiarray.scalar',
  'numpy.core.numeric._frombuffer',
  'numpy._core.numeric._frombuffer',
  'numpy.ndarray',
  'numpy.dtype',
  '_codecs.encode',
  'builtins.bytes',
  '__builtin__.bytes',
  'collections.OrderedDict',
]

type Callable = (...args: unknown[]) => unknown

/** The functions one parse may call, made fresh for it (so nothing it does outlives it). */
function makeGlobals(): Map<string, Callable> {
  const ndarray: Callable = () => {
    throw bad('numpy.ndarray(...) called directly (numpy pickles arrays with _reconstruct)')
  }
  const reconstruct: Callable = (...args) => {
    if (args.length !== 3) throw bad(`_reconstruct with ${args.length} arguments`)
    const [subtype, , typecode] = args
    if (subtype !== ndarray) throw bad(`_reconstruct of ${describe(subtype)}, not numpy.ndarray`)
    shapeOf(args[1])
    const code = PyBytes.is(typecode) ? PyBytes.bytes(typecode) : undefined
    if (code?.length !== 1 || code[0] !== 0x62) {
      throw bad(`_reconstruct with typecode ${describe(typecode)}, not b'b'`)
    }
    return new PickledArray()
  }
  const dtype: Callable = (...args) => {
    if (args.length !== 3) throw bad(`numpy.dtype with ${args.length} arguments`)
    const [code] = args
    if (typeof code !== 'string') throw bad(`numpy.dtype of ${describe(code)}`)
    boolOf(args[1], 'the dtype align flag')
    boolOf(args[2], 'the dtype copy flag')
    return new PickledDtype(code)
  }
  const scalar: Callable = (...args) => {
    if (args.length !== 2 || !PickledDtype.is(args[0])) {
      throw bad('numpy scalar(...) without (dtype, data)')
    }
    return new PickledScalar(args[0], args[1])
  }
  const frombuffer: Callable = (...args) => {
    if (args.length !== 4) throw bad(`_frombuffer with ${args.length} arguments`)
    const [buf, dt, shape, order] = args
    if (!PyBytes.is(buf)) throw bad(`_frombuffer of ${describe(buf)}`)
    if (!PickledDtype.is(dt)) throw bad(`_frombuffer with dtype ${describe(dt)}`)
    if (order !== 'C' && order !== 'F') throw bad(`_frombuffer with order ${describe(order)}`)
    return new PickledArray({ shape: shapeOf(shape), dtype: dt, fortran: order === 'F', data: buf })
  }
  const encode: Callable = (...args) => {
    const [text, encoding] = args
    if (args.length !== 2 || typeof text !== 'string')
      throw bad('_codecs.encode without (str, encoding)')
    if (encoding !== 'latin1' && encoding !== 'latin-1') {
      throw bad(`_codecs.encode to ${describe(encoding)} (pickle uses latin1)`)
    }
    const out = new Uint8Array(text.length)
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i)
      if (c > 0xff) throw bad('_codecs.encode of a character beyond latin1')
      out[i] = c
    }
    return new PyBytes(out)
  }
  const bytes: Callable = (...args) => {
    if (args.length !== 0) throw bad('bytes(...) with arguments (pickle writes only bytes())')
    return new PyBytes(new Uint8Array(0))
  }
  const orderedDict: Callable = (...args) => {
    if (args.length !== 0) throw bad('OrderedDict(...) with arguments')
    return new Map()
  }
  const table: [string, Callable][] = [
    ['numpy.core.multiarray._reconstruct', reconstruct],
    ['numpy._core.multiarray._reconstruct', reconstruct],
    ['numpy.core.multiarray.scalar', scalar],
    ['numpy._core.multiarray.scalar', scalar],
    ['numpy.core.numeric._frombuffer', frombuffer],
    ['numpy._core.numeric._frombuffer', frombuffer],
    ['numpy.ndarray', ndarray],
    ['numpy.dtype', dtype],
    ['_codecs.encode', encode],
    ['builtins.bytes', bytes],
    ['__builtin__.bytes', bytes],
    ['collections.OrderedDict', orderedDict],
  ]
  for (const [, f] of table) Object.freeze(f)
  return new Map(table)
}

/** The (module, name) pairs allowed, exactly (no dotted-name tricks). */
function isAllowed(module: string, name: string): boolean {
  const listed = (ALLOWED_GLOBALS as string[]).includes(`${module}.${name}`)
  return listed && !name.includes('.') && ALLOWED_MODULES.has(module)
}

const ALLOWED_MODULES = new Set(ALLOWED_GLOBALS.map((g) => g.slice(0, g.lastIndexOf('.'))))

/** A NameRegistry that resolves only the allowed globals and refuses every other name. */
class AllowListRegistry extends NameRegistry {
  constructor() {
    super()
    for (const [fqn, f] of makeGlobals()) {
      const dot = fqn.lastIndexOf('.')
      this.register(fqn.slice(0, dot), fqn.slice(dot + 1), f)
    }
  }
  override resolve(module: unknown, name: unknown) {
    if (typeof module !== 'string' || typeof name !== 'string') {
      throw bad(`STACK_GLOBAL of ${describe(module)} and ${describe(name)}, not two str`)
    }
    if (!isAllowed(module, name)) return this.onMissingName(module, name)
    return super.resolve(module, name)
  }
  override onMissingName(module: string, name: string): never {
    // pickleparser's default makes a placeholder that REDUCE would then "call": refuse instead
    throw new Refusal('forbidden', `${module}.${name}`)
  }
}

// ---------------------------------------------------------------------------------------------
// Instructions

const OP = {
  MARK: 0x28,
  STOP: 0x2e,
  POP: 0x30,
  POP_MARK: 0x31,
  DUP: 0x32,
  FLOAT: 0x46,
  INT: 0x49,
  BININT: 0x4a,
  BININT1: 0x4b,
  LONG: 0x4c,
  BININT2: 0x4d,
  NONE: 0x4e,
  PERSID: 0x50,
  BINPERSID: 0x51,
  REDUCE: 0x52,
  STRING: 0x53,
  BINSTRING: 0x54,
  SHORT_BINSTRING: 0x55,
  UNICODE: 0x56,
  BINUNICODE: 0x58,
  APPEND: 0x61,
  BUILD: 0x62,
  GLOBAL: 0x63,
  DICT: 0x64,
  EMPTY_DICT: 0x7d,
  APPENDS: 0x65,
  GET: 0x67,
  BINGET: 0x68,
  INST: 0x69,
  LONG_BINGET: 0x6a,
  LIST: 0x6c,
  EMPTY_LIST: 0x5d,
  OBJ: 0x6f,
  PUT: 0x70,
  BINPUT: 0x71,
  LONG_BINPUT: 0x72,
  SETITEM: 0x73,
  TUPLE: 0x74,
  EMPTY_TUPLE: 0x29,
  SETITEMS: 0x75,
  BINFLOAT: 0x47,
  PROTO: 0x80,
  NEWOBJ: 0x81,
  EXT1: 0x82,
  EXT2: 0x83,
  EXT4: 0x84,
  TUPLE1: 0x85,
  TUPLE2: 0x86,
  TUPLE3: 0x87,
  NEWTRUE: 0x88,
  NEWFALSE: 0x89,
  LONG1: 0x8a,
  LONG4: 0x8b,
  BINBYTES: 0x42,
  SHORT_BINBYTES: 0x43,
  SHORT_BINUNICODE: 0x8c,
  BINUNICODE8: 0x8d,
  BINBYTES8: 0x8e,
  EMPTY_SET: 0x8f,
  ADDITEMS: 0x90,
  FROZENSET: 0x91,
  NEWOBJ_EX: 0x92,
  STACK_GLOBAL: 0x93,
  MEMOIZE: 0x94,
  FRAME: 0x95,
  BYTEARRAY8: 0x96,
  NEXT_BUFFER: 0x97,
  READONLY_BUFFER: 0x98,
} as const

const OP_NAME = new Map<number, string>(Object.entries(OP).map(([k, v]) => [v, k]))

/** Opcodes refused outright, with why. */
const REFUSED = new Map<number, string>([
  [OP.PERSID, 'persistent ids are not allowed'],
  [OP.BINPERSID, 'persistent ids are not allowed'],
  [OP.EXT1, 'extension-registry codes are not allowed'],
  [OP.EXT2, 'extension-registry codes are not allowed'],
  [OP.EXT4, 'extension-registry codes are not allowed'],
  [OP.OBJ, 'building objects (OBJ) is not allowed'],
  [OP.NEWOBJ, 'building objects (NEWOBJ) is not allowed'],
  [OP.NEWOBJ_EX, 'building objects (NEWOBJ_EX) is not allowed'],
  [OP.EMPTY_SET, 'sets are not part of a numpy record'],
  [OP.ADDITEMS, 'sets are not part of a numpy record'],
  [OP.FROZENSET, 'sets are not part of a numpy record'],
  [OP.BINSTRING, 'Python 2 str is not supported (numpy records from Python 3 only)'],
  [OP.SHORT_BINSTRING, 'Python 2 str is not supported (numpy records from Python 3 only)'],
  [
    OP.NEXT_BUFFER,
    'out-of-band buffers (protocol 5 with a buffer_callback) are not supported: the array data is not in the file',
  ],
  [OP.READONLY_BUFFER, 'out-of-band buffers (protocol 5) are not supported'],
])
for (const op of [
  OP.FLOAT,
  OP.INT,
  OP.LONG,
  OP.STRING,
  OP.UNICODE,
  OP.PUT,
  OP.GET,
  OP.DICT,
  OP.LIST,
]) {
  REFUSED.set(op, 'protocol 0/1 text opcodes are not supported (numpy writes protocol 2 to 5)')
}

type Reply =
  | { readonly kind: 'byte' | 'uint16' | 'int32' | 'uint32' | 'uint64'; readonly value: number }
  | { readonly kind: 'float64' | 'bytes' | 'string' | 'line'; readonly value: unknown }
  | { readonly kind: 'skip' }

/** How many items an opcode pops from the current frame and pushes back. */
const STACK_EFFECT = new Map<number, readonly [pop: number, push: number]>([
  [OP.STOP, [1, 0]],
  [OP.POP, [1, 0]],
  [OP.DUP, [1, 2]],
  [OP.NONE, [0, 1]],
  [OP.NEWTRUE, [0, 1]],
  [OP.NEWFALSE, [0, 1]],
  [OP.EMPTY_TUPLE, [0, 1]],
  [OP.EMPTY_LIST, [0, 1]],
  [OP.EMPTY_DICT, [0, 1]],
  [OP.TUPLE1, [1, 1]],
  [OP.TUPLE2, [2, 1]],
  [OP.TUPLE3, [3, 1]],
  [OP.APPEND, [2, 1]],
  [OP.SETITEM, [3, 1]],
  [OP.STACK_GLOBAL, [2, 1]],
  [OP.REDUCE, [2, 1]],
  [OP.BUILD, [2, 1]],
  [OP.BINPUT, [1, 1]],
  [OP.LONG_BINPUT, [1, 1]],
  [OP.MEMOIZE, [1, 1]],
  [OP.PROTO, [0, 0]],
  [OP.FRAME, [0, 0]],
])

const utf8 = new TextDecoder('utf-8', { fatal: true })

/**
 * The reader pickleparser's `Parser` reads through. It decodes each instruction in full when
 * the parser asks for its opcode, checks it (allowed, complete, stack and memo consistent), and
 * then answers the parser's reads of its arguments. Numbers, strings and bytes are handed over
 * as typed values: every int (BININT*, LONG1/4) and float (BINFLOAT) goes to the parser as a
 * BINFLOAT whose value is a {@link PyInt} or {@link PyFloat} box (pickleparser would read an
 * int and a float as the same JS number, and LONG1 as unsigned), every bytes as a BINBYTES
 * whose value is a {@link PyBytes} box, every str as a BINUNICODE decoded strictly.
 */
class InstructionReader {
  #pos = 0
  #replies: Reply[] = []
  #stopped = false
  /** Items in each open frame: the outermost first, one more per open MARK. */
  readonly #frames: number[] = [0]
  readonly #memo = new Set<number>()
  readonly #bytes: Uint8Array
  readonly #view: DataView
  readonly #maxMarks: number

  constructor(bytes: Uint8Array, maxMarks: number) {
    this.#bytes = bytes
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    this.#maxMarks = maxMarks
  }

  /** Where the next instruction starts (after a parse: where STOP ended). */
  get position(): number {
    return this.#pos
  }

  get stopped(): boolean {
    return this.#stopped
  }

  // IReader -------------------------------------------------------------------------------

  hasNext(): boolean {
    if (this.#replies.length > 0) throw new Error('internal: unread arguments')
    if (this.#pos >= this.#bytes.length) throw bad('truncated: the pickle ends before its STOP')
    return true
  }
  byte(): number {
    if (this.#replies.length === 0) return this.#next()
    return this.#take('byte') as number
  }
  uint16(): number {
    return this.#take('uint16') as number
  }
  int32(): number {
    return this.#take('int32') as number
  }
  uint32(): number {
    return this.#take('uint32') as number
  }
  uint64(): number {
    return this.#take('uint64') as number
  }
  float64(): number {
    return this.#take('float64') as number
  }
  bytes(_length: number): Uint8Array {
    return this.#take('bytes') as Uint8Array
  }
  string(_size: number, _encoding: string): string {
    return this.#take('string') as string
  }
  line(): string {
    return this.#take('line') as string
  }
  skip(_offset: number): void {
    this.#take('skip')
  }

  #take(kind: Reply['kind']): unknown {
    const r = this.#replies.shift()
    if (r === undefined || r.kind !== kind) throw new Error(`internal: parser read a ${kind}`)
    return 'value' in r ? r.value : undefined
  }

  // Decoding ----------------------------------------------------------------------------------

  #need(n: number, what: string): void {
    if (this.#pos + n > this.#bytes.length) {
      throw bad(`truncated: ${what} needs ${n} bytes, ${this.#bytes.length - this.#pos} remain`)
    }
  }
  #u8(what: string): number {
    this.#need(1, what)
    return this.#view.getUint8(this.#pos++)
  }
  #u16(what: string): number {
    this.#need(2, what)
    const v = this.#view.getUint16(this.#pos, true)
    this.#pos += 2
    return v
  }
  #i32(what: string): number {
    this.#need(4, what)
    const v = this.#view.getInt32(this.#pos, true)
    this.#pos += 4
    return v
  }
  #u32(what: string): number {
    this.#need(4, what)
    const v = this.#view.getUint32(this.#pos, true)
    this.#pos += 4
    return v
  }
  #u64(what: string): number {
    this.#need(8, what)
    const lo = this.#view.getUint32(this.#pos, true)
    const hi = this.#view.getUint32(this.#pos + 4, true)
    this.#pos += 8
    // beyond 2^53 it cannot be in memory anyway: the length check that follows refuses it
    return hi * 2 ** 32 + lo
  }
  #slice(n: number, what: string): Uint8Array {
    this.#need(n, what)
    const out = this.#bytes.subarray(this.#pos, this.#pos + n)
    this.#pos += n
    return out
  }
  #text(n: number, what: string): string {
    const raw = this.#slice(n, what)
    try {
      return utf8.decode(raw)
    } catch {
      throw bad(`${what} is not valid UTF-8`)
    }
  }
  #lineText(what: string): string {
    const end = this.#bytes.indexOf(0x0a, this.#pos)
    if (end < 0) throw bad(`truncated: ${what} has no end of line`)
    const text = this.#text(end - this.#pos, what)
    this.#pos++
    return text
  }

  /** The signed little-endian integer of LONG1/LONG4. */
  #long(n: number, what: string): bigint {
    const raw = this.#slice(n, what)
    if (n === 0) return 0n
    let hex = ''
    for (let i = n - 1; i >= 0; i--) hex += (raw[i] as number).toString(16).padStart(2, '0')
    return BigInt.asIntN(n * 8, BigInt(`0x${hex}`))
  }

  #stack(op: number, pop: number, push: number): void {
    const frame = this.#frames.length - 1
    const depth = this.#frames[frame] as number
    if (depth < pop) throw bad(`${OP_NAME.get(op)} on a stack of ${depth} items (stack underflow)`)
    this.#frames[frame] = depth - pop + push
  }

  /** Closes the innermost MARK and returns how many items it held. */
  #popMark(op: number): number {
    if (this.#frames.length < 2) throw bad(`${OP_NAME.get(op)} without a MARK`)
    return this.#frames.pop() as number
  }

  #memoGet(index: number): void {
    if (!this.#memo.has(index)) throw bad(`a memo get of index ${index}, which was never put`)
    this.#stack(OP.BINGET, 0, 1)
  }

  #memoPut(index: number): void {
    this.#memo.add(index)
  }

  /** Decodes the next instruction and returns the opcode the parser should execute. */
  #next(): number {
    if (this.#stopped) throw new Error('internal: read after STOP')
    const at = this.#pos
    const op = this.#u8('an opcode')
    const name = OP_NAME.get(op) ?? `0x${op.toString(16).padStart(2, '0')}`
    const what = `${name} at byte ${at}`
    const reply = (...r: Reply[]) => {
      this.#replies = r
    }
    if (at === 0 && op !== OP.PROTO) {
      throw bad('no PROTO opcode: protocol 0/1 pickles are not supported (numpy writes 2 to 5)')
    }
    const refused = REFUSED.get(op)
    if (refused !== undefined) throw bad(`${what}: ${refused}`)
    const effect = STACK_EFFECT.get(op)
    if (effect !== undefined) this.#stack(op, effect[0], effect[1])
    switch (op) {
      case OP.PROTO: {
        const v = this.#u8(what)
        if (at !== 0) throw bad(`${what}: PROTO after the start`)
        if (v < 2 || v > 5) throw bad(`pickle protocol ${v} (numpy records use 2 to 5)`)
        reply({ kind: 'byte', value: v })
        return op
      }
      case OP.FRAME: {
        const n = this.#u64(what)
        if (n > this.#bytes.length - this.#pos) {
          throw bad(
            `truncated: ${what} announces ${n} bytes, ${this.#bytes.length - this.#pos} remain`,
          )
        }
        reply({ kind: 'skip' })
        return op
      }
      case OP.STOP:
        if (this.#frames.length !== 1) throw bad(`${what}: STOP inside a MARK`)
        this.#stopped = true
        return op
      case OP.MARK:
        if (this.#frames.length > this.#maxMarks) {
          throw bad(`${what}: nesting deeper than ${this.#maxMarks} MARKs`)
        }
        this.#frames.push(0)
        return op
      case OP.POP_MARK:
        this.#popMark(op)
        return op
      case OP.TUPLE:
        this.#popMark(op)
        this.#stack(op, 0, 1)
        return op
      case OP.APPENDS:
        this.#popMark(op)
        this.#stack(op, 1, 1)
        return op
      case OP.SETITEMS: {
        const items = this.#popMark(op)
        if (items % 2 !== 0) throw bad(`${what}: an odd number of items (${items}) for a dict`)
        this.#stack(op, 1, 1)
        return op
      }
      case OP.BININT:
        this.#stack(op, 0, 1)
        reply({ kind: 'float64', value: new PyInt(BigInt(this.#i32(what))) })
        return OP.BINFLOAT
      case OP.BININT1:
        this.#stack(op, 0, 1)
        reply({ kind: 'float64', value: new PyInt(BigInt(this.#u8(what))) })
        return OP.BINFLOAT
      case OP.BININT2:
        this.#stack(op, 0, 1)
        reply({ kind: 'float64', value: new PyInt(BigInt(this.#u16(what))) })
        return OP.BINFLOAT
      case OP.LONG1:
      case OP.LONG4: {
        this.#stack(op, 0, 1)
        const n = op === OP.LONG1 ? this.#u8(what) : this.#i32(what)
        if (n < 0) throw bad(`${what}: a negative length`)
        reply({ kind: 'float64', value: new PyInt(this.#long(n, what)) })
        return OP.BINFLOAT
      }
      case OP.BINFLOAT: {
        this.#stack(op, 0, 1)
        this.#need(8, what)
        const v = this.#view.getFloat64(this.#pos, false)
        this.#pos += 8
        reply({ kind: 'float64', value: new PyFloat(v) })
        return OP.BINFLOAT
      }
      case OP.SHORT_BINBYTES:
      case OP.BINBYTES:
      case OP.BINBYTES8:
      case OP.BYTEARRAY8: {
        this.#stack(op, 0, 1)
        const n =
          op === OP.SHORT_BINBYTES
            ? this.#u8(what)
            : op === OP.BINBYTES
              ? this.#u32(what)
              : this.#u64(what)
        reply(
          { kind: 'int32', value: 0 },
          { kind: 'bytes', value: new PyBytes(this.#slice(n, what)) },
        )
        return OP.BINBYTES
      }
      case OP.SHORT_BINUNICODE:
      case OP.BINUNICODE:
      case OP.BINUNICODE8: {
        this.#stack(op, 0, 1)
        const n =
          op === OP.SHORT_BINUNICODE
            ? this.#u8(what)
            : op === OP.BINUNICODE
              ? this.#u32(what)
              : this.#u64(what)
        reply({ kind: 'uint32', value: 0 }, { kind: 'string', value: this.#text(n, what) })
        return OP.BINUNICODE
      }
      case OP.GLOBAL:
      case OP.INST: {
        const module = this.#lineText(what)
        const gname = this.#lineText(what)
        if (!isAllowed(module, gname)) throw new Refusal('forbidden', `${module}.${gname}`)
        if (op === OP.INST) throw bad(`${what}: building objects (INST) is not allowed`)
        this.#stack(op, 0, 1)
        reply({ kind: 'line', value: module }, { kind: 'line', value: gname })
        return op
      }
      case OP.BINPUT: {
        const i = this.#u8(what)
        this.#memoPut(i)
        reply({ kind: 'byte', value: i })
        return op
      }
      case OP.LONG_BINPUT: {
        const i = this.#u32(what)
        this.#memoPut(i)
        reply({ kind: 'uint32', value: i })
        return op
      }
      case OP.MEMOIZE:
        // pickleparser, like Python, memoizes at index len(memo)
        this.#memoPut(this.#memo.size)
        return op
      case OP.BINGET: {
        const i = this.#u8(what)
        this.#memoGet(i)
        reply({ kind: 'byte', value: i })
        return op
      }
      case OP.LONG_BINGET: {
        const i = this.#u32(what)
        this.#memoGet(i)
        reply({ kind: 'uint32', value: i })
        return op
      }
      case OP.POP:
      case OP.DUP:
      case OP.NONE:
      case OP.NEWTRUE:
      case OP.NEWFALSE:
      case OP.EMPTY_TUPLE:
      case OP.EMPTY_LIST:
      case OP.EMPTY_DICT:
      case OP.TUPLE1:
      case OP.TUPLE2:
      case OP.TUPLE3:
      case OP.APPEND:
      case OP.SETITEM:
      case OP.STACK_GLOBAL:
      case OP.REDUCE:
      case OP.BUILD:
        return op
      default:
        throw bad(`unknown opcode ${name} at byte ${at}`)
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Parsing

/**
 * Runs the parser over a whole pickle and returns its top value, as parsed (boxes and
 * placeholders, not yet a record). Throws {@link PickleFormatError} or
 * {@link ForbiddenGlobalError}.
 */
function parse(bytes: Uint8Array, source: string, maxDepth: number): unknown {
  // A record nested maxDepth deep needs about two MARKs per level.
  const reader = new InstructionReader(bytes, 2 * maxDepth + 16)
  const parser = new Parser({
    nameResolver: new AllowListRegistry(),
    unpicklingTypeOfDictionary: 'Map',
  })
  let value: unknown
  try {
    value = parser.read(reader)
  } catch (e) {
    throw asFileError(e, source, reader.position)
  }
  if (!reader.stopped) throw new PickleFormatError(source, undefined, 'the pickle has no STOP')
  if (reader.position !== bytes.length) {
    throw new PickleFormatError(
      source,
      undefined,
      `${bytes.length - reader.position} bytes after the pickle's STOP (at byte ${reader.position - 1})`,
    )
  }
  return value
}

function asFileError(e: unknown, source: string, at?: number): FileFormatError {
  if (e instanceof FileFormatError) return e
  if (e instanceof Refusal) {
    return e.forbidden !== undefined
      ? new ForbiddenGlobalError(source, e.forbidden)
      : new PickleFormatError(source, undefined, e.reason)
  }
  const message = e instanceof Error ? `${e.name}: ${e.message}` : String(e)
  const where = at === undefined ? '' : ` near byte ${at}`
  return new PickleFormatError(source, undefined, `malformed pickle${where} (${message})`)
}

// ---------------------------------------------------------------------------------------------
// Conversion to a record

const KIND_NAMES: Record<string, string> = {
  U: 'str',
  S: 'bytes',
  V: 'void (structured)',
  c: 'complex',
  M: 'datetime64',
  m: 'timedelta64',
  O: 'object',
  f: 'float',
}

const HOST_LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1

interface Context {
  readonly source: string
  readonly maxArrayBytes: number
  readonly maxDepth: number
  /** Converted values by identity (a value referenced twice is converted once). */
  readonly done: Map<object, NdArray | NdRecord>
  /** Dicts being converted (a dict inside itself is refused). */
  readonly open: Set<object>
}

function dtypeOf(d: PickledDtype, ctx: Context, key: string): { dtype: DType; swap: boolean } {
  const info = PickledDtype.info(d)
  const fail = (reason: string): never => {
    throw new PickleFormatError(ctx.source, key, reason)
  }
  const order = info.byteorder
  const label = `'${order === '=' ? '' : order}${info.code}'`
  if (info.unsupported !== undefined)
    fail(`numpy dtype ${label} is ${info.unsupported}, not supported`)
  const dtype = CODES[info.code]
  if (dtype === undefined) {
    const kind = KIND_NAMES[info.code[0] ?? '']
    return fail(
      `numpy dtype ${label}${kind ? ` (${kind})` : ''} is not supported: only bool, int8-64, uint8-64 and float16/32/64 arrays are`,
    )
  }
  const size = Number(info.code.slice(1))
  const little = order === '<' || (order === '=' && HOST_LITTLE_ENDIAN)
  return { dtype, swap: size > 1 && order !== '|' && little !== HOST_LITTLE_ENDIAN }
}

/** The elements of `raw` (row-major or column-major) as a row-major NdArray of `dtype`. */
function toNdArray(
  raw: Uint8Array,
  shape: readonly number[],
  dt: { dtype: DType; swap: boolean },
  fortran: boolean,
  ctx: Context,
  key: string,
): NdArray {
  const fail = (reason: string): never => {
    throw new PickleFormatError(ctx.source, key, reason)
  }
  const Ctor = STORAGE[dt.dtype] as unknown as {
    new (buffer: ArrayBuffer): TypedArray
    readonly BYTES_PER_ELEMENT: number
  }
  const itemsize = Ctor.BYTES_PER_ELEMENT
  let size = 1
  for (const d of shape) {
    size *= d
    if (size > Number.MAX_SAFE_INTEGER) fail(`shape (${shape.join(', ')}) is too large`)
  }
  const nbytes = size * itemsize
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`
  if (nbytes > ctx.maxArrayBytes) {
    fail(
      `array of ${nbytes} bytes (${dt.dtype} ${shapeText}) is over maxArrayBytes ${ctx.maxArrayBytes}`,
    )
  }
  if (raw.length !== nbytes) {
    fail(`${dt.dtype} ${shapeText} needs ${nbytes} bytes of data, the pickle holds ${raw.length}`)
  }
  const buffer = new ArrayBuffer(nbytes)
  const bytes = new Uint8Array(buffer)
  bytes.set(raw)
  if (dt.swap) {
    for (let i = 0; i < nbytes; i += itemsize) bytes.subarray(i, i + itemsize).reverse()
  }
  if (dt.dtype === 'bool') {
    for (let i = 0; i < nbytes; i++) if (bytes[i] !== 0) bytes[i] = 1
  }
  let data = new Ctor(buffer)
  if (fortran && shape.length > 1 && size > 0) data = fortranToC(data, shape)
  return { data, shape: [...shape], dtype: dt.dtype } as NdArray
}

/** Reorders column-major elements to row-major. */
function fortranToC(src: TypedArray, shape: readonly number[]): TypedArray {
  const out = new (src.constructor as new (n: number) => TypedArray)(src.length)
  const nd = shape.length
  // strides of the column-major source, walked in row-major order
  const fstride = new Array<number>(nd)
  let s = 1
  for (let i = 0; i < nd; i++) {
    fstride[i] = s
    s *= shape[i] as number
  }
  const idx = new Array<number>(nd).fill(0)
  let from = 0
  for (let to = 0; to < src.length; to++) {
    ;(out as unknown as unknown[])[to] = (src as unknown as unknown[])[from]
    for (let d = nd - 1; d >= 0; d--) {
      idx[d] = (idx[d] as number) + 1
      from += fstride[d] as number
      if ((idx[d] as number) < (shape[d] as number)) break
      from -= (idx[d] as number) * (fstride[d] as number)
      idx[d] = 0
    }
  }
  return out
}

const join = (key: string, child: string): string => (key === '' ? child : `${key}.${child}`)

function convertValue(v: unknown, ctx: Context, key: string, depth: number): NdArray | NdRecord {
  const fail = (reason: string): never => {
    throw new PickleFormatError(ctx.source, key, reason)
  }
  if (typeof v === 'object' && v !== null) {
    const seen = ctx.done.get(v)
    if (seen !== undefined) return seen
  }
  let out: NdArray | NdRecord
  if (PickledArray.is(v)) {
    const state = PickledArray.state(v) ?? fail('an ndarray without its state (no BUILD)')
    const dt = dtypeOf(state.dtype, ctx, key)
    if (!PyBytes.is(state.data)) return fail('an ndarray whose data is a list (an object array)')
    out = toNdArray(PyBytes.bytes(state.data), state.shape, dt, state.fortran, ctx, key)
  } else if (PickledScalar.is(v)) {
    const { dtype, data } = PickledScalar.parts(v)
    const dt = dtypeOf(dtype, ctx, key)
    if (!PyBytes.is(data)) return fail(`a numpy scalar holding ${describe(data)}`)
    out = toNdArray(PyBytes.bytes(data), [], dt, false, ctx, key)
  } else if (PyFloat.is(v)) {
    out = { data: Float64Array.of(PyFloat.value(v)), shape: [], dtype: 'float64' }
  } else if (PyInt.is(v)) {
    const n = PyInt.value(v)
    if (BigInt.asIntN(64, n) !== n) fail(`the int ${n} does not fit in int64`)
    out = { data: BigInt64Array.of(n), shape: [], dtype: 'int64' }
  } else if (typeof v === 'boolean') {
    out = { data: Uint8Array.of(v ? 1 : 0), shape: [], dtype: 'bool' }
  } else if (isMap(v)) {
    out = convertDict(v, ctx, key, depth + 1)
  } else {
    return fail(`${describe(v)} is not an array, a number or a dict`)
  }
  if (typeof v === 'object' && v !== null) ctx.done.set(v, out)
  return out
}

function convertDict(m: Map<unknown, unknown>, ctx: Context, key: string, depth: number): NdRecord {
  if (depth > ctx.maxDepth) {
    throw new PickleFormatError(
      ctx.source,
      key || undefined,
      `dicts nested deeper than maxDepth ${ctx.maxDepth}`,
    )
  }
  if (ctx.open.has(m)) throw new PickleFormatError(ctx.source, key, 'a dict that contains itself')
  ctx.open.add(m)
  const out: NdRecord = {}
  for (const [k, v] of mapEntries(m)) {
    if (typeof k !== 'string') {
      throw new PickleFormatError(
        ctx.source,
        key || undefined,
        `a dict key that is ${describe(k)}, not a str`,
      )
    }
    // defineProperty, so that a key such as '__proto__' is a key like any other
    Object.defineProperty(out, k, {
      value: convertValue(v, ctx, join(key, k), depth),
      enumerable: true,
      writable: true,
      configurable: true,
    })
  }
  ctx.open.delete(m)
  return out
}

/** Options of {@link unpickleRecord}. */
export type UnpickleOptions = ReadOptions

/**
 * Reads a numpy record from pickle bytes: the 0-d object array holding a dict that `np.save`
 * writes after the `.npy` header (reprod_log's files), or a bare pickled dict. Values become:
 * numpy arrays of bool, int8-64, uint8-64, float16/32/64 (either byte order, C or Fortran
 * order, returned row-major) → {@link NdArray}; numpy scalars → 0-d arrays of their dtype;
 * Python float / int / bool → 0-d float64 / int64 / bool; dicts → nested records. Anything
 * else (str, bytes, lists, object or complex arrays) is refused, naming its key.
 *
 * @throws {PickleFormatError} for anything malformed or unsupported, naming the source and key.
 * @throws {ForbiddenGlobalError} for a global outside {@link ALLOWED_GLOBALS}.
 */
export function unpickleRecord(bytes: Uint8Array, options: UnpickleOptions = {}): NdRecord {
  const source = options.source ?? '<bytes>'
  const ctx: Context = {
    source,
    maxArrayBytes: options.maxArrayBytes ?? DEFAULT_LIMITS.maxArrayBytes,
    maxDepth: options.maxDepth ?? DEFAULT_LIMITS.maxDepth,
    done: new Map(),
    open: new Set(),
  }
  const top = parse(bytes, source, ctx.maxDepth)
  try {
    let dict: unknown = top
    if (PickledArray.is(top)) {
      const state = PickledArray.state(top)
      if (state === undefined)
        throw new PickleFormatError(source, undefined, 'an ndarray without its state')
      const info = PickledDtype.info(state.dtype)
      if (info.code[0] !== 'O' || state.shape.length !== 0 || !Array.isArray(state.data)) {
        throw new PickleFormatError(
          source,
          undefined,
          `the pickle holds a ${info.code} array of shape (${state.shape.join(', ')}), not a record (a 0-d object array holding a dict)`,
        )
      }
      if (state.data.length !== 1) {
        throw new PickleFormatError(
          source,
          undefined,
          `a 0-d object array holding ${state.data.length} items`,
        )
      }
      dict = state.data[0]
    }
    if (!isMap(dict)) {
      throw new PickleFormatError(
        source,
        undefined,
        `the pickle holds ${describe(dict)}, not a dict`,
      )
    }
    return convertDict(dict, ctx, '', 1)
  } catch (e) {
    throw asFileError(e, source)
  }
}
