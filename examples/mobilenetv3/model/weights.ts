/**
 * torchvision's `mobilenet_v3_small` state_dict and TF.js's layouts.
 *
 * - The architecture ({@link mobileNetV3Small}) is written out from torchvision 0.14's
 *   `_mobilenet_v3_conf('mobilenet_v3_small')`, and every weight it expects, under its torch name
 *   and torch shape, is derived from it ({@link weightSpec}).
 * - {@link checkStateDict} checks a state_dict against that spec and reports every problem at
 *   once (missing, unexpected, misshapen, wrong dtype) in one {@link WeightError}.
 * - The layout conversions are the library's (`vitest-align/convert`: conv OIHW → HWIO,
 *   depthwise (C,1,k,k) → (k,k,C,1), Linear (out,in) → (in,out), and back), picked per role.
 *
 * The squeeze-excitation `fc1`/`fc2` are 1x1 convolutions with a bias in torch. They act on the
 * pooled (batch, 1, 1, C) map, where a 1x1 convolution is exactly a matrix product, so the port
 * runs them as `matMul` with (in, out) weights, the Linear layout. That is the same arithmetic,
 * and in the training issue their gradients come from `matMul` both ways, which the wasm backend
 * has (it lacks `Conv2DBackpropFilter`).
 */
import { AlignError, type NdArray } from 'vitest-align'
import {
  type LayoutRole,
  fromTfLayout as libFromTfLayout,
  toTfLayout as libToTfLayout,
} from 'vitest-align/convert'

// ---------------------------------------------------------------------------------------------
// The architecture

/** An activation after a BatchNorm: torch's Hardswish, ReLU, or none (the projections). */
export type Activation = 'hardswish' | 'relu' | null

/** A Conv2d (no bias) + BatchNorm2d (+ activation): torchvision's `Conv2dNormActivation`. */
export interface ConvBnSpec {
  /** The Conv2d's torch name, such as `features.0.0`. */
  readonly conv: string
  /** The BatchNorm2d's torch name, such as `features.0.1`. */
  readonly bn: string
  readonly inChannels: number
  readonly outChannels: number
  readonly kernel: number
  readonly stride: number
  /** A depthwise convolution (groups = channels; torch weight (C, 1, k, k)). */
  readonly depthwise: boolean
  readonly activation: Activation
}

/** torchvision's `SqueezeExcitation` (ReLU inside, Hardsigmoid scale). */
export interface SeSpec {
  /** Its torch name, such as `features.1.block.1`; the weights are `<name>.fc1.weight`... */
  readonly name: string
  readonly channels: number
  /** `_make_divisible(channels // 4, 8)`. */
  readonly squeeze: number
}

/** One `InvertedResidual`. */
export interface BlockSpec {
  /** `features.N`. */
  readonly name: string
  /** The 1x1 expansion, absent when the expanded width equals the input's (features.1). */
  readonly expand: ConvBnSpec | undefined
  readonly depthwise: ConvBnSpec
  readonly se: SeSpec | undefined
  readonly project: ConvBnSpec
  /** stride 1 and in == out: the input is added to the output. */
  readonly residual: boolean
}

/** A Linear layer. */
export interface LinearSpec {
  /** Its torch name, such as `classifier.0`. */
  readonly name: string
  readonly inFeatures: number
  readonly outFeatures: number
}

/** torchvision's `mobilenet_v3_small(num_classes)`, layer by layer, with torch names. */
export interface Architecture {
  readonly numClasses: number
  readonly stem: ConvBnSpec
  readonly blocks: readonly BlockSpec[]
  readonly lastConv: ConvBnSpec
  /** `classifier.0` (576 → 1024, then Hardswish and Dropout) and `classifier.3` (1024 → N). */
  readonly classifier: readonly [LinearSpec, LinearSpec]
  /** Every BatchNorm's torch name, in forward order. */
  readonly batchNorms: readonly string[]
}

/** BatchNorm eps and momentum of torchvision's MobileNetV3 (`partial(BatchNorm2d, eps=0.001, momentum=0.01)`). */
export const BN_EPS = 1e-3
export const BN_MOMENTUM = 0.01

/** torchvision's `_make_divisible(v, 8)`. */
export function makeDivisible(v: number, divisor = 8): number {
  const rounded = Math.max(divisor, Math.floor((v + divisor / 2) / divisor) * divisor)
  return rounded < 0.9 * v ? rounded + divisor : rounded
}

