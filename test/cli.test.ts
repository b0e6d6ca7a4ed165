import { execFileSync, spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, test } from 'vitest'
import { runCli, SEE_HELP, USAGE } from '../src/cli.js'
import type { NdArray } from '../src/compare/dtype.js'
import { encodeNpy } from '../src/io/npy.js'
import { writeReprodLog } from '../src/io/reprod-log.js'
import { writeSafetensors } from '../src/io/safetensors.js'

const fixtures = fileURLToPath(
  new URL('./fixtures/reprod_log/paddle-mobilenetv3/', import.meta.url),
)
const fx = (name: string) => join(fixtures, name)

function run(...args: string[]) {
  let stdout = ''
  let stderr = ''
  const status = runCli(args, { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t) })
  return { status, stdout, stderr }
}

describe('vitest-align diff', () => {
  test('the tutorial forward pair passes at --threshold 1e-5 and fails at the default 1e-6', () => {
    const pass = run('diff', fx('forward_ref.npy'), fx('forward_paddle.npy'), '--threshold', '1e-5')
    expect(pass.status).toBe(0)
    expect(pass.stdout).toMatch(/^1 key aligned/)
    const fail = run('diff', fx('forward_ref.npy'), fx('forward_paddle.npy'))
    expect(fail.status).toBe(1)
    expect(fail.stdout.split('\n')[0]).toBe(
      '1 of 1 key not aligned: logits: mean |Δ| 2.31e-6 > 1e-6; passes at threshold=2.31e-6',
    )
    expect(fail.stdout).toContain('[0, 140]') // the worst element, as numpy's argmax says
  })

  test("() vs (1,) pairs fail strict and pass with --shape squeeze, reprod_log's threshold applies", () => {
    const strict = run('diff', fx('loss_ref.npy'), fx('loss_paddle.npy'))
    expect(strict.status).toBe(1)
    expect(strict.stdout).toContain('shape (1,) != ()')
    expect(
      run('diff', fx('loss_ref.npy'), fx('loss_paddle.npy'), '--shape', 'squeeze').status,
    ).toBe(0)
    // losses: loss_0 and loss_2 exceed 1e-6, as the tutorial's backward log says
    const losses = run('diff', fx('losses_ref.npy'), fx('losses_paddle.npy'), '--shape', 'squeeze')
    expect(losses.status).toBe(1)
    expect(losses.stdout.split('\n')[0]).toMatch(
      /^2 of 6 keys not aligned: loss_0: mean \|Δ\| 1\.91e-6 > 1e-6/,
    )
  })

  test('--atol/--rtol switch to allclose', () => {
    const r = run(
      'diff',
      fx('forward_ref.npy'),
      fx('forward_paddle.npy'),
      '--atol',
      '1e-5',
      '--rtol',
      '1e-5',
    )
    expect(r.status).toBe(0)
    const tight = run(
      'diff',
      fx('forward_ref.npy'),
      fx('forward_paddle.npy'),
      '--atol',
      '0',
      '--rtol',
      '1e-7',
    )
    expect(tight.status).toBe(1)
    expect(tight.stdout).toMatch(/elements outside allclose atol=0 rtol=1e-7/)
  })

  test('--log writes a reprod_log-style report', () => {
    const dir = mkdtempSync(join(tmpdir(), 'va-cli-'))
    const log = join(dir, 'forward_diff.log')
    expect(
      run(
        'diff',
        fx('forward_ref.npy'),
        fx('forward_paddle.npy'),
        '--threshold',
        '1e-5',
        '--log',
        log,
      ).status,
    ).toBe(0)
    const lines = readFileSync(log, 'utf8')
      .trimEnd()
      .split('\n')
      .map((l) => l.replace(/^\[\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d\] root INFO: /, ''))
    expect(lines).toEqual([
      'logits: ',
      '\tmean diff: check passed: True, value: 2.308018565599923e-06',
      'diff check passed',
    ])
  })

  test('--json prints the result as data', () => {
    const r = run(
      'diff',
      fx('metric_ref.npy'),
      fx('metric_paddle.npy'),
      '--shape',
      'squeeze',
      '--json',
    )
    expect(r.status).toBe(0)
    const result = JSON.parse(r.stdout)
    expect(result.keys.map((k: { key: string }) => k.key)).toEqual(['acc_top1', 'acc_top5'])
  })

  test.each([
    [[], 'no command'],
    [['compare', 'a', 'b'], "unknown command 'compare'"],
    [['diff', 'a'], 'diff takes two files'],
    [['diff', 'a', 'b', '--threshold', 'x'], "--threshold needs a number, got 'x'"],
    [['diff', 'a', 'b', '--method', 'median'], '--method must be one of'],
    [
      ['diff', 'a', 'b', '--atol', '1', '--method', 'mean'],
      '--atol/--rtol go with --method allclose',
    ],
    [['diff', 'a', 'b', '--method', 'mena'], "got 'mena'; did you mean 'mean'?"],
    [['diff', 'a', 'b', '--shape', 'sqeeze'], "got 'sqeeze'; did you mean 'squeeze'?"],
    [['diff', 'a', 'b', '--bogus'], '--bogus: unknown flag; known: --method, --threshold'],
    [
      ['diff', 'a', 'b', '--treshold', '1'],
      "--treshold: unknown flag; did you mean '--threshold'?",
    ],
    [['diff', 'a', 'b', '--equal-nans'], "unknown flag; did you mean '--equal-nan'?"],
    [['diff', 'a', 'b', '-x'], '-x: unknown flag'],
    [['diff', 'a', 'b', '--log'], '--log needs a value'],
    [['diff', 'a', 'b', '--json=yes'], "--json takes no value, got 'yes'"],
  ])('usage error %j exits 2 with one line saying why, and points to --help', (args, message) => {
    const r = run(...args)
    expect(r.status).toBe(2)
    expect(r.stdout).toBe('')
    const lines = r.stderr.trimEnd().split('\n')
    expect(lines).toHaveLength(2)
    expect(lines[0]).toMatch(/^vitest-align: /)
    expect(lines[0]).toContain(message)
    expect(lines[1]).toBe(SEE_HELP)
    expect(r.stderr).not.toContain('Usage: vitest-align diff')
  })

  test('bad input exits 2 with a typed error naming the file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'va-cli-'))
    const junk = join(dir, 'junk.npy')
    writeFileSync(junk, 'not numpy at all')
    const r = run('diff', junk, fx('forward_ref.npy'))
    expect(r.status).toBe(2)
    expect(r.stderr).toContain(
      `${junk}: not an .npy, .npz, reprod_log, .safetensors, torch or Paddle file`,
    )
    const missing = run('diff', join(dir, 'nope.npy'), fx('forward_ref.npy'))
    expect(missing.status).toBe(2)
    expect(missing.stderr).toMatch(/nope\.npy: cannot read the file/)
  })

  test('a negative value is refused as an option error (exit 2)', () => {
    const r = run('diff', fx('forward_ref.npy'), fx('forward_paddle.npy'), '--threshold=-1')
    expect(r.status).toBe(2)
    expect(r.stderr).toContain("option 'threshold': must be a finite number >= 0")
  })

  test('two .safetensors files diff like any two records', () => {
    const dir = mkdtempSync(join(tmpdir(), 'va-cli-st-'))
    const ref = join(dir, 'ref.safetensors')
    const port = join(dir, 'port.safetensors')
    writeSafetensors(ref, { 'fc.weight': Float32Array.of(1, 2), step: BigInt64Array.of(3n) })
    writeSafetensors(port, { 'fc.weight': Float32Array.of(1, 2.5), step: BigInt64Array.of(3n) })
    expect(run('diff', ref, ref).status).toBe(0)
    const r = run('diff', ref, port, '--method', 'max', '--threshold', '0.1')
    expect(r.status).toBe(1)
    expect(r.stdout.split('\n')[0]).toBe(
      '1 of 2 keys not aligned: fc.weight: max |Δ| 0.5 > 0.1; passes at threshold=0.5',
    )
  })

  test('inspect lists every array of a file, in its order, with the totals; --json as data', () => {
    const r = run('inspect', fx('losses_paddle.npy'))
    expect(r.status).toBe(0)
    const lines = r.stdout.trimEnd().split('\n')
    expect(lines[0]).toMatch(/^key +dtype +shape +elements +bytes$/)
    expect(lines.slice(1, 3)).toEqual([
      'loss_0  float32  (1,)          1      4',
      'lr_0    float64  ()            1      8',
    ])
    expect(lines.at(-1)).toBe('6 arrays, 6 elements, 36 bytes')
    const json = JSON.parse(run('inspect', fx('forward_ref.npy'), '--json').stdout)
    expect(json).toEqual([
      { key: 'logits', dtype: 'float32', shape: [1, 1000], elements: 1000, bytes: 4000 },
    ])
  })

  test('inspect and diff read checkpoints: a torch .pth in either format, against a .safetensors', () => {
    const ckpt = (name: string) =>
      fileURLToPath(new URL(`./fixtures/checkpoints/${name}`, import.meta.url))
    const r = run('inspect', ckpt('small.pt'))
    expect(r.status).toBe(0)
    expect(r.stdout).toContain('bn.num_batches_tracked  int64    ()             1      8')
    expect(r.stdout.trimEnd().split('\n').at(-1)).toBe('4 arrays, 15 elements, 60 bytes')
    expect(run('diff', ckpt('small.pt'), ckpt('small_legacy.pt')).status).toBe(0)
    const d = mkdtempSync(join(tmpdir(), 'va-cli-ckpt-'))
    const changed = join(d, 'changed.safetensors')
    writeSafetensors(changed, {
      'fc.weight': { data: Float32Array.of(0, 0.25, 0.5, 0.75, 1, 1.5), shape: [2, 3] },
      'fc.weight_t': { data: Float32Array.of(0, 0.75, 0.25, 1, 0.5, 1.25), shape: [3, 2] },
      'bn.num_batches_tracked': { data: BigInt64Array.of(7n), shape: [] },
      half: { data: Uint16Array.of(0x3c00, 0xc100), shape: [2], dtype: 'float16' },
    })
    const bad = run('diff', ckpt('small.pt'), changed)
    expect(bad.status).toBe(1)
    expect(bad.stdout).toContain('1 of 4 keys not aligned: fc.weight: mean')
    expect(bad.stdout).toMatch(/fc\.weight +\(2, 3\).*\[1, 2\] 1.5 vs 1.25 +FAIL/)
  })

  test.each([
    [['inspect'], 'inspect takes one file: FILE'],
    [['inspect', 'a', 'b'], 'inspect takes one file: FILE'],
    [['inspect', 'a', '--atol', '1'], '--atol goes with diff, not inspect'],
    [['inspct', 'a'], "unknown command 'inspct'; did you mean 'inspect'?"],
  ])('inspect usage error %j', (args, message) => {
    const r = run(...args)
    expect(r.status).toBe(2)
    const lines = r.stderr.trimEnd().split('\n')
    expect(lines).toHaveLength(2)
    expect(lines[1]).toBe(SEE_HELP)
    expect(lines[0]).toBe(`vitest-align: ${message}`)
  })

  test('inspect of a file it cannot read is a typed error naming the file (exit 2)', () => {
    const r = run('inspect', join(tmpdir(), 'no-such-file.npy'))
    expect(r.status).toBe(2)
    expect(r.stderr).toMatch(/FileFormatError: .*no-such-file\.npy: cannot read the file/)
  })

  test('--help prints the usage and exits 0', () => {
    expect(run('--help')).toEqual({ status: 0, stdout: `${USAGE}\n`, stderr: '' })
    expect(run('diff', 'a', '-h')).toEqual({ status: 0, stdout: `${USAGE}\n`, stderr: '' })
  })

  test("--version prints package.json's version and exits 0", () => {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'))
    expect(pkg.version).toMatch(/^\d+\.\d+\.\d+/)
    expect(run('--version')).toEqual({ status: 0, stdout: `${pkg.version}\n`, stderr: '' })
    expect(USAGE).toContain('--version')
  })
})

