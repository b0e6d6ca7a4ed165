/**
 * Typed errors of the file readers and writers. Each names the file (or `<bytes>` when there is
 * none), the key inside it where there is one, and the reason, in one message built here.
 */
import { AlignError } from '../compare/errors.js'
import { keyExcerpt } from './excerpt.js'

/** Where the bytes came from: a path, a member of an archive (`a.npz:logits.npy`), or `<bytes>`. */
export type Source = string

// The key is cut (a file's key can be a megabyte long); `key` keeps it whole.
function describe(source: Source, key: string | undefined, reason: string): string {
  return `${keyExcerpt(source)}${key !== undefined ? ` [key '${keyExcerpt(key)}']` : ''}: ${reason}`
}

/** Base class of every file error: the file, the key (if any) and the reason. */
export class FileFormatError extends AlignError {
  override name = 'FileFormatError'
  constructor(
    /** The file path, the archive member, or `<bytes>`. */
    readonly source: Source,
    /** The key inside a record or archive, when the problem is in one. */
    readonly key: string | undefined,
    /** Why the bytes were refused. */
    readonly reason: string,
  ) {
    super(describe(source, key, reason))
  }
}

/** A bad `.npy`: magic, version, header, dtype, shape, or too few bytes. */
export class NpyFormatError extends FileFormatError {
  override name = 'NpyFormatError'
}

/** A bad `.npz`: not a zip, a member over the size limit, a member that is not `.npy`. */
export class NpzFormatError extends FileFormatError {
  override name = 'NpzFormatError'
}

/**
 * A bad `.safetensors`: a header length past the bytes or the 100 MB bound, a header that is not
 * a JSON object, a tensor entry that breaks the format's rules (dtype, shape, offsets), a hole,
 * an overlap or trailing bytes.
 */
export class SafetensorsFormatError extends FileFormatError {
  override name = 'SafetensorsFormatError'
}

/**
 * A checkpoint (torch `.pth`, Paddle `.pdparams`) whose container or tensors are refused: a
 * damaged zip or legacy layout, a TorchScript archive, a storage record of the wrong size, a
 * view outside its storage, Paddle's split arrays that do not rebuild. (Its pickle's own
 * problems are {@link PickleFormatError}s.)
 */
export class CheckpointFormatError extends FileFormatError {
  override name = 'CheckpointFormatError'
}

/** A bad pickle: truncated, an unknown opcode, or a global outside the allowed list. */
export class PickleFormatError extends FileFormatError {
  override name = 'PickleFormatError'
}

/** A pickle that names a global the reader refuses (`os.system`, `builtins.eval`, ...). */
export class ForbiddenGlobalError extends PickleFormatError {
  override name = 'ForbiddenGlobalError'
  constructor(
    source: Source,
    /** `module.name` of the refused global. */
    readonly global: string,
    /** Why, in the file kind's terms (what the file is, what to save instead). */
    advice = 'only numpy array globals are allowed',
  ) {
    super(source, undefined, `refused global '${keyExcerpt(global)}': ${advice}`)
  }
}

/** A value that cannot be written in the asked format (a string, an object array, ...). */
export class WriteError extends FileFormatError {
  override name = 'WriteError'
}

/**
 * A header or descr the parsers refuse, before the source is known to them; the readers turn
 * it into an {@link NpyFormatError} (or a {@link PickleFormatError}) naming the source and key.
 */
export class NpyHeaderError extends Error {
  override name = 'NpyHeaderError'
}
