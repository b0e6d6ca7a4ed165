/**
 * The TF.js backend the port runs on: chosen by name (`VITEST_ALIGN_BACKEND`, default `wasm`),
 * started, and checked. A backend that fails to start is an error, never a silent fallback:
 * `tf.setBackend('wasm')` resolves to `false` when the WebAssembly binary cannot be loaded, and
 * `tf.getBackend()` then still answers `'wasm'`, so both are checked here.
 */
import { createRequire } from 'node:module'
import * as path from 'node:path'
import * as tf from '@tensorflow/tfjs'
import { getThreadsCount, setWasmPaths } from '@tensorflow/tfjs-backend-wasm'
import { AlignError } from 'vitest-align'
import { registerWasmGradKernels } from './wasm-grads.js'

/**
 * A backend the example runs on: `wasm` (the default: SIMD, one thread in Node), `cpu` (pure JS,
 * about 15x slower) or `tensorflow` (`@tensorflow/tfjs-node`, optional, not a dependency).
 */
export type BackendName = 'wasm' | 'cpu' | 'tensorflow'

/** Every {@link BackendName}, in the order the messages list them. */
export const BACKEND_NAMES: readonly BackendName[] = ['wasm', 'cpu', 'tensorflow']

/** The environment variable that chooses the backend. */
export const BACKEND_ENV = 'VITEST_ALIGN_BACKEND'

/** A backend that cannot be chosen or started. */
export class BackendError extends AlignError {
  override name = 'BackendError'
  constructor(
    /** The backend asked for, as given. */
    readonly backend: string,
    /** Why it cannot be used. */
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(`TF.js backend '${backend}': ${reason}`, options)
  }
}

/** What {@link useBackend} started. */
export interface BackendInfo {
  readonly name: BackendName
  /** `tf.version_core`, such as `4.22.0`. */
  readonly tfjsVersion: string
  /** How it runs, such as `SIMD on, 1 thread` (wasm) or `pure JS` (cpu). */
  readonly detail: string
}

const isBackendName = (s: string): s is BackendName => (BACKEND_NAMES as string[]).includes(s)

/**
 * The backend `env` asks for: `VITEST_ALIGN_BACKEND` (surrounding blanks ignored), `wasm` when
 * unset or empty. An unknown name throws a {@link BackendError} naming it and the known ones.
 */
export function backendFromEnv(env: NodeJS.ProcessEnv = process.env): BackendName {
  const raw = env[BACKEND_ENV]
  const value = raw?.trim() ?? ''
  if (value === '') return 'wasm'
  if (isBackendName(value)) return value
  throw new BackendError(
    value,
    `unknown backend in ${BACKEND_ENV}; known: ${BACKEND_NAMES.map((n) => `'${n}'`).join(', ')}`,
  )
}

const require = createRequire(import.meta.url)

/** The folder holding the wasm binaries, with a trailing separator (as `setWasmPaths` wants). */
function wasmDir(): string {
  return path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm')) + path.sep
}

let wasmPathsSet = false
/** Started backends, by name; a failed start is not cached (the next call tries again). */
const started = new Map<BackendName, Promise<BackendInfo>>()

/**
 * Starts the backend `name` (default: {@link backendFromEnv}) and makes it TF.js's current one.
 * Idempotent per process: a backend is started once; a later call for it only makes it current
 * again (cheap) and returns the same {@link BackendInfo}. Throws a {@link BackendError} when the
 * backend cannot start (never falls back to another), and for `tensorflow` when
 * `@tensorflow/tfjs-node` is not installed.
 */
export async function useBackend(name: BackendName = backendFromEnv()): Promise<BackendInfo> {
  if (!isBackendName(name)) {
    throw new BackendError(String(name), `unknown backend; known: ${BACKEND_NAMES.join(', ')}`)
  }
  let pending = started.get(name)
  if (pending === undefined) {
    pending = start(name)
    started.set(name, pending)
    pending.catch(() => started.delete(name))
  }
  const info = await pending
  if (tf.getBackend() !== name) await activate(name)
  return info
}

