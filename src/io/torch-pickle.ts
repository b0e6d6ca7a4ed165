/**
 * What torch's `data.pkl` may hold, as an unpickler dialect: the globals a state_dict or a
 * training checkpoint needs (torch 2.x's `weights_only` allow-list cut to what `torch.save`
 * writes for dense tensors: `_rebuild_tensor_v2/_v3`, `_rebuild_parameter`, the storage classes,
 * dtypes, `OrderedDict`), persistent ids only as `('storage', StorageClass, key, location,
 * numel)`, and BUILD only on an OrderedDict's `_metadata`. Tensors come out as inert
 * {@link TorchTensor}s; their bounds, dtypes and bytes are checked where they become arrays
 * (torch-tensor.ts), which knows their state_dict key.
 */
import { itemsizeOf } from './numpy-dtype.js'
import type { Callable, Dialect } from './pickle-globals.js'
import { makeGlobals } from './pickle-globals.js'
import { bad, boolOf, describe, intOf, isMap, mapEntries, shapeFromTuple } from './pickle-values.js'

/** An element type torch stores: this package's dtype, or bfloat16 (widened to float32). */
export type TorchElement =
  | 'float32'
  | 'float64'
  | 'float16'
  | 'bfloat16'
  | 'int64'
  | 'int32'
  | 'int16'
  | 'int8'
  | 'uint8'
  | 'uint16'
  | 'uint32'
  | 'uint64'
  | 'bool'

/** torch's storage classes (`torch.FloatStorage`, ...) and their elements. */
const STORAGE_CLASSES: ReadonlyMap<string, TorchElement> = new Map<string, TorchElement>([
  ['FloatStorage', 'float32'],
  ['DoubleStorage', 'float64'],
  ['HalfStorage', 'float16'],
  ['BFloat16Storage', 'bfloat16'],
  ['LongStorage', 'int64'],
  ['IntStorage', 'int32'],
  ['ShortStorage', 'int16'],
  ['CharStorage', 'int8'],
  ['ByteStorage', 'uint8'],
  ['BoolStorage', 'bool'],
])

/**
 * The torch dtypes (`torch.float16`, a bare GLOBAL) that `_rebuild_tensor_v3` may name: torch
 * names them as this package does, so each is its own element type.
 */
const DTYPES: readonly TorchElement[] = [
  ...new Set(STORAGE_CLASSES.values()),
  'uint16',
  'uint32',
  'uint64',
]

/** Bytes per element: bfloat16's 2, else the package's dtype's. */
export const elementSize = (e: TorchElement): 1 | 2 | 4 | 8 =>
  e === 'bfloat16' ? 2 : itemsizeOf(e)

/** A storage class, dtype or class global (`torch.FloatStorage`, `torch.float16`, `torch.Tensor`). */
class TorchType {
  readonly #element: TorchElement | 'untyped'
  readonly #kind: 'storage' | 'dtype' | 'class'
  constructor(kind: 'storage' | 'dtype' | 'class', element: TorchElement | 'untyped') {
    this.#kind = kind
    this.#element = element
    Object.freeze(this)
  }
  static is(v: unknown, kind: 'storage' | 'dtype' | 'class'): v is TorchType {
    return typeof v === 'object' && v !== null && #element in v && v.#kind === kind
  }
  static element(v: TorchType): TorchElement | 'untyped' {
    return v.#element
  }
  get [Symbol.toStringTag](): string {
    return `torch ${this.#kind} (${this.#element})`
  }
}

/** One storage a persistent id names: a record of the archive (or of a legacy file). */
export interface StorageRef {
  /** `'0'`, `'1'`, ... in the zip format, a memory address in the legacy one. */
  readonly key: string
  /** The elements of a typed storage; `untyped` counts bytes (torch 2's new dtypes). */
  readonly element: TorchElement | 'untyped'
  /** Elements (bytes when untyped), as the id declares them. */
  readonly numel: number
}

/** What `_rebuild_tensor_v2/_v3` was given, unchecked beyond types (see torch-tensor.ts). */
export interface TensorArgs {
  readonly storage: StorageRef
  /** The tensor's element type (v3's dtype argument, else the storage's). */
  readonly element: TorchElement
  readonly offset: number
  readonly shape: readonly number[]
  readonly stride: readonly number[]
  /** Set when torch's metadata asks for a lazy conjugate or negative view. */
  readonly lazy?: string
}

/** A tensor as pickled, inert, recognised by brand. */
export class TorchTensor {
  readonly #args: TensorArgs
  constructor(args: TensorArgs) {
    this.#args = Object.freeze(args)
    Object.freeze(this)
  }
  static is(v: unknown): v is TorchTensor {
    return typeof v === 'object' && v !== null && #args in v
  }
  static args(v: TorchTensor): TensorArgs {
    return v.#args
  }
  get [Symbol.toStringTag](): string {
    return 'torch tensor'
  }
}

