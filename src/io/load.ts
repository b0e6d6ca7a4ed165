/**
 * `load(path)`: one reader for every supported file, picked from the file's bytes (never from
 * its name): the npy magic with a pickled `|O` header is a reprod_log record, any other npy is an
 * array; the zip magic is torch's `.pth` when its first entry lies in a folder, else an `.npz`;
 * torch's legacy magic pickle is a legacy `.pth`; a little-endian header length that fits the
 * file, followed by a JSON object, is a `.safetensors`; any other pickle (protocol 2 to 5) is a
 * Paddle `.pdparams` (or a pickled dict of numpy arrays).
 */
import type { NdArray } from '../compare/dtype.js'
import { FileFormatError } from './errors.js'
import { maxFileBytes, resolveLimits, sourceOf } from './limits.js'
import { inputBytes, readNpy, readNpyHeader } from './npy.js'
import { NPY_MAGIC } from './npy-header.js'
import { readNpz } from './npz.js'
import { decodePdparams } from './paddle.js'
import { readReprodLog } from './reprod-log.js'
import { looksLikeSafetensors, readSafetensors } from './safetensors.js'
import {
  decodeTorchLegacy,
  decodeTorchZip,
  looksLikeTorchLegacy,
  looksLikeTorchZip,
} from './torch.js'
import type { NdRecord, ReadOptions } from './types.js'

/**
 * What a file held: an array (`.npy`, a tensor saved alone) or a record (`.npz`, reprod_log,
 * `.safetensors`, a state_dict or checkpoint).
 */
export type Loaded = NdArray | NdRecord

/** The kinds of file {@link load} tells apart. */
export type FileKind =
  | 'npy'
  | 'npz'
  | 'reprod_log'
  | 'safetensors'
  | 'torch'
  | 'torch-legacy'
  | 'pdparams'

const startsWith = (bytes: Uint8Array, magic: readonly number[] | Uint8Array): boolean =>
  bytes.length >= magic.length && magic.every((b, i) => bytes[i] === b)

/** Local file header, or the end-of-directory record of an empty archive. */
const ZIP_MAGICS = [
  [0x50, 0x4b, 0x03, 0x04],
  [0x50, 0x4b, 0x05, 0x06],
]

/** Which reader the bytes call for; throws a FileFormatError when none does. */
export function detectKind(bytes: Uint8Array, options: ReadOptions = {}): FileKind {
  if (startsWith(bytes, NPY_MAGIC)) {
    return readNpyHeader(bytes, options).descr === '|O' ? 'reprod_log' : 'npy'
  }
  if (ZIP_MAGICS.some((m) => startsWith(bytes, m)))
    return looksLikeTorchZip(bytes) ? 'torch' : 'npz'
  if (looksLikeTorchLegacy(bytes)) return 'torch-legacy'
  if (looksLikeSafetensors(bytes)) return 'safetensors'
  if (bytes[0] === 0x80 && (bytes[1] ?? 0) >= 2 && (bytes[1] ?? 0) <= 5) return 'pdparams'
  throw new FileFormatError(
    sourceOf(bytes, options),
    undefined,
    'not an .npy, .npz, reprod_log, .safetensors, torch or Paddle file (no npy, zip or pickle magic and no safetensors header at the start)',
  )
}

/**
 * Reads any supported file (a path, or its bytes): `.npy` gives an {@link NdArray}, `.npz`,
 * reprod_log records, `.safetensors`, torch `.pth` and Paddle `.pdparams` give a record (a
 * tensor saved alone gives its array). A checkpoint's None and str values are left out; use
 * {@link readCheckpoint} to see which. Every reader is bounded by `options`' limits.
 *
 * @throws {FileFormatError} (or a subclass) naming the path and the reason, for a path that is
 *   missing, not a regular file (a directory, a FIFO, `/dev/zero`), or too large, and for an
 *   input that is neither a path nor bytes.
 * @throws {AlignOptionsError} naming the option, for a limit that is not a number >= 0.
 */
export function load(input: string | Uint8Array | ArrayBuffer, options: ReadOptions = {}): Loaded {
  const source = sourceOf(input, options)
  const opts = { ...options, source }
  const limits = resolveLimits(options)
  // Paths go through the file gate: a regular file, no larger than any supported file can be.
  const bytes = inputBytes(input, source, FileFormatError, maxFileBytes('any', limits))
  switch (detectKind(bytes, opts)) {
    case 'npy':
      return readNpy(bytes, opts)
    case 'npz':
      return readNpz(bytes, opts)
    case 'reprod_log':
      return readReprodLog(bytes, opts)
    case 'safetensors':
      return readSafetensors(bytes, opts)
    case 'torch':
      return decodeTorchZip(bytes, source, opts).value
    case 'torch-legacy':
      return decodeTorchLegacy(bytes, source, opts).value
    case 'pdparams':
      return decodePdparams(bytes, source, opts).value
  }
}
