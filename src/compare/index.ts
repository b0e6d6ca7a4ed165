export { type CompareExtras, compare, unravel } from './compare.js'
export {
  DTYPES,
  type DType,
  decodeFloat16,
  type NdArray,
  type StorageOf,
  type TypedArray,
} from './dtype.js'
export { AlignError, AlignInputError, AlignOptionsError } from './errors.js'
export {
  describeRule,
  formatNumber,
  formatReport,
  formatShape,
  formatTable,
  summarize,
} from './format.js'
export { type DiffHistogram, diffHistogram, HISTOGRAM_DECADES } from './histogram.js'
export {
  compareLayerwise,
  DEFAULT_GROWTH_FACTOR,
  type LayerStat,
  type LayerStatus,
  type LayerTreeRow,
  type LayerwiseOptions,
  type LayerwiseResult,
  layerTree,
} from './layerwise.js'
export {
  formatLayerTree,
  formatLayerwise,
  type LayerView,
  type LayerwiseView,
  summarizeLayerwise,
} from './layerwise-format.js'
export { compareWithinNoise, DEFAULT_NOISE_FACTOR, type NoiseOptions } from './noise.js'
export {
  type AlignOptions,
  DEFAULT_THRESHOLD,
  DEFAULT_TOLERANCES,
  type KeyOptions,
  type KeyOverrides,
  keyMatches,
  type Method,
  type NoiseRule,
  type ReprodMethod,
  type Rule,
  type Tolerance,
  validateOptions,
} from './options.js'
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
} from './result.js'
export type { NonFiniteCensus } from './stats.js'
export {
  type AlignInput,
  type AlignNode,
  type AlignRecord,
  type ArrayInput,
  type NdArrayLike,
  type NestedArray,
  normalize,
  type RecordNode,
  type TensorLike,
} from './tensor-like.js'
