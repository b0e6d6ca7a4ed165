/**
 * `.npz` reading and writing: zip archives of `<key>.npy` members, stored (`np.savez`) or
 * deflated (`np.savez_compressed`), zip64 included.
 *
 * The zip structure is read here, not by fflate's `unzipSync`, because the archive is untrusted:
 * - every size and count is checked against the limits from the central directory, before
 *   anything is inflated or allocated (member count, each declared size, their sum);
 * - `unzipSync` (0.8.3, checked) does not fail on a damaged directory: a local header offset
 *   past the end gives an empty member, a stored member running past the end is cut short, a
 *   duplicate name silently keeps the last one, and CRC-32 is not verified (Python's zipfile,
 *   which np.load uses, verifies it); each of these is refused here, naming the member;
 * - each deflated member is inflated by fflate's `inflateSync` into an output buffer of its
 *   declared size plus one byte. With a caller's buffer fflate never grows it (it drops writes
 *   past the end, or throws a RangeError for a stored block that does not fit), so a stream
 *   that inflates to more than it declared cannot allocate more than declared; the extra byte
 *   tells that it did, and the member is refused. The work it does is bounded by deflate's
 *   maximum ratio (1032:1) times the compressed bytes present.
 * fflate's `zipSync` is not used for writing either: it writes no zip64 (sizes and counts are
 * written in 32 and 16 bits, so more than 65,535 members or 4 GiB give a corrupt archive) and
 * stamps the current time (the output would not be reproducible); the writer below is short.
 */

import * as zlib from 'node:zlib'
import { deflateSync, inflateSync } from 'fflate'
import type { ArrayInput } from '../compare/tensor-like.js'
import { NpzFormatError, WriteError } from './errors.js'
import {
  decodeNpy,
  encodeNdArray,
  type NpyParts,
  npyParts,
  readInputBytes,
  resolveLimits,
  sourceOf,
  toNdArray,
  writeBytes,
  writeNpyParts,
} from './npy.js'
import type { NdRecord, ReadOptions } from './types.js'

/** Options of {@link encodeNpz}. */
export interface EncodeNpzOptions {
  /** Deflate every member (as `np.savez_compressed`); default false (stored, as `np.savez`). */
  compress?: boolean
}

/** A record of arrays to write, by name (a plain object or a Map). */
export type NpzInput = { readonly [key: string]: ArrayInput } | ReadonlyMap<string, ArrayInput>

const SIG_LOCAL = 0x04034b50
const SIG_CENTRAL = 0x02014b50
const SIG_EOCD = 0x06054b50
const SIG_EOCD64 = 0x06064b50
const SIG_LOCATOR64 = 0x07064b50
/** Python's zipfile switches to zip64 above this (it stays clear of signed 32-bit readers). */
const ZIP64_LIMIT = 2 ** 31 - 1

// ---------------------------------------------------------------------------------------------
// CRC-32

/** The JS CRC-32 (IEEE, as zip uses), for Node versions without `zlib.crc32` (before 20.15). */
export function crc32Js(data: Uint8Array): number {
  let c = -1
  for (let i = 0; i < data.length; i++) {
    c = (CRC_TABLE[(c ^ (data[i] as number)) & 0xff] as number) ^ (c >>> 8)
  }
  return (c ^ -1) >>> 0
}

const CRC_TABLE = (() => {
  const t = new Int32Array(256)
  for (let n = 0; n < 256; n++) {
    let c = n
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
    t[n] = c
  }
  return t
})()

const nativeCrc = (zlib as { crc32?: (data: Uint8Array) => number }).crc32

/** CRC-32 of the bytes: Node's native `zlib.crc32` where it exists, else {@link crc32Js}. */
export function crc32(data: Uint8Array): number {
  return nativeCrc ? nativeCrc(data) >>> 0 : crc32Js(data)
}

// ---------------------------------------------------------------------------------------------
// Reading

/** One member as the central directory describes it, after its local header was checked. */
export interface ZipMember {
  /** The name in the archive, such as `logits.npy`. */
  readonly name: string
  /** The raw bytes of the name (compared with the local header's). */
  readonly nameBytes: Uint8Array
  readonly method: number
  readonly crc: number
  readonly compressedSize: number
  readonly size: number
  readonly localOffset: number
  /** Where the member's data starts (after its local header). */
  readonly dataOffset: number
}

