/**
 * The one check of the read limits, used by every reader. A limit is a number >= 0 (an
 * integer or not: it is only ever compared with sizes) or `Infinity` for no limit. NaN is
 * refused because every `size > NaN` test is false: it would silently disable the limit.
 */
import { AlignOptionsError } from '../compare/errors.js'
import { valueExcerpt } from './excerpt.js'
import { DEFAULT_LIMITS, type ReadLimits, type ReadOptions } from './types.js'

const LIMIT_NAMES = Object.keys(DEFAULT_LIMITS) as (keyof ReadLimits)[]

/**
 * The limits with every default filled in.
 *
 * @throws {AlignOptionsError} naming the option, for a limit that is not a number >= 0
 *   (NaN, negative, a string, ...), or options that are not an object.
 */
export function resolveLimits(options: ReadLimits = {}): Required<ReadLimits> {
  if (options === null || typeof options !== 'object') {
    throw new AlignOptionsError('options', `must be an object, got ${valueExcerpt(options)}`)
  }
  const out = { ...DEFAULT_LIMITS }
  for (const name of LIMIT_NAMES) {
    const v: unknown = options[name]
    if (v === undefined) continue
    if (typeof v !== 'number' || Number.isNaN(v) || v < 0) {
      throw new AlignOptionsError(
        name,
        `must be a number >= 0 (Infinity for no limit), got ${valueExcerpt(v)}`,
      )
    }
    out[name] = v
  }
  return out
}

/**
 * The name errors give the bytes: `options.source`, else the path, else `<bytes>`.
 *
 * @throws {AlignOptionsError} when `options.source` is given but is not a string.
 */
export function sourceOf(input: unknown, options: ReadOptions = {}): string {
  const given: unknown = options?.source
  if (given !== undefined && typeof given !== 'string') {
    throw new AlignOptionsError('source', `must be a string, got ${valueExcerpt(given)}`)
  }
  return given ?? (typeof input === 'string' ? input : '<bytes>')
}

/** The reference reader's bound on a `.safetensors` header's length (`MAX_HEADER_SIZE`). */
export const SAFETENSORS_MAX_HEADER = 100_000_000

/** What a file may weigh, per kind, given the limits: nothing larger can be a valid one. */
export function maxFileBytes(
  kind: 'npy' | 'npz' | 'reprod_log' | 'safetensors' | 'checkpoint' | 'any',
  limits: Required<ReadLimits>,
): number {
  const npy = 12 + limits.maxHeaderBytes + limits.maxArrayBytes
  // Deflate can add 5 bytes per 16 KiB stored block; each member brings its zip headers,
  // whose names and extras are at most 2 * 64 KiB each, plus the end records.
  const npz = limits.maxInflatedBytes * 1.01 + limits.maxMembers * 4 * 65_600 + 2 ** 20
  // A record's pickle holds its arrays' bytes plus a bounded overhead per array.
  const pickle = 12 + limits.maxHeaderBytes + limits.maxArrayBytes * 1.01 + 2 ** 24
  // safetensors: the header within the format's bound, then every tensor, which together are
  // bounded like an .npz's members
  const safetensors = 8 + SAFETENSORS_MAX_HEADER + limits.maxInflatedBytes
  switch (kind) {
    case 'npy':
      return npy
    case 'npz':
      return npz
    case 'reprod_log':
      return pickle
    case 'safetensors':
      return safetensors
    // torch's zip holds its storages as members (bounded like an .npz's); its legacy format and
    // Paddle's pickles hold them inline (bounded like a record's pickle)
    case 'checkpoint':
      return Math.max(npz, pickle)
    case 'any':
      return Math.max(npy, npz, pickle, safetensors)
  }
}
