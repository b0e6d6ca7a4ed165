/**
 * `.npz` reading and writing: zip archives of `<key>.npy` members, stored (`np.savez`) or
 * deflated (`np.savez_compressed`), zip64 included. The zip structure is read by
 * `zip-read.ts` and written by `zip-write.ts`; each member is an `.npy` (`npy.ts`).
 */

import { deflateSync } from 'fflate'
import { withKeyOrder } from '../compare/key-order.js'
import { NpzFormatError, WriteError } from './errors.js'
import { writeFileGated } from './file-gate.js'
import { maxFileBytes, resolveLimits, sourceOf } from './limits.js'
import {
  arrayToWrite,
  decodeNpy,
  encodeNdArray,
  inputBytes,
  npyParts,
  type RecordInput,
  recordEntries,
  writeNpyParts,
} from './npy.js'
import type { NdRecord, ReadOptions } from './types.js'
import { crc32 } from './zip-crc.js'
import { npzKeyOf, readZipDirectory, zipMemberBytes } from './zip-read.js'
import { encodeZip, type ZipWriteMember } from './zip-write.js'

export { crc32, crc32Js } from './zip-crc.js'

/** Options of {@link encodeNpz}. */
export interface EncodeNpzOptions {
  /** Deflate every member (as `np.savez_compressed`); default false (stored, as `np.savez`). */
  compress?: boolean
}

/** A record of arrays to write, by name (a plain object or a Map). */
export type NpzInput = RecordInput

/**
 * Reads an `.npz` (a path, a Uint8Array or an ArrayBuffer) into a flat record: each member
 * `<key>.npy` under `key`, in the archive's order (kept, see `orderedKeys`), `/` in names kept
 * as is. Stored members' arrays are views into the input where aligned (see `readNpy`). Zip
 * problems throw NpzFormatError; a bad `.npy` inside throws NpyFormatError with the archive as
 * the source and the member's key.
 */
export function readNpz(
  input: string | Uint8Array | ArrayBuffer,
  options: ReadOptions = {},
): NdRecord {
  const source = sourceOf(input, options)
  const limits = resolveLimits(options)
  const bytes = inputBytes(input, source, NpzFormatError, maxFileBytes('npz', limits))
  const members = readZipDirectory(bytes, source, limits)
  const record: NdRecord = {}
  const keys: string[] = []
  for (const m of members) {
    const key = npzKeyOf(m.name)
    const array = decodeNpy(zipMemberBytes(bytes, m, source), source, limits, key)
    // defineProperty: a member named `__proto__.npy` must become a key, not a prototype.
    Object.defineProperty(record, key, {
      value: array,
      enumerable: true,
      writable: true,
      configurable: true,
    })
    keys.push(key)
  }
  return withKeyOrder(record, keys)
}

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
  const source = typeof path === 'string' ? path : '<argument>'
  writeFileGated(path, encodeRecord(record, options, source))
}

const encoder = new TextEncoder()

function encodeRecord(
  record: NpzInput,
  options: EncodeNpzOptions,
  source: string,
): Uint8Array<ArrayBuffer> {
  const pairs = recordEntries(record, source)
  const members: ZipWriteMember[] = pairs.map(([key, value]) => {
    // Python's zipfile cuts a name at its first NUL: np.load would see another key.
    if (key.includes('\0')) throw new WriteError(source, key, 'a key must not contain NUL')
    const nameBytes = encoder.encode(`${key}.npy`)
    if (nameBytes.length > 0xffff) throw new WriteError(source, key, 'the key is too long for zip')
    // biome-ignore lint/suspicious/noControlCharactersInRegex: testing for non-ASCII names
    const utf8 = !/^[\x00-\x7f]*$/.test(key)
    const nd = arrayToWrite(value, source, key)
    if (options.compress) {
      const npy = encodeNdArray(nd, undefined, source)
      return {
        nameBytes,
        utf8,
        size: npy.length,
        deflated: { bytes: deflateSync(npy, { level: 6 }), crc: crc32(npy) },
      }
    }
    const parts = npyParts(nd, undefined, source)
    return {
      nameBytes,
      utf8,
      size: parts.byteLength,
      store: (out, at) => writeNpyParts(out, at, parts),
    }
  })
  return encodeZip(members)
}
