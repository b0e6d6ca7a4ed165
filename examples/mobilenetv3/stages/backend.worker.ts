/**
 * Setup file: starts, in every test worker and before any fixture counts tensors, the TF.js
 * backend that the global setup (backend.setup.ts) chose and checked.
 */
import { inject } from 'vitest'
import { useBackend } from '../model/index.js'

await useBackend(inject('backend'))
