/**
 * The globals a numpy record may name, and the functions they resolve to: made fresh for each
 * parse, frozen, checking their arguments and building only inert values (pickle-values.ts).
 * Any other global is refused by name at its GLOBAL or STACK_GLOBAL instruction, before
 * anything could call it.
 */
import {
  bad,
  boolOf,
  describe,
  PickledArray,
  PickledDtype,
  PickledScalar,
  PyBytes,
  shapeFromTuple,
} from './pickle-values.js'

/**
 * Every global a numpy record may name, as `module.name`: nothing else resolves. numpy 1.x
 * and 2.x module paths both; `_codecs.encode` and `bytes` are how protocol 2 writes bytes;
 * `_frombuffer` is how protocol 5 writes contiguous arrays; `OrderedDict` is a dict.
 */
export const ALLOWED_GLOBALS: readonly string[] = [
  'numpy.core.multiarray._reconstruct',
  'numpy._core.multiarray._reconstruct',
  'numpy.core.multiarray.scalar',
  'numpy._core.multiarray.scalar',
  'numpy.core.numeric._frombuffer',
  'numpy._core.numeric._frombuffer',
  'numpy.ndarray',
  'numpy.dtype',
  '_codecs.encode',
  'builtins.bytes',
  '__builtin__.bytes',
  'collections.OrderedDict',
]

export type Callable = (...args: unknown[]) => unknown

const BEYOND_LATIN1 = /[\u0100-\uffff]/

/**
 * What one kind of pickle may do: the globals it resolves (fresh for each parse), persistent
 * ids (torch's storages) when it has a loader, and the BUILDs beyond numpy's dtypes and arrays.
 * Everything else a dialect does not list is refused.
 */
export interface Dialect {
  /** Names the files in messages (`numpy records`). */
  readonly what: string
  /** The globals by `module.name` (functions, or inert values such as torch dtypes) and the loader. */
  readonly make: () => {
    readonly globals: ReadonlyMap<string, unknown>
    readonly persistentLoad?: (pid: unknown) => unknown
  }
  /** Why a global outside the list is refused, in this kind of file's terms. */
  readonly refusal: (module: string, name: string) => string
  /** A BUILD on a value that is not a numpy dtype or array: true if the dialect accepted it. */
  readonly build: (obj: unknown, state: unknown) => boolean
  /** What BUILD may build, for its refusal. */
  readonly builds: string
}

/** numpy records (reprod_log, `np.save` of a dict): the globals above, no persistent ids. */
export const NUMPY_DIALECT: Dialect = Object.freeze({
  what: 'numpy records',
  make: () => ({ globals: makeGlobals() }),
  refusal: () => 'only numpy array globals are allowed',
  build: () => false,
  builds: 'only numpy dtypes and arrays are built',
})

/** The functions one parse may call, made fresh for it (so nothing it does outlives it). */
export function makeGlobals(): Map<string, Callable> {
  const ndarray: Callable = () => {
    throw bad('numpy.ndarray(...) called directly (numpy pickles arrays with _reconstruct)')
  }
  const reconstruct: Callable = (...args) => {
    if (args.length !== 3) throw bad(`_reconstruct with ${args.length} arguments`)
    const [subtype, , typecode] = args
    if (subtype !== ndarray) throw bad(`_reconstruct of ${describe(subtype)}, not numpy.ndarray`)
    shapeFromTuple(args[1])
    const code = PyBytes.is(typecode) ? PyBytes.bytes(typecode) : undefined
    if (code?.length !== 1 || code[0] !== 0x62) {
      throw bad(`_reconstruct with typecode ${describe(typecode)}, not b'b'`)
    }
    return new PickledArray()
  }
  const dtype: Callable = (...args) => {
    if (args.length !== 3) throw bad(`numpy.dtype with ${args.length} arguments`)
    const [code] = args
    if (typeof code !== 'string') throw bad(`numpy.dtype of ${describe(code)}`)
    boolOf(args[1], 'the dtype align flag')
    boolOf(args[2], 'the dtype copy flag')
    return new PickledDtype(code)
  }
  const scalar: Callable = (...args) => {
    if (args.length !== 2 || !PickledDtype.is(args[0])) {
      throw bad('numpy scalar(...) without (dtype, data)')
    }
    return new PickledScalar(args[0], args[1])
  }
  const frombuffer: Callable = (...args) => {
    if (args.length !== 4) throw bad(`_frombuffer with ${args.length} arguments`)
    const [buf, dt, shape, order] = args
    if (!PyBytes.is(buf)) throw bad(`_frombuffer of ${describe(buf)}`)
    if (!PickledDtype.is(dt)) throw bad(`_frombuffer with dtype ${describe(dt)}`)
    if (order !== 'C' && order !== 'F') throw bad(`_frombuffer with order ${describe(order)}`)
    return new PickledArray({
      shape: shapeFromTuple(shape),
      dtype: dt,
      fortran: order === 'F',
      data: buf,
    })
  }
  const encode: Callable = (...args) => {
    const [text, encoding] = args
    if (args.length !== 2 || typeof text !== 'string')
      throw bad('_codecs.encode without (str, encoding)')
    if (encoding !== 'latin1' && encoding !== 'latin-1') {
      throw bad(`_codecs.encode to ${describe(encoding)} (pickle uses latin1)`)
    }
    // Buffer's latin1 encoder, natively: it would silently keep the low byte of a wider
    // character, so those are refused first (a protocol-2 array of 6 MB is 6M characters)
    if (BEYOND_LATIN1.test(text)) throw bad('_codecs.encode of a character beyond latin1')
    const out = Buffer.from(text, 'latin1')
    return new PyBytes(new Uint8Array(out.buffer, out.byteOffset, out.length))
  }
  const bytes: Callable = (...args) => {
    if (args.length !== 0) throw bad('bytes(...) with arguments (pickle writes only bytes())')
    return new PyBytes(new Uint8Array(0))
  }
  const orderedDict: Callable = (...args) => {
    if (args.length !== 0) throw bad('OrderedDict(...) with arguments')
    return new Map()
  }
  const table: [string, Callable][] = [
    ['numpy.core.multiarray._reconstruct', reconstruct],
    ['numpy._core.multiarray._reconstruct', reconstruct],
    ['numpy.core.multiarray.scalar', scalar],
    ['numpy._core.multiarray.scalar', scalar],
    ['numpy.core.numeric._frombuffer', frombuffer],
    ['numpy._core.numeric._frombuffer', frombuffer],
    ['numpy.ndarray', ndarray],
    ['numpy.dtype', dtype],
    ['_codecs.encode', encode],
    ['builtins.bytes', bytes],
    ['__builtin__.bytes', bytes],
    ['collections.OrderedDict', orderedDict],
  ]
  for (const [, f] of table) Object.freeze(f)
  return new Map(table)
}
