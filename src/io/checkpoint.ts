/**
 * `readCheckpoint(path)`: the weights a user starts a port from, in whichever format they came
 * (torch `.pth` in either format, Paddle `.pdparams`, `.safetensors`, told apart by their bytes),
 * as one record keyed by state_dict name in the file's order, with what the format adds beside
 * it: the values left out (None, str), Paddle's name table, safetensors' metadata.
 */
import { decodeFloat16, type NdArray } from '../compare/dtype.js'
import { AlignOptionsError } from '../compare/errors.js'
import { orderedKeys, withKeyOrder } from '../compare/key-order.js'
import { CheckpointFormatError } from './errors.js'
import { valueExcerpt } from './excerpt.js'
import { maxFileBytes, resolveLimits, sourceOf } from './limits.js'
import { detectKind, type Loaded } from './load.js'
import { inputBytes } from './npy.js'
import { decodePdparams } from './paddle.js'
import { parseSafetensors } from './safetensors.js'
import { decodeTorchLegacy, decodeTorchZip } from './torch.js'
import type { NdRecord, ReadOptions } from './types.js'

/** The checkpoint formats {@link readCheckpoint} reads. */
export type CheckpointFormat = 'torch' | 'torch-legacy' | 'pdparams' | 'safetensors'

/** Options of {@link readCheckpoint}. */
export interface CheckpointOptions extends ReadOptions {
  /**
   * How float16 arrays come back: `'float16'` (the default) keeps their bits exactly in a
   * `float16` array (a Uint16Array: Node 20 has no Float16Array; the compare core reads it);
   * `'float32'` widens them, exactly. bfloat16 always comes back as float32, exactly.
   */
  float16?: 'float16' | 'float32'
}

/** What a checkpoint held. */
export interface Checkpoint {
  /** The format the bytes were read as. */
  readonly format: CheckpointFormat
  /** The arrays, keyed by state_dict name in the file's order (nested for a training checkpoint). */
  readonly record: NdRecord
  /** Keys of values that hold no number (an optimizer's `foreach: None`), left out of `value`. */
  readonly skipped: readonly string[]
  /** Paddle's `StructuredToParameterName@@` (structured name to parameter name), when present. */
  readonly nameTable?: Readonly<Record<string, string>>
  /** safetensors' `__metadata__`, when present. */
  readonly metadata?: Readonly<Record<string, string>>
}

/**
 * Reads a checkpoint (a path, or its bytes): torch's zip or legacy `.pth`, Paddle's `.pdparams`
 * or `.safetensors`, safely (nothing in the file is run; every size is checked before anything is
 * allocated; see the README's "Checkpoints" section for the rules).
 *
 * @throws {CheckpointFormatError} for a file that is none of these, a damaged container, a
 *   TorchScript archive, a storage or view that does not fit, naming the key, and for a tensor
 *   saved alone (no state_dict: `load` reads it as an array).
 * @throws {PickleFormatError} for a malformed pickle; {@link ForbiddenGlobalError} for a global
 *   outside the allow-list (`os.system`; a whole-module save names its class).
 * @throws {SafetensorsFormatError} for a `.safetensors` the reference reader refuses.
 */
export function readCheckpoint(
  input: string | Uint8Array | ArrayBuffer,
  options: CheckpointOptions = {},
): Checkpoint {
  const source = sourceOf(input, options)
  const float16 = options.float16 ?? 'float16'
  if (float16 !== 'float16' && float16 !== 'float32') {
    throw new AlignOptionsError(
      'float16',
      `must be 'float16' or 'float32', got ${valueExcerpt(float16)}`,
    )
  }
  const limits = resolveLimits(options)
  const bytes = inputBytes(input, source, CheckpointFormatError, maxFileBytes('any', limits))
  const opts = { ...options, source }
  const kind = detectKind(bytes, opts)
  let out: Omit<Checkpoint, 'record'> & { value: Loaded }
  switch (kind) {
    case 'torch':
      out = { format: kind, ...decodeTorchZip(bytes, source, opts) }
      break
    case 'torch-legacy':
      out = { format: kind, ...decodeTorchLegacy(bytes, source, opts) }
      break
    case 'pdparams':
      out = { format: kind, ...decodePdparams(bytes, source, opts) }
      break
    case 'safetensors': {
      const { record, metadata } = parseSafetensors(bytes, opts)
      out = { format: kind, value: record, skipped: [] }
      if (metadata !== undefined) out = { ...out, metadata }
      break
    }
    default:
      throw new CheckpointFormatError(
        source,
        undefined,
        `a ${kind} file, not a checkpoint (torch .pth, Paddle .pdparams or .safetensors): read it with load()`,
      )
  }
  const { value, ...rest } = out
  if (isArray(value)) {
    throw new CheckpointFormatError(
      source,
      undefined,
      'the file holds one tensor saved alone, not a state_dict: read it with load()',
    )
  }
  return { ...rest, record: float16 === 'float32' ? (widened(value) as NdRecord) : value }
}

const isArray = (v: Loaded): v is NdArray => 'dtype' in v && ArrayBuffer.isView(v.data)

/** The value with every float16 array widened to float32 (exact). */
function widened(v: Loaded): Loaded {
  if (isArray(v)) {
    const a = v
    if (a.dtype !== 'float16') return a
    return { data: decodeFloat16(a.data as Uint16Array), shape: a.shape, dtype: 'float32' }
  }
  const record = v as NdRecord
  const out: NdRecord = {}
  const keys = orderedKeys(record)
  for (const k of keys) {
    Object.defineProperty(out, k, {
      value: widened(record[k] as Loaded),
      enumerable: true,
      writable: true,
      configurable: true,
    })
  }
  return withKeyOrder(out, keys)
}
