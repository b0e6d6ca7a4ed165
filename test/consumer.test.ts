/**
 * The documented set-up, as a user gets it: the packed tarball installed into a project whose
 * only mention of vitest-align is `plugins: [align()]` (test/fixtures/consumer). tsc must type
 * `toAlignWith` from that alone and reject a misspelt option; `vitest run` must pass and report.
 *
 * Offline by construction (CI has no guarantee of network): the tarball's one dependency, fflate,
 * is packed from the repo's node_modules and installed beside it with `--offline`, so npm finds
 * every package in a file; the peer vitest is not installed by npm (`--legacy-peer-deps`) but
 * linked afterwards, with vite and typescript, from the repo's node_modules (after, because npm
 * would prune links it did not make). A fresh npm cache keeps the run from depending on, or
 * adding to, the machine's.
 */
import { spawnSync } from 'node:child_process'
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, expect, test } from 'vitest'
import { writeNpy } from '../src/io/npy.js'
import { generateFakeData } from '../src/vitest/fake-data.js'
import { codeBlocks, layoutFree } from './helpers/markdown.js'

const repo = fileURLToPath(new URL('..', import.meta.url))
const repoModules = join(repo, 'node_modules')
const fixture = fileURLToPath(new URL('./fixtures/consumer', import.meta.url))

// packing, installing and two tsc runs on a shared, loaded machine
const SLOW = 180_000

let work: string
let consumer: string
let installOutput: string

function run(cmd: string, args: string[], cwd: string) {
  const r = spawnSync(cmd, args, {
    cwd,
    encoding: 'utf8',
    timeout: SLOW,
    // no CI=true/colour from the parent run leaking into the child's output we match on
    env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' },
  })
  return { status: r.status, out: `${r.stdout ?? ''}${r.stderr ?? ''}`, error: r.error }
}

beforeAll(() => {
  // `--ignore-scripts`: the suite's `pretest` has built dist; rebuilding it here (prepack) would
  // rewrite dist while other test files execute it
  expect(existsSync(join(repo, 'dist/vitest/plugin.d.ts'))).toBe(true)
  work = mkdtempSync(join(tmpdir(), 'vitest-align-consumer-'))
  const cache = join(work, 'npm-cache')
  const packed = run(
    'npm',
    ['pack', '--ignore-scripts', '--silent', '--pack-destination', work, '--cache', cache],
    repo,
  )
  expect(packed.status, packed.out).toBe(0)
  const fflate = run(
    'npm',
    [
      'pack',
      join(repoModules, 'fflate'),
      '--ignore-scripts',
      '--silent',
      '--pack-destination',
      work,
      '--cache',
      cache,
    ],
    work,
  )
  expect(fflate.status, fflate.out).toBe(0)
  const tarballs = readdirSync(work).filter((f) => f.endsWith('.tgz'))
  const ours = tarballs.find((f) => f.startsWith('vitest-align-'))
  const dep = tarballs.find((f) => f.startsWith('fflate-'))
  expect(ours).toBeDefined()
  expect(dep).toBeDefined()

  consumer = join(work, 'consumer')
  cpSync(fixture, consumer, { recursive: true })
  // the fixture stage's reference: the stand-in port's forward (x * 2) of the seeded fake input
  const input = generateFakeData({ shape: [2, 3], seed: 0 })
  mkdirSync(join(consumer, 'data'))
  writeNpy(join(consumer, 'data/forward_ref.npy'), {
    data: (input.data as Float32Array).map((v) => v * 2),
    shape: [2, 3],
    dtype: 'float32',
  })
  const installed = run(
    'npm',
    [
      'install',
      '--offline',
      '--no-audit',
      '--no-fund',
      '--legacy-peer-deps',
      '--cache',
      cache,
      join(work, ours as string),
      join(work, dep as string),
    ],
    consumer,
  )
  installOutput = installed.out
  expect(installed.status, installed.out).toBe(0)

  for (const name of ['vitest', 'vite', 'typescript', '@vitest']) {
    symlinkSync(join(repoModules, name), join(consumer, 'node_modules', name))
  }
}, SLOW)

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true })
})

