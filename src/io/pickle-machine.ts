/**
 * The unpickler's stack machine: decodes each instruction, checks it, and runs it. Only the
 * opcodes a numpy record needs (protocols 2 to 5) run; a truncated argument, an undefined memo
 * index, a stack underflow, a misplaced MARK or a global outside the allow list is refused at
 * its instruction, naming it and its byte offset.
 *
 * Why not pickleparser (0.2.1, the dependency this replaced): its `Parser` executes opcodes
 * itself, so every instruction had to be decoded and checked here first anyway, and then fed to
 * it through an `IReader` that imitated the exact order of its internal reads (ints disguised
 * as floats to keep them exact, LONG1 read unsigned otherwise); it assigns BUILD states onto
 * any object (dicts and lists included) and resolves unknown globals to callable placeholders
 * unless overridden. What is left once the checks are done is a stack, a memo and about thirty
 * one-line operations: the machine below, with no second interpreter to keep in step.
 */
import { type Callable, type Dialect, NUMPY_DIALECT } from './pickle-globals.js'
import { OP, OP_NAME, REFUSED } from './pickle-ops.js'
import {
  bad,
  describe,
  isMap,
  PickledArray,
  PickledDtype,
  PyBytes,
  PyFloat,
  PyInt,
  Refusal,
} from './pickle-values.js'

const utf8 = new TextDecoder('utf-8', { fatal: true })
/** Each byte's two hex digits. */
const HEX_BYTE: readonly string[] = Array.from({ length: 256 }, (_, i) =>
  i.toString(16).padStart(2, '0'),
)

/** Where a parse ended, for the caller's checks and messages. */
export interface MachineResult {
  /** The value STOP returned (boxes, Maps and arrays: not yet a record). */
  readonly value: unknown
  /** Where STOP ended. */
  readonly end: number
}

/** A frozen array is a tuple; APPEND into it is refused as Python refuses it. */
const tuple = (items: unknown[]): readonly unknown[] => Object.freeze(items)

/**
 * Runs a whole pickle and returns its top value. `maxMarks` bounds MARK nesting; `dialect`
 * says which globals resolve, whether persistent ids are loaded and what BUILD may build
 * (numpy records by default). Throws a {@link Refusal} (the caller adds the source).
 */