/** `bneck_conf(input, kernel, expanded, out, use_se, activation, stride)` for mobilenet_v3_small. */
const SMALL_CONF: readonly (readonly [
  number,
  number,
  number,
  number,
  boolean,
  'RE' | 'HS',
  number,
])[] = [
  [16, 3, 16, 16, true, 'RE', 2],
  [16, 3, 72, 24, false, 'RE', 2],
  [24, 3, 88, 24, false, 'RE', 1],
  [24, 5, 96, 40, true, 'HS', 2],
  [40, 5, 240, 40, true, 'HS', 1],
  [40, 5, 240, 40, true, 'HS', 1],
  [40, 5, 120, 48, true, 'HS', 1],
  [48, 5, 144, 48, true, 'HS', 1],
  [48, 5, 288, 96, true, 'HS', 2],
  [96, 5, 576, 96, true, 'HS', 1],
  [96, 5, 576, 96, true, 'HS', 1],
]

/** The architecture of torchvision 0.14's `mobilenet_v3_small(num_classes)` (width 1.0). */
export function mobileNetV3Small(numClasses: number): Architecture {
  if (!Number.isInteger(numClasses) || numClasses < 1) {
    throw new RangeError(`numClasses must be a positive integer, got ${numClasses}`)
  }
  const convBn = (
    prefix: string,
    inChannels: number,
    outChannels: number,
    kernel: number,
    stride: number,
    depthwise: boolean,
    activation: Activation,
  ): ConvBnSpec => ({
    conv: `${prefix}.0`,
    bn: `${prefix}.1`,
    inChannels,
    outChannels,
    kernel,
    stride,
    depthwise,
    activation,
  })
  const stem = convBn('features.0', 3, 16, 3, 2, false, 'hardswish')
  const blocks = SMALL_CONF.map(([inC, k, exp, out, useSe, act, stride], b): BlockSpec => {
    const name = `features.${b + 1}`
    const activation: Activation = act === 'HS' ? 'hardswish' : 'relu'
    let i = 0
    const expand =
      exp === inC ? undefined : convBn(`${name}.block.${i++}`, inC, exp, 1, 1, false, activation)
    const depthwise = convBn(`${name}.block.${i++}`, exp, exp, k, stride, true, activation)
    const se = useSe
      ? { name: `${name}.block.${i++}`, channels: exp, squeeze: makeDivisible(Math.floor(exp / 4)) }
      : undefined
    const project = convBn(`${name}.block.${i++}`, exp, out, 1, 1, false, null)
    return { name, expand, depthwise, se, project, residual: stride === 1 && inC === out }
  })
  const lastIn = SMALL_CONF[SMALL_CONF.length - 1]?.[3] ?? 96
  const lastConv = convBn(
    `features.${blocks.length + 1}`,
    lastIn,
    6 * lastIn,
    1,
    1,
    false,
    'hardswish',
  )
  const lastChannel = makeDivisible(1024)
  const classifier: [LinearSpec, LinearSpec] = [
    { name: 'classifier.0', inFeatures: 6 * lastIn, outFeatures: lastChannel },
    { name: 'classifier.3', inFeatures: lastChannel, outFeatures: numClasses },
  ]
  const batchNorms = [stem, ...blocks.flatMap(convBnsOf), lastConv].map((c) => c.bn)
  return { numClasses, stem, blocks, lastConv, classifier, batchNorms }
}

/** A block's Conv2dNormActivations, in forward order. */
export function convBnsOf(block: BlockSpec): ConvBnSpec[] {
  return [...(block.expand === undefined ? [] : [block.expand]), block.depthwise, block.project]
}

/** Every Conv2dNormActivation of the architecture, in forward order. */
export function allConvBns(arch: Architecture): ConvBnSpec[] {
  return [arch.stem, ...arch.blocks.flatMap(convBnsOf), arch.lastConv]
}

// ---------------------------------------------------------------------------------------------
// The weight spec

/**
 * What a weight is, which decides its TF.js layout: `conv` OIHW → HWIO; `depthwise`
 * (C,1,k,k) → (k,k,C,1); `se` (out,in,1,1) → (in,out) for matMul; `linear` (out,in) → (in,out);
 * `bias` and the BatchNorm entries are 1-D and unchanged.
 */
export type WeightRole =
  | 'conv'
  | 'depthwise'
  | 'se'
  | 'linear'
  | 'bias'
  | 'bn-gamma'
  | 'bn-beta'
  | 'bn-mean'
  | 'bn-variance'

/** One expected state_dict entry. */
export interface WeightEntry {
  /** The torch name, such as `features.1.block.0.1.running_var`. */
  readonly name: string
  readonly role: WeightRole
  /** The torch shape. */
  readonly shape: readonly number[]
  /** A parameter (trained by SGD) rather than a buffer (the BatchNorm running statistics). */
  readonly trainable: boolean
}

