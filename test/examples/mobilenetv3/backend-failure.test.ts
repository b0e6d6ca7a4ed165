/**
 * A backend that fails to start is an error, never a silent fallback. `tf.setBackend` resolves to
 * `false` when a backend's factory throws (and `tf.getBackend()` keeps answering the previous
 * one); here the cpu backend's factory is replaced by a failing one for the test, then restored.
 */
import * as tf from '@tensorflow/tfjs'
import { afterAll, expect, test } from 'vitest'
import { BackendError, useBackend } from '../../../examples/mobilenetv3/model/index.js'

const original = tf.findBackendFactory('cpu')

afterAll(() => {
  tf.removeBackend('cpu')
  if (original !== null) tf.registerBackend('cpu', original, 1)
})

test('a backend whose start fails is a BackendError, and the previous one stays current', async () => {
  await useBackend('wasm')
  tf.removeBackend('cpu')
  tf.registerBackend('cpu', () => {
    throw new Error('no cpu today')
  })
  const warn = console.warn
  console.warn = () => {} // TF.js warns once about the failed initialisation
  try {
    const failed = useBackend('cpu')
    await expect(failed).rejects.toThrow(BackendError)
    await expect(failed).rejects.toThrow(
      "TF.js backend 'cpu': tf.setBackend('cpu') resolved to false: it did not start",
    )
  } finally {
    console.warn = warn
  }
  expect(tf.getBackend()).toBe('wasm')
  // a failed start is not cached: once the backend can start, the next call starts it
  tf.removeBackend('cpu')
  if (original !== null) tf.registerBackend('cpu', original, 1)
  expect((await useBackend('cpu')).name).toBe('cpu')
  expect(tf.getBackend()).toBe('cpu')
  await useBackend('wasm')
  expect(tf.getBackend()).toBe('wasm')
})
