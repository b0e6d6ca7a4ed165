/**
 * reprod_log's files and reports, in TypeScript: read and write its records (`np.save` of a
 * dict: a `.npy` of a pickled 0-d object array), log arrays as its `ReprodLogger` does, and
 * diff two records into the very lines its `ReprodDiffHelper.report` logs, with numpy's values
 * to the last bit, but with a verdict returned, missing keys named, NaN failing and no
 * repeated lines.
 */

import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname } from 'node:path'
import { compare } from '../compare/compare.js'
import type { NdArray } from '../compare/dtype.js'
import { AlignInputError } from '../compare/errors.js'
import { describeFailure, formatShape } from '../compare/format.js'
import { DEFAULT_THRESHOLD, type ReprodMethod } from '../compare/options.js'
import type { AlignResult, Failure, KeyResult } from '../compare/result.js'
import {
  type AlignNode,
  type AlignRecord,
  type ArrayInput,
  isRecordNode,
  normalize,
  type RecordNode,
} from '../compare/tensor-like.js'
import { NpyFormatError, WriteError } from './errors.js'
import { absDiffStats } from './numpy-sum.js'
import { unpickleRecord } from './pickle.js'
import { pickleRecord } from './pickle-writer.js'
import { pyFloatRepr } from './py-repr.js'
import { DEFAULT_LIMITS, type NdRecord, type ReadOptions } from './types.js'

// ---------------------------------------------------------------------------------------------
// Files

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59] // \x93NUMPY

/**
 * The `.npy` header numpy 1.x writes for a record (`np.save` of a dict): version 1.0, the dict
 * `{'descr': '|O', 'fortran_order': False, 'shape': (), }` padded with spaces to 128 bytes.
 */
const RECORD_HEADER = (() => {
  const dict = "{'descr': '|O', 'fortran_order': False, 'shape': (), }"
  const text = `${dict}${' '.repeat(128 - 10 - dict.length - 1)}\n`
  const out = new Uint8Array(128)
  out.set([...MAGIC, 1, 0, text.length & 0xff, text.length >> 8])
  for (let i = 0; i < text.length; i++) out[10 + i] = text.charCodeAt(i)
  return out
})()

/**
 * Checks the `.npy` header of a record (magic, version 1.0/2.0/3.0, header length, a dict with
 * `descr` `'|O'` and shape `()`) and returns where the pickle starts.
 */
export function recordPickleOffset(bytes: Uint8Array, options: ReadOptions = {}): number {
  const source = options.source ?? '<bytes>'
  const fail = (reason: string): never => {
    throw new NpyFormatError(source, undefined, reason)
  }
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b)) {
    fail('not a .npy file (no \\x93NUMPY magic)')
  }
  const major = bytes[6] as number
  if (major < 1 || major > 3 || bytes[7] !== 0) fail(`unknown .npy version ${major}.${bytes[7]}`)
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const prefix = major === 1 ? 10 : 12
  if (bytes.length < prefix) fail('truncated .npy header')
  const length = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true)
  const maxHeader = options.maxHeaderBytes ?? DEFAULT_LIMITS.maxHeaderBytes
  if (length > maxHeader) fail(`header of ${length} bytes is over maxHeaderBytes ${maxHeader}`)
  if (prefix + length > bytes.length) {
    fail(`truncated .npy header: ${length} bytes announced, ${bytes.length - prefix} present`)
  }
  const raw = bytes.subarray(prefix, prefix + length)
  let header: string
  try {
    header = new TextDecoder(major === 3 ? 'utf-8' : 'latin1', { fatal: true }).decode(raw).trim()
  } catch {
    return fail('the .npy header is not valid text')
  }
  if (!header.startsWith('{') || !header.endsWith('}')) fail(`a .npy header that is not a dict`)
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(header)?.[1]
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header)?.[1]
  const shape = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)?.[1]
  if (descr === undefined || fortran === undefined || shape === undefined) {
    fail(`a .npy header without descr, fortran_order and shape: ${header}`)
  }
  if (descr !== '|O' && descr !== 'O' && descr !== '|O8') {
    fail(
      `descr '${descr}' with shape (${shape}): a plain array, not a reprod_log record (a pickled dict, descr '|O')`,
    )
  }
  if ((shape as string).trim() !== '') {
    fail(`an object array of shape (${shape}), not a record (shape ())`)
  }
  return prefix + length
}

function asBytes(input: Uint8Array | ArrayBuffer): Uint8Array {
  return input instanceof Uint8Array ? input : new Uint8Array(input)
}

