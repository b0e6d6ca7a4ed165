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
import { load } from '../io/load.js'
import { ReprodLogger, writeReprodLog } from '../io/reprod-log.js'
import type { NdRecord } from '../io/types.js'
import { annotateChecksOf, PROVIDE_KEY, type ProvidedAlign, settleAnnotations } from './defaults.js'
import { generateFakeData } from './fake-data.js'
import {
  type AlignmentOptions,
  checkOptions,
  type DefaultFakeData,
  type FakeDataEntry,
  type FakeDataOption,
  type FilePath,
  isFilePath,
  type ReferenceFile,
  type ReferenceOption,
} from './fixture-options.js'
import { DEFAULT_REPORT_DIR, stageName } from './reporter.js'

export { FAKE_DATA_SHAPE, generateFakeData } from './fake-data.js'
export type {
  AlignmentOptions,
  CheckFakeData,
  CheckReference,
  DefaultFakeData,
  Exact,
  FakeDataEntry,
  FakeDataOption,
  FakeRandom,
  FilePath,
  ModelOptions,
  ReferenceFile,
  ReferenceOption,
  TensorCounter,
} from './fixture-options.js'

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
// Helpers

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
    if (models?.dispose) await models.dispose(model as Awaited<C> | Awaited<M>, name)
    else if (hasDispose(model)) await model.dispose()
  }
  const tf = options.tf
  const guarding = tf !== undefined && options.leakGuard !== false
  /**
   * Tensors made by the fixtures' factories (models, a fakeData function), which a test's leak
   * guard does not count: a worker-scoped model may be made after the guard's first count (an
   * automatic fixture is set up before the others when a `beforeEach` takes the context, as the
   * setup file's does), and the tensors it holds are not the test's.
   */
  let madeByFixtures = 0
  const made = async <T>(factory: () => T | Promise<T>): Promise<T> => {
    const before = tf?.memory().numTensors ?? 0
    try {
      return await factory()
    } finally {
      madeByFixtures += (tf?.memory().numTensors ?? 0) - before
    }
  }

  // The builder's overloads need literal scopes; the result is typed by the declared return.
  type Builder = { extend(name: string, ...args: unknown[]): Builder }
  const test = (base as unknown as Builder)
    // biome-ignore lint/correctness/noEmptyPattern: Vitest reads the fixture's dependencies from this pattern
    .extend('fakeData', { scope: 'file' }, async ({}, { onCleanup }: Cleanup) => {
      const spec = options.fakeData ?? { input: {} }
      if (typeof spec === 'function') {
        const value = await made(spec)
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
      const model = await made(models.candidate)
      onCleanup(() => disposeModel(model, 'candidate'))
      return model
    })
    // biome-ignore lint/correctness/noEmptyPattern: as above
    .extend('referenceModel', { scope: modelScope }, async ({}, { onCleanup }: Cleanup) => {
      if (models?.reference === undefined) {
        throw new AlignOptionsError('models.reference', 'no factory was given to defineAlignment()')
      }
      const model = await made(models.reference)
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
    // Registered last, so that it is set up after every other fixture the test uses where
    // Vitest keeps that order; the tensors the models hold are left out by count either way.
    .extend('stage', { auto: true }, ({ task, onTestFinished }: TestContextLike): StageInfo => {
      const name = stageName(task.file.filepath)
      annotateChecksOf(task)
      const guard = guarding && task.meta.leakGuard !== false ? tf : undefined
      const before = guard?.memory().numTensors ?? 0
      const fixtures0 = madeByFixtures
      // After the test-scoped fixtures' teardown, so the tensors they dispose are not counted.
      onTestFinished(async () => {
        await settleAnnotations(task)
        if (guard === undefined || task.meta.leakGuard === false) return
        const after = guard.memory().numTensors - (madeByFixtures - fixtures0)
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