// The bytes 0x80-0xff in code page 437, the zip default for names without the utf-8 flag.
const CP437_HIGH =
  'ÇüéâäàåçêëèïîìÄÅÉæÆôöòûùÿÖÜ¢£¥₧ƒáíóúñÑªº¿⌐¬½¼¡«»░▒▓│┤╡╢╖╕╣║╗╝╜╛┐└┴┬├─┼╞╟╚╔╩╦╠═╬╧╨╤╥╙╘╒╓╫╪┘┌█▄▌▐▀αßΓπΣσµτΦΘΩδ∞φε∩≡±≥≤⌠⌡÷≈°∙·√ⁿ²■\u00a0'

function decodeName(raw: Uint8Array, utf8: boolean): string | undefined {
  if (utf8) {
    try {
      return new TextDecoder('utf-8', { fatal: true }).decode(raw)
    } catch {
      return undefined
    }
  }
  let s = ''
  for (const b of raw) s += b < 0x80 ? String.fromCharCode(b) : (CP437_HIGH[b - 0x80] as string)
  return s
}

/** The member's key in errors: the name without `.npy`, else the name. */
const keyOf = (name: string): string => (name.endsWith('.npy') ? name.slice(0, -4) : name)

/**
 * Reads and checks a zip's central directory and every local header: bounded by `limits`
 * (count, declared sizes), strict about structure (one disk, no encryption, stored or deflate,
 * no duplicate or overlapping members, the local name equal to the central one). Nothing is
 * inflated. Errors are NpzFormatErrors naming `source` and the member.
 */
