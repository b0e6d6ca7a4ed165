/**
 * The example README's code cannot rot: every TypeScript block is an excerpt of the file its
 * first line names (token for token) (which tsc type-checks and the stages run), every shell line is a
 * command that exists (an npm script of package.json, or a file that `node` runs), and
 * every other block is a `text` block of output.
 */
import { existsSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { describe, expect, test } from 'vitest'
import { codeBlocks, layoutFree } from '../../helpers/markdown.js'

const example = fileURLToPath(new URL('../../../examples/mobilenetv3/', import.meta.url))
const root = fileURLToPath(new URL('../../../', import.meta.url))
const readme = readFileSync(`${example}README.md`, 'utf8')
const scripts = Object.keys(JSON.parse(readFileSync(`${root}package.json`, 'utf8')).scripts)

const all = codeBlocks(readme)

describe('examples/mobilenetv3/README.md', () => {
  test('has TypeScript, shell and output blocks, and no other kind', () => {
    expect(new Set(all.map((b) => b.lang))).toEqual(new Set(['ts', 'sh', 'text']))
  })

  for (const b of all.filter((b) => b.lang === 'ts')) {
    test(`line ${b.at}: the TypeScript block is an excerpt of the file it names`, () => {
      const [first, ...body] = b.lines
      const named = /^\/\/ (\S+\.ts)$/.exec(first ?? '')
      expect(named, `the block's first line names its file: ${first}`).not.toBeNull()
      const source = readFileSync(`${example}${named?.[1]}`, 'utf8')
      expect(body.length).toBeGreaterThan(0)
      // Biome formats the README's code too, at its own indentation and line breaks: compare
      // the tokens, not the layout
      expect(layoutFree(source)).toContain(layoutFree(body.join('\n')))
    })
  }

  for (const b of all.filter((b) => b.lang === 'sh')) {
    test(`line ${b.at}: every shell command exists`, () => {
      for (const line of b.lines.filter((l) => l.trim() !== '' && !l.startsWith('#'))) {
        // environment assignments first (VITEST_ALIGN_BACKEND=cpu npm run align)
        const words = line.split(/\s+/).filter((w) => !/^[A-Z_]+=\S*$/.test(w))
        if (words[0] === 'node') {
          expect(existsSync(`${root}${words[1]}`), line).toBe(true)
        } else {
          expect(words.slice(0, 2), line).toEqual(['npm', 'run'])
          expect(scripts, line).toContain(words[2])
        }
      }
    })
  }
})
