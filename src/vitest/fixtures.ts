/**
 * `defineAlignment(options)`: a Vitest `test` extended with the fixtures an alignment stage
 * needs: its input (`fakeData`), the reference records by stage (`reference`), the models
 * (`candidate`, `referenceModel`), a reprod_log logger saved as the candidate's record
 * (`record`), and, on every test, the stage it belongs to (`stage`), a TF.js tensor-leak guard
 * and one annotation per compared key.
 *
 * @example
 * // stages/fixtures.ts
 * import * as tf from '@tensorflow/tfjs'
 * import { defineAlignment } from 'vitest-align'
 * export const test = defineAlignment({
 *   tf,
 *   fakeData: { input: 'data/fake_data.npy' },
 *   reference: { forward: { path: 'data/forward_ref.npy', keys: ['logits'] } },
 *   models: { candidate: () => loadPort() },
 * })
 *
 * // stages/02-forward.align.test.ts
 * import { expect } from 'vitest'
 * import { test } from './fixtures.js'
 * test('logits align with torch', ({ fakeData, reference, candidate, record }) => {
 *   const logits = candidate.predict(tf.tensor(fakeData.input.data, [...fakeData.input.shape]))
 *   record.add('logits', logits)               // saved as align-out/forward_candidate.npy
 *   expect(logits).toAlignWith(reference.forward.logits)
 *   logits.dispose()
 * })
 */