test('the tarball installs without running a script', () => {
  expect(installOutput).not.toMatch(/install-scripts/i)
  const manifest = JSON.parse(
    readFileSync(join(consumer, 'node_modules/vitest-align/package.json'), 'utf8'),
  ) as { scripts?: Record<string, string> }
  for (const hook of ['preinstall', 'install', 'postinstall', 'prepare']) {
    expect(manifest.scripts?.[hook], hook).toBeUndefined()
  }
  // what the tarball ships: no tests, examples or benchmarks
  const shipped = readdirSync(join(consumer, 'node_modules/vitest-align')).sort()
  expect(shipped).toEqual(['CHANGELOG.md', 'LICENSE', 'README.md', 'dist', 'package.json', 'src'])
})

test('the consumer is set up exactly as the README says', () => {
  const readme = readFileSync(join(repo, 'README.md'), 'utf8')
  const config = codeBlocks(readme).find((b) => b.lines[0] === '// vitest.config.ts')
  expect(config).toBeDefined()
  expect(layoutFree(readFileSync(join(fixture, 'vitest.config.ts'), 'utf8'))).toBe(
    layoutFree(config?.lines.join('\n') ?? ''),
  )
  expect(readme).toContain('npm install -D vitest-align')
})

const tsc = () => join(consumer, 'node_modules/typescript/bin/tsc')

test(
  'tsc types toAlignWith from plugins: [align()] alone',
  () => {
    const r = run(process.execPath, [tsc(), '--noEmit', '-p', 'tsconfig.json'], consumer)
    expect(r.status, r.out).toBe(0)
  },
  SLOW,
)

test(
  'tsc rejects a misspelt option, naming it',
  () => {
    const r = run(process.execPath, [tsc(), '--noEmit', '-p', 'tsconfig.misspelt.json'], consumer)
    expect(r.status).not.toBe(0)
    expect(r.out).toMatch(/misspelt\.ts.*error TS(2353|2561).*'atoll'/)
  },
  SLOW,
)

test(
  'vitest run (JUnit and GitHub reporters): every key annotated in plain and fixture tests; the report written',
  () => {
    const vitest = join(consumer, 'node_modules/vitest/vitest.mjs')
    const r = run(
      process.execPath,
      [
        vitest,
        'run',
        '--reporter=default',
        '--reporter=github-actions',
        '--reporter=junit',
        '--outputFile.junit=junit.xml',
      ],
      consumer,
    )
    expect(r.status, r.out).toBe(0)
    expect(r.out).toMatch(/Tests {2}2 passed \(2\)/)

    const xml = readFileSync(join(consumer, 'junit.xml'), 'utf8')
    const properties = (name: string) => {
      const testCase = xml.split('<testcase ').find((c) => c.includes(`name="${name}"`))
      expect(testCase, `${name} in ${xml}`).toBeDefined()
      return [...(testCase ?? '').matchAll(/<property name="(\w+)" value="([^":]*)/g)].map(
        (m) => `${m[1]}: ${m[2]}`,
      )
    }
    expect(properties('a port aligns with its reference')).toEqual([
      'notice: toAlignWith logits',
      'notice: toAlignWith loss',
      'notice: toAlignWith logits (negative control)',
      'notice: toAlignWith loss (negative control)',
    ])
    expect(properties('forward: logits align with the reference')).toEqual([
      'notice: toAlignWith',
      'notice: toAlignWith (negative control)',
    ])
    expect(r.out).toMatch(
      /^::notice file=.*plain\.test\.ts,line=\d+,column=\d+::toAlignWith loss: aligned/m,
    )
    expect(r.out).toMatch(/^::notice file=.*02-forward\.align\.test\.ts,line=\d+,.*::toAlignWith/m)

    const report = JSON.parse(readFileSync(join(consumer, 'align-out/report.json'), 'utf8'))
    expect(JSON.stringify(report)).toContain('logits')
    // the fixture test's record, saved for Python's reprod_log
    expect(existsSync(join(consumer, 'align-out/forward_candidate.npy'))).toBe(true)
  },
  SLOW,
)
