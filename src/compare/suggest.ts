/**
 * The one "did you mean": every validator of the package (compare's options and their `keys`
 * patterns and `tolerances`, the plugin's, `defineAlignment`'s, the reporter's, the CLI's flags)
 * names an unknown option or value through {@link unknownName}, so a typo reads the same
 * wherever it is made.
 *
 * Why not a schema library (valibot, zod): the options are a few dozen names checked once per
 * call; the messages must name the option's full path (`keys.a.*.rtoll`) in this package's
 * words and carry the suggestion; a library would add a dependency to every user's install for
 * what these two functions do.
 */

/** Edit distance with transpositions (optimal string alignment), case aside. */
function distance(a: string, b: string): number {
  const x = a.toLowerCase()
  const y = b.toLowerCase()
  const d: number[][] = []
  for (let i = 0; i <= x.length; i++) d.push([i])
  for (let j = 1; j <= y.length; j++) (d[0] as number[])[j] = j
  for (let i = 1; i <= x.length; i++) {
    const row = d[i] as number[]
    const up = d[i - 1] as number[]
    for (let j = 1; j <= y.length; j++) {
      const cost = x[i - 1] === y[j - 1] ? 0 : 1
      let v = Math.min(
        (up[j] as number) + 1,
        (row[j - 1] as number) + 1,
        (up[j - 1] as number) + cost,
      )
      if (i > 1 && j > 1 && x[i - 1] === y[j - 2] && x[i - 2] === y[j - 1]) {
        v = Math.min(v, ((d[i - 2] as number[])[j - 2] as number) + 1)
      }
      row[j] = v
    }
  }
  return (d[x.length] as number[])[y.length] as number
}

/**
 * The known name `name` is most likely a typo of: the closest within two edits (a letter added,
 * dropped, changed or two swapped; case aside), and for names of three letters or fewer within
 * one; the first of the closest on a tie. Undefined when none is that close.
 */
export function nearest(name: string, known: readonly string[]): string | undefined {
  let best: string | undefined
  let bestD = Number.POSITIVE_INFINITY
  const limit = name.length <= 3 ? 1 : 2
  for (const k of known) {
    if (Math.abs(k.length - name.length) > limit) continue
    const d = distance(name, k)
    if (d <= limit && d < bestD) {
      best = k
      bestD = d
    }
  }
  return best
}

/**
 * The reason for an unknown name: `unknown <what>; did you mean 'x'? known: a, b, c` (the hint
 * when {@link nearest} finds one). `quote` quotes the known names too, for values (`'mean'`).
 */
export function unknownName(
  name: string,
  known: readonly string[],
  what = 'option',
  quote = false,
): string {
  const near = nearest(name, known)
  const hint = near === undefined ? '' : ` did you mean '${near}'?`
  const list = quote ? known.map((k) => `'${k}'`) : known
  return `unknown ${what};${hint} known: ${list.join(', ')}`
}

/** `; did you mean 'x'?` for a string value close to one of `known`, else ''. */
export function valueHint(value: unknown, known: readonly string[]): string {
  const near = typeof value === 'string' ? nearest(value, known) : undefined
  return near === undefined ? '' : `; did you mean '${near}'?`
}