export function runPickle(
  bytes: Uint8Array,
  maxMarks: number,
  dialect: Dialect = NUMPY_DIALECT,
): MachineResult {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const len = bytes.length
  const { globals, persistentLoad } = dialect.make()
  const callables = new Set<unknown>([...globals.values()].filter((g) => typeof g === 'function'))
  const stack: unknown[] = []
  const marks: number[] = []
  const memo = new Map<number, unknown>()
  // Python dict keys compare by value: ints are interned so that equal ints are one Map key.
  const ints = new Map<bigint, PyInt>()
  let pos = 0
  let what = ''

  const need = (n: number): void => {
    if (n > len - pos) throw bad(`truncated: ${what} needs ${n} bytes, ${len - pos} remain`)
  }
  const u8 = (): number => {
    need(1)
    return view.getUint8(pos++)
  }
  const fixed = (n: 2 | 4, signed: boolean): number => {
    need(n)
    const v =
      n === 2
        ? view.getUint16(pos, true)
        : signed
          ? view.getInt32(pos, true)
          : view.getUint32(pos, true)
    pos += n
    return v
  }
  const u64 = (): number => {
    need(8)
    const v = view.getUint32(pos, true) + view.getUint32(pos + 4, true) * 2 ** 32
    pos += 8
    return v // beyond 2^53 it cannot be present: need() refuses it
  }
  const slice = (n: number): Uint8Array => {
    need(n)
    pos += n
    return bytes.subarray(pos - n, pos)
  }
  const text = (raw: Uint8Array): string => {
    try {
      return utf8.decode(raw)
    } catch {
      throw bad(`${what} is not valid UTF-8`)
    }
  }
  const line = (): string => {
    const end = bytes.indexOf(0x0a, pos)
    if (end < 0) throw bad(`truncated: ${what} has no end of line`)
    const s = text(bytes.subarray(pos, end))
    pos = end + 1
    return s
  }
  const long = (n: number): bigint => {
    const raw = slice(n)
    if (n === 0) return 0n
    // one join, not n string concatenations: a 4 MB LONG4 is read in ~0.1 s, not ~0.8 s
    const hex = new Array<string>(n)
    for (let i = 0; i < n; i++) hex[n - 1 - i] = HEX_BYTE[raw[i] as number] as string
    return BigInt.asIntN(n * 8, BigInt(`0x${hex.join('')}`))
  }
  /** The items above the innermost MARK (removed with it). */
  const popMark = (): unknown[] => {
    const m = marks.pop()
    if (m === undefined) throw bad(`${what} without a MARK`)
    return stack.splice(m)
  }
  const floor = (): number => marks[marks.length - 1] ?? 0
  const pop = (): unknown => {
    if (stack.length <= floor()) {
      throw bad(`${what} on a stack of ${stack.length - floor()} items (stack underflow)`)
    }
    return stack.pop()
  }
  const top = (): unknown => {
    if (stack.length <= floor()) throw bad(`${what} on a stack of 0 items (stack underflow)`)
    return stack[stack.length - 1]
  }
  const need2 = (n: number): void => {
    if (stack.length - floor() < n) {
      throw bad(`${what} on a stack of ${stack.length - floor()} items (stack underflow)`)
    }
  }
  const dictKey = (k: unknown): unknown => {
    if (!PyInt.is(k)) return k
    const v = PyInt.value(k)
    const seen = ints.get(v)
    if (seen !== undefined) return seen
    ints.set(v, k)
    return k
  }
  const setItems = (dict: unknown, items: unknown[]): void => {
    if (!isMap(dict)) throw bad(`${what} into ${describe(dict)}, not a dict`)
    for (let i = 0; i < items.length; i += 2) {
      Map.prototype.set.call(dict, dictKey(items[i]), items[i + 1])
    }
  }
  const appendTo = (list: unknown, items: unknown[]): void => {
    if (!Array.isArray(list) || Object.isFrozen(list)) {
      throw bad(`${what} to ${describe(list)}, not a list`)
    }
    for (const item of items) list.push(item)
  }
  const global = (module: unknown, name: unknown): unknown => {
    if (typeof module !== 'string' || typeof name !== 'string') {
      throw bad(`${what} of ${describe(module)} and ${describe(name)}, not two str`)
    }
    // Exactly `module.name` as listed: a dotted name cannot reach into a listed module.
    const full = `${module}.${name}`
    if (name.includes('.') || !globals.has(full)) {
      throw new Refusal('forbidden', full, dialect.refusal(module, name))
    }
    return globals.get(full)
  }

  for (;;) {
    if (pos >= len) throw bad('truncated: the pickle ends before its STOP')
    const at = pos
    const op = bytes[pos++] as number
    what = `${OP_NAME.get(op) ?? `opcode 0x${op.toString(16).padStart(2, '0')}`} at byte ${at}`
    if (at === 0 && op !== OP.PROTO) {
      throw bad('no PROTO opcode: protocol 0/1 pickles are not supported (numpy writes 2 to 5)')
    }
    const refused =
      op === OP.BINPERSID && persistentLoad !== undefined ? undefined : REFUSED.get(op)
    if (refused !== undefined) throw bad(`${what}: ${refused}`)
    switch (op) {
      case OP.PROTO: {
        const v = u8()
        if (at !== 0) throw bad(`${what}: PROTO after the start`)
        if (v < 2 || v > 5) throw bad(`pickle protocol ${v} (${dialect.what} use 2 to 5)`)
        break
      }
      case OP.FRAME: {
        const n = u64()
        if (n > len - pos) throw bad(`truncated: ${what} announces ${n} bytes, ${len - pos} remain`)
        break
      }
      case OP.STOP: {
        const value = pop()
        if (marks.length > 0) throw bad(`${what}: STOP inside a MARK`)
        return { value, end: pos }
      }
      case OP.MARK:
        if (marks.length >= maxMarks) throw bad(`${what}: nesting deeper than ${maxMarks} MARKs`)
        marks.push(stack.length)
        break
      case OP.POP:
        pop()
        break
      case OP.POP_MARK:
        popMark()
        break
      case OP.DUP:
        stack.push(top())
        break
      case OP.NONE:
        stack.push(null)
        break
      case OP.NEWTRUE:
      case OP.NEWFALSE:
        stack.push(op === OP.NEWTRUE)
        break
      case OP.BININT:
        stack.push(new PyInt(BigInt(fixed(4, true))))
        break
      case OP.BININT1:
        stack.push(new PyInt(BigInt(u8())))
        break
      case OP.BININT2:
        stack.push(new PyInt(BigInt(fixed(2, false))))
        break
      case OP.LONG1:
      case OP.LONG4: {
        const n = op === OP.LONG1 ? u8() : fixed(4, true)
        if (n < 0) throw bad(`${what}: a negative length`)
        stack.push(new PyInt(long(n)))
        break
      }
      case OP.BINFLOAT:
        need(8)
        stack.push(new PyFloat(view.getFloat64(pos, false)))
        pos += 8
        break
      case OP.SHORT_BINBYTES:
      case OP.BINBYTES:
      case OP.BINBYTES8:
      case OP.BYTEARRAY8: {
        const n = op === OP.SHORT_BINBYTES ? u8() : op === OP.BINBYTES ? fixed(4, false) : u64()
        stack.push(new PyBytes(slice(n)))
        break
      }
      case OP.SHORT_BINUNICODE:
      case OP.BINUNICODE:
      case OP.BINUNICODE8: {
        const n = op === OP.SHORT_BINUNICODE ? u8() : op === OP.BINUNICODE ? fixed(4, false) : u64()
        stack.push(text(slice(n)))
        break
      }
      case OP.EMPTY_TUPLE:
        stack.push(tuple([]))
        break
      case OP.EMPTY_LIST:
        stack.push([])
        break
      case OP.EMPTY_DICT:
        stack.push(new Map())
        break
      case OP.TUPLE:
        stack.push(tuple(popMark()))
        break
      case OP.TUPLE1:
      case OP.TUPLE2:
      case OP.TUPLE3: {
        const n = op - OP.TUPLE1 + 1
        need2(n)
        stack.push(tuple(stack.splice(stack.length - n)))
        break
      }
      case OP.APPEND: {
        need2(2)
        const v = stack.pop()
        appendTo(stack[stack.length - 1], [v])
        break
      }
      case OP.APPENDS: {
        const items = popMark()
        appendTo(top(), items)
        break
      }
      case OP.SETITEM: {
        need2(3)
        const items = stack.splice(stack.length - 2)
        setItems(stack[stack.length - 1], items)
        break
      }
      case OP.SETITEMS: {
        const items = popMark()
        if (items.length % 2 !== 0) {
          throw bad(`${what}: an odd number of items (${items.length}) for a dict`)
        }
        setItems(top(), items)
        break
      }
      case OP.GLOBAL: {
        const module = line()
        const name = line()
        stack.push(global(module, name))
        break
      }
      case OP.INST: {
        const module = line()
        const name = line()
        global(module, name) // a forbidden name is named as such first
        throw bad(`${what}: building objects (INST) is not allowed`)
      }
      case OP.STACK_GLOBAL: {
        need2(2)
        const [module, name] = stack.splice(stack.length - 2)
        stack.push(global(module, name))
        break
      }
      case OP.REDUCE: {
        need2(2)
        const [f, args] = stack.splice(stack.length - 2)
        if (!callables.has(f)) throw bad(`${what}: REDUCE of ${describe(f)}, not a global`)
        if (!Array.isArray(args) || !Object.isFrozen(args)) {
          throw bad(`${what}: REDUCE with arguments that are ${describe(args)}, not a tuple`)
        }
        stack.push((f as Callable)(...args))
        break
      }
      case OP.BINPERSID: {
        // reached only with a persistentLoad (REFUSED holds it otherwise)
        need2(1)
        stack.push((persistentLoad as (pid: unknown) => unknown)(stack.pop()))
        break
      }
      case OP.BUILD: {
        need2(2)
        const state = stack.pop()
        const obj = stack[stack.length - 1]
        if (PickledDtype.is(obj) || PickledArray.is(obj)) obj.build(state)
        else if (!dialect.build(obj, state)) {
          throw bad(`${what}: BUILD on ${describe(obj)} (${dialect.builds})`)
        }
        break
      }
      case OP.BINPUT:
      case OP.LONG_BINPUT: {
        const i = op === OP.BINPUT ? u8() : fixed(4, false)
        memo.set(i, top())
        break
      }
      case OP.MEMOIZE:
        // as Python: at index len(memo)
        memo.set(memo.size, top())
        break
      case OP.BINGET:
      case OP.LONG_BINGET: {
        const i = op === OP.BINGET ? u8() : fixed(4, false)
        if (!memo.has(i)) throw bad(`a memo get of index ${i}, which was never put`)
        stack.push(memo.get(i))
        break
      }
      default:
        throw bad(`unknown ${what}`)
    }
  }
}
