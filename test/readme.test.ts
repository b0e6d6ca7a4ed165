/**
 * The README's code cannot rot. Every TypeScript block is an excerpt (token for token) of the
 * file its first line names in the README's project, `test/fixtures/projects/readme/` (a
 * project set up as the README says: `align()` in its vitest.config.ts, nothing else), which tsc
 * type-checks with the rest of the repository and which this test runs with Vitest; every shell
 * line is run or is an npm script that exists; every other block is a `text` block of output.
 */
import { spawnSync } from 'node:child_process'
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { beforeAll, describe, expect, test } from 'vitest'
import type { NdArray } from '../src/compare/dtype.js'
import { load, ReprodLogger, writeNpy, writeNpz, writeSafetensors } from '../src/io/index.js'
import { IN, OUT, weights } from './fixtures/projects/readme/stages/port.js'
import { codeBlocks, layoutFree } from './helpers/markdown.js'
import { runVitestCli } from './helpers/run-vitest.js'

const root = fileURLToPath(new URL('../', import.meta.url))
const project = fileURLToPath(new URL('./fixtures/projects/readme/', import.meta.url))
const readme = readFileSync(join(root, 'README.md'), 'utf8')
const scripts = Object.keys(JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).scripts)
/** The built CLI (`npm test` builds first), as `npx vitest-align` runs it in a project. */
const bin = join(root, 'dist', 'bin.js')

const all = codeBlocks(readme)

/** The project's data: the stand-in port's input, and its logits computed in float64. */
function writeProjectData(): void {
  const data = join(project, 'data')
  mkdirSync(data, { recursive: true })
  const x = Float32Array.from({ length: IN }, (_, i) => Math.cos(i) / 2)
  writeNpy(join(data, 'fake_data.npy'), { data: x, shape: [1, 3, 8, 8], dtype: 'float32' })
  const w = weights()
  const logits = new Float32Array(OUT)
  for (let j = 0; j < OUT; j++) {
    let s = 0
    for (let i = 0; i < IN; i++) s += (x[i] as number) * (w[i * OUT + j] as number)
    logits[j] = s
  }
  const forward = new ReprodLogger()
  forward.add('logits', { data: logits, shape: [1, OUT], dtype: 'float32' })
  forward.save(join(data, 'forward_ref.npy'))
  const loss = new ReprodLogger()
  loss.add('loss', Float32Array.of(2.3))
  loss.save(join(data, 'loss_ref.npy'))
  writeNpy(join(data, 'forward_logits.npy'), { data: logits, shape: [OUT], dtype: 'float32' })
  // a state_dict torch 1.13 wrote (test/fixtures/checkpoints/generate.py)
  copyFileSync(
    fileURLToPath(new URL('./fixtures/checkpoints/small.pt', import.meta.url)),
    join(data, 'model.pth'),
  )
}

describe('README.md', () => {
  test('has TypeScript, shell and output blocks, and no other kind', () => {
    expect(new Set(all.map((b) => b.lang))).toEqual(new Set(['ts', 'sh', 'text']))
  })

  for (const b of all.filter((b) => b.lang === 'ts')) {
    test(`line ${b.at}: the TypeScript block is an excerpt of the file it names`, () => {
      const [first, ...body] = b.lines
      const named = /^\/\/ (\S+\.ts)$/.exec(first ?? '')
      expect(named, `the block's first line names its file: ${first}`).not.toBeNull()
      const source = readFileSync(join(project, named?.[1] as string), 'utf8')
      expect(body.length).toBeGreaterThan(0)
      // Biome formats the README's code too, at its own line width: compare the tokens
      expect(layoutFree(source)).toContain(layoutFree(body.join('\n')))
    })
  }

  describe("the README's project", () => {
    beforeAll(writeProjectData)

    test('type-checks (with the repository) and its tests pass under Vitest', () => {
      const run = runVitestCli(project)
      expect(run.status, run.output).toBe(0)
      expect(run.output).toMatch(/Tests {2}8 passed \(8\)/)
      expect(run.stdout).toMatch(/^forward +1 key aligned.*\(1 negative control\)$/m)
      expect(existsSync(join(project, 'align-out', 'forward_candidate.npy'))).toBe(true)
    }, 120_000)
  })

  describe('shell lines', () => {
    const sh = all.filter((b) => b.lang === 'sh').flatMap((b) => b.lines.map((l) => ({ l, b })))
    const commands = sh.filter(({ l }) => l.trim() !== '' && !l.trim().startsWith('#'))

    test('npm commands are npm install, npm test or a script of package.json', () => {
      const npm = commands.filter(({ l }) => l.startsWith('npm '))
      expect(npm.length).toBeGreaterThan(2)
      for (const { l } of npm) {
        const words = l.split(/\s+/)
        if (words[1] === 'run') expect(scripts, l).toContain(words[2])
        else expect(['npm install', 'npm test', 'npm install -D vitest-align'], l).toContain(l)
      }
    })

    test('every `npx vitest-align` line runs, with the exit status its comment gives', () => {
      const lines = commands.filter(({ l }) => l.startsWith('npx vitest-align '))
      expect(lines.length).toBeGreaterThanOrEqual(4)
      const dir = mkdtempSync(join(tmpdir(), 'vitest-align-readme-'))
      try {
        // the files the lines name: a forward pair whose mean |Δ| is 2.31e-6, a loss of shape
        // (1,) against one of shape (), two npz records within allclose
        const ref = Float32Array.from({ length: 1000 }, (_, i) => 1e-3 * Math.sin(i))
        const paddle = ref.map((v) => v + 2.31e-6)
        const forward = (file: string, logits: Float32Array) => {
          const r = new ReprodLogger()
          r.add('logits', logits)
          r.save(join(dir, file))
        }
        forward('forward_ref.npy', ref)
        forward('forward_paddle.npy', paddle)
        writeNpy(join(dir, 'loss_ref.npy'), Float32Array.of(2.3))
        writeNpy(join(dir, 'loss_paddle.npy'), {
          data: Float32Array.of(2.3),
          shape: [],
          dtype: 'float32',
        })
        writeNpz(join(dir, 'ref.npz'), { w: ref })
        writeNpz(join(dir, 'port.npz'), { w: ref.map((v) => v * (1 + 1e-5)) })
        // a torch checkpoint and its port's weights, the same values as .safetensors
        const pth = fileURLToPath(new URL('./fixtures/checkpoints/small.pt', import.meta.url))
        copyFileSync(pth, join(dir, 'model.pth'))
        writeSafetensors(join(dir, 'port.safetensors'), load(pth) as Record<string, NdArray>)
        for (const { l } of lines) {
          const [command, comment] = l.split('#') as [string, string | undefined]
          const args = command.trim().split(/\s+/).slice(2)
          const r = spawnSync(process.execPath, [bin, ...args], { cwd: dir, encoding: 'utf8' })
          const want = /exit (\d)/.exec(comment ?? '')
          expect(r.status, `${l}\n${r.stdout}${r.stderr}`).toBe(want ? Number(want[1]) : 0)
          // what the comment says of the values is what the command prints
          for (const figure of (comment ?? '').match(/\d\.\d+e-\d+/g) ?? []) {
            expect(r.stdout + r.stderr, l).toContain(figure)
          }
        }
        expect(existsSync(join(dir, 'loss_diff.log'))).toBe(true)
      } finally {
        rmSync(dir, { recursive: true, force: true })
      }
    })
  })
})
