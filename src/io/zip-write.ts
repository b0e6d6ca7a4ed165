/**
 * The zip writer of `.npz` archives. Why not fflate's `zipSync`: it writes no zip64 (sizes and
 * counts are written in 32 and 16 bits, so more than 65,535 members or 4 GiB give a corrupt
 * archive) and stamps the current time (the output would not be reproducible). Stored members
 * are padded (an extra field, as Android's zipalign does) so their data starts at a multiple of
 * 64 in the archive, which lets the reader return views.
 */
import { crc32 } from './zip-crc.js'

const SIG_LOCAL = 0x04034b50
const SIG_CENTRAL = 0x02014b50
const SIG_EOCD = 0x06054b50
const SIG_EOCD64 = 0x06064b50
const SIG_LOCATOR64 = 0x07064b50
/** Python's zipfile switches to zip64 above this (it stays clear of signed 32-bit readers). */
const ZIP64_LIMIT = 2 ** 31 - 1
/** Extra field id that pads a stored member so its data starts aligned (as Android's zipalign). */
const ALIGN_EXTRA_ID = 0xd935
const ALIGN = 64
/** 1980-01-01 00:00, the earliest DOS date: fixed so that the same arrays give the same bytes. */
const DOS_DATE = (0 << 9) | (1 << 5) | 1
const DOS_TIME = 0

/** One member to write: stored (written in place by `store`) or already deflated. */
export interface ZipWriteMember {
  /** The name's bytes (utf-8), at most 65,535. */
  readonly nameBytes: Uint8Array
  /** Whether the name has non-ASCII characters (the utf-8 flag is set then). */
  readonly utf8: boolean
  /** The uncompressed size. */
  readonly size: number
  /** A stored member: writes its `size` bytes at `out[at]` (no intermediate copy). */
  readonly store?: (out: Uint8Array, at: number) => void
  /** A deflated member: its raw deflate bytes and the CRC-32 of its uncompressed bytes. */
  readonly deflated?: { readonly bytes: Uint8Array; readonly crc: number }
}

interface Entry {
  nameBytes: Uint8Array
  utf8: boolean
  method: 0 | 8
  crc: number
  size: number
  store: ((out: Uint8Array, at: number) => void) | undefined
  packed: Uint8Array | undefined
  csize: number
  /** Where the local header starts. */
  offset: number
  /** Whether the sizes go to zip64 extras (local and central). */
  bigSizes: boolean
  /** Bytes of the alignment extra field of a stored member (0: none). */
  alignLen: number
}

/** The archive of `members`, in their order; zip64 where a size, an offset or the count needs it. */
export function encodeZip(members: readonly ZipWriteMember[]): Uint8Array<ArrayBuffer> {
  // Layout: every member's local header, extras and data, then the central directory.
  const entries: Entry[] = []
  let offset = 0
  let cdSize = 0
  for (const m of members) {
    const method = m.deflated ? 8 : 0
    const csize = m.deflated ? m.deflated.bytes.length : m.size
    const bigSizes = m.size > ZIP64_LIMIT || csize > ZIP64_LIMIT
    const zip64Len = bigSizes ? 20 : 0
    // An extra field of 6 bytes at least (id, size, alignment) plus the padding.
    const start = offset + 30 + m.nameBytes.length + zip64Len + 6
    const alignLen = method === 0 ? 6 + ((ALIGN - (start % ALIGN)) % ALIGN) : 0
    entries.push({
      nameBytes: m.nameBytes,
      utf8: m.utf8,
      method,
      crc: m.deflated?.crc ?? 0, // a stored member's CRC is computed once it is written
      size: m.size,
      store: m.store,
      packed: m.deflated?.bytes,
      csize,
      offset,
      bigSizes,
      alignLen,
    })
    const centralZip64 = (bigSizes ? 16 : 0) + (offset > ZIP64_LIMIT ? 8 : 0)
    cdSize += 46 + m.nameBytes.length + (centralZip64 ? 4 + centralZip64 : 0)
    offset += 30 + m.nameBytes.length + zip64Len + alignLen + csize
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
    if (e.store) {
      e.store(out, o)
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