export function readZipDirectory(
  bytes: Uint8Array,
  source: string,
  limits: { maxMembers: number; maxInflatedBytes: number },
): ZipMember[] {
  const fail = (reason: string, key?: string): never => {
    throw new NpzFormatError(source, key, reason)
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const len = bytes.length
  const u16 = (o: number) => dv.getUint16(o, true)
  const u32 = (o: number) => dv.getUint32(o, true)
  const u64 = (o: number, what: string): number => {
    const v = dv.getBigUint64(o, true)
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) fail(`${what} ${v} is beyond 2^53`)
    return Number(v)
  }

  // End of central directory: 22 bytes and a comment of up to 65,535 bytes that must end the file.
  let eocd = -1
  for (let p = len - 22; p >= Math.max(0, len - 22 - 0xffff); p--) {
    if (u32(p) === SIG_EOCD && p + 22 + u16(p + 20) === len) {
      eocd = p
      break
    }
  }
  if (eocd < 0) {
    const npy = bytes[0] === 0x93 && bytes[1] === 0x4e && bytes[2] === 0x55
    fail(
      npy
        ? 'not a zip archive: this is an .npy file (read it with readNpy)'
        : len === 0
          ? 'not a zip archive: empty'
          : 'not a zip archive: no end of central directory record',
    )
  }
  if (u16(eocd + 4) !== 0 || u16(eocd + 6) !== 0) fail('multi-disk zip archives are not supported')
  let count = u16(eocd + 10)
  let cdSize = u32(eocd + 12)
  let cdOffset = u32(eocd + 16)
  let cdEnd = eocd
  if (u16(eocd + 8) !== count) fail('multi-disk zip archives are not supported')
  // zip64: a locator just before the end record points to the zip64 end record (as Python
  // reads it: the locator's presence decides, not the 0xffff markers).
  if (eocd >= 20 && u32(eocd - 20) === SIG_LOCATOR64) {
    const rec = u64(eocd - 20 + 8, 'zip64 end record offset')
    if (u32(eocd - 20 + 4) !== 0 || u32(eocd - 20 + 16) !== 1) {
      fail('multi-disk zip archives are not supported')
    }
    if (rec + 56 > eocd - 20 || u32(rec) !== SIG_EOCD64) fail('bad zip64 end of central directory')
    if (u32(rec + 16) !== 0 || u32(rec + 20) !== 0)
      fail('multi-disk zip archives are not supported')
    count = u64(rec + 32, 'member count')
    if (u64(rec + 24, 'member count') !== count) fail('multi-disk zip archives are not supported')
    cdSize = u64(rec + 40, 'central directory size')
    cdOffset = u64(rec + 48, 'central directory offset')
    cdEnd = rec
  }
  if (count > limits.maxMembers) {
    fail(`${count} members, over maxMembers (${limits.maxMembers})`)
  }
  if (cdOffset + cdSize !== cdEnd) {
    fail(
      `the central directory (${cdSize} bytes at ${cdOffset}) does not end where the end record starts (${cdEnd}): truncated, damaged or prefixed archive`,
    )
  }
  if (count * 46 > cdSize)
    fail(`${count} members cannot fit a central directory of ${cdSize} bytes`)

  const members: ZipMember[] = []
  const names = new Set<string>()
  let total = 0
  let p = cdOffset
  for (let i = 0; i < count; i++) {
    if (p + 46 > cdEnd || u32(p) !== SIG_CENTRAL) fail(`central directory entry ${i} is damaged`)
    const flags = u16(p + 8)
    const method = u16(p + 10)
    const crc = u32(p + 16)
    let compressedSize = u32(p + 20)
    let size = u32(p + 24)
    const nameLen = u16(p + 28)
    const extraLen = u16(p + 30)
    const commentLen = u16(p + 32)
    const disk = u16(p + 34)
    let localOffset = u32(p + 42)
    const next = p + 46 + nameLen + extraLen + commentLen
    if (next > cdEnd) fail(`central directory entry ${i} runs past the directory`)
    const nameBytes = bytes.subarray(p + 46, p + 46 + nameLen)
    const name = decodeName(nameBytes, (flags & 0x800) !== 0)
    if (name === undefined) return fail(`the name of member ${i} is not valid utf-8`)
    const key = keyOf(name)
    // zip64 extra (id 1): the 64-bit values of the fields marked 0xffffffff, in this order.
    if (size === 0xffffffff || compressedSize === 0xffffffff || localOffset === 0xffffffff) {
      let e = p + 46 + nameLen
      const eEnd = e + extraLen
      let found = false
      while (e + 4 <= eEnd) {
        const id = u16(e)
        const n = u16(e + 2)
        if (e + 4 + n > eEnd) break
        if (id === 1) {
          let q = e + 4
          const take = (what: string): number => {
            if (q + 8 > e + 4 + n) fail(`zip64 extra field too short for the ${what}`, key)
            const v = u64(q, what)
            q += 8
            return v
          }
          if (size === 0xffffffff) size = take('size')
          if (compressedSize === 0xffffffff) compressedSize = take('compressed size')
          if (localOffset === 0xffffffff) localOffset = take('local header offset')
          found = true
          break
        }
        e += 4 + n
      }
      if (!found) fail('a size is marked zip64 but there is no zip64 extra field', key)
    }
    if (disk !== 0 && disk !== 0xffff) fail('multi-disk zip archives are not supported', key)
    if (flags & 0x41) fail('encrypted members are not supported', key)
    if (method !== 0 && method !== 8) {
      fail(`compression method ${method} is not supported (only stored and deflate)`, key)
    }
    p = next
    // Directory entries (`dir/`) hold nothing; tools such as `zip -r` add them.
    if (name.endsWith('/') && size === 0) continue
    if (!name.endsWith('.npy')) fail(`member '${name}' is not a .npy file`, key)
    if (names.has(name)) fail(`duplicate member '${name}'`, key)
    names.add(name)
    if (size > limits.maxInflatedBytes) {
      fail(
        `declares ${size} bytes uncompressed, over maxInflatedBytes (${limits.maxInflatedBytes})`,
        key,
      )
    }
    total += size
    if (total > limits.maxInflatedBytes) {
      fail(
        `the members declare ${total} bytes uncompressed in total, over maxInflatedBytes (${limits.maxInflatedBytes})`,
        key,
      )
    }
    if (method === 0 && compressedSize !== size) {
      fail(`stored member declares ${size} bytes but ${compressedSize} compressed bytes`, key)
    }
    members.push({
      name,
      nameBytes,
      method,
      crc,
      compressedSize,
      size,
      localOffset,
      dataOffset: -1,
    })
  }
  if (p !== cdEnd) fail(`${cdEnd - p} unexpected bytes at the end of the central directory`)

  // Local headers: each one where the directory says, with the same name, its data before the
  // next member's header and before the directory (overlapping members are a zip-bomb trick).
  const out = members.map((m) => {
    const key = keyOf(m.name)
    const o = m.localOffset
    if (o + 30 > cdOffset || u32(o) !== SIG_LOCAL)
      fail('no local header where the directory points', key)
    const nameLen = u16(o + 26)
    const dataOffset = o + 30 + nameLen + u16(o + 28)
    const local = bytes.subarray(o + 30, o + 30 + nameLen)
    if (local.length !== m.nameBytes.length || local.some((b, i) => b !== m.nameBytes[i])) {
      fail(
        `the local header names '${decodeName(local, true) ?? '?'}', the directory '${m.name}'`,
        key,
      )
    }
    if (dataOffset + m.compressedSize > cdOffset) {
      fail(`data of ${m.compressedSize} bytes runs past the central directory (truncated?)`, key)
    }
    return { ...m, dataOffset }
  })
  const byOffset = [...out].sort((a, b) => a.localOffset - b.localOffset)
  for (let i = 1; i < byOffset.length; i++) {
    const a = byOffset[i - 1] as ZipMember
    const b = byOffset[i] as ZipMember
    if (a.dataOffset + a.compressedSize > b.localOffset) {
      fail(`members '${a.name}' and '${b.name}' overlap`, keyOf(b.name))
    }
  }
  return out
}

