/**
 * Decision tables: YAML or JSON files of cases — a principal (shorthand or full) and a JSON-RPC
 * message (shorthand or full) with the expected `allow`, `status`, reason codes and
 * `required_scopes` — decided by the production engine (`createAuthz(...).decide`) on the bundle
 * built from the same Rego and data. A file is a decision table when it is named `decisions.yaml`,
 * `decisions.yml`, `decisions.json` or `<anything>.decisions.yaml|yml|json`.
 *
 * ```yaml
 * defaults:
 *   principal: { sub: alice, scopes: "fs:read" }
 * principals:                      # named principals a case can refer to by name
 *   admin: { sub: root, scopes: "fs:read fs:write", roles: admin }
 * cases:
 *   - name: alice reads her own file
 *     tool: fs_read
 *     args: { path: /home/alice/notes.txt }
 *     expect: { allow: true }
 *   - name: alice cannot read bob's file
 *     tool: fs_read
 *     args: { path: /home/bob/notes.txt }
 *     expect: { allow: false, reasons: [path_outside_home] }
 * ```
 *
 * @module
 */
import { readFile } from 'node:fs/promises'
import { isMap, isSeq, LineCounter, parseDocument } from 'yaml'
import type { Authz } from '../authz.ts'
import type { Principal } from '../contracts/principal.ts'
import { schemaProblems } from '../schemas.ts'
import { messageFromShorthand, principalFromShorthand, ShorthandError, type MessageShorthand, type PrincipalShorthand } from './shorthand.ts'

/** Whether a file name is a decision table. */
export const isDecisionTable = (name: string) => /(^|[./\\])decisions\.(ya?ml|json)$/i.test(name)

/** What a case expects; every field is optional, at least one is required. */
export interface Expectation {
  allow?: boolean
  status?: number
  /** Reason codes, in any order (exactly these). */
  reasons?: string[]
  /** Required scopes, in any order (exactly these). */
  required_scopes?: string[]
}

/** One case of a table, as written. */
export interface TableCase extends MessageShorthand {
  name?: string
  /** Shorthand, a full principal, or the name of one of the table's `principals`. */
  principal?: PrincipalShorthand | Principal | string
  message?: Record<string, unknown>
  annotations?: Record<string, unknown>
  transport?: string
  expect: Expectation
}

/** A field that differs. */
export interface FieldDiff {
  field: string
  expected: unknown
  got: unknown
}

/** The outcome of one test, Rego or table. */
export interface TestOutcome {
  kind: 'rego' | 'table'
  name: string
  /** The file as the user named it, and the line of the test. */
  file: string
  line: number
  ok: boolean
  /** For tables: what differs. */
  diffs?: FieldDiff[]
  /** An error instead of an answer (bad case, Rego error). */
  error?: string
  /** What the decision was, for context on failures. */
  got?: { allow: boolean; status: number; reasons: string[]; required_scopes: string[] }
}

/** A table file that cannot be read; every problem with its line. */
export class TableError extends Error {}

const EXPECT_KEYS = new Set(['allow', 'status', 'reasons', 'required_scopes'])
const CASE_KEYS = new Set(['name', 'principal', 'message', 'tool', 'prompt', 'uri', 'method', 'args', 'params', 'id', 'annotations', 'transport', 'expect'])

interface LoadedCase {
  line: number
  value: TableCase
}

