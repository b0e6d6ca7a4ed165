/** The fenced code blocks of a markdown file, for the tests that keep READMEs from rotting. */

export interface Block {
  /** The fence's language (`ts`, `sh`, `text`; '' for a bare fence). */
  readonly lang: string
  readonly lines: string[]
  /** The line of the opening fence, from 1. */
  readonly at: number
}

export function codeBlocks(markdown: string, name = 'README.md'): Block[] {
  const out: Block[] = []
  const lines = markdown.split('\n')
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\w*)$/.exec(lines[i] as string)
    if (!open) continue
    const end = lines.indexOf('```', i + 1)
    if (end < 0) throw new Error(`${name}:${i + 1}: unclosed code block`)
    out.push({ lang: open[1] as string, lines: lines.slice(i + 1, end), at: i + 1 })
    i = end
  }
  return out
}

/**
 * Code without whitespace and without the trailing commas a formatter adds or drops: Biome
 * formats a README's code at its own indentation and line width, so excerpts compare by tokens.
 */
export const layoutFree = (code: string): string =>
  code.replace(/\s+/g, '').replace(/,([)\]}])/g, '$1')