/** A member's uncompressed bytes: a view for stored members, else a bounded inflate; CRC checked. */
export function zipMemberBytes(bytes: Uint8Array, m: ZipMember, source: string): Uint8Array {
  const key = keyOf(m.name)
  const fail = (reason: string): never => {
    throw new NpzFormatError(source, key, reason)
  }
  const packed = bytes.subarray(m.dataOffset, m.dataOffset + m.compressedSize)
  let data: Uint8Array
  if (m.method === 0) data = packed
  else {
    // A valid deflate stream is never empty (an empty member deflates to 2 bytes), and
    // fflate returns the output buffer unchanged for empty input.
    if (packed.length === 0) fail('empty deflate stream')
    let out: Uint8Array
    try {
      out = new Uint8Array(m.size + 1)
    } catch (e) {
      return fail(`cannot allocate ${m.size} bytes to inflate it: ${(e as Error).message}`)
    }
    try {
      data = inflateSync(packed, { out })
    } catch (e) {
      if (e instanceof RangeError) return fail(`inflates to more than its declared ${m.size} bytes`)
      return fail(`bad deflate data: ${(e as Error).message}`)
    }
    if (data.length > m.size) fail(`inflates to more than its declared ${m.size} bytes`)
    if (data.length < m.size) fail(`inflates to ${data.length} bytes, it declares ${m.size}`)
  }
  const crc = crc32(data)
  if (crc !== m.crc) {
    fail(`CRC-32 mismatch: the data gives ${hex8(crc)}, the directory says ${hex8(m.crc)}`)
  }
  return data
}

const hex8 = (n: number): string => `0x${n.toString(16).padStart(8, '0')}`

/**
 * Reads an `.npz` (a path, a Uint8Array or an ArrayBuffer) into a flat record: each member
 * `<key>.npy` under `key`, in the archive's order, `/` in names kept as is. Stored members'
 * arrays are views into the input where aligned (see `readNpy`). Zip problems throw
 * NpzFormatError; a bad `.npy` inside throws NpyFormatError with the archive as the source and
 * the member's key.
 */
export function readNpz(
  input: string | Uint8Array | ArrayBuffer,
  options: ReadOptions = {},
): NdRecord {
  const source = sourceOf(input, options)
  const limits = resolveLimits(options)
  const bytes = readInputBytes(input, source, NpzFormatError)
  const members = readZipDirectory(bytes, source, limits)
  const record: NdRecord = {}
  for (const m of members) {
    const key = keyOf(m.name)
    const data = zipMemberBytes(bytes, m, source)
    // A bad .npy inside throws an NpyFormatError naming the archive and the member's key.
    const array = decodeNpy(data, source, limits, key)
    // defineProperty: a member named `__proto__.npy` must become a key, not a prototype.
    Object.defineProperty(record, key, {
      value: array,
      enumerable: true,
      writable: true,
      configurable: true,
    })
  }
  return record
}

// ---------------------------------------------------------------------------------------------
// Writing

/** Extra field id that pads a stored member so its data starts aligned (as Android's zipalign). */
const ALIGN_EXTRA_ID = 0xd935
const ALIGN = 64
/** 1980-01-01 00:00, the earliest DOS date: fixed so that the same arrays give the same bytes. */
const DOS_DATE = (0 << 9) | (1 << 5) | 1
const DOS_TIME = 0

