/**
 * What the example's benchmarks share: the statistics of a series of timings, running one TF.js
 * backend in a child process of the same script, running the torch side on one thread, and the
 * machine facts printed with the figures.
 */
import { execFileSync, spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

export const ROOT = fileURLToPath(new URL('../../../', import.meta.url))
export const PYTHON = process.env.VITEST_ALIGN_PYTHON ?? '/usr/bin/python3'

/** Best, median and count of a series of timings. */
export function stats(ts) {
  const s = [...ts].sort((a, b) => a - b)
  const m = s.length >> 1
  return { best: s[0], median: s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2, runs: s.length }
}

export const lastLine = (text) => String(text).trim().split('\n').pop()

/**
 * Runs `script --tfjs <backend> ...args` in a fresh Node process, which writes
 * `<dir>/tfjs-<backend>.json`; returns what it wrote, or undefined with a note when it failed.
 */
export function runTfjsChild(script, backend, args, dir, note) {
  const r = spawnSync(process.execPath, [script, '--tfjs', backend, ...args], {
    encoding: 'utf8',
    cwd: ROOT,
  })
  if (r.status !== 0) {
    note.push(`TF.js ${backend} failed (exit ${r.status}): ${lastLine(r.stderr)}`)
    process.stderr.write(r.stderr)
    return undefined
  }
  return JSON.parse(readFileSync(join(dir, `tfjs-${backend}.json`), 'utf8'))
}

/**
 * Runs a torch script (`python -c`) on one thread; its last line of output is JSON with `times`,
 * or `{ skipped }`. Returns that JSON with the timings' statistics, or undefined with a note.
 */
export function runTorch(script, args, note) {
  try {
    const out = execFileSync(PYTHON, ['-c', script, ...args], {
      encoding: 'utf8',
      env: { ...process.env, OMP_NUM_THREADS: '1', MKL_NUM_THREADS: '1' },
    })
    const r = JSON.parse(lastLine(out))
    if (r.skipped) {
      note.push(`torch skipped: ${r.skipped}`)
      return undefined
    }
    return { ...r, ...stats(r.times), times: undefined }
  } catch (e) {
    note.push(`torch skipped: ${PYTHON} failed: ${lastLine(e.stderr ?? e.message)}`)
    return undefined
  }
}

/** The CPU's model name, from /proc/cpuinfo. */
export const cpuModel = () =>
  /model name\s*:\s*(.*)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? 'unknown'

/** A load average triple, `1.20 / 1.05 / 0.90`. */
export const formatLoad = (l) => l.map((v) => v.toFixed(2)).join(' / ')
