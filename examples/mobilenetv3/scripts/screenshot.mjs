/**
 * Takes the README's screenshot of the report: align-out/index.html (written by `npm run align`)
 * in headless Chromium (Debian's /usr/bin/chromium, or CHROMIUM), the top of the page, as
 * docs/report.png. Run: `npm run align && node examples/mobilenetv3/scripts/screenshot.mjs`.
 */
import { existsSync } from 'node:fs'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { chromium } from 'playwright-core'

const page = fileURLToPath(new URL('../align-out/index.html', import.meta.url))
const png = fileURLToPath(new URL('../docs/report.png', import.meta.url))
if (!existsSync(page)) throw new Error(`${page} is missing: run npm run align first`)

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  args: ['--no-sandbox'],
})
try {
  const tab = await browser.newPage({ viewport: { width: 1280, height: 1400 } })
  await tab.goto(pathToFileURL(page).href)
  await tab.screenshot({ path: png })
  console.log(`wrote ${png}`)
} finally {
  await browser.close()
}
