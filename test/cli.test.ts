import { execFileSync, spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, test } from 'vitest'
import { runCli, USAGE } from '../src/cli.js'
import { encodeNpy } from '../src/io/npy.js'

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
    [['diff', 'a', 'b', '--bogus'], "Unknown option '--bogus'"],
  ])('usage error %j exits 2 and says why', (args, message) => {
    const r = run(...args)
    expect(r.status).toBe(2)
    expect(r.stderr).toContain(message)
    expect(r.stderr).toContain('Usage: vitest-align diff')
  })

  test('bad input exits 2 with a typed error naming the file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'va-cli-'))
    const junk = join(dir, 'junk.npy')
    writeFileSync(junk, 'not numpy at all')
    const r = run('diff', junk, fx('forward_ref.npy'))
    expect(r.status).toBe(2)
    expect(r.stderr).toContain(`${junk}: not an .npy, .npz or reprod_log file`)
    const missing = run('diff', join(dir, 'nope.npy'), fx('forward_ref.npy'))
    expect(missing.status).toBe(2)
    expect(missing.stderr).toMatch(/nope\.npy: cannot read the file/)
  })

  test('a negative value is refused as an option error (exit 2)', () => {
    const r = run('diff', fx('forward_ref.npy'), fx('forward_paddle.npy'), '--threshold=-1')
    expect(r.status).toBe(2)
    expect(r.stderr).toContain("option 'threshold': must be a finite number >= 0")
  })

  test('--help prints the usage and exits 0', () => {
    expect(run('--help')).toEqual({ status: 0, stdout: `${USAGE}\n`, stderr: '' })
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