/**
 * Encodes a record of arrays as `.npz` bytes that `np.load` reads: one `<key>.npy` member per
 * key (in the record's order), stored or deflated. Keys are flat names; a nested record is
 * refused with a WriteError (the reader gives flat keys back, so flattening here would not
 * round-trip; flatten it yourself, for instance to dotted keys). Stored members are padded so
 * that their array data starts at a multiple of 64 in the archive, which lets `readNpz` return
 * views. The output is deterministic (fixed timestamps).
 */
export function encodeNpz(
  record: NpzInput,
  options: EncodeNpzOptions = {},
): Uint8Array<ArrayBuffer> {
  return encodeRecord(record, options, '<bytes>')
}

/** Writes {@link encodeNpz}'s bytes to `path`; errors are WriteErrors naming the path. */
export function writeNpz(path: string, record: NpzInput, options: EncodeNpzOptions = {}): void {
  writeBytes(path, encodeRecord(record, options, path))
}

interface Entry {
  nameBytes: Uint8Array
  utf8: boolean
  method: 0 | 8
  crc: number
  size: number
  /** A stored member's npy, written straight into the archive (no intermediate copy). */
  parts: NpyParts | undefined
  /** A deflated member's bytes. */
  packed: Uint8Array | undefined
  csize: number
  /** Where the local header starts. */
  offset: number
  /** Whether the sizes go to zip64 extras (local and central). */
  bigSizes: boolean
  /** Bytes of the alignment extra field of a stored member (0: none). */
  alignLen: number
}