/**
 * Every float32 entry of the architecture's state_dict, in torch's order (`num_batches_tracked`
 * excluded: it is an int64 counter the forward does not read).
 */
export function weightSpec(arch: Architecture): WeightEntry[] {
  const out: WeightEntry[] = []
  const add = (name: string, role: WeightRole, shape: number[]): void => {
    const trainable = role !== 'bn-mean' && role !== 'bn-variance'
    out.push({ name, role, shape, trainable })
  }
  const convBn = (c: ConvBnSpec): void => {
    if (c.depthwise) add(`${c.conv}.weight`, 'depthwise', [c.outChannels, 1, c.kernel, c.kernel])
    else add(`${c.conv}.weight`, 'conv', [c.outChannels, c.inChannels, c.kernel, c.kernel])
    add(`${c.bn}.weight`, 'bn-gamma', [c.outChannels])
    add(`${c.bn}.bias`, 'bn-beta', [c.outChannels])
    add(`${c.bn}.running_mean`, 'bn-mean', [c.outChannels])
    add(`${c.bn}.running_var`, 'bn-variance', [c.outChannels])
  }
  convBn(arch.stem)
  for (const b of arch.blocks) {
    if (b.expand !== undefined) convBn(b.expand)
    convBn(b.depthwise)
    if (b.se !== undefined) {
      add(`${b.se.name}.fc1.weight`, 'se', [b.se.squeeze, b.se.channels, 1, 1])
      add(`${b.se.name}.fc1.bias`, 'bias', [b.se.squeeze])
      add(`${b.se.name}.fc2.weight`, 'se', [b.se.channels, b.se.squeeze, 1, 1])
      add(`${b.se.name}.fc2.bias`, 'bias', [b.se.channels])
    }
    convBn(b.project)
  }
  convBn(arch.lastConv)
  for (const l of arch.classifier) {
    add(`${l.name}.weight`, 'linear', [l.outFeatures, l.inFeatures])
    add(`${l.name}.bias`, 'bias', [l.outFeatures])
  }
  return out
}

// ---------------------------------------------------------------------------------------------
// Checking a state_dict

/** One problem with one state_dict entry. */
export interface WeightProblem {
  /** The torch name. */
  readonly weight: string
  readonly reason: string
}

/**
 * A state_dict that does not fit the architecture. Every problem is listed, in the message and in
 * {@link problems}; {@link weight} and {@link reason} are the first one's.
 */
export class WeightError extends AlignError {
  override name = 'WeightError'
  /** The first problem's torch name. */
  readonly weight: string
  /** The first problem's reason. */
  readonly reason: string
  constructor(
    /** Every problem, in the spec's order (missing, misshapen, wrong dtype), then the unexpected. */
    readonly problems: readonly WeightProblem[],
    /** What was checked, such as the checkpoint's path. */
    readonly source: string,
    what: string,
  ) {
    const n = problems.length
    super(
      `${source} does not fit ${what}: ${n} weight problem${n === 1 ? '' : 's'}\n` +
        problems.map((p) => `  ${p.weight}: ${p.reason}`).join('\n'),
    )
    this.weight = problems[0]?.weight ?? ''
    this.reason = problems[0]?.reason ?? ''
  }
}

/** A state_dict as read from an `.npz`: arrays by torch name (a nested record is refused). */
export type StateDictInput = { readonly [name: string]: NdArray | object }

/** A float32 state_dict, by torch name. */
export type StateDict = Record<string, NdArray<'float32'>>

const isNdArray = (v: unknown): v is NdArray =>
  typeof v === 'object' &&
  v !== null &&
  'data' in v &&
  'shape' in v &&
  'dtype' in v &&
  Array.isArray((v as NdArray).shape)

/** `(16, 3, 3, 3)`, numpy's way; -1 (unknown) prints as N. */
export function shapeText(shape: readonly number[]): string {
  const dims = shape.map((d) => (d < 0 ? 'N' : String(d)))
  return `(${dims.join(', ')}${dims.length === 1 ? ',' : ''})`
}

/** The class count a state_dict's `classifier.3` says, if it says one. */
export function inferNumClasses(stateDict: StateDictInput): number | undefined {
  const bias = stateDict['classifier.3.bias']
  if (isNdArray(bias) && bias.shape.length === 1 && (bias.shape[0] ?? 0) >= 1) return bias.shape[0]
  const weight = stateDict['classifier.3.weight']
  if (isNdArray(weight) && weight.shape.length === 2 && (weight.shape[0] ?? 0) >= 1) {
    return weight.shape[0]
  }
  return undefined
}

/** Options of {@link checkStateDict}. */
export interface CheckOptions {
  /** Names the state_dict in the error, such as the checkpoint's path. Default `state_dict`. */
  source?: string
}