/**
 * Reads a reprod_log record: a `.npy` of a pickled dict, as `ReprodLogger.save` (that is
 * `np.save(path, dict)`) writes it with numpy 1.x (protocol 3) or 2.x (protocol 4). Given a
 * path, reads the file (as is: unlike `save`, `np.load` adds no `.npy`). Values become
 * {@link NdArray}s (row-major, native byte order; numpy scalars and Python numbers as 0-d
 * arrays) and nested dicts nested records, in the file's key order (except that JS puts
 * integer-like keys such as `'0'` first). Only numpy's array globals are resolved: no pickle can
 * run code.
 *
 * @throws {NpyFormatError} when the header is not a record's.
 * @throws {PickleFormatError} when the pickle is malformed or holds something else than arrays,
 *   numbers and dicts (naming the key).
 * @throws {ForbiddenGlobalError} when the pickle names any other global (`os.system`...).
 */
export function readReprodLog(
  input: string | Uint8Array | ArrayBuffer,
  options: ReadOptions = {},
): NdRecord {
  const source = options.source ?? (typeof input === 'string' ? input : '<bytes>')
  const bytes = typeof input === 'string' ? readFileSync(input) : asBytes(input)
  const opts = { ...options, source }
  const offset = recordPickleOffset(bytes, opts)
  return unpickleRecord(bytes.subarray(offset), opts)
}

/**
 * The bytes of a reprod_log record file, exactly as numpy 1.x's `np.save(path, dict)` writes
 * them (the 128-byte header, then the protocol-3 pickle). Values may be any array input
 * (NdArrays, typed arrays, tensors, numbers); nested records become nested dicts.
 *
 * @throws {WriteError} for a value that is neither an array nor a record, naming its key.
 */
export function encodeReprodLog(record: NdRecord | AlignRecord): Uint8Array {
  const pickle = pickleRecord(record)
  const out = new Uint8Array(RECORD_HEADER.length + pickle.length)
  out.set(RECORD_HEADER)
  out.set(pickle, RECORD_HEADER.length)
  return out
}

/** The path numpy saves to: `.npy` appended when missing, as `np.save` does. */
function npyPath(path: string): string {
  return path.endsWith('.npy') ? path : `${path}.npy`
}

/**
 * Writes a reprod_log record file, as `ReprodLogger.save` does: the folder is created when
 * needed and `.npy` is appended when the path lacks it (as `np.save`). Returns the path written.
 *
 * @throws {WriteError} for a value that is neither an array nor a record, naming its key.
 */
export function writeReprodLog(path: string, record: NdRecord | AlignRecord): string {
  const file = npyPath(path)
  const bytes = encodeReprodLog(record)
  mkdirSync(dirname(file), { recursive: true })
  writeFileSync(file, bytes)
  return file
}

// ---------------------------------------------------------------------------------------------
// ReprodLogger

/**
 * reprod_log's `ReprodLogger`: collects named arrays and saves them as one record file.
 * Unlike the Python class, `add` takes any array input (typed arrays, NdArrays, TF.js tensors,
 * nested arrays, numbers) and stores a copy, and `remove` returns whether the key was there.
 */
export class ReprodLogger {
  readonly #data: NdRecord = {}

  /** The arrays logged so far, by key, in the order added (the live record, as in Python). */
  get data(): NdRecord {
    return this.#data
  }