/** The lines of a log file, without the logger's prefix. */
const logLines = (path: string): string[] =>
  readFileSync(path, 'utf8')
    .trimEnd()
    .split('\n')
    .map((l) => l.replace(/^\[\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d\] root INFO: /, ''))

const f32 = (v: number[], shape = [v.length]): NdArray => ({
  data: Float32Array.from(v),
  shape,
  dtype: 'float32',
})

describe('one verdict: the exit status, the table and --log render one result', () => {
  const dir = mkdtempSync(join(tmpdir(), 'va-cli-verdict-'))
  const file = (name: string, record: Record<string, NdArray>) => {
    const path = join(dir, name)
    writeReprodLog(path, record)
    return path
  }

  test('{a: float32 [1, inf]} against itself: exit 0, and the log says passed', () => {
    const a = file('inf.npy', { a: f32([1, Number.POSITIVE_INFINITY]) })
    const log = join(dir, 'inf.log')
    const r = run('diff', a, a, '--log', log)
    expect(r.status).toBe(0)
    const lines = logLines(log)
    expect(lines[1]).toBe('\tmean diff: check passed: True, value: nan')
    expect(lines.at(-1)).toBe('diff check passed')
  })

  test('float32 mean above the threshold, exact mean within: exit 0, the log agrees', () => {
    const ref = file('t_ref.npy', { x: f32([0.9577587, -0.19980213, 0.024259565]) })
    const cand = file('t_cand.npy', { x: f32([0.9577603, -0.19980158, 0.024259061]) })
    const log = join(dir, 't.log')
    const args = ['--threshold', '8.686135307319395e-07', '--shape', 'squeeze', '--log', log]
    expect(run('diff', ref, cand, ...args).status).toBe(0)
    expect(logLines(log)).toEqual([
      'x: ',
      '\tmean diff: check passed: True, value: 8.686135402058426e-07',
      "\tnote: judged on mean |Δ| computed exactly (float64), 8.686135212580363e-07, within 8.686135307319395e-07; the value printed is numpy's, in float32 arithmetic",
      'diff check passed',
    ])
    // the same pair one step tighter fails everywhere at once
    const tight = run('diff', ref, cand, '--threshold', '8.6e-07', '--log', log)
    expect(tight.status).toBe(1)
    expect(logLines(log).at(-1)).toBe('diff check failed')
  })

  test('shapes (1,) vs () with --log: exit 1 (strict), and the log says failed, naming why', () => {
    mkdirSync(join(dir, 'r'))
    mkdirSync(join(dir, 'c'))
    writeFileSync(join(dir, 'r', 'x.npy'), encodeNpy(f32([2])))
    writeFileSync(join(dir, 'c', 'x.npy'), encodeNpy(f32([2], [])))
    const log = join(dir, 'x.log')
    const r = run('diff', join(dir, 'r', 'x.npy'), join(dir, 'c', 'x.npy'), '--log', log)
    expect(r.status).toBe(1)
    expect(logLines(log)).toEqual([
      'x: ',
      '\tmean diff: check passed: True, value: 0.0',
      '\tcheck failed: shape () != (1,) (candidate vs reference); they differ only in size-1 dimensions, which --shape squeeze ignores',
      'diff check failed',
    ])
    const squeezed = run(
      'diff',
      join(dir, 'r', 'x.npy'),
      join(dir, 'c', 'x.npy'),
      '--shape',
      'squeeze',
      '--log',
      log,
    )
    // 2 vs 2 is vacuous at 1e-6 (an all-zero candidate would be off by 2: not vacuous) and passes
    expect(squeezed.status).toBe(0)
    expect(logLines(log).at(-1)).toBe('diff check passed')
  })

  test('two lone arrays are one pair, whatever their file names', () => {
    const a = join(dir, 'a.npy')
    const b = join(dir, 'b.npy')
    writeFileSync(a, encodeNpy(f32([1, 2, 3])))
    writeFileSync(b, encodeNpy(f32([1, 2, 3.5])))
    const log = join(dir, 'ab.log')
    expect(run('diff', a, b, '--log', log, '--threshold', '0.2').status).toBe(0)
    expect(logLines(log)).toEqual([
      'a: ',
      '\tmean diff: check passed: True, value: 0.1666666716337204',
      'diff check passed',
    ])
  })

  test('--method min with a NaN in the candidate: the exit status and the log agree', () => {
    const ref = file('n_ref.npy', { x: f32([1, 2]) })
    const cand = file('n_cand.npy', { x: f32([1, Number.NaN]) })
    const log = join(dir, 'n.log')
    const r = run('diff', ref, cand, '--method', 'min', '--log', log)
    expect(logLines(log).at(-1)).toBe(r.status === 0 ? 'diff check passed' : 'diff check failed')
  })
})

