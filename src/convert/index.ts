/**
 * `vitest-align/convert`: torch weights in TF.js's layouts. The layout functions of one weight
 * (`oihwToHwio`, `depthwiseToTf`, `linearToTf`, ... and back), and `convertStateDict`, which
 * converts a whole state_dict by a mapping of patterns to layouts and reports every weight that
 * does not fit. No TF.js import: the arrays are plain `{ data, shape, dtype }`.
 */
export { LayoutError, StateDictError, type StateDictProblem } from './errors.js'
export {
  depthwiseFromTf,
  depthwiseToTf,
  fromTfLayout,
  hwioToOihw,
  type LayoutRole,
  linearFromTf,
  linearToTf,
  matrixToPointwise,
  oihwToHwio,
  pointwiseToMatrix,
  reshape,
  toTfLayout,
  transpose,
} from './layout.js'
export {
  convertStateDict,
  DEFAULT_SKIP,
  kerasBatchNormName,
  type StateDictMapping,
} from './state-dict.js'
