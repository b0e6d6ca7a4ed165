/**
 * `vitest-align/files` (`vitest-align/npy`, its former name, still works): read and write
 * `.npy`, `.npz`, reprod_log records and `.safetensors`, and read torch `.pth` and Paddle `.pdparams`
 * checkpoints, safely; the reprod_log logger and its diff report.
 */
export {
  type Checkpoint,
  type CheckpointFormat,
  type CheckpointOptions,
  readCheckpoint,
} from './checkpoint.js'
export {
  CheckpointFormatError,
  FileFormatError,
  ForbiddenGlobalError,
  NpyFormatError,
  NpzFormatError,
  PickleFormatError,
  SafetensorsFormatError,
  WriteError,
} from './errors.js'
export { detectKind, type FileKind, type Loaded, load } from './load.js'
export { decodeNpy, type EncodeNpyOptions, encodeNpy, readNpy, writeNpy } from './npy.js'
export { type EncodeNpzOptions, encodeNpz, type NpzInput, readNpz, writeNpz } from './npz.js'
export { type PaddleContents, readPdparams } from './paddle.js'
export { pyFloatRepr } from './py-repr.js'
export {
  diffReprodLogs,
  formatReprodLog,
  type ReprodDiff,
  type ReprodDiffOptions,
} from './reprod-diff.js'
export { encodeReprodLog, ReprodLogger, readReprodLog, writeReprodLog } from './reprod-log.js'
export {
  type EncodeSafetensorsOptions,
  encodeSafetensors,
  readSafetensors,
  readSafetensorsMetadata,
  writeSafetensors,
} from './safetensors.js'
export { readTorch, type TorchContents } from './torch.js'
export { DEFAULT_LIMITS, type NdRecord, type ReadLimits, type ReadOptions } from './types.js'
