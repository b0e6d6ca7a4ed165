/**
 * torch's `.pth` / `.pt` files, read without Python: the zip format `torch.save` writes since
 * 1.6 and the legacy format before it (`_use_new_zipfile_serialization=False`). Both hold one
 * pickle (torch-pickle.ts) whose persistent ids name storages; the container gives their bytes.
 *
 * - Zip: the archive prefix is the first entry's folder (the file's basename, not always
 *   `archive`), `<prefix>/data.pkl` is required, storages are `<prefix>/data/<key>`. Sizes come
 *   from the central directory (torch's local headers hold 0), data is found through each local
 *   header (its padding extra field differs from the directory's), ZIP64 end records are read,
 *   a CRC of 0 is accepted as torch accepts it (`set_crc32_options(False)`), and a deflated
 *   member is inflated no further than the size the directory declares. TorchScript archives
 *   (`constants.pkl`, `code/`) are refused.
 * - Legacy: five pickles (the 80-bit magic, protocol 1001, the system info, the object, the
 *   sorted storage keys), then each storage as an int64 element count and its bytes; every
 *   count must equal its id's, every read must lie within the file, and the last must end it.
 */
import type { NdArray } from '../compare/dtype.js'
import { CheckpointFormatError } from './errors.js'
import { clip } from './excerpt.js'
import { maxFileBytes, resolveLimits, sourceOf } from './limits.js'
import { inputBytes } from './npy.js'
import { asFileError, parsePickle, parseWholePickle } from './pickle.js'
import { NUMPY_DIALECT } from './pickle-globals.js'
import { conversionOf, convertValue } from './pickle-record.js'
import { describe, isMap, mapEntries, PyInt } from './pickle-values.js'
import { elementSize, type StorageRef, torchDialect } from './torch-pickle.js'
import { tensorArray } from './torch-tensor.js'
import type { NdRecord, ReadOptions } from './types.js'
import { readZipDirectory, type ZipMember, type ZipProfile, zipMemberBytes } from './zip-read.js'

/** What a checkpoint held: its arrays, and the keys of values that hold no number. */
export interface TorchContents {
  /** The state_dict or checkpoint as a record (a lone tensor saved alone: its array). */
  readonly value: NdArray | NdRecord
  /** Keys of None, str and bytes values (an optimizer's `foreach: None`), left out of `value`. */
  readonly skipped: readonly string[]
}

const TORCH_ZIP: ZipProfile = {
  Err: CheckpointFormatError,
  keyOf: (name) => name,
  refuseName: () => undefined,
  zeroCrcUnchecked: true,
}

/** `PROTO 2`, then `LONG1` of 10 bytes: the legacy magic number 0x1950a86a20f9469cfc6c. */
const LEGACY_START = [
  0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19,
]
const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn
const LEGACY_PROTOCOL = 1001n

/** Whether the bytes start as torch's legacy format does. */
export function looksLikeTorchLegacy(bytes: Uint8Array): boolean {
  return bytes.length >= LEGACY_START.length && LEGACY_START.every((b, i) => bytes[i] === b)
}

/**
 * Whether a zip archive is torch's rather than an `.npz`: its first entry is a file in a folder
 * (`<prefix>/data.pkl`, or `<prefix>/data/0` in a TorchScript archive) and no `.npy` member
 * (an `.npz` holds `.npy` files, and at most folder entries such as `x/`).
 */
export function looksLikeTorchZip(bytes: Uint8Array): boolean {
  if (bytes.length < 30 || bytes[0] !== 0x50 || bytes[1] !== 0x4b) return false
  const nameLen = (bytes[26] as number) | ((bytes[27] as number) << 8)
  const name = new TextDecoder().decode(bytes.subarray(30, 30 + nameLen))
  return name.includes('/') && !name.endsWith('/') && !name.endsWith('.npy')
}