import { basename, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { test as base, inject, type TestAPI } from 'vitest'
import { isTypedArray, type NdArray } from '../compare/dtype.js'
import { AlignError, AlignOptionsError } from '../compare/errors.js'
import { FileFormatError } from '../io/errors.js'
import { type Loaded, load } from '../io/load.js'
import { ReprodLogger, writeReprodLog } from '../io/reprod-log.js'
import type { NdRecord } from '../io/types.js'
import { annotateChecksOf, PROVIDE_KEY, type ProvidedAlign, settleAnnotations } from './defaults.js'
import { DEFAULT_REPORT_DIR, stageName } from './reporter.js'

// ---------------------------------------------------------------------------------------------
// Options

/** A file: a path relative to the root (see {@link AlignmentOptions.root}), absolute, or a `file:` URL. */
export type FilePath = string | URL

/**
 * A generated input standing in for the reference recipe's
 * `np.random.rand(*shape).astype(np.float32) - 0.5`: see {@link generateFakeData}.
 */
export interface FakeRandom {
  /** Default `[1, 3, 224, 224]`. */
  readonly shape?: readonly number[]
  /** Any integer (used modulo 2^32). Default `0`. */
  readonly seed?: number
}

/** One input: a `.npy` file holding one array, or a generated one. */
export type FakeDataEntry = FilePath | FakeRandom

/** The stage inputs by name, or a function that makes them (possibly async). */
export type FakeDataOption = { readonly [name: string]: FakeDataEntry } | (() => unknown)

/** The default input: `{ input: generateFakeData() }`. */
export type DefaultFakeData = { readonly input: FakeRandom }

/**
 * A reference file whose keys are declared: each must be in the file and hold an array (checked
 * when loaded), and each is typed as an array.
 */
export interface ReferenceFile<K extends string = string> {
  readonly path: FilePath
  readonly keys?: readonly K[]
}

/** The reference files, by stage name (`forward`, `loss`...). */
export type ReferenceOption = { readonly [stage: string]: FilePath | ReferenceFile }

/** The model factories, their scope and their disposal. */
export interface ModelOptions<C, M> {
  /** Makes the candidate (the port under test); possibly async. The `candidate` fixture. */
  readonly candidate?: () => C
  /** Makes the reference model, when the stage runs one in JS too. The `referenceModel` fixture. */
  readonly reference?: () => M
  /**
   * `'worker'` (default): made once per worker (once per file under Vitest's default
   * `isolate: true`); `'file'`: once per test file.
   */
  readonly scope?: 'worker' | 'file'
  /**
   * Disposes a model at the end of its scope. Default: calls its `dispose()` when it has one
   * (TF.js models, layers models and tensors do).
   */
  readonly dispose?: (model: unknown, name: 'candidate' | 'reference') => unknown
}

/** What the leak guard needs of TF.js: `tf.memory().numTensors`. Pass the `tf` module itself. */
export interface TensorCounter {
  memory(): { readonly numTensors: number }
}

/** `T` with no property beyond `Shape`'s (an extra one is typed `never`, so it fails to compile). */
export type Exact<T, Shape> = T & { readonly [K in Exclude<keyof T, keyof Shape>]: never }

/** What a `fakeData` option must be: every generated entry with `shape` and `seed` only. */
export type CheckFakeData<F> = F extends (...args: never[]) => unknown
  ? F
  : { readonly [K in keyof F]: F[K] extends FilePath ? F[K] : Exact<F[K], FakeRandom> }

/** What a `reference` option must be: every `{ path, keys }` entry with those two only. */
export type CheckReference<R> = {
  readonly [S in keyof R]: R[S] extends FilePath ? R[S] : Exact<R[S], ReferenceFile>
}

/** Options of {@link defineAlignment}. */
export interface AlignmentOptions<
  F = DefaultFakeData,
  R = Record<never, never>,
  C = never,
  M = never,
> {
  /**
   * The stage input. By name: a `.npy` file (`{ input: 'data/fake_data.npy' }`) or a generated
   * array (`{ input: { shape: [1, 3, 224, 224], seed: 0 } }`, see {@link generateFakeData});
   * or a function returning anything (disposed at the end of the file when it has `dispose()`,
   * or each of its values that has). Loaded once per test file, when a test first uses it.
   * Default `{ input: {} }`: the generated `[1, 3, 224, 224]` input of seed 0.
   */
  fakeData?: F & CheckFakeData<F>
  /**
   * The reference records by stage: `.npy` (one array: a one-key record, named by the declared
   * key or the file's name), `.npz` or reprod_log files, read with `load`. Each file is read
   * once per test file, when a test first touches its stage (`reference.forward`).
   */
  reference?: R & CheckReference<R>
  /** The models: factories, scope, disposal. */
  models?: ModelOptions<C, M>
  /**
   * The TF.js module (`import * as tf from '@tensorflow/tfjs'`), for the leak guard: a test that
   * leaves more tensors alive than it found fails, naming the count. Without it, no guard.
   */
  tf?: TensorCounter
  /**
   * Guard against tensor leaks when `tf` is given. Default `true`. One test or suite opts out
   * with `{ meta: { leakGuard: false } }`. The guard counts every tensor of the worker, so
   * tests that run concurrently (`test.concurrent`) should opt out.
   */
  leakGuard?: boolean
  /**
   * Where `record` is saved: a path with `{stage}` in it, or a function of the stage name;
   * relative to the root. Default `<reportDir>/<stage>_candidate.npy` (`reportDir` is the
   * plugin's, default `align-out`).
   */
  recordPath?: string | ((stage: string) => string)
  /**
   * What relative paths resolve against. Default: the project's root as the `align()` plugin
   * provides it, else the current directory. `new URL('.', import.meta.url)` makes them relative
   * to the fixtures file.
   */
  root?: FilePath
  /** Reads a reference or input file. Default `load` (any `.npy`, `.npz` or reprod_log file). */
  load?: (file: string) => Loaded
}

const OPTION_NAMES = Object.keys({
  fakeData: true,
  reference: true,
  models: true,
  tf: true,
  leakGuard: true,
  recordPath: true,
  root: true,
  load: true,
} satisfies Record<keyof AlignmentOptions, true>)

// ---------------------------------------------------------------------------------------------
// Fixture types

/** The `fakeData` fixture of an option: arrays by name, or what the function returns. */
export type FakeDataOf<F> = F extends (...args: never[]) => infer T
  ? Awaited<T>
  : { readonly [K in keyof F]: F[K] extends FilePath ? NdArray : NdArray<'float32'> }

/** A stage's records: declared keys are arrays; otherwise whatever the file holds. */
export type ReferenceRecordOf<E> = E extends { readonly keys: readonly (infer K extends string)[] }
  ? { readonly [Key in K]: NdArray }
  : NdRecord

/** The `reference` fixture of an option: each stage's records. */
export type ReferenceOf<R> = { readonly [S in keyof R]: ReferenceRecordOf<R[S]> }

/** The `stage` fixture: which stage the running test belongs to. */
export interface StageInfo {
  /** The stage name, from the spec file's name (`02-forward.align.test.ts` is `forward`). */
  readonly name: string
  /** The spec file. */
  readonly file: string
  /** Where `record` is saved after the test (when it logged anything). */
  readonly recordPath: string
}

/** The fixtures of a {@link defineAlignment} test. */
export interface AlignmentFixtures<
  FakeData = FakeDataOf<DefaultFakeData>,
  Reference = Record<never, never>,
  Candidate = never,
  ReferenceModel = never,
> {
  /** The stage input (file scoped). */
  fakeData: FakeData
  /** The reference records by stage (file scoped; each stage's file loaded on first access). */
  reference: Reference
  /** The candidate model (worker or file scoped; disposed after its scope). */
  candidate: Candidate
  /** The reference model (worker or file scoped; disposed after its scope). */
  referenceModel: ReferenceModel
  /** The candidate's record for this test; saved after it (see {@link StageInfo.recordPath}). */
  record: ReprodLogger
  /** The stage of the running test (automatic: guards leaks and annotates checks). */
  stage: StageInfo
}

/** The `test` that {@link defineAlignment} returns. */
export type AlignmentTest<FakeData, Reference, Candidate, ReferenceModel> = TestAPI<
  AlignmentFixtures<FakeData, Reference, Candidate, ReferenceModel>
>

declare module 'vitest' {
  interface TaskMeta {
    /** vitest-align: `false` turns the tensor-leak guard off for this test or suite. */
    leakGuard?: boolean
  }
}

/** A test left more tensors alive than it found. */
export class TensorLeakError extends AlignError {
  override name = 'TensorLeakError'
  constructor(
    /** How many more tensors were alive after the test than before it. */
    readonly leaked: number,
    readonly before: number,
    readonly after: number,
  ) {
    super(
      `the test leaked ${leaked} tensor${leaked === 1 ? '' : 's'} (tf.memory().numTensors was ${before} before it and ${after} after): dispose ${leaked === 1 ? 'it' : 'them'} or wrap the work in tf.tidy(), or opt out with test(name, { meta: { leakGuard: false } }, fn)`,
    )
  }
}

// ---------------------------------------------------------------------------------------------
// The generator

/** The default shape of a generated input: one 224×224 RGB image, as the reference recipe's. */
export const FAKE_DATA_SHAPE: readonly number[] = [1, 3, 224, 224]

/**
 * A deterministic stand-in for `np.random.rand(*shape).astype(np.float32) - 0.5`: the same
 * shape, dtype and range, not numpy's values (load the reference's `fake_data.npy` for those).
 *
 * Each element is `k / 2^24 - 0.5`, where `k` is the top 24 bits of the next output of
 * mulberry32 seeded with `seed` (modulo 2^32). So the values are float32 exactly, uniform on
 * [-0.5, 0.5) (numpy's float64 → float32 cast can round up to 0.5; this cannot), in row-major
 * order, and the same for the same seed and shape on every platform.
 */
export function generateFakeData(options: FakeRandom = {}): NdArray<'float32'> {
  const shape = [...(options.shape ?? FAKE_DATA_SHAPE)]
  const seed = options.seed ?? 0
  if (!shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw new AlignOptionsError('shape', `must be integers >= 0, got [${shape.join(', ')}]`)
  }
  if (!Number.isSafeInteger(seed)) {
    throw new AlignOptionsError('seed', `must be an integer, got ${String(seed)}`)
  }
  const n = shape.reduce((p, d) => p * d, 1)
  if (n > 2 ** 30) throw new AlignOptionsError('shape', `too large: ${n} elements`)
  const data = new Float32Array(n)
  let a = Number(BigInt.asUintN(32, BigInt(seed)))
  for (let i = 0; i < n; i++) {
    // mulberry32
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    const u = (t ^ (t >>> 14)) >>> 0
    data[i] = (u >>> 8) / 2 ** 24 - 0.5
  }
  return { data, shape, dtype: 'float32' }
}

// ---------------------------------------------------------------------------------------------
// Helpers

const isFilePath = (v: unknown): v is FilePath => typeof v === 'string' || v instanceof URL

function isNdArray(v: unknown): v is NdArray {
  if (typeof v !== 'object' || v === null) return false
  const o = v as Partial<NdArray>
  return isTypedArray(o.data) && Array.isArray(o.shape) && typeof o.dtype === 'string'
}

const hasDispose = (v: unknown): v is { dispose(): unknown } =>
  typeof v === 'object' && v !== null && typeof (v as { dispose?: unknown }).dispose === 'function'

/** Disposes a value, or each value of a plain object, that has `dispose()`. */
async function disposeValue(v: unknown): Promise<void> {
  if (hasDispose(v)) {
    await v.dispose()
    return
  }
  if (typeof v === 'object' && v !== null && Object.getPrototypeOf(v) === Object.prototype) {
    for (const x of Object.values(v)) if (hasDispose(x)) await x.dispose()
  }
}

function checkOptions(options: unknown): void {
  if (typeof options !== 'object' || options === null) {
    throw new AlignOptionsError('options', 'defineAlignment() takes an object')
  }
  for (const name of Object.keys(options)) {
    if (!OPTION_NAMES.includes(name)) {
      throw new AlignOptionsError(name, `unknown option; known: ${OPTION_NAMES.join(', ')}`)
    }
  }
  const o = options as AlignmentOptions<unknown, unknown, unknown, unknown>
  if (o.fakeData !== undefined && typeof o.fakeData !== 'function') {
    if (typeof o.fakeData !== 'object' || o.fakeData === null) {
      throw new AlignOptionsError('fakeData', 'must be an object of inputs or a function')
    }
    for (const [name, e] of Object.entries(o.fakeData)) {
      if (isFilePath(e)) continue
      if (typeof e !== 'object' || e === null) {
        throw new AlignOptionsError(`fakeData.${name}`, 'must be a file path or { shape, seed }')
      }
      for (const k of Object.keys(e)) {
        if (k !== 'shape' && k !== 'seed') {
          throw new AlignOptionsError(`fakeData.${name}.${k}`, 'unknown option; known: shape, seed')
        }
      }
    }
  }
  if (o.reference !== undefined) {
    if (typeof o.reference !== 'object' || o.reference === null) {
      throw new AlignOptionsError('reference', 'must be an object of files by stage')
    }
    for (const [stage, e] of Object.entries(o.reference)) {
      if (isFilePath(e)) continue
      const f = e as Partial<ReferenceFile>
      if (typeof f !== 'object' || f === null || !isFilePath(f.path)) {
        throw new AlignOptionsError(`reference.${stage}`, 'must be a file path or { path, keys }')
      }
      for (const k of Object.keys(f)) {
        if (k !== 'path' && k !== 'keys') {
          throw new AlignOptionsError(
            `reference.${stage}.${k}`,
            'unknown option; known: path, keys',
          )
        }
      }
      if (f.keys !== undefined && !f.keys.every((k) => typeof k === 'string')) {
        throw new AlignOptionsError(`reference.${stage}.keys`, 'must be an array of key names')
      }
    }
  }
  if (o.models !== undefined) {
    const known = ['candidate', 'reference', 'scope', 'dispose']
    for (const k of Object.keys(o.models)) {
      if (!known.includes(k)) {
        throw new AlignOptionsError(`models.${k}`, `unknown option; known: ${known.join(', ')}`)
      }
    }
    for (const k of ['candidate', 'reference', 'dispose'] as const) {
      const f = o.models[k]
      if (f !== undefined && typeof f !== 'function') {
        throw new AlignOptionsError(`models.${k}`, 'must be a function')
      }
    }
    const scope = o.models.scope
    if (scope !== undefined && scope !== 'worker' && scope !== 'file') {
      throw new AlignOptionsError('models.scope', `must be 'worker' or 'file'`)
    }
  }
  if (o.tf !== undefined && typeof (o.tf as Partial<TensorCounter>)?.memory !== 'function') {
    throw new AlignOptionsError('tf', 'must have memory().numTensors: pass the TF.js module')
  }
  if (o.leakGuard !== undefined && typeof o.leakGuard !== 'boolean') {
    throw new AlignOptionsError('leakGuard', 'must be true or false')
  }
  const rp = o.recordPath
  if (rp !== undefined && typeof rp !== 'function' && (typeof rp !== 'string' || rp === '')) {
    throw new AlignOptionsError('recordPath', 'must be a path or a function of the stage name')
  }
  if (o.root !== undefined && !isFilePath(o.root)) {
    throw new AlignOptionsError('root', 'must be a path or a file: URL')
  }
  if (o.load !== undefined && typeof o.load !== 'function') {
    throw new AlignOptionsError('load', 'must be a function')
  }
}

// ---------------------------------------------------------------------------------------------
// defineAlignment

/** Records saved so far in this worker, by path: tests of one stage add up. */
const savedRecords = new Map<string, NdRecord>()

/**
 * A Vitest `test` extended with the alignment fixtures (see {@link AlignmentFixtures}). Call it
 * once in a fixtures module and import its `test` in the stage specs; extend it further as any
 * Vitest test (`.extend`, `.override`).
 *
 * - `fakeData` (file scoped): the stage input, from `.npy` files or generated.
 * - `reference` (file scoped): the reference records by stage, each file read once per test
 *   file, when a test first touches its stage.
 * - `candidate`, `referenceModel` (worker or file scoped): made by `models`' factories, disposed
 *   at the end of their scope.
 * - `record` (per test): a reprod_log `ReprodLogger`; what it holds after the test is saved as
 *   the stage's candidate record (`align-out/<stage>_candidate.npy`: tests of one stage add
 *   their keys up), for Python's reprod_log to diff.
 * - `stage` (automatic): the test's stage. On every test it also annotates each key the
 *   matchers compare (`notice` or `error`: JUnit `<property>`, GitHub annotations), and, when
 *   `tf` is given, fails a test that leaks tensors.
 */
export function defineAlignment<
  const F extends FakeDataOption = DefaultFakeData,
  const R extends ReferenceOption = Record<never, never>,
  C = never,
  M = never,
>(
  options: AlignmentOptions<F, R, C, M> = {},
): AlignmentTest<FakeDataOf<F>, ReferenceOf<R>, Awaited<C>, Awaited<M>> {
  checkOptions(options)
  const provided = (): ProvidedAlign | undefined => inject(PROVIDE_KEY) as ProvidedAlign | undefined
  const rootDir = (): string => {
    const r = options.root
    if (r !== undefined) return r instanceof URL ? fileURLToPath(r) : resolve(r)
    return provided()?.root ?? process.cwd()
  }
  const pathOf = (p: FilePath): string =>
    p instanceof URL ? fileURLToPath(p) : resolve(rootDir(), p)
  const read = options.load ?? ((file: string) => load(file))
  const recordPathOf = (stage: string): string => {
    const rp = options.recordPath
    const p =
      typeof rp === 'function'
        ? rp(stage)
        : typeof rp === 'string'
          ? rp.replaceAll('{stage}', stage)
          : resolve(
              provided()?.reportDir ?? resolve(rootDir(), DEFAULT_REPORT_DIR),
              `${stage}_candidate.npy`,
            )
    const file = resolve(rootDir(), p)
    return file.endsWith('.npy') ? file : `${file}.npy`
  }

  const models = options.models
  const modelScope = models?.scope ?? 'worker'
  const disposeModel = async (model: unknown, name: 'candidate' | 'reference') => {
    if (models?.dispose) await models.dispose(model, name)
    else if (hasDispose(model)) await model.dispose()
  }
  const tf = options.tf
  const guarding = tf !== undefined && options.leakGuard !== false

  // The builder's overloads need literal scopes; the result is typed by the declared return.
  type Builder = { extend(name: string, ...args: unknown[]): Builder }
  const test = (base as unknown as Builder)
    // biome-ignore lint/correctness/noEmptyPattern: Vitest reads the fixture's dependencies from this pattern
    .extend('fakeData', { scope: 'file' }, async ({}, { onCleanup }: Cleanup) => {
      const spec = options.fakeData ?? { input: {} }
      if (typeof spec === 'function') {
        const value = await spec()
        onCleanup(() => disposeValue(value))
        return value
      }
      const out: Record<string, NdArray> = {}
      for (const [name, entry] of Object.entries(spec as Record<string, FakeDataEntry>)) {
        out[name] = isFilePath(entry) ? readArray(pathOf(entry), name) : generateFakeData(entry)
      }
      return Object.freeze(out)
    })
    .extend('reference', { scope: 'file' }, () => {
      const out = {}
      const spec = (options.reference ?? {}) as ReferenceOption
      for (const [stage, entry] of Object.entries(spec)) {
        let value: NdRecord | undefined
        Object.defineProperty(out, stage, {
          enumerable: true,
          get: () => {
            value ??= readReference(stage, entry)
            return value
          },
        })
      }
      return Object.freeze(out)
    })
    // biome-ignore lint/correctness/noEmptyPattern: as above
    .extend('candidate', { scope: modelScope }, async ({}, { onCleanup }: Cleanup) => {
      if (models?.candidate === undefined) {
        throw new AlignOptionsError('models.candidate', 'no factory was given to defineAlignment()')
      }
      const model = await models.candidate()
      onCleanup(() => disposeModel(model, 'candidate'))
      return model
    })
    // biome-ignore lint/correctness/noEmptyPattern: as above
    .extend('referenceModel', { scope: modelScope }, async ({}, { onCleanup }: Cleanup) => {
      if (models?.reference === undefined) {
        throw new AlignOptionsError('models.reference', 'no factory was given to defineAlignment()')
      }
      const model = await models.reference()
      onCleanup(() => disposeModel(model, 'reference'))
      return model
    })
    .extend('record', ({ task, onTestFinished }: TestContextLike) => {
      const logger = new ReprodLogger()
      // After the test (not in a fixture teardown, whose error would skip the other teardowns).
      onTestFinished(() => {
        if (Object.keys(logger.data).length === 0) return
        const file = recordPathOf(stageName(task.file.filepath))
        const record = { ...savedRecords.get(file), ...logger.data }
        savedRecords.set(file, record)
        writeReprodLog(file, record)
      })
      return logger
    })
    // Registered last, so that it is set up after every other fixture the test uses (the models
    // included): the tensors they hold are not the test's leaks.
    .extend('stage', { auto: true }, ({ task, onTestFinished }: TestContextLike): StageInfo => {
      const name = stageName(task.file.filepath)
      annotateChecksOf(task)
      const guard = guarding && task.meta.leakGuard !== false ? tf : undefined
      const before = guard?.memory().numTensors ?? 0
      // After the test-scoped fixtures' teardown, so the tensors they dispose are not counted.
      onTestFinished(async () => {
        await settleAnnotations(task)
        if (guard === undefined || task.meta.leakGuard === false) return
        const after = guard.memory().numTensors
        if (after > before) throw new TensorLeakError(after - before, before, after)
      })
      return { name, file: task.file.filepath, recordPath: recordPathOf(name) }
    })

  function readArray(file: string, name: string): NdArray {
    const value = read(file)
    if (!isNdArray(value)) {
      throw new FileFormatError(
        file,
        undefined,
        `holds a record (.npz or reprod_log), but fakeData.${name} needs one array`,
      )
    }
    return value
  }

  function readReference(stage: string, entry: FilePath | ReferenceFile): NdRecord {
    const spec: ReferenceFile = isFilePath(entry) ? { path: entry } : entry
    const file = pathOf(spec.path)
    const loaded = read(file)
    // one array: a one-key record, named by the one declared key or else by the file
    const only = spec.keys?.length === 1 ? spec.keys[0] : undefined
    const value: NdRecord = isNdArray(loaded)
      ? { [only ?? basename(file).replace(/\.npy$/, '')]: loaded }
      : loaded
    for (const key of spec.keys ?? []) {
      const v = value[key]
      if (!isNdArray(v)) {
        const keys = Object.keys(value).join(', ')
        throw new FileFormatError(
          file,
          key,
          `${v === undefined ? 'missing' : 'a nested record, not an array'}: reference.${stage} declares it (the file has: ${keys})`,
        )
      }
    }
    return Object.freeze(value)
  }

  return test as unknown as AlignmentTest<FakeDataOf<F>, ReferenceOf<R>, Awaited<C>, Awaited<M>>
}

/** The second argument of a builder fixture. */
interface Cleanup {
  onCleanup(cleanup: () => unknown): void
}

/** What the test-scoped fixtures use of the test context. */
interface TestContextLike {
  task: { file: { filepath: string }; meta: { leakGuard?: boolean } }
  onTestFinished(fn: () => unknown): void
}
