/**
 * Global setup: chooses the TF.js backend once for the run (`VITEST_ALIGN_BACKEND`, default
 * `wasm`), checks that it really starts (a backend that fails to start is an error, never a
 * silent fallback), prints it once, and provides its name to the test workers, which each start
 * the same one (see fixtures.ts).
 */
import type { TestProject } from 'vitest/node'
import { type BackendName, backendFromEnv, describeBackend, useBackend } from '../model/index.js'

declare module 'vitest' {
  interface ProvidedContext {
    /** The TF.js backend the stages run on. */
    backend: BackendName
  }
}

export default async function setup(project: TestProject): Promise<void> {
  const info = await useBackend(backendFromEnv())
  console.log(`MobileNetV3 example: ${describeBackend(info)}`)
  project.provide('backend', info.name)
}
