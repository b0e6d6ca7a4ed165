/**
 * Bounded quoting for error messages. A file can hold a key of a million characters or a
 * Python int of 2^25 bits; a message that quoted either whole would cost megabytes and seconds
 * to build (decimal formatting of a bigint is quadratic). Every message of io quotes file
 * content through these helpers, so no message grows with the input.
 */

/** The most characters of a value a message quotes. */
export const EXCERPT_CHARS = 40

/**
 * `s` quoted as a JSON string, cut to {@link EXCERPT_CHARS} characters with `…` and the full
 * length when longer. Control characters come out escaped by JSON (`\n`, `\u001b`), so a
 * message never carries a raw newline or terminal escape from a file.
 */
export function quote(s: string, max = EXCERPT_CHARS): string {
  if (s.length <= max) return JSON.stringify(s)
  return `${JSON.stringify(s.slice(0, max))}… (${s.length} characters)`
}

/**
 * `s` for a message inside quotes the message writes itself (`descr '<f4'`): control characters
 * escaped as JSON escapes them, cut to `max` characters with `…` and the full length.
 */
export function clip(s: string, max = EXCERPT_CHARS): string {
  const body = JSON.stringify(s.length <= max ? s : s.slice(0, max)).slice(1, -1)
  return s.length <= max ? body : `${body}… (${s.length} characters)`
}

/**
 * A bigint for a message: in decimal when it has at most 256 bits (78 digits), else its sign, bit length and
 * lowest 16 hex digits (computing the bit length is linear; decimal is not).
 */
export function bigintExcerpt(n: bigint): string {
  if (n >= -(2n ** 256n) && n < 2n ** 256n) return n.toString()
  const abs = n < 0n ? -n : n
  const bits = abs.toString(16).length * 4 // an upper bound within 3 bits, good enough to name it
  const low = (abs & (2n ** 64n - 1n)).toString(16).padStart(16, '0')
  return `<${n < 0n ? 'minus ' : ''}about ${bits} bits, …${low} in hex>`
}

/** A key for `[key '...']` in a message: the key itself when short, else an excerpt. */
export function keyExcerpt(key: string, max = 200): string {
  return key.length <= max ? key : `${key.slice(0, max)}… (${key.length} characters)`
}

/** Any value a caller passed, for an options or argument error: its type and a short excerpt. */
export function valueExcerpt(v: unknown): string {
  if (typeof v === 'string') return `the string ${quote(v)}`
  if (typeof v === 'number' || typeof v === 'boolean' || v === undefined) return String(v)
  if (typeof v === 'bigint') return `${bigintExcerpt(v)}n`
  if (v === null) return 'null'
  if (typeof v === 'function') return 'a function'
  if (Array.isArray(v)) return `an array of length ${v.length}`
  const name = (Object.getPrototypeOf(v) as { constructor?: { name?: unknown } } | null)
    ?.constructor?.name
  return typeof name === 'string' && name !== '' ? `a ${quote(name, 20).slice(1, -1)}` : 'an object'
}
