/**
 * Hand-assembled torch files for the readers' refusal tests: a pickle written opcode by opcode
 * (so that each rule can be broken exactly once) and torch's zip container around it, with the
 * layout torch uses (a prefix folder, `data.pkl` first, storages as `data/<key>`).
 */
import { encodeZip } from '../../src/io/zip-write.js'

const enc = new TextEncoder()

/** A pickle under construction: each method appends one instruction. */
export class Pickle {
  readonly bytes: number[] = []
  constructor(protocol = 2) {
    this.bytes.push(0x80, protocol)
  }
  op(...codes: number[]): this {
    this.bytes.push(...codes)
    return this
  }
  global(module: string, name: string): this {
    return this.op(0x63, ...enc.encode(`${module}\n${name}\n`))
  }
  str(s: string): this {
    const b = enc.encode(s)
    const n = b.length
    return this.op(0x58, n & 0xff, (n >> 8) & 0xff, (n >> 16) & 0xff, n >>> 24, ...b)
  }
  int(n: number): this {
    return this.op(0x4a, n & 0xff, (n >> 8) & 0xff, (n >> 16) & 0xff, (n >>> 24) & 0xff)
  }
  /** A tuple of ints. */
  ints(values: readonly number[]): this {
    this.mark()
    for (const v of values) this.int(v)
    return this.op(0x74)
  }
  /** LONG1 of 8 bytes (a signed int64). */
  long(n: bigint): this {
    const b = new Uint8Array(8)
    new DataView(b.buffer).setBigInt64(0, n, true)
    return this.op(0x8a, 8, ...b)
  }
  mark(): this {
    return this.op(0x28)
  }
  tuple(): this {
    return this.op(0x74)
  }
  reduce(): this {
    return this.op(0x52)
  }
  emptyDict(): this {
    return this.op(0x7d)
  }
  emptyTuple(): this {
    return this.op(0x29)
  }
  none(): this {
    return this.op(0x4e)
  }
  bool(v: boolean): this {
    return this.op(v ? 0x88 : 0x89)
  }
  setitems(): this {
    return this.op(0x75)
  }
  stop(): Uint8Array {
    return Uint8Array.from([...this.bytes, 0x2e])
  }
}

/** One tensor of a hand-made state_dict. */
export interface TensorSpec {
  readonly name: string
  readonly storageClass?: string
  readonly key: string
  readonly numel: number | bigint
  readonly offset?: number
  readonly shape: readonly number[]
  readonly stride?: readonly number[]
  /** The persistent id's first item (`'storage'` unless testing its refusal). */
  readonly tag?: string
  /** The legacy format's 6-item id (its view metadata None last). */
  readonly legacy?: boolean
}

const cStrides = (shape: readonly number[]): number[] => {
  const out = shape.map(() => 1)
  for (let k = shape.length - 2; k >= 0; k--)
    out[k] = (out[k + 1] as number) * (shape[k + 1] as number)
  return out
}

/** Appends `_rebuild_tensor_v2((persistent id), offset, size, stride, False, OrderedDict())`. */
export function pushTensor(p: Pickle, t: TensorSpec): Pickle {
  p.global('torch._utils', '_rebuild_tensor_v2').mark()
  p.mark()
    .str(t.tag ?? 'storage')
    .global('torch', t.storageClass ?? 'FloatStorage')
    .str(t.key)
    .str('cpu')
  if (typeof t.numel === 'bigint') p.long(t.numel)
  else p.int(t.numel)
  if (t.legacy) p.none()
  p.tuple().op(0x51) // BINPERSID
  p.int(t.offset ?? 0)
    .ints(t.shape)
    .ints(t.stride ?? cStrides(t.shape))
    .bool(false)
  p.global('collections', 'OrderedDict').emptyTuple().reduce()
  return p.tuple().reduce()
}

/** The data.pkl of an OrderedDict state_dict of `tensors`. */
export function stateDictPickle(tensors: readonly TensorSpec[]): Uint8Array {
  const p = new Pickle().global('collections', 'OrderedDict').emptyTuple().reduce().mark()
  for (const t of tensors) pushTensor(p.str(t.name), t)
  return p.setitems().stop()
}

/**
 * torch's legacy format: the magic number, protocol 1001, the system info, the object, the
 * storage keys, then each storage as an int64 count and its bytes, in the stated byte order.
 */
export function torchLegacy(
  object: Uint8Array,
  storages: readonly (readonly [key: string, count: number, data: Uint8Array])[],
  littleEndian = true,
): Uint8Array {
  const magic = new Pickle()
    .op(0x8a, 10, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19)
    .stop()
  const protocol = new Pickle().op(0x4d, 0xe9, 0x03).stop()
  const info = new Pickle().emptyDict().str('protocol_version').int(1001).op(0x73)
  info.str('little_endian').bool(littleEndian).op(0x73)
  const keys = new Pickle().op(0x5d).mark()
  for (const [key] of storages) keys.str(key)
  const parts = [magic, protocol, info.stop(), object, keys.op(0x65).stop()]
  for (const [, count, data] of storages) {
    const n = new Uint8Array(8)
    new DataView(n.buffer).setBigInt64(0, BigInt(count), littleEndian)
    parts.push(n, data)
  }
  const out = new Uint8Array(parts.reduce((a, b) => a + b.length, 0))
  let at = 0
  for (const b of parts) {
    out.set(b, at)
    at += b.length
  }
  return out
}

/** torch's zip: `<prefix>/data.pkl` first, then the other members, all stored. */
export function torchZip(
  pickle: Uint8Array,
  records: Readonly<Record<string, Uint8Array>>,
  prefix = 'archive',
  extra: Readonly<Record<string, Uint8Array>> = {},
): Uint8Array {
  const members = [
    [`${prefix}/data.pkl`, pickle] as const,
    ...Object.entries(records).map(([k, v]) => [`${prefix}/data/${k}`, v] as const),
    ...Object.entries(extra),
  ]
  return encodeZip(
    members.map(([name, data]) => ({
      nameBytes: enc.encode(name),
      utf8: false,
      size: data.length,
      store: (out: Uint8Array, at: number) => out.set(data, at),
    })),
  )
}

/** Float32 values as bytes (little endian, as torch writes them). */
export const f32 = (...values: number[]): Uint8Array =>
  new Uint8Array(Float32Array.from(values).buffer)
