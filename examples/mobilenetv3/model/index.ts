/**
 * The candidate side of the MobileNetV3 example: the TF.js backend, the torch weights and the
 * port, the data pipeline (IDX files, torchvision's transform) and the metric.
 */
export {
  BACKEND_ENV,
  BACKEND_NAMES,
  BackendError,
  type BackendInfo,
  type BackendName,
  backendFromEnv,
  describeBackend,
  useBackend,
} from './backend.js'
export {
  BLOCK_BUG_KINDS,
  type BlockBug,
  type BlockBugKind,
  blocksFor,
  checkBlockBug,
} from './block-bugs.js'
export {
  BATCH_SIZE,
  type BatchRange,
  batches,
  batchLabels,
  DATA_BUGS,
  type DataBug,
  DatasetError,
  type FashionMnist,
  loadFashionMnist,
  MEAN,
  NUM_CLASSES,
  RESOLUTION,
  resizeBilinearTorch,
  STD,
  type TransformOptions,
  toNchw,
  transformBatch,
} from './data.js'
export {
  decodeIdx,
  IDX_MAX_BYTES,
  IDX_UINT8,
  type Idx,
  IdxFormatError,
  type IdxOptions,
  INFLATE_CHUNK,
  readIdx,
} from './idx.js'
export {
  type LayerOptions,
  type LayerRecord,
  layerRecord,
  toTorchLayout,
} from './layers.js'
export { crossEntropy, crossEntropy64, type LossReduction } from './loss.js'
export {
  type AccuracyOptions,
  accuracy,
  METRIC_BUGS,
  type MetricBug,
  minTop2Gap,
  topk,
  topkStable,
} from './metric.js'
export {
  type BatchStat,
  type BatchStats,
  batchMoments,
  batchNorm,
  disposeBatchStats,
  fromNchw,
  hardsigmoid,
  hardswish,
  loadMobileNetV3,
  MobileNetV3Small,
  PORT_BUGS,
  type PortBug,
  PortInputError,
  type PortOptions,
  type Tap,
  type TrainForward,
  toStateDict,
} from './mobilenetv3.js'
export { type LayerReference, REPLAY_BLOCK, type Replay, replayBackward } from './replay.js'
export {
  ConstantLR,
  CosineAnnealingLR,
  type LrSchedule,
  lrSequence,
  MultiStepLR,
  StepLR,
} from './schedule.js'
export { normParameterNames, Sgd, type SgdOptions, sgdUpdate } from './sgd.js'
export {
  type StepResult,
  TORCHVISION_DROPOUT,
  TRAIN_BUGS,
  type TrainBug,
  Trainer,
  type TrainOptions,
} from './train.js'
export {
  MATMUL_CHUNK,
  registerWasmGradKernels,
  WASM_GRAD_KERNELS,
} from './wasm-grads.js'
export { useFastTransposedMatMul } from './wasm-matmul.js'
export { accurateSum, sumFloat64, useFloat64Sum } from './wasm-sum.js'
export {
  type Activation,
  type Architecture,
  allConvBns,
  type BlockSpec,
  BN_EPS,
  BN_MOMENTUM,
  type CheckOptions,
  type ConvBnSpec,
  checkStateDict,
  convBnsOf,
  depthwiseFromTf,
  depthwiseToTf,
  type F32,
  fromTfLayout,
  hwioToOihw,
  inferNumClasses,
  type LinearSpec,
  linearFromTf,
  linearToTf,
  makeDivisible,
  matrixToPointwise,
  mobileNetV3Small,
  oihwToHwio,
  pointwiseToMatrix,
  reshape,
  type SeSpec,
  type StateDict,
  type StateDictInput,
  shapeText,
  toTfLayout,
  transpose,
  type WeightEntry,
  WeightError,
  type WeightProblem,
  type WeightRole,
  weightSpec,
} from './weights.js'
