/**
 * Runs Debian's python3 with numpy for the interop tests. Locally the tests skip, with the
 * reason printed, when numpy is absent; in CI (`CI=true`) they must not skip, so there a missing
 * numpy fails the run.
 */
import { execFileSync, spawnSync } from 'node:child_process'

/** The interpreter with numpy: Debian's, not the first python3 on PATH (which may lack it). */
export const PYTHON = process.env.VITEST_ALIGN_PYTHON ?? '/usr/bin/python3'

function probe(): string | undefined {
  const r = spawnSync(PYTHON, ['-c', 'import numpy; print(numpy.__version__)'], {
    encoding: 'utf8',
  })
  return r.status === 0 ? r.stdout.trim() : undefined
}

/** numpy's version, or undefined when it cannot be imported. */
export const numpyVersion = probe()

/** Whether interop tests run here; in CI they always do (and fail if numpy is missing). */
export const hasNumpy = numpyVersion !== undefined || process.env.CI === 'true'

if (!hasNumpy) {
  console.warn(
    `interop tests skipped: ${PYTHON} cannot import numpy (apt-get install python3-numpy)`,
  )
}

/** Runs a Python script (numpy imported as np) in `cwd`; returns its stdout. Throws on error. */
export function runPython(script: string, cwd?: string): string {
  return execFileSync(PYTHON, ['-c', `import numpy as np\n${script}`], {
    encoding: 'utf8',
    cwd,
    maxBuffer: 64 * 2 ** 20,
  })
}

function probeTorch(): string | undefined {
  const r = spawnSync(PYTHON, ['-c', 'import torch, torchvision; print(torch.__version__)'], {
    encoding: 'utf8',
  })
  return r.status === 0 ? r.stdout.trim() : undefined
}

/** torch's version (Debian's python3-torch, with torchvision), or undefined when absent. */
export const torchVersion = probeTorch()

/** Whether the torch interop tests run here; in CI they always do (and fail without torch). */
export const hasTorch = torchVersion !== undefined || process.env.CI === 'true'

if (!hasTorch) {
  console.warn(
    `torch interop tests skipped: ${PYTHON} cannot import torch and torchvision (apt-get install python3-torch python3-torchvision)`,
  )
}