  /**
   * Logs `value` under `key`, overwriting an existing key silently (as reprod_log). The value is
   * normalized to an {@link NdArray} and its data copied, so later changes to the source
   * array do not change the log.
   *
   * @throws {WriteError} when the value is not an array (a string, a record...).
   */
  add(key: string, value: ArrayInput): void {
    let node: AlignNode
    try {
      node = normalize(value, 'actual')
    } catch (e) {
      if (e instanceof AlignInputError) throw new WriteError('ReprodLogger', key, e.reason)
      throw e
    }
    if (isRecordNode(node)) {
      throw new WriteError('ReprodLogger', key, 'an array is needed, not a record')
    }
    const copy = { data: node.data.slice(), shape: [...node.shape], dtype: node.dtype } as NdArray
    Object.defineProperty(this.#data, key, {
      value: copy,
      enumerable: true,
      writable: true,
      configurable: true,
    })
  }

  /** Removes `key`; returns false when it was not logged (reprod_log prints a message instead). */
  remove(key: string): boolean {
    if (!Object.hasOwn(this.#data, key)) return false
    delete this.#data[key]
    return true
  }

  /** Removes every key. */
  clear(): void {
    for (const key of Object.keys(this.#data)) delete this.#data[key]
  }

  /**
   * Saves the record as reprod_log does (`np.save(path, data)`): creates the folder, appends
   * `.npy` when the path lacks it, writes numpy 1.x's bytes. Returns the path written.
   */
  save(path: string): string {
    return writeReprodLog(path, this.#data)
  }
}

// ---------------------------------------------------------------------------------------------
// Diff report

/** Options of {@link diffReprodLogs}. */
export interface ReprodDiffOptions {
  /** The statistic of |Δ| checked: `'mean'` (default), `'max'`, `'min'`, or `'all'` (all three). */
  method?: ReprodMethod
  /** Each statistic must be <= this (reprod_log: fails only when strictly above). Default 1e-6. */
  threshold?: number
  /**
   * Let a key pass that an all-zero candidate would pass too (see the core's vacuity rule).
   * Default false: such a check proves nothing, and fails with a line saying so.
   */
  allowVacuous?: boolean
}

/** The report of {@link diffReprodLogs}. */
export interface ReprodDiff {
  /** The verdict: every key present on both sides and within the threshold. */
  readonly pass: boolean
  /** The core's result of the same comparison (every key's statistics and failures). */
  readonly result: AlignResult
  /** The report, as reprod_log logs it (without the logger's `[date] root INFO: ` prefix). */
  readonly lines: readonly string[]
}

const INDENT = '\t'
const STATS: Record<ReprodMethod, readonly ('mean' | 'max' | 'min')[]> = {
  mean: ['mean'],
  max: ['max'],
  min: ['min'],
  all: ['min', 'max', 'mean'],
}

const join = (key: string, child: string): string => (key === '' ? child : `${key}.${child}`)

const squeeze = (shape: readonly number[]) => shape.filter((d) => d !== 1)
const sameSqueezed = (a: readonly number[], b: readonly number[]) => {
  const x = squeeze(a)
  const y = squeeze(b)
  return x.length === y.length && x.every((d, i) => d === y[i])
}

/** A statistic as reprod_log prints it: `'{}'.format` of a numpy scalar. */
function formatStat(v: number | bigint, integer: boolean): string {
  if (typeof v === 'bigint') return v.toString()
  return integer ? String(v) : pyFloatRepr(v)
}

/**
 * Diffs two reprod_log records into reprod_log's report: for each key of the reference (in its
 * order), `key: ` and one line per statistic, `\tmean diff: check passed: True, value:
 * 2.308018565599923e-06`; a nested dict prints `key` and its keys one tab deeper; the last line
 * is `diff check passed` or `diff check failed`. Each value is what numpy computes
 * (`np.abs(ref - cand).mean()` in the arrays' dtype, with numpy's pairwise summation), printed as
 * Python prints a float, so the lines equal reprod_log's byte for byte.
 *
 * Unlike reprod_log, the verdict is returned (and comes from {@link compare} with `{ method,
 * threshold, shape: 'squeeze' }`); a key missing on either side is a line
 * (`loss_3: missing from candidate`) and a failure, not a bare assert; a NaN or infinite
 * statistic fails (`check passed: False, value: nan`); a failing statistic does not make the
 * key's later statistics print False; and when the core fails a key for a reason reprod_log
 * has no line for (shapes that differ beyond size-1 dimensions, a vacuous check, a statistic
 * that passes in the dtype's precision but not exactly), an indented `check failed: ...` line
 * says why. Shapes that differ only by size-1 dimensions (`()` vs `(1,)`) are compared element
 * by element, as numpy broadcasts them.
 *
 * @param reference The reference record (reprod_log's first dict: the PyTorch side).
 * @param candidate The record of the port.
 * @throws {AlignOptionsError} for a bad method or threshold.
 * @throws {AlignInputError} when either side is not a record of arrays.
 */
export function diffReprodLogs(
  reference: NdRecord | AlignRecord,
  candidate: NdRecord | AlignRecord,
  options: ReprodDiffOptions = {},
): ReprodDiff {
  const method = options.method ?? 'mean'
  const threshold = options.threshold ?? DEFAULT_THRESHOLD
  const ref = normalize(reference, 'expected')
  const cand = normalize(candidate, 'actual')
  if (!isRecordNode(ref)) throw new AlignInputError('', 'expected', 'a record is needed')
  if (!isRecordNode(cand)) throw new AlignInputError('', 'actual', 'a record is needed')
  // the core's verdict on the same pair (it walks the keys in the same order as below)
  const result = compare(candidate, reference, {
    method,
    threshold,
    shape: 'squeeze',
    ...(options.allowVacuous !== undefined && { allowVacuous: options.allowVacuous }),
  })

  const lines: string[] = []
  let linesPass = true
  let at = 0
  const next = (key: string): KeyResult => {
    const k = result.keys[at++]
    if (k === undefined || k.key !== key) throw new Error(`internal: no result for key '${key}'`)
    return k
  }
  const explain = (k: KeyResult, f: Failure, indent: string): string => {
    if (f.kind === 'shape') {
      return `${indent}check failed: shapes differ beyond size-1 dimensions: reference ${formatShape(k.expected?.shape ?? [])}, candidate ${formatShape(k.actual?.shape ?? [])}`
    }
    if (f.kind === 'structure') {
      return `${indent}check failed: the reference is ${f.expected === 'record' ? 'a dict' : 'an array'}, the candidate ${f.actual === 'record' ? 'a dict' : 'an array'}`
    }
    if (f.kind === 'threshold') {
      // numpy's value (in the dtype's precision) passed; the exact one does not
      return `${indent}check failed: ${f.method} |Δ| computed exactly (float64) is ${pyFloatRepr(f.value)}, above ${pyFloatRepr(f.threshold)}`
    }
    return `${indent}check failed: ${describeFailure(k, f)}`
  }

  const leaf = (k: KeyResult, e: NdArray, a: NdArray, level: number): void => {
    const indent = INDENT.repeat(level + 1)
    const printed = new Map<string, boolean>()
    if (e.data.length === a.data.length && sameSqueezed(e.shape, a.shape)) {
      const s = absDiffStats(e, a)
      const integer = s.dtype !== 'float16' && s.dtype !== 'float32' && s.dtype !== 'float64'
      if (s.n > 0) {
        for (const stat of STATS[method]) {
          const v = s[stat] as number | bigint
          const ok =
            typeof v === 'bigint' ? !(Number(v) > threshold) : !Number.isNaN(v) && !(v > threshold)
          printed.set(stat, ok)
          linesPass &&= ok
          lines.push(
            `${indent}${stat} diff: check passed: ${ok ? 'True' : 'False'}, value: ${formatStat(v, integer && stat !== 'mean')}`,
          )
        }
      }
    }
    for (const f of k.failures) {
      // a failed statistic already printed as False needs no second line
      if (f.kind === 'threshold' && printed.get(f.method) === false) continue
      lines.push(explain(k, f, indent))
    }
  }

  const walk = (
    a: AlignNode | undefined,
    e: AlignNode | undefined,
    key: string,
    name: string,
    level: number,
  ): void => {
    const indent = INDENT.repeat(level)
    if (a === undefined || e === undefined) {
      next(key)
      lines.push(`${indent}${name}: missing from ${a === undefined ? 'candidate' : 'reference'}`)
      return
    }
    const aRec = isRecordNode(a)
    const eRec = isRecordNode(e)
    if (aRec && eRec) {
      lines.push(`${indent}${name}`)
      entries(a, e, key, level + 1)
      return
    }
    const k = next(key)
    lines.push(`${indent}${name}: `)
    if (aRec || eRec) {
      for (const f of k.failures) lines.push(explain(k, f, INDENT.repeat(level + 1)))
      return
    }
    leaf(k, e as NdArray, a as NdArray, level)
  }

  const entries = (a: RecordNode, e: RecordNode, key: string, level: number): void => {
    for (const [k, ev] of e.entries) walk(a.entries.get(k), ev, join(key, k), k, level)
    for (const [k, av] of a.entries) {
      if (!e.entries.has(k)) walk(av, undefined, join(key, k), k, level)
    }
  }

  entries(cand, ref, '', 0)
  // what the core found beyond the keys (nothing compared at all)
  for (; at < result.keys.length; at++) {
    const k = result.keys[at] as KeyResult
    for (const f of k.failures) lines.push(explain(k, f, ''))
  }
  const pass = result.pass && linesPass
  lines.push(pass ? 'diff check passed' : 'diff check failed')
  return { pass, result, lines }
}

const pad = (n: number) => String(n).padStart(2, '0')

/**
 * The report as reprod_log's logger writes it: each line prefixed with
 * `[YYYY/MM/DD HH:MM:SS] root INFO: ` (local time, as Python's logging) and ended by `\n`.
 */
export function formatReprodLog(lines: readonly string[], date: Date = new Date()): string {
  const stamp = `${date.getFullYear()}/${pad(date.getMonth() + 1)}/${pad(date.getDate())} ${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`
  return lines.map((line) => `[${stamp}] root INFO: ${line}\n`).join('')
}
