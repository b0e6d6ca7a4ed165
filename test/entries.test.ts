/**
 * The package's entries (package.json `exports`): each resolves to built code, the former
 * `vitest-align/npy` is the same module as `vitest-align/files`, and only the entries that call
 * Vitest load it (their import graph, read from the built files, reaches a `vitest` module): a
 * script that compares or reads files does not.
 */
import { readFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, test } from 'vitest'

const root = fileURLToPath(new URL('../', import.meta.url))
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  exports: Record<string, string | { types: string; default: string }>
}

/** Every bare module a built file reaches through value imports (type imports are erased). */
function bareImports(file: string, seen = new Set<string>(), out = new Set<string>()): Set<string> {
  if (seen.has(file)) return out
  seen.add(file)
  const code = readFileSync(file, 'utf8')
  const specifiers = [
    ...code.matchAll(/^\s*(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]/gm),
    ...code.matchAll(/^\s*import\s*['"]([^'"]+)['"]/gm),
    ...code.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g),
  ].map((m) => m[1] as string)
  for (const s of specifiers) {
    if (s.startsWith('.')) bareImports(resolve(dirname(file), s), seen, out)
    else out.add(s)
  }
  return out
}

const entry = (name: string): string => {
  const e = pkg.exports[name]
  const target = typeof e === 'string' ? e : (e?.default as string)
  return join(root, target)
}
const loadsVitest = (name: string): boolean =>
  [...bareImports(entry(name))].some((s) => s === 'vitest' || s.startsWith('vitest/'))

describe('package entries', () => {
  test('the documented entries exist, with types', () => {
    expect(Object.keys(pkg.exports).sort()).toEqual(
      [
        '.',
        './convert',
        './files',
        './fixtures',
        './matchers',
        './npy',
        './package.json',
        './plugin',
        './reporter',
        './vitest',
      ].sort(),
    )
    for (const [name, e] of Object.entries(pkg.exports)) {
      if (typeof e === 'string') continue
      expect(readFileSync(join(root, e.default), 'utf8').length, name).toBeGreaterThan(0)
      expect(readFileSync(join(root, e.types), 'utf8').length, name).toBeGreaterThan(0)
    }
  })

  test('vitest-align/npy, the former name, is vitest-align/files', async () => {
    expect(pkg.exports['./npy']).toEqual(pkg.exports['./files'])
    const files = await import('vitest-align/files')
    const npy = await import('vitest-align/npy')
    expect(npy.readNpy).toBe(files.readNpy)
  })

  test('only the setup file and the fixtures load Vitest: comparing and reading files do not', () => {
    const loading = Object.keys(pkg.exports).filter((n) => n !== './package.json' && loadsVitest(n))
    // the setup file and defineAlignment call Vitest's expect and test; the plugin and the
    // reporter only name its types (Vitest loads them itself)
    expect(loading.sort()).toEqual(['./fixtures', './vitest'])
  })

  test('the root exports what users call, not internals', async () => {
    const api = await import('vitest-align')
    for (const name of ['compare', 'compareLayerwise', 'compareWithinNoise', 'formatReport']) {
      expect(typeof (api as Record<string, unknown>)[name], name).toBe('function')
    }
    for (const name of ['AlignError', 'AlignInputError', 'AlignOptionsError', 'NpyFormatError']) {
      expect(typeof (api as Record<string, unknown>)[name], name).toBe('function')
    }
    for (const internal of [
      'decodeNpy',
      'formatTable',
      'summarize',
      'keyMatches',
      'unravel',
      'normalize',
      'defineAlignment',
    ]) {
      expect(internal in api, internal).toBe(false)
    }
  })
})