/** A storage as a persistent id returns it. */
class TorchStorage {
  readonly #ref: StorageRef
  constructor(ref: StorageRef) {
    this.#ref = Object.freeze(ref)
    Object.freeze(this)
  }
  static is(v: unknown): v is TorchStorage {
    return typeof v === 'object' && v !== null && #ref in v
  }
  static ref(v: TorchStorage): StorageRef {
    return v.#ref
  }
  get [Symbol.toStringTag](): string {
    return 'torch storage'
  }
}

for (const c of [TorchType, TorchTensor, TorchStorage]) Object.freeze(c.prototype)

/** The advice for what torch writes but this reader refuses, by global. */
function torchRefusal(module: string, name: string): string {
  const full = `${module}.${name}`
  if (/^torch\.(nn|jit|fx|ao)\b|^torchvision\b|^__main__$/.test(module)) {
    return `the file pickles the class ${full}: it is a whole-module save (torch.save(model)); save model.state_dict() instead`
  }
  if (module === 'torch._utils' && name === '_rebuild_qtensor') {
    return 'a quantized tensor: save its dequantize() (or the float model’s state_dict())'
  }
  if (module === 'torch._utils' && /sparse|nested/.test(name)) {
    return 'a sparse or nested tensor: save its to_dense() instead'
  }
  if (module === 'torch._utils' && name.includes('meta')) {
    return 'a meta tensor has no data to read'
  }
  if (module === 'torch' && /^(Q|Complex)|Storage$/.test(name)) {
    return `the storage ${name} is not supported: quantized and complex tensors are not read (dense bool, integer and float tensors are)`
  }
  if (
    module === 'torch' &&
    /^(float8|float4|complex|bits|qu?int|int[1-7]$|uint[1-7]$)/.test(name)
  ) {
    return `the dtype torch.${name} has no array type here (dense bool, integer and float tensors are read)`
  }
  return 'not one of the globals a torch state_dict or checkpoint holds (tensors, storages, OrderedDict)'
}

const tupleOf = (v: unknown, what: string): readonly unknown[] => {
  if (!Array.isArray(v) || !Object.isFrozen(v)) throw bad(`${what} is ${describe(v)}, not a tuple`)
  return v
}

/** The tensor metadata dict (`{'conj': True}`...): the lazy view it asks for, if any. */
function lazyOf(v: unknown): string | undefined {
  if (v === undefined) return undefined
  if (!isMap(v)) throw bad(`tensor metadata that is ${describe(v)}, not a dict`)
  for (const [k, flag] of mapEntries(v)) {
    if (typeof k !== 'string') throw bad(`tensor metadata key ${describe(k)}`)
    if (boolOf(flag, `tensor metadata '${k}'`)) return k
  }
  return undefined
}

/**
 * The dialect of one torch file. `storages` holds every storage its persistent ids named, by
 * key, for the container to bind to bytes; `legacy` expects the legacy format's 6-item ids.
 */
