/**
 * The options of `defineAlignment`: their types (what a stage's files, inputs and models are),
 * and their check at the call, so that a misspelt name or a wrong type is an
 * {@link AlignOptionsError} naming it before any test runs.
 */

import { AlignOptionsError } from '../compare/errors.js'
import { unknownName, valueHint } from '../compare/suggest.js'
import type { Loaded } from '../io/load.js'

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
   * (TF.js models, layers models and tensors do). Typed by the factories: `(m) => m.dispose()`
   * gets `m` as what `candidate` or `reference` makes (awaited).
   */
  readonly dispose?: (
    model: NoInfer<Awaited<C> | Awaited<M>>,
    name: 'candidate' | 'reference',
  ) => unknown
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
   * key or the file's name), `.npz`, reprod_log or `.safetensors` files, read with `load`. Each file is read
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
  /** Reads a reference or input file. Default `load` (any `.npy`, `.npz`, reprod_log or `.safetensors` file). */
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

/** Whether an option value names a file. */
export const isFilePath = (v: unknown): v is FilePath => typeof v === 'string' || v instanceof URL

/**
 * Checks `defineAlignment`'s options (from untyped code too).
 *
 * @throws {AlignOptionsError} naming a misspelt option or a value of the wrong type.
 */
export function checkOptions(options: unknown): void {
  if (typeof options !== 'object' || options === null) {
    throw new AlignOptionsError('options', 'defineAlignment() takes an object')
  }
  for (const name of Object.keys(options)) {
    if (!OPTION_NAMES.includes(name)) {
      throw new AlignOptionsError(name, unknownName(name, OPTION_NAMES))
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
          throw new AlignOptionsError(`fakeData.${name}.${k}`, unknownName(k, ['shape', 'seed']))
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
          throw new AlignOptionsError(`reference.${stage}.${k}`, unknownName(k, ['path', 'keys']))
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
        throw new AlignOptionsError(`models.${k}`, unknownName(k, known))
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
      throw new AlignOptionsError(
        'models.scope',
        `must be 'worker' or 'file'${valueHint(scope, ['worker', 'file'])}`,
      )
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
