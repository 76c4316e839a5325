/**
 * Code blocks of the documentation, for the tests that hold the docs to what the package does
 * (test/docs/, test/install/). A block may be preceded by a marker comment, invisible once
 * rendered:
 *
 * - `<!-- snippet: partial -->` — an excerpt that does not compile alone (it uses names the text
 *   around it defines); not type-checked. Keep these few.
 * - `<!-- snippet: <file> -->` — the block is that file of a user's project (`data.yaml`,
 *   `server.ts`): the install test writes it there and runs it.
 * - `<!-- snippet: output of <command> -->` — what `<command>` prints; `…` stands for any text.
 *
 * @module
 */
import { readdirSync, readFileSync } from 'node:fs'
import { join, relative } from 'node:path'

/** The repository root. */
export const REPO = new URL('../../', import.meta.url).pathname.replace(/\/$/, '')

/** One fenced code block of a markdown file. */
export interface CodeBlock {
  /** The markdown file, relative to the repository root. */
  doc: string
  /** Line of the opening fence (1-based). */
  line: number
  /** The info string's language (`ts`, `sh`, …), `''` when none. */
  lang: string
  /** What the marker comment before the fence says (`partial`, `server.ts`, `output of …`), if any. */
  marker?: string
  code: string
}

/** The fenced code blocks of a markdown text (fences at the start of a line only). */
export function codeBlocks(markdown: string, doc: string): CodeBlock[] {
  const lines = markdown.split('\n')
  const blocks: CodeBlock[] = []
  for (let i = 0; i < lines.length; i++) {
    const open = /^```([\w-]*)\s*$/.exec(lines[i] as string)
    if (open === null) continue
    const end = lines.findIndex((l, j) => j > i && /^```\s*$/.test(l))
    if (end === -1) throw new Error(`${doc}:${i + 1}: unclosed code block`)
    let before = i - 1
    while (before >= 0 && (lines[before] as string).trim() === '') before--
    const marker = /^<!--\s*snippet:\s*(.+?)\s*-->$/.exec((lines[before] ?? '').trim())?.[1]
    blocks.push({ doc, line: i + 1, lang: open[1] ?? '', ...(marker !== undefined ? { marker } : {}), code: lines.slice(i + 1, end).join('\n') })
    i = end
  }
  return blocks
}

/** The user-facing markdown files: README.md, docs/**\/*.md and examples/*\/README.md. */
export function documentationFiles(): string[] {
  const docs = readdirSync(join(REPO, 'docs'), { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith('.md'))
    .map((e) => relative(REPO, join(e.parentPath, e.name)))
  const examples = readdirSync(join(REPO, 'examples'), { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => `examples/${e.name}/README.md`)
    .filter((f) => {
      try {
        readFileSync(join(REPO, f))
        return true
      } catch {
        return false
      }
    })
  return ['README.md', ...docs.sort(), ...examples.sort()]
}

/** Every code block of every user-facing markdown file. */
export function documentationBlocks(): CodeBlock[] {
  return documentationFiles().flatMap((doc) => codeBlocks(readFileSync(join(REPO, doc), 'utf8'), doc))
}

/** The block of `doc` whose marker is exactly `marker`. Throws when there is not exactly one. */
export function markedBlock(doc: string, marker: string): CodeBlock {
  const found = codeBlocks(readFileSync(join(REPO, doc), 'utf8'), doc).filter((b) => b.marker === marker)
  if (found.length !== 1) throw new Error(`${doc} must have exactly one block marked <!-- snippet: ${marker} --> (found ${found.length})`)
  return found[0] as CodeBlock
}

/** Whether `actual` (one line) matches a documented line, where `…` stands for any text. */
export function matchesDocumented(actual: string, documented: string): boolean {
  const pattern = documented.split('…').map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.*')
  return new RegExp(`^${pattern}$`).test(actual)
}
