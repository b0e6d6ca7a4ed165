/**
 * The `keys` patterns: `*` matches any run of characters within one dotted segment (no `.`),
 * `**` any run across segments, every other character itself; a pattern matches the whole key.
 * `***` is `**` then `*`, as the pattern is read from the left.
 *
 * Matched by simulating the pattern's automaton over the key (a set of pattern positions per
 * key character), so a match takes O(|key|·|pattern|) steps whatever the pattern: a regex or a
 * backtracking matcher takes exponential time on `'*a'.repeat(12) + '*c'` against a key of 40
 * `a`s.
 */

/** `0`: `*` (no dot), `1`: `**` (anything), else the one character to match. */
type Token = 0 | 1 | string

const compiled = new Map<string, readonly Token[]>()

function tokens(pattern: string): readonly Token[] {
  let out = compiled.get(pattern)
  if (out !== undefined) return out
  const list: Token[] = []
  for (let i = 0; i < pattern.length; i++) {
    if (pattern[i] !== '*') list.push(pattern[i] as string)
    else if (pattern[i + 1] === '*') {
      list.push(1)
      i++
    } else list.push(0)
  }
  out = list
  // patterns come from the caller's options: a handful, so the cache stays small
  if (compiled.size < 10_000) compiled.set(pattern, out)
  return out
}

/** Adds every position reachable from those in `set` by letting stars match nothing. */
function close(t: readonly Token[], set: Uint8Array): void {
  for (let i = 0; i < t.length; i++) {
    if (set[i] === 1 && typeof t[i] === 'number') set[i + 1] = 1
  }
}

/** Whether a `keys` pattern matches a dotted key: `*` within a segment, `**` across them. */
export function keyMatches(pattern: string, key: string): boolean {
  const t = tokens(pattern)
  // fast paths: no star, or nothing but `**`
  if (!t.some((x) => typeof x === 'number')) return pattern === key
  let now = new Uint8Array(t.length + 1)
  let next = new Uint8Array(t.length + 1)
  now[0] = 1
  close(t, now)
  for (let c = 0; c < key.length; c++) {
    const ch = key[c]
    next.fill(0)
    let any = false
    for (let i = 0; i < t.length; i++) {
      if (now[i] !== 1) continue
      const tok = t[i]
      if (tok === 1 || (tok === 0 && ch !== '.')) {
        next[i] = 1
        any = true
      } else if (tok === ch) {
        next[i + 1] = 1
        any = true
      }
    }
    if (!any) return false
    close(t, next)
    const swap = now
    now = next
    next = swap
  }
  return now[t.length] === 1
}
