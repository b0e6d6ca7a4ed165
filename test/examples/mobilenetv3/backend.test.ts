/** Choosing and starting the TF.js backend: the name from the environment, the checks, the errors. */
import { createRequire } from 'node:module'
import * as tf from '@tensorflow/tfjs'
import { describe, expect, test } from 'vitest'
import { AlignError } from 'vitest-align'
import {
  BackendError,
  backendFromEnv,
  describeBackend,
  useBackend,
} from '../../../examples/mobilenetv3/model/index.js'

describe('backendFromEnv', () => {
  test('defaults to wasm when VITEST_ALIGN_BACKEND is unset or blank', () => {
    expect(backendFromEnv({})).toBe('wasm')
    expect(backendFromEnv({ VITEST_ALIGN_BACKEND: '' })).toBe('wasm')
    expect(backendFromEnv({ VITEST_ALIGN_BACKEND: '  ' })).toBe('wasm')
  })

  test('reads each known name (surrounding blanks ignored)', () => {
    expect(backendFromEnv({ VITEST_ALIGN_BACKEND: 'wasm' })).toBe('wasm')
    expect(backendFromEnv({ VITEST_ALIGN_BACKEND: ' cpu\n' })).toBe('cpu')
    expect(backendFromEnv({ VITEST_ALIGN_BACKEND: 'tensorflow' })).toBe('tensorflow')
  })

  test('an unknown name is a BackendError naming it and the known ones', () => {
    let error: unknown
    try {
      backendFromEnv({ VITEST_ALIGN_BACKEND: 'webgl' })
    } catch (e) {
      error = e
    }
    expect(error).toBeInstanceOf(BackendError)
    expect(error).toBeInstanceOf(AlignError)
    expect((error as BackendError).backend).toBe('webgl')
    expect((error as Error).message).toBe(
      "TF.js backend 'webgl': unknown backend in VITEST_ALIGN_BACKEND; known: 'wasm', 'cpu', 'tensorflow'",
    )
    // case matters: TF.js's names are lower case
    expect(() => backendFromEnv({ VITEST_ALIGN_BACKEND: 'WASM' })).toThrow(BackendError)
  })
})

const tfjsNodeInstalled = (() => {
  try {
    createRequire(import.meta.url).resolve('@tensorflow/tfjs-node')
    return true
  } catch {
    return false
  }
})()

describe('useBackend', () => {
  test('wasm starts, is current, and says SIMD and threads; a second call is the same', async () => {
    const info = await useBackend('wasm')
    expect(tf.getBackend()).toBe('wasm')
    expect(info.name).toBe('wasm')
    expect(info.tfjsVersion).toBe(tf.version_core)
    expect(info.detail).toMatch(/^SIMD (on|off), \d+ threads?$/)
    expect(describeBackend(info)).toBe(`TF.js ${tf.version_core} on wasm (${info.detail})`)
    expect(await useBackend('wasm')).toBe(info)
    // a tensor really runs on it
    const y = tf.tidy(() => tf.add(tf.tensor1d([1, 2]), 1))
    expect(tf.engine().backendName).toBe('wasm')
    expect([...y.dataSync()]).toEqual([2, 3])
    y.dispose()
  })

  test.skipIf(tfjsNodeInstalled)(
    'tensorflow without @tensorflow/tfjs-node: a BackendError saying it is optional and how to install it',
    async () => {
      const before = tf.getBackend()
      const failed = useBackend('tensorflow')
      await expect(failed).rejects.toThrow(BackendError)
      await expect(failed).rejects.toThrow(
        /@tensorflow\/tfjs-node is not installed\. It is optional .*`npm install @tensorflow\/tfjs-node`.*default backend, wasm/,
      )
      // nothing was switched
      expect(tf.getBackend()).toBe(before)
    },
  )

  test('describeBackend is one line', () => {
    expect(describeBackend({ name: 'cpu', tfjsVersion: '4.22.0', detail: 'pure JS' })).toBe(
      'TF.js 4.22.0 on cpu (pure JS)',
    )
  })
})
