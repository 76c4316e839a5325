/**
 * Reads a JSON or YAML document (configuration files, policy data) and reports every syntax error
 * with its line and column, and duplicate keys (which `JSON.parse` would silently resolve to the
 * last one — a second `tools` block would replace the first).
 *
 * @module
 */
import { LineCounter, parseDocument } from 'yaml'

/** A syntax problem at a position (1-based line and column). */
export interface SyntaxProblem {
  line: number
  column: number
  message: string
}

/** A document that could not be read: every problem with its position. */
export class DocumentSyntaxError extends Error {
  readonly problems: SyntaxProblem[]
  constructor(file: string, problems: SyntaxProblem[]) {
    super(`${file} is not valid ${/\.json$/i.test(file) ? 'JSON' : 'YAML/JSON'}:\n${problems.map((p) => `  ${file}:${p.line}:${p.column}: ${p.message}`).join('\n')}`)
    this.problems = problems
  }
}

function position(text: string, offset: number): { line: number; column: number } {
  let line = 1
  let start = 0
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) {
      line++
      start = i + 1
    }
  }
  return { line, column: offset - start + 1 }
}

function yamlProblems(text: string): { value: unknown; problems: SyntaxProblem[] } {
  const lineCounter = new LineCounter()
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: false, lineCounter })
  const problems = doc.errors.map((e) => {
    const at = lineCounter.linePos(e.pos[0])
    return { line: at.line, column: at.col, message: (e.message.split('\n')[0] ?? e.message).replace(/ at line \d+, column \d+:?$/, '') }
  })
  return { value: problems.length === 0 ? doc.toJS({ maxAliasCount: 100 }) : undefined, problems }
}

/**
 * Parses a document: `.json` files strictly as JSON (duplicate keys refused), anything else as
 * YAML 1.2 (a superset of JSON).
 *
 * @throws {DocumentSyntaxError} with every problem's line and column.
 * @example
 * ```ts
 * parseDocumentText('{"a": 1,}', 'data.json') // throws: data.json:1:9: Unexpected token '}' …
 * ```
 */
export function parseDocumentText(text: string, file: string): unknown {
  if (/\.json$/i.test(file)) {
    let value: unknown
    try {
      value = JSON.parse(text)
    } catch (err) {
      const message = (err as Error).message
      const m = /position (\d+)/.exec(message)
      const at = m !== null ? position(text, Number(m[1])) : /Unexpected end/.test(message) ? position(text, text.length) : { line: 1, column: 1 }
      throw new DocumentSyntaxError(file, [{ ...at, message: message.replace(/ in JSON at position \d+( \(line \d+ column \d+\))?/, '').replace(/^(.*?), ".*" is not valid JSON$/s, '$1') }])
    }
    const duplicates = yamlProblems(text).problems.filter((p) => /unique/i.test(p.message))
    if (duplicates.length > 0) throw new DocumentSyntaxError(file, duplicates.map((p) => ({ ...p, message: 'duplicate key: the later value would silently replace the earlier one' })))
    return value
  }
  const { value, problems } = yamlProblems(text)
  if (problems.length > 0) throw new DocumentSyntaxError(file, problems)
  return value
}
