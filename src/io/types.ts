import type { NdArray } from '../compare/dtype.js'

/** A record read from a file: arrays by name, nested for nested dicts (plain objects). */
export interface NdRecord {
  [key: string]: NdArray | NdRecord
}

/**
 * Limits that bound what an untrusted file can make the reader allocate. Every size a header
 * or an archive directory claims is checked against these (and against the bytes present)
 * before anything is allocated.
 */
export interface ReadLimits {
  /** Largest array, in bytes. Default 4 GiB. */
  maxArrayBytes?: number
  /** Largest `.npy` header, in bytes. Default 1 MiB (numpy itself refuses over 10 KB by default). */
  maxHeaderBytes?: number
  /** Largest inflated `.npz` member, and the sum of all members, in bytes. Default 4 GiB. */
  maxInflatedBytes?: number
  /** Most members in an `.npz`. Default 100,000. */
  maxMembers?: number
  /** Deepest nesting of a pickle (containers inside containers). Default 100. */
  maxDepth?: number
}

/** Options every reader takes. */
export interface ReadOptions extends ReadLimits {
  /** Names the bytes in errors when they did not come from a path. Default `<bytes>`. */
  source?: string
}

export const DEFAULT_LIMITS: Required<ReadLimits> = {
  maxArrayBytes: 4 * 2 ** 30,
  maxHeaderBytes: 2 ** 20,
  maxInflatedBytes: 4 * 2 ** 30,
  maxMembers: 100_000,
  maxDepth: 100,
}