/** Reads a table file: its cases with their lines. */
export async function readTable(file: string): Promise<{ cases: LoadedCase[]; defaults: { principal?: PrincipalShorthand }; principals: Record<string, PrincipalShorthand | Principal> }> {
  const text = await readFile(file, 'utf8')
  const lineCounter = new LineCounter()
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: false, lineCounter })
  if (doc.errors.length > 0) {
    throw new TableError(doc.errors.map((e) => `${file}:${lineCounter.linePos(e.pos[0]).line}:${lineCounter.linePos(e.pos[0]).col}: ${e.message.split('\n')[0]}`).join('\n'))
  }
  const root = doc.contents
  const casesNode = isMap(root) ? root.get('cases', true) : undefined
  if (!isSeq(casesNode)) throw new TableError(`${file}:1: a decision table is an object with a "cases" list`)
  const js = doc.toJS() as { cases: unknown[]; defaults?: { principal?: PrincipalShorthand }; principals?: Record<string, PrincipalShorthand | Principal> }
  const problems: string[] = []
  for (const key of Object.keys(js)) if (!['cases', 'defaults', 'principals'].includes(key)) problems.push(`${file}:1: unknown top-level key "${key}" (a table has cases, defaults, principals)`)
  const principals = js.principals ?? {}
  if (principals === null || typeof principals !== 'object' || Array.isArray(principals)) problems.push(`${file}:1: principals is a map of name to principal`)
  const cases: LoadedCase[] = []
  for (const [i, node] of casesNode.items.entries()) {
    const line = lineCounter.linePos((node as { range?: [number] }).range?.[0] ?? 0).line
    const value = js.cases[i] as TableCase
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      problems.push(`${file}:${line}: a case is an object`)
      continue
    }
    for (const key of Object.keys(value)) if (!CASE_KEYS.has(key)) problems.push(`${file}:${line}: unknown key "${key}" (a case has ${[...CASE_KEYS].join(', ')})`)
    if (typeof value.principal === 'string' && !Object.hasOwn(principals, value.principal)) problems.push(`${file}:${line}: no principal named "${value.principal}" in principals (${Object.keys(principals).join(', ') || 'none'})`)
    if (value.expect === null || typeof value.expect !== 'object' || Object.keys(value.expect).length === 0) problems.push(`${file}:${line}: the case needs an "expect" with allow, status, reasons and/or required_scopes`)
    else for (const key of Object.keys(value.expect)) if (!EXPECT_KEYS.has(key)) problems.push(`${file}:${line}: unknown expectation "${key}" (expect allow, status, reasons, required_scopes)`)
    cases.push({ line, value })
  }
  if (problems.length > 0) throw new TableError(problems.join('\n'))
  return { cases, defaults: js.defaults ?? {}, principals }
}

const sorted = (xs: readonly string[]) => [...xs].sort()

/**
 * Runs a table's cases through the engine.
 *
 * @param shown The file name to report (as the user wrote it).
 */
export async function runTable(authz: Authz, file: string, shown = file): Promise<TestOutcome[]> {
  const { cases, defaults, principals } = await readTable(file)
  const out: TestOutcome[] = []
  for (const { line, value: c } of cases) {
    const name = c.name ?? `case at line ${line}`
    let principal: Principal
    let message: unknown
    try {
      const p = (typeof c.principal === 'string' ? principals[c.principal] : c.principal) ?? {}
      if ('subject' in p) {
        const problems = schemaProblems('principal', p)
        if (problems.length > 0) throw new ShorthandError(`principal: ${problems.map((x) => `${x.path} ${x.message}`).join('; ')}`)
        principal = p as Principal
      } else principal = principalFromShorthand({ ...(defaults.principal ?? {}), ...(p as PrincipalShorthand) }, authz.bundle.config, `test:${line}`)
      message = c.message ?? messageFromShorthand(c)
    } catch (err) {
      out.push({ kind: 'table', name, file: shown, line, ok: false, error: (err as Error).message })
      continue
    }
    const r = authz.decide(principal, message, { ...(c.annotations !== undefined ? { annotations: c.annotations } : {}), ...(c.transport !== undefined ? { transport: c.transport } : {}) })
    const got = { allow: r.allow, status: r.status, reasons: r.reasons.map((x) => x.code), required_scopes: r.requiredScopes }
    const diffs: FieldDiff[] = []
    const e = c.expect
    if (e.allow !== undefined && e.allow !== got.allow) diffs.push({ field: 'allow', expected: e.allow, got: got.allow })
    if (e.status !== undefined && e.status !== got.status) diffs.push({ field: 'status', expected: e.status, got: got.status })
    if (e.reasons !== undefined && JSON.stringify(sorted(e.reasons)) !== JSON.stringify(sorted(got.reasons))) diffs.push({ field: 'reasons', expected: sorted(e.reasons), got: sorted(got.reasons) })
    if (e.required_scopes !== undefined && JSON.stringify(sorted(e.required_scopes)) !== JSON.stringify(sorted(got.required_scopes))) diffs.push({ field: 'required_scopes', expected: sorted(e.required_scopes), got: sorted(got.required_scopes) })
    const policyError = r.reasons.find((x) => x.code === 'policy_error')
    out.push({ kind: 'table', name, file: shown, line, ok: diffs.length === 0, diffs, got, ...(policyError !== undefined && diffs.length > 0 ? { error: policyError.message } : {}) })
  }
  return out
}
