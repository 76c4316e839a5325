/**
 * Rego modules as `opa parse --format json --json-include locations` prints them, and the few
 * helpers the build-time analysis needs: parsing files with the real `opa`, reading refs as static
 * paths, naming calls.
 *
 * @module
 */
import { createHash } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { PolicyError } from './errors.ts'
import { runOpa } from './opa-cli.ts'

/** `opa parse` output by file name and content hash (bounded). */
const parsed = new Map<string, string>()

/** A term of the Rego AST (`{type, value}`), with its location when `opa parse` was asked for them. */
export interface Term {
  type: string
  value: unknown
  location?: Location
}

/** A source location (`row` is 1-based). */
export interface Location {
  file: string
  row: number
  col: number
}

/** An expression: `terms` is a call (operator first), a single term, `some` symbols or an `every`. */
export interface Expr {
  index: number
  negated?: boolean
  generated?: boolean
  terms: Term[] | Term | { symbols: Term[] } | { key: Term | null; value: Term; domain: Term; body: Expr[] }
  with?: Array<{ target: Term; value: Term }>
  location?: Location
}

/** A `# METADATA` block. */
export interface Annotation {
  scope: string
  title?: string
  description?: string
  location?: Location
}

/** A rule: head (name, ref, args, key for `contains`, value), body and `else` chain. */
export interface Rule {
  head: { name?: string; ref?: Term[]; args?: Term[]; key?: Term; value?: Term; assign?: boolean; location?: Location }
  body: Expr[]
  else?: Rule
  default?: boolean
  annotations?: Annotation[]
  location?: Location
}

/** A parsed module. */
export interface Module {
  package: { path: Term[]; location?: Location }
  imports?: Array<{ path: Term; alias?: string; location?: Location }>
  rules?: Rule[]
  annotations?: Annotation[]
}

/**
 * Parses Rego files with `opa parse` (locations included), at most two at a time. A syntax error
 * throws {@link PolicyError} `ERR_OPA_BUILD` with `file:row:col: message`.
 *
 * @param cwd Folder the `files` are relative to; locations name the files as given.
 */
export async function parseRegoFiles(opa: string, cwd: string, files: readonly string[], timeoutMs = 60_000): Promise<Map<string, Module>> {
  const out = new Map<string, Module>()
  const queue = [...files]
  const worker = async () => {
    for (let file = queue.shift(); file !== undefined; file = queue.shift()) {
      // Same name, same text, same AST: the library is parsed once per process, not once per build.
      const key = createHash('sha256').update(file).update('\0').update(await readFile(join(cwd, file))).digest('hex')
      let text = parsed.get(key)
      if (text === undefined) {
        text = await runOpa(opa, ['parse', '--format', 'json', '--json-include', 'locations,-comments', file], { cwd, timeoutMs })
        if (parsed.size >= 512) parsed.delete(parsed.keys().next().value as string)
        parsed.set(key, text)
      }
      out.set(file, JSON.parse(text) as Module)
    }
  }
  await Promise.all([worker(), worker()])
  return out
}

/** The package path of a module without `data` (`mcp.authz.custom` → ['mcp','authz','custom']). */
export function packagePath(m: Module): string[] {
  return m.package.path.slice(1).map((t) => String(t.value))
}

/** Whether a term is a ref. */
export const isRef = (t: unknown): t is Term & { value: Term[] } => typeof t === 'object' && t !== null && (t as Term).type === 'ref' && Array.isArray((t as Term).value)

/** Whether a term is a var (optionally with a given name). */
export const isVar = (t: unknown, name?: string): t is Term & { value: string } =>
  typeof t === 'object' && t !== null && (t as Term).type === 'var' && (name === undefined || (t as Term).value === name)

/** A ref's name when it is made of a var and string parts only (`time.now_ns`, `data.x.y`). */
export function refName(t: Term): string | undefined {
  if (!isRef(t)) return undefined
  const parts: string[] = []
  for (const [i, p] of t.value.entries()) {
    if (i === 0 && p.type === 'var') parts.push(String(p.value))
    else if (i > 0 && p.type === 'string') parts.push(String(p.value))
    else return undefined
  }
  return parts.join('.')
}

/** The static string path of ref elements after the head, up to the first non-string element. */
export function staticPath(elements: readonly Term[]): { path: string[]; complete: boolean } {
  const path: string[] = []
  for (const e of elements) {
    if (e.type !== 'string') return { path, complete: false }
    path.push(String(e.value))
  }
  return { path, complete: true }
}