/** The tree a torch pickle built, as a record (or a lone tensor's array). */
function torchValue(
  top: unknown,
  source: string,
  options: ReadOptions,
  littleEndian: boolean,
  storageBytes: (ref: StorageRef, key: string) => Uint8Array,
): TorchContents {
  const limits = resolveLimits(options)
  const tensors = { source, maxArrayBytes: limits.maxArrayBytes, littleEndian, storageBytes }
  const skipped: string[] = []
  const ctx = conversionOf(source, limits, {
    leaf: (v, key) => tensorArray(v, tensors, key),
    skipped,
  })
  let value: NdArray | NdRecord | undefined
  try {
    value = convertValue(top, ctx, '', 0)
  } catch (e) {
    throw asFileError(e, source)
  }
  if (value === undefined) {
    throw new CheckpointFormatError(
      source,
      undefined,
      `the file holds ${describe(top)}, no tensors`,
    )
  }
  return { value, skipped }
}

/**
 * Reads a torch zip-format file (`torch.save` since 1.6), already in memory.
 * @throws {CheckpointFormatError} for a damaged archive, a TorchScript archive, a missing or
 *   wrongly sized storage, or a view outside its storage, naming the member or the key.
 * @throws {PickleFormatError} for a malformed `data.pkl`; {@link ForbiddenGlobalError} for a
 *   global outside the allow-list (a whole-module save names its class and says what to save).
 */
export function decodeTorchZip(
  bytes: Uint8Array,
  source: string,
  options: ReadOptions = {},
): TorchContents {
  const limits = resolveLimits(options)
  const fail = (reason: string, key?: string): never => {
    throw new CheckpointFormatError(source, key, reason)
  }
  const members = readZipDirectory(bytes, source, limits, TORCH_ZIP)
  const first = members[0] ?? fail('an empty zip archive, not a torch file')
  const slash = first.name.indexOf('/')
  if (slash <= 0) {
    fail(`not a torch archive: its first entry '${clip(first.name)}' is in no folder`)
  }
  const prefix = first.name.slice(0, slash + 1)
  const byName = new Map<string, ZipMember>()
  for (const m of members) {
    byName.set(m.name, m)
    if (m.name === `${prefix}constants.pkl` || m.name.startsWith(`${prefix}code/`)) {
      fail(
        'a TorchScript archive (torch.jit.save): it holds code, not a state_dict; load it in Python and torch.save(model.state_dict()) instead',
      )
    }
  }
  const member = (name: string): Uint8Array | undefined => {
    const m = byName.get(name)
    return m === undefined ? undefined : zipMemberBytes(bytes, m, source, TORCH_ZIP)
  }
  const pickle =
    member(`${prefix}data.pkl`) ??
    fail(`no '${clip(prefix)}data.pkl' in the archive: not a torch.save file`)
  let littleEndian = true
  const order = member(`${prefix}byteorder`)
  if (order !== undefined) {
    const text = new TextDecoder().decode(order)
    if (text !== 'little' && text !== 'big') {
      fail(`byteorder '${clip(text)}', not 'little' or 'big'`, `${prefix}byteorder`)
    }
    littleEndian = text === 'little'
  }
  const storages = new Map<string, StorageRef>()
  const source_ = `${source}:${prefix}data.pkl`
  const top = parseWholePickle(pickle, source_, limits.maxDepth, torchDialect(storages, false))
  const read = new Map<string, Uint8Array>()
  return torchValue(top, source, options, littleEndian, (ref, key) => {
    const seen = read.get(ref.key)
    if (seen !== undefined) return seen
    const name = `${prefix}data/${ref.key}`
    const data =
      member(name) ?? fail(`its storage '${clip(ref.key)}' has no record '${clip(name)}'`, key)
    read.set(ref.key, data)
    return data
  })
}

/**
 * Reads a torch legacy-format file (`_use_new_zipfile_serialization=False`), already in memory.
 * @throws {CheckpointFormatError} for a wrong magic number or protocol, a storage count that
 *   differs from its id's, data past the end or bytes after the last storage.
 * @throws {PickleFormatError} / {@link ForbiddenGlobalError} as {@link decodeTorchZip}.
 */
