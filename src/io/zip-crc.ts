/**
 * CRC-32 (IEEE, as zip uses): Node's native `zlib.crc32` where it exists (20.15+), else a table
 * implementation. fflate has no CRC-32 export, hence the few lines here.
 */
import * as zlib from 'node:zlib'

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