function encodeRecord(
  record: NpzInput,
  options: EncodeNpzOptions,
  source: string,
): Uint8Array<ArrayBuffer> {
  if (
    record === null ||
    typeof record !== 'object' ||
    ArrayBuffer.isView(record) ||
    Array.isArray(record)
  ) {
    throw new WriteError(source, undefined, 'expected a record of arrays (a plain object or a Map)')
  }
  const pairs: [string, ArrayInput][] =
    record instanceof Map ? [...record] : Object.entries(record as { [key: string]: ArrayInput })
  const encoder = new TextEncoder()
  const method = options.compress ? 8 : 0

  // Layout: every member's local header, extras and data, then the central directory.
  const entries: Entry[] = []
  let offset = 0
  let cdSize = 0
  for (const [key, value] of pairs) {
    if (typeof key !== 'string' || key === '') {
      throw new WriteError(source, String(key), 'a key must be a non-empty string')
    }
    // Python's zipfile cuts a name at its first NUL: np.load would see another key.
    if (key.includes('\0')) throw new WriteError(source, key, 'a key must not contain NUL')
    const nameBytes = encoder.encode(`${key}.npy`)
    if (nameBytes.length > 0xffff) throw new WriteError(source, key, 'the key is too long for zip')
    const nd = toNdArray(value, source, key)
    let parts: NpyParts | undefined
    let packed: Uint8Array | undefined
    let crc = 0 // a stored member's CRC is computed once it is written
    let size: number
    if (method === 8) {
      const npy = encodeNdArray(nd, undefined, source)
      crc = crc32(npy)
      size = npy.length
      packed = deflateSync(npy, { level: 6 })
    } else {
      parts = npyParts(nd, undefined, source)
      size = parts.byteLength
    }
    const csize = packed ? packed.length : size
    const bigSizes = size > ZIP64_LIMIT || csize > ZIP64_LIMIT
    const zip64Len = bigSizes ? 20 : 0
    // Pad stored members so that their npy data (64-aligned within the npy) is 64-aligned in the
    // archive too: an extra field of 6 bytes at least (id, size, alignment) plus the padding.
    const start = offset + 30 + nameBytes.length + zip64Len + 6
    const alignLen = method === 0 ? 6 + ((ALIGN - (start % ALIGN)) % ALIGN) : 0
    // biome-ignore lint/suspicious/noControlCharactersInRegex: testing for non-ASCII names
    const utf8 = !/^[\x00-\x7f]*$/.test(key)
    const entry: Entry = {
      nameBytes,
      utf8,
      method,
      crc,
      size,
      parts,
      packed,
      csize,
      offset,
      bigSizes,
      alignLen,
    }
    entries.push(entry)
    const centralZip64 = (bigSizes ? 16 : 0) + (offset > ZIP64_LIMIT ? 8 : 0)
    cdSize += 46 + nameBytes.length + (centralZip64 ? 4 + centralZip64 : 0)
    offset += 30 + nameBytes.length + zip64Len + alignLen + csize
  }
  const cdOffset = offset
  const zip64End = entries.length >= 0xffff || cdOffset > ZIP64_LIMIT || cdSize > ZIP64_LIMIT
  const out = new Uint8Array(cdOffset + cdSize + (zip64End ? 56 + 20 : 0) + 22)
  const dv = new DataView(out.buffer)
  const u16 = (o: number, v: number) => dv.setUint16(o, v, true)
  const u32 = (o: number, v: number) => dv.setUint32(o, v, true)
  const u64 = (o: number, v: number) => dv.setBigUint64(o, BigInt(v), true)

  for (const e of entries) {
    let o = e.offset
    u32(o, SIG_LOCAL)
    u16(o + 4, e.bigSizes ? 45 : 20) // version needed: 4.5 for zip64, else 2.0
    u16(o + 6, e.utf8 ? 0x800 : 0)
    u16(o + 8, e.method)
    u16(o + 10, DOS_TIME)
    u16(o + 12, DOS_DATE)
    u32(o + 18, e.bigSizes ? 0xffffffff : e.csize)
    u32(o + 22, e.bigSizes ? 0xffffffff : e.size)
    u16(o + 26, e.nameBytes.length)
    u16(o + 28, (e.bigSizes ? 20 : 0) + e.alignLen)
    out.set(e.nameBytes, o + 30)
    o += 30 + e.nameBytes.length
    if (e.bigSizes) {
      u16(o, 1)
      u16(o + 2, 16)
      u64(o + 4, e.size)
      u64(o + 12, e.csize)
      o += 20
    }
    if (e.alignLen) {
      u16(o, ALIGN_EXTRA_ID)
      u16(o + 2, e.alignLen - 4)
      u16(o + 4, ALIGN)
      o += e.alignLen // the padding stays zero
    }
    if (e.parts) {
      writeNpyParts(out, o, e.parts)
      e.crc = crc32(out.subarray(o, o + e.size))
    } else out.set(e.packed as Uint8Array, o)
    u32(e.offset + 14, e.crc)
  }

  let p = cdOffset
  for (const e of entries) {
    const bigOffset = e.offset > ZIP64_LIMIT
    const zip64 = (e.bigSizes ? 16 : 0) + (bigOffset ? 8 : 0)
    const needs = zip64 ? 45 : 20
    u32(p, SIG_CENTRAL)
    u16(p + 4, (3 << 8) | needs) // made by: unix
    u16(p + 6, needs)
    u16(p + 8, e.utf8 ? 0x800 : 0)
    u16(p + 10, e.method)
    u16(p + 12, DOS_TIME)
    u16(p + 14, DOS_DATE)
    u32(p + 16, e.crc)
    u32(p + 20, e.bigSizes ? 0xffffffff : e.csize)
    u32(p + 24, e.bigSizes ? 0xffffffff : e.size)
    u16(p + 28, e.nameBytes.length)
    u16(p + 30, zip64 ? 4 + zip64 : 0)
    u32(p + 38, (0o100644 << 16) >>> 0) // a regular file, rw-r--r--
    u32(p + 42, bigOffset ? 0xffffffff : e.offset)
    out.set(e.nameBytes, p + 46)
    p += 46 + e.nameBytes.length
    if (zip64) {
      // the 64-bit values of the fields marked 0xffffffff, in the order of those fields
      u16(p, 1)
      u16(p + 2, zip64)
      p += 4
      if (e.bigSizes) {
        u64(p, e.size)
        u64(p + 8, e.csize)
        p += 16
      }
      if (bigOffset) {
        u64(p, e.offset)
        p += 8
      }
    }
  }
  if (zip64End) {
    u32(p, SIG_EOCD64)
    u64(p + 4, 44) // the size of the rest of this record
    u16(p + 12, (3 << 8) | 45)
    u16(p + 14, 45)
    u64(p + 24, entries.length)
    u64(p + 32, entries.length)
    u64(p + 40, cdSize)
    u64(p + 48, cdOffset)
    u32(p + 56, SIG_LOCATOR64)
    u64(p + 64, p)
    u32(p + 72, 1) // disks in total
    p += 76
  }
  const cap = (v: number) => (v > ZIP64_LIMIT ? 0xffffffff : v)
  u32(p, SIG_EOCD)
  u16(p + 8, Math.min(entries.length, 0xffff))
  u16(p + 10, Math.min(entries.length, 0xffff))
  u32(p + 12, cap(cdSize))
  u32(p + 16, cap(cdOffset))
  return out
}