/**
 * Checks `stateDict` against `mobilenet_v3_small(num_classes)` (the class count read from
 * `classifier.3`) and returns the architecture and the float32 weights in torch layouts, in the
 * spec's order. Throws one {@link WeightError} listing every missing, unexpected, misshapen or
 * non-float32 entry. `<bn>.num_batches_tracked` entries of known BatchNorms are skipped.
 */
export function checkStateDict(
  stateDict: StateDictInput,
  options: CheckOptions = {},
): { arch: Architecture; weights: StateDict; spec: WeightEntry[] } {
  const source = options.source ?? 'state_dict'
  const inferred = inferNumClasses(stateDict)
  const arch = mobileNetV3Small(inferred ?? 1)
  const spec = weightSpec(arch)
  const problems: WeightProblem[] = []
  const weights: StateDict = {}
  const known = new Set(spec.map((e) => e.name))
  for (const bn of arch.batchNorms) known.add(`${bn}.num_batches_tracked`)
  for (const entry of spec) {
    const expected =
      inferred === undefined && entry.name.startsWith('classifier.3.')
        ? entry.shape.map((d, i) => (i === 0 ? -1 : d))
        : entry.shape
    const value = Object.hasOwn(stateDict, entry.name) ? stateDict[entry.name] : undefined
    if (value === undefined) {
      problems.push({
        weight: entry.name,
        reason: `missing (expected float32 ${shapeText(expected)})`,
      })
      continue
    }
    if (!isNdArray(value)) {
      problems.push({ weight: entry.name, reason: 'not an array (a nested record)' })
      continue
    }
    const reasons: string[] = []
    const sameShape =
      value.shape.length === expected.length && value.shape.every((d, i) => d === expected[i])
    if (!sameShape) {
      reasons.push(`shape ${shapeText(value.shape)}, expected ${shapeText(expected)}`)
    }
    if (value.dtype !== 'float32') reasons.push(`dtype ${value.dtype}, expected float32`)
    if (reasons.length > 0) {
      problems.push({ weight: entry.name, reason: reasons.join('; ') })
      continue
    }
    weights[entry.name] = value as NdArray<'float32'>
  }
  for (const name of Object.keys(stateDict)) {
    if (known.has(name)) continue
    const v = stateDict[name]
    const what = isNdArray(v) ? `${v.dtype} ${shapeText(v.shape)}` : 'a nested record'
    problems.push({
      weight: name,
      reason: `unexpected: not a weight of this architecture (${what})`,
    })
  }
  if (problems.length > 0) {
    const classes = inferred === undefined ? 'N' : String(inferred)
    throw new WeightError(
      problems,
      source,
      `torchvision's mobilenet_v3_small(num_classes=${classes})`,
    )
  }
  return { arch, weights, spec }
}

// ---------------------------------------------------------------------------------------------
// Layout conversions (pure, float32)

/** A float32 array in a new layout. */
export type F32 = NdArray<'float32'>

// The layout functions are the library's (`vitest-align/convert`); re-exported for the port.
export {
  depthwiseFromTf,
  depthwiseToTf,
  hwioToOihw,
  linearFromTf,
  linearToTf,
  matrixToPointwise,
  oihwToHwio,
  pointwiseToMatrix,
  reshape,
  transpose,
} from 'vitest-align/convert'

/** The library's layout of each role: SE's 1x1 convs run as matMul, 1-D entries unchanged. */
const LAYOUT: { readonly [R in WeightRole]: LayoutRole } = {
  conv: 'conv',
  depthwise: 'depthwise',
  se: 'pointwise',
  linear: 'linear',
  bias: 'keep',
  'bn-gamma': 'keep',
  'bn-beta': 'keep',
  'bn-mean': 'keep',
  'bn-variance': 'keep',
}

function checkFloat32(a: NdArray, role: WeightRole): void {
  if (a.dtype !== 'float32') throw new TypeError(`${role}: expected float32, got ${a.dtype}`)
  if (LAYOUT[role] === 'keep' && a.shape.length !== 1)
    throw new RangeError(`${role}: expected rank 1, got shape ${shapeText(a.shape)}`)
}

/** A weight in the layout the port computes with (per its role). */
export function toTfLayout(role: WeightRole, a: F32): F32 {
  checkFloat32(a, role)
  return libToTfLayout(LAYOUT[role], a)
}

/** The inverse of {@link toTfLayout}: a port's weight in torch's layout. */
export function fromTfLayout(role: WeightRole, a: F32): F32 {
  checkFloat32(a, role)
  return libFromTfLayout(LAYOUT[role], a)
}
