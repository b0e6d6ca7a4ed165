/**
 * `vitest-align`: the comparison itself. `compare()` and its plain-data result, the
 * layer-by-layer and noise-floor comparisons, the report's text, every error class and the
 * types of inputs, options and results. Nothing here imports Vitest or TF.js, so a script or a
 * CLI that only compares loads neither.
 *
 * The other entries: `vitest-align/plugin` (the `align()` plugin for vitest.config.ts),
 * `vitest-align/vitest` (the setup file registering the matchers, and their types),
 * `vitest-align/matchers` (the matcher functions, for `expect.extend`), `vitest-align/fixtures`
 * (`defineAlignment`, which loads Vitest's `test`), `vitest-align/files` (reading and writing
 * `.npy`, `.npz` and reprod_log records; `vitest-align/npy` is its former name) and
 * `vitest-align/reporter` (the `AlignReporter` and the report's types).
 */
export { type CompareExtras, compare } from './compare/compare.js'
export {
  DTYPES,
  type DType,
  type NdArray,
  type StorageOf,
  type TypedArray,
} from './compare/dtype.js'
export { AlignError, AlignInputError, AlignOptionsError } from './compare/errors.js'
export { formatNumber, formatReport } from './compare/format.js'
export {
  compareLayerwise,
  DEFAULT_GROWTH_FACTOR,
  type LayerStat,
  type LayerStatus,
  type LayerwiseOptions,
  type LayerwiseResult,
} from './compare/layerwise.js'
export { formatLayerwise } from './compare/layerwise-format.js'
export { compareWithinNoise, DEFAULT_NOISE_FACTOR, type NoiseOptions } from './compare/noise.js'
export {
  type AlignOptions,
  DEFAULT_THRESHOLD,
  DEFAULT_TOLERANCES,
  type KeyOptions,
  type KeyOverrides,
  type Method,
  type NoiseRule,
  type ReprodMethod,
  type Rule,
  type Tolerance,
} from './compare/options.js'
export type {
  AlignResult,
  ArraySummary,
  Failure,
  KeyResult,
  NoiseCurve,
  NoiseStats,
  NoiseWorst,
  PairStats,
  WorstElement,
  WouldPass,
} from './compare/result.js'
export type { NonFiniteCensus } from './compare/stats.js'
export type {
  AlignInput,
  AlignRecord,
  ArrayInput,
  NdArrayLike,
  NestedArray,
  TensorLike,
} from './compare/tensor-like.js'
// the errors of the files entry, so that `instanceof` works from either entry
export {
  CheckpointFormatError,
  FileFormatError,
  ForbiddenGlobalError,
  NpyFormatError,
  NpzFormatError,
  PickleFormatError,
  SafetensorsFormatError,
  WriteError,
} from './io/errors.js'
export type { NdRecord } from './io/types.js'