export function torchDialect(storages: Map<string, StorageRef>, legacy: boolean): Dialect {
  return Object.freeze({
    what: 'torch files',
    refusal: torchRefusal,
    builds: "only numpy arrays and dtypes, and an OrderedDict's _metadata, are built",
    build(obj: unknown, state: unknown): boolean {
      // A state_dict ends with BUILD {'_metadata': OrderedDict(...)}: module versions, no data.
      if (!isMap(obj) || !isMap(state)) return false
      return mapEntries(state).every(([k]) => k === '_metadata')
    },
    make() {
      const globals = new Map<string, unknown>(makeGlobals())
      for (const [name, element] of STORAGE_CLASSES) {
        globals.set(`torch.${name}`, new TorchType('storage', element))
      }
      globals.set('torch.storage.UntypedStorage', new TorchType('storage', 'untyped'))
      globals.set('torch.UntypedStorage', new TorchType('storage', 'untyped'))
      for (const element of DTYPES) globals.set(`torch.${element}`, new TorchType('dtype', element))

      const rebuild = (v3: boolean): Callable =>
        function rebuildTensor(...args) {
          const n = v3 ? 7 : 6
          if (args.length !== n && args.length !== n + 1) {
            throw bad(`_rebuild_tensor_v${v3 ? 3 : 2} with ${args.length} arguments`)
          }
          const [storage, offset, size, stride, requiresGrad, hooks] = args
          if (!TorchStorage.is(storage)) {
            throw bad(`a tensor whose storage is ${describe(storage)}, not a persistent storage`)
          }
          const ref = TorchStorage.ref(storage)
          let element: TorchElement
          if (v3) {
            const dt = args[6]
            if (!TorchType.is(dt, 'dtype')) {
              throw bad(`_rebuild_tensor_v3 with dtype ${describe(dt)}`)
            }
            element = TorchType.element(dt) as TorchElement
            if (ref.element !== 'untyped' && ref.element !== element) {
              throw bad(`a ${element} tensor over a ${ref.element} storage`)
            }
          } else {
            if (ref.element === 'untyped') {
              throw bad('_rebuild_tensor_v2 over an UntypedStorage (its dtype is not named)')
            }
            element = ref.element
          }
          const shape = shapeFromTuple(tupleOf(size, 'a tensor size'))
          const strides = tupleOf(stride, 'a tensor stride')
          if (strides.length !== shape.length) {
            throw bad(`a tensor of ${shape.length} dimensions with ${strides.length} strides`)
          }
          boolOf(requiresGrad, 'requires_grad')
          if (!isMap(hooks)) throw bad(`backward hooks that are ${describe(hooks)}, not a dict`)
          const lazy = lazyOf(args[n])
          return new TorchTensor({
            storage: ref,
            element,
            offset: intOf(offset, 'a storage offset'),
            shape,
            stride: strides.map((s) => intOf(s, 'a stride')),
            ...(lazy === undefined ? {} : { lazy }),
          })
        }
      const v2 = rebuild(false)
      const v3 = rebuild(true)
      const parameter: Callable = (...args) => {
        if (args.length !== 3) throw bad(`_rebuild_parameter with ${args.length} arguments`)
        if (!TorchTensor.is(args[0])) throw bad(`a Parameter of ${describe(args[0])}`)
        boolOf(args[1], 'requires_grad')
        return args[0] // nn.Parameter is its tensor
      }
      const tensorClass = new TorchType('class', 'untyped')
      const fromType: Callable = (...args) => {
        // (func, torch.Tensor, args, state): a tensor that carried Python attributes (dropped)
        if (args.length !== 4) throw bad(`_rebuild_from_type_v2 with ${args.length} arguments`)
        const [func, type, inner] = args
        if (func !== v2 && func !== v3 && func !== parameter) {
          throw bad(`_rebuild_from_type_v2 of ${describe(func)}, not a tensor rebuild`)
        }
        if (type !== tensorClass) throw bad(`_rebuild_from_type_v2 to ${describe(type)}`)
        return (func as Callable)(...tupleOf(inner, 'the rebuild arguments'))
      }
      const size: Callable = (...args) => {
        if (args.length !== 1) throw bad(`torch.Size with ${args.length} arguments`)
        return Object.freeze([...tupleOf(args[0], 'torch.Size')])
      }
      for (const f of [v2, v3, parameter, fromType, size]) Object.freeze(f)
      globals.set('torch._utils._rebuild_tensor_v2', v2)
      globals.set('torch._utils._rebuild_tensor_v3', v3)
      globals.set('torch._utils._rebuild_parameter', parameter)
      globals.set('torch._tensor._rebuild_from_type_v2', fromType)
      globals.set('torch.Tensor', tensorClass)
      globals.set('torch.Size', size)

      const persistentLoad = (pid: unknown): unknown => {
        const t = tupleOf(pid, 'a persistent id')
        if (t[0] !== 'storage' || t.length !== (legacy ? 6 : 5)) {
          throw bad(
            `a persistent id that is not ('storage', class, key, location, numel${legacy ? ', None' : ''})`,
          )
        }
        const [, cls, key, location, numel] = t
        if (!TorchType.is(cls, 'storage')) {
          throw bad(`a persistent id with storage class ${describe(cls)}`)
        }
        if (typeof key !== 'string' || typeof location !== 'string') {
          throw bad('a persistent id whose key or location is not a str')
        }
        if (legacy && t[5] !== null) {
          throw bad('a storage view (pre-1.0 torch): re-save the file with a current torch')
        }
        const n = intOf(numel, 'a storage size')
        if (n < 0) throw bad(`a storage of ${n} elements`)
        const element = TorchType.element(cls)
        const seen = storages.get(key)
        if (seen !== undefined && (seen.element !== element || seen.numel !== n)) {
          throw bad(
            `storage '${key}' named twice, as ${seen.numel} ${seen.element} and ${n} ${element}`,
          )
        }
        const ref = seen ?? { key, element, numel: n }
        storages.set(key, ref)
        return new TorchStorage(ref)
      }
      return { globals, persistentLoad }
    },
  })
}
