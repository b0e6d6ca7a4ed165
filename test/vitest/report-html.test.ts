/**
 * The generated index.html in a real browser: Debian's Chromium, headless, through
 * playwright-core. Skipped, saying why, when /usr/bin/chromium is absent on a developer's
 * machine; never skipped in CI (CI=true), where its absence fails the test.
 */
import { existsSync, readFileSync, rmSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { type Browser, chromium } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { runVitestCli } from '../helpers/run-vitest.js'

const CHROMIUM = '/usr/bin/chromium'
const project = fileURLToPath(new URL('../fixtures/projects/reports/', import.meta.url))
/** The fixture's own report directory (ignored by git), where the screenshot is kept to look at. */
const reportDir = join(project, 'align-out')
const skip = !existsSync(CHROMIUM) && process.env.CI !== 'true'
if (skip)
  console.warn(`report-html.test.ts skipped: ${CHROMIUM} is absent (apt-get install chromium)`)

describe.skipIf(skip)('index.html in headless Chromium', () => {
  let browser: Browser
  const consoleErrors: string[] = []
  const requests: string[] = []
  const failed: string[] = []
  let page: Awaited<ReturnType<Browser['newPage']>>

  beforeAll(async () => {
    rmSync(join(reportDir, 'index.png'), { force: true })
    delete process.env.ALIGN_REPORT_DIR
    const run = runVitestCli(project)
    expect(run.status, run.output).toBe(1) // one stage fails on purpose
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    })
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } })
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') consoleErrors.push(m.text())
    })
    page.on('pageerror', (e) => consoleErrors.push(String(e)))
    page.on('request', (r) => requests.push(r.url()))
    page.on('requestfailed', (r) => failed.push(`${r.url()}: ${r.failure()?.errorText}`))
    await page.goto(pathToFileURL(join(reportDir, 'index.html')).href, { waitUntil: 'load' })
  }, 60_000)

  afterAll(async () => {
    await browser?.close()
  })

  test('the page loads alone: no console error, no request but the page itself', () => {
    expect(consoleErrors).toEqual([])
    expect(failed).toEqual([])
    expect(requests).toEqual([pathToFileURL(join(reportDir, 'index.html')).href])
    expect(readFileSync(join(reportDir, 'index.html'), 'utf8')).not.toMatch(/<script/i)
  })

  test('the overview and one table per stage render, with the verdicts', async () => {
    expect(await page.title()).toBe('vitest-align report: not aligned')
    const overview = page.locator('table.stages tbody tr')
    expect(await overview.count()).toBe(4)
    expect(await overview.allInnerTexts()).toEqual([
      expect.stringMatching(/^forward\t01-forward\.align\.test\.ts\t5\t0\t5\.91e-8\t1\taligned$/),
      expect.stringMatching(/^train\t02-train\.align\.test\.ts\t10\t0\t2\.48e-7\t1\taligned$/),
      expect.stringMatching(/^backward\t03-backward\.align\.test\.ts\t3\t0\t5\.31e-8\t0\taligned$/),
      expect.stringMatching(/^loss\t04-loss\.align\.test\.ts\t3\t2\t0\.476\t0\tnot aligned$/),
    ])
    const stages = page.locator('section.stage')
    const headings = await stages.locator('h2').allInnerTexts()
    expect(headings.map((t) => t.replace(/\s+/g, ' '))).toEqual([
      'forward aligned',
      'train aligned',
      'backward aligned',
      'loss not aligned',
    ])
    // a key with markup in it is shown as text
    expect(await page.locator('td.key', { hasText: 'probs<τ=1>|"x"' }).count()).toBe(1)
    const loss = stages.nth(3)
    expect(await loss.locator('tr.reason').first().textContent()).toBe(
      'mean |Δ| 0.1 > 1e-6; passes at threshold=0.1',
    )
    expect(await page.locator('.badge.expected-fail').count()).toBe(2)
    for (const table of await page.locator('table').all()) {
      const box = await table.boundingBox()
      expect(box?.width).toBeGreaterThan(300)
      expect(box?.height).toBeGreaterThan(40)
    }
  })

  test('the charts render: a histogram per key, the curves with both sides and a legend', async () => {
    const hists = page.locator('svg.hist')
    expect(await hists.count()).toBe(13)
    for (const svg of await hists.all()) {
      const box = await svg.boundingBox()
      expect(box?.width).toBeGreaterThan(200)
      expect(box?.height).toBeGreaterThan(80)
      expect(await svg.locator('rect').count()).toBeGreaterThan(0)
    }
    const curves = page.locator('svg.curve')
    expect(await curves.count()).toBe(2)
    for (const svg of await curves.all()) {
      const box = await svg.boundingBox()
      expect(box?.width).toBeGreaterThan(400)
      expect(box?.height).toBeGreaterThan(150)
      expect(await svg.locator('path').count()).toBe(2) // reference and candidate
      expect(await svg.locator('circle').count()).toBeGreaterThanOrEqual(10)
      const legend = await svg.locator('g.legend').textContent()
      expect(legend).toContain('reference (expected)')
      expect(legend).toContain('candidate (actual)')
      const line = await svg.locator('path').first().boundingBox()
      expect(line?.width).toBeGreaterThan(300)
    }
    expect(await page.locator('figure figcaption').allInnerTexts()).toContain(
      'loss\nloss_0 … loss_4 · 5 steps, all aligned',
    )
  })

  test('a screenshot of the whole page is saved in the report directory', async () => {
    const png = join(reportDir, 'index.png')
    await page.screenshot({ path: png, fullPage: true })
    expect(statSync(png).size).toBeGreaterThan(50_000)
    // the reporter's next run leaves it there (it only replaces its own files)
    expect(existsSync(join(reportDir, 'summary.md'))).toBe(true)
  })
})