async function start(name: BackendName): Promise<BackendInfo> {
  if (name === 'wasm' && !wasmPathsSet) {
    setWasmPaths(wasmDir())
    wasmPathsSet = true
  }
  let tfjsNodeVersion: string | undefined
  if (name === 'tensorflow') tfjsNodeVersion = await importTfjsNode()
  await activate(name)
  // TF.js 4.22's wasm has no conv filter or depthwise gradients: without these, backward throws
  if (name === 'wasm') registerWasmGradKernels()
  return { name, tfjsVersion: tf.version_core, detail: detailOf(name, tfjsNodeVersion) }
}

/** The backend this module last made current (and saw start), to return to after a failure. */
let lastActive: BackendName | undefined

/**
 * `tf.setBackend(name)`, checked: resolves only when `name` really is the current backend. On a
 * failure TF.js is left naming the failed backend with no instance behind it (the next op would
 * pick any backend that starts), so the last good one is made current again before throwing.
 */
async function activate(name: BackendName): Promise<void> {
  let failure: BackendError | undefined
  try {
    if (!(await tf.setBackend(name))) {
      const hint =
        name === 'wasm' ? ` (are the .wasm binaries in ${wasmDir()}?)` : ' (see the warning above)'
      failure = new BackendError(
        name,
        `tf.setBackend('${name}') resolved to false: it did not start${hint}`,
      )
    }
  } catch (cause) {
    failure = new BackendError(name, `failed to start: ${messageOf(cause)}`, { cause })
  }
  if (failure === undefined && tf.getBackend() !== name) {
    failure = new BackendError(name, `started, but TF.js's current backend is '${tf.getBackend()}'`)
  }
  if (failure !== undefined) {
    if (lastActive !== undefined && lastActive !== name) await tf.setBackend(lastActive)
    throw failure
  }
  lastActive = name
}

/** Imports `@tensorflow/tfjs-node` (which registers `tensorflow`); returns its version. */
async function importTfjsNode(): Promise<string | undefined> {
  // A variable specifier: TypeScript needs no types for a package that is not installed.
  const specifier = '@tensorflow/tfjs-node'
  try {
    require.resolve(specifier)
  } catch (cause) {
    throw new BackendError(
      'tensorflow',
      `${specifier} is not installed. It is optional (its install downloads libtensorflow, ` +
        `about 100 MB, from outside the npm registry): \`npm install ${specifier}\` to use it, ` +
        `or run on the default backend, wasm (${BACKEND_ENV}=wasm, or unset).`,
      { cause },
    )
  }
  let mod: { version?: Record<string, string> }
  try {
    mod = (await import(specifier)) as typeof mod
  } catch (cause) {
    throw new BackendError('tensorflow', `${specifier} failed to load: ${messageOf(cause)}`, {
      cause,
    })
  }
  if (tf.findBackendFactory('tensorflow') == null) {
    throw new BackendError(
      'tensorflow',
      `${specifier} loaded but registered no 'tensorflow' backend with this copy of ` +
        `@tensorflow/tfjs-core ${tf.version_core} (two copies installed? see npm ls @tensorflow/tfjs-core)`,
    )
  }
  return mod.version?.['tfjs-node']
}

function detailOf(name: BackendName, tfjsNodeVersion: string | undefined): string {
  switch (name) {
    case 'wasm': {
      const simd = tf.env().getBool('WASM_HAS_SIMD_SUPPORT') ? 'on' : 'off'
      const threads = getThreadsCount()
      return `SIMD ${simd}, ${threads} thread${threads === 1 ? '' : 's'}`
    }
    case 'cpu':
      return 'pure JS'
    case 'tensorflow':
      return `libtensorflow via tfjs-node ${tfjsNodeVersion ?? '(version unknown)'}`
  }
}

/** One line: `TF.js 4.22.0 on wasm (SIMD on, 1 thread)`. */
export function describeBackend(info: BackendInfo): string {
  return `TF.js ${info.tfjsVersion} on ${info.name} (${info.detail})`
}

function messageOf(e: unknown): string {
  if (e instanceof Error) return e.message
  if (typeof e === 'object' && e !== null && 'message' in e) return String(e.message)
  return String(e)
}