describe('--log refuses a path it cannot write: a typed error, exit 2', () => {
  test.each([
    ['a directory', (d: string) => d, 'is a directory: --log takes a file name'],
    ['a missing folder', (d: string) => join(d, 'missing', 'x.log'), 'its folder does not exist'],
  ])('%s', (_, path, reason) => {
    const dir = mkdtempSync(join(tmpdir(), 'va-cli-log-'))
    const r = run('diff', fx('loss_ref.npy'), fx('loss_paddle.npy'), '--log', path(dir))
    expect(r.status).toBe(2)
    expect(r.stderr).toBe(`vitest-align: WriteError: ${path(dir)}: --log ${reason}\n`)
    expect(r.stderr).not.toContain('unexpected error')
  })
})

/** Whether text holds ESC or BEL: what a terminal escape sequence needs. */
const hasEscBel = (text: string): boolean => text.includes('\u001b') || text.includes('\u0007')

describe('key names from a file are escaped in every output', () => {
  const evil = 'k\u001b]0;owned\u0007\n[2024/01/01 00:00:00] root INFO: diff check passed'
  const dir = mkdtempSync(join(tmpdir(), 'va-cli-evil-'))
  const ref = join(dir, 'ref.npy')
  const cand = join(dir, 'cand.npy')
  writeReprodLog(ref, { [evil]: f32([1]) })
  writeReprodLog(cand, { [evil]: f32([5]) })

  test('the table and the log: no ESC or BEL, no planted line', () => {
    const log = join(dir, 'evil.log')
    const r = run('diff', ref, cand, '--log', log)
    expect(r.status).toBe(1)
    expect(hasEscBel(r.stdout)).toBe(false)
    expect(r.stdout).toContain('k\\x1b]0;owned\\x07\\n[2024/01/01')
    const text = readFileSync(log, 'utf8')
    expect(hasEscBel(text)).toBe(false)
    expect(text.match(/root INFO: diff check/g)).toHaveLength(2) // the key's text, the last line
    expect(logLines(log).at(-1)).toBe('diff check failed')
    expect(logLines(log)).toHaveLength(3)
  })

  test('--json: the key is escaped as JSON escapes it', () => {
    const r = run('diff', ref, cand, '--json')
    expect(hasEscBel(r.stdout)).toBe(false)
    expect(JSON.parse(r.stdout).keys[0].key).toBe(evil)
  })
})

describe('the installed bin', () => {
  const bin = fileURLToPath(new URL('../dist/bin.js', import.meta.url))

  test('exit codes 0, 1 and 2 reach the shell', () => {
    const dir = mkdtempSync(join(tmpdir(), 'va-bin-'))
    const a = join(dir, 'a.npy')
    const b = join(dir, 'b.npy')
    writeFileSync(a, encodeNpy(Float32Array.of(1, 2, 3)))
    writeFileSync(b, encodeNpy(Float32Array.of(1, 2, 3.5)))
    expect(execFileSync(process.execPath, [bin, 'diff', a, a]).toString()).toMatch(/^1 key aligned/)
    expect(spawnSync(process.execPath, [bin, 'diff', a, b]).status).toBe(1)
    expect(spawnSync(process.execPath, [bin, 'diff', a]).status).toBe(2)
  })
})
