/**
 * The zip reader of `.npz` archives: the central directory and each member's bytes, checked
 * as an untrusted archive must be. Why not fflate's `unzipSync` (0.8.3, checked): it does not
 * fail on a damaged directory (a local header offset past the end gives an empty member, a
 * stored member running past the end is cut short, a duplicate name silently keeps the last
 * one) and does not verify CRC-32 (Python's zipfile, which np.load uses, does); each of these
 * is refused here, naming the member, and every size and count is checked against the limits
 * before anything is inflated or allocated.
 *
 * Inflating uses fflate's streaming {@link Inflate}, not `inflateSync` with an output buffer of
 * the declared size: given a buffer, `inflateSync` drops what does not fit but keeps decoding
 * to the end of the stream, so 3 MB of maximum-ratio deflate declared as 1,000 bytes spins for
 * minutes before it is refused. Pushed in chunks, with a running total, the stream is abandoned
 * as soon as it passes its declared size: the work is bounded by the declared size, not by
 * what the stream would inflate to.
 */
import { Inflate } from 'fflate'
import { NpzFormatError } from './errors.js'
import { clip } from './excerpt.js'
import type { FileErrorClass } from './file-gate.js'
import { crc32 } from './zip-crc.js'

const SIG_LOCAL = 0x04034b50
const SIG_CENTRAL = 0x02014b50
const SIG_EOCD = 0x06054b50
const SIG_EOCD64 = 0x06064b50
const SIG_LOCATOR64 = 0x07064b50

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

/** A member's key: its name without `.npy`, else the name (in errors). */
export const npzKeyOf = (name: string): string => (name.endsWith('.npy') ? name.slice(0, -4) : name)

/** What one kind of archive (`.npz`, torch's `.pth`) asks of the shared zip checks. */
export interface ZipProfile {
  /** The error every refusal throws. */
  readonly Err: FileErrorClass
  /** The key an error names for a member. */
  readonly keyOf: (name: string) => string
  /** Why a member of this name does not belong in the archive, or `undefined`. */
  readonly refuseName: (name: string) => string | undefined
  /**
   * Whether a CRC-32 of 0 in the directory means "not computed": torch's
   * `set_crc32_options(False)` writes 0 and torch loads such files, so its reader must too.
   */
  readonly zeroCrcUnchecked: boolean
}

/** `.npz`: only `.npy` members, every CRC checked (as Python's zipfile, which np.load uses). */
export const NPZ_PROFILE: ZipProfile = {
  Err: NpzFormatError,
  keyOf: npzKeyOf,
  refuseName: (name) =>
    name.endsWith('.npy') ? undefined : `member '${clip(name)}' is not a .npy file`,
  zeroCrcUnchecked: false,
}

/**
 * Reads and checks a zip's central directory and every local header: bounded by `limits`
 * (count, declared sizes), strict about structure (one disk, no encryption, stored or deflate,
 * no duplicate or overlapping members, the local name equal to the central one). Nothing is
 * inflated. Errors are the profile's (NpzFormatErrors by default) naming `source` and the member.
 */
export function readZipDirectory(
  bytes: Uint8Array,
  source: string,
  limits: { maxMembers: number; maxInflatedBytes: number },
  profile: ZipProfile = NPZ_PROFILE,
): ZipMember[] {
  const keyOf = profile.keyOf
  const fail = (reason: string, key?: string): never => {
    throw new profile.Err(source, key, reason)
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
    const refused = profile.refuseName(name)
    if (refused !== undefined) fail(refused, key)
    if (names.has(name)) fail(`duplicate member '${clip(name)}'`, key)
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
        `the local header names '${clip(decodeName(local, true) ?? '?')}', the directory '${clip(m.name)}'`,
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
      fail(`members '${clip(a.name)}' and '${clip(b.name)}' overlap`, keyOf(b.name))
    }
  }
  return out
}

/** Deflate's largest ratio: one compressed byte inflates to at most this many. */
const DEFLATE_MAX_RATIO = 1032

/**
 * Inflates `packed` into exactly `size` bytes, or fails with a reason. Compressed bytes are
 * pushed in chunks small enough that one chunk cannot inflate to much more than what remains
 * of the declared size (at least 1 KiB, so a valid member is not pushed byte by byte).
 */
function boundedInflate(
  packed: Uint8Array,
  size: number,
  fail: (reason: string) => never,
): Uint8Array {
  let out: Uint8Array
  try {
    out = new Uint8Array(size)
  } catch (e) {
    return fail(`cannot allocate ${size} bytes to inflate it: ${(e as Error).message}`)
  }
  let total = 0
  let over = false
  let ended = false
  const inflate = new Inflate((chunk, final) => {
    if (chunk.length > size - total) {
      over = true
      return
    }
    out.set(chunk, total)
    total += chunk.length
    if (final) ended = true
  })
  let at = 0
  try {
    while (!over && at < packed.length) {
      const room = Math.floor((size + 1 - total) / DEFLATE_MAX_RATIO)
      const n = Math.max(1024, room)
      const end = Math.min(packed.length, at + n)
      inflate.push(packed.subarray(at, end), end === packed.length)
      at = end
    }
  } catch (e) {
    return fail(`bad deflate data: ${(e as Error).message}`)
  }
  if (over) return fail(`inflates to more than its declared ${size} bytes`)
  if (!ended || total < size) fail(`inflates to ${total} bytes, it declares ${size}`)
  return out
}

/** A member's uncompressed bytes: a view for stored members, else a bounded inflate; CRC checked. */
export function zipMemberBytes(
  bytes: Uint8Array,
  m: ZipMember,
  source: string,
  profile: ZipProfile = NPZ_PROFILE,
): Uint8Array {
  const key = profile.keyOf(m.name)
  const fail = (reason: string): never => {
    throw new profile.Err(source, key, reason)
  }
  const packed = bytes.subarray(m.dataOffset, m.dataOffset + m.compressedSize)
  // A valid deflate stream is never empty (an empty member deflates to 2 bytes).
  if (m.method !== 0 && packed.length === 0) fail('empty deflate stream')
  const data = m.method === 0 ? packed : boundedInflate(packed, m.size, fail)
  if (m.crc === 0 && profile.zeroCrcUnchecked) return data
  const crc = crc32(data)
  if (crc !== m.crc) {
    fail(`CRC-32 mismatch: the data gives ${hex8(crc)}, the directory says ${hex8(m.crc)}`)
  }
  return data
}

const hex8 = (n: number): string => `0x${n.toString(16).padStart(8, '0')}`