export function decodeTorchLegacy(
  bytes: Uint8Array,
  source: string,
  options: ReadOptions = {},
): TorchContents {
  const limits = resolveLimits(options)
  const fail = (reason: string, key?: string): never => {
    throw new CheckpointFormatError(source, key, reason)
  }
  let pos = 0
  const next = (dialect = NUMPY_DIALECT): unknown => {
    const { value, end } = parsePickle(bytes.subarray(pos), source, limits.maxDepth, dialect)
    pos += end
    return value
  }
  const magic = next()
  if (!PyInt.is(magic) || PyInt.value(magic) !== LEGACY_MAGIC) {
    fail('not a torch legacy file: the first pickle is not its magic number')
  }
  const protocol = next()
  if (!PyInt.is(protocol) || PyInt.value(protocol) !== LEGACY_PROTOCOL) {
    fail(`legacy protocol ${describe(protocol)}, not 1001`)
  }
  const info = next()
  if (!isMap(info)) return fail(`system info that is ${describe(info)}, not a dict`)
  const little = mapEntries(info).find(([k]) => k === 'little_endian')?.[1]
  if (typeof little !== 'boolean') fail(`system info little_endian is ${describe(little)}`)
  const storages = new Map<string, StorageRef>()
  const top = next(torchDialect(storages, true))
  const keys = next()
  if (!Array.isArray(keys) || !keys.every((k) => typeof k === 'string')) {
    return fail(`storage keys that are ${describe(keys)}, not a list of str`)
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const data = new Map<string, Uint8Array>()
  for (const key of keys as string[]) {
    const ref = storages.get(key) ?? fail(`storage '${clip(key)}' is listed but no tensor names it`)
    if (data.has(key)) fail(`storage '${clip(key)}' is listed twice`)
    if (pos + 8 > bytes.length)
      fail(`storage '${clip(key)}': its count runs past the end (byte ${pos})`)
    const count = dv.getBigInt64(pos, little as boolean)
    if (count !== BigInt(ref.numel)) {
      fail(`storage '${clip(key)}' holds ${count} elements, its id declares ${ref.numel}`)
    }
    const size = ref.element === 'untyped' ? 1 : elementSize(ref.element)
    const nbytes = ref.numel * size
    if (nbytes > bytes.length - pos - 8) {
      fail(
        `storage '${clip(key)}': ${nbytes} bytes at byte ${pos + 8} run past the end (${bytes.length})`,
      )
    }
    data.set(key, bytes.subarray(pos + 8, pos + 8 + nbytes))
    pos += 8 + nbytes
  }
  if (pos !== bytes.length)
    fail(`${bytes.length - pos} bytes after the last storage (at byte ${pos})`)
  return torchValue(top, source, options, little as boolean, (ref, key) => {
    return data.get(ref.key) ?? fail(`its storage '${clip(ref.key)}' is not in the file`, key)
  })
}

/**
 * Reads a torch `.pth` / `.pt` file (a path, or its bytes) in either format, told apart by its
 * bytes: a state_dict or a training checkpoint as a record keyed by state_dict name in the file's
 * order (a tensor saved alone: its array). See {@link decodeTorchZip}, {@link decodeTorchLegacy}.
 */
export function readTorch(
  input: string | Uint8Array | ArrayBuffer,
  options: ReadOptions = {},
): TorchContents {
  const source = sourceOf(input, options)
  const limits = resolveLimits(options)
  const bytes = inputBytes(input, source, CheckpointFormatError, maxFileBytes('checkpoint', limits))
  if (bytes[0] === 0x50 && bytes[1] === 0x4b) return decodeTorchZip(bytes, source, options)
  if (bytes[0] === 0x80) return decodeTorchLegacy(bytes, source, options)
  throw new CheckpointFormatError(
    source,
    undefined,
    'not a torch file: neither a zip archive nor a pickle (the legacy format) at the start',
  )
}
