/**
 * What a compiled bundle reads and can answer, derived at build time from the Rego itself (never
 * from a declaration a user could get wrong) and written into the bundle's `.manifest` under
 * `metadata.mcp_authz`, where signing covers it.
 *
 * - `inputRefs`: every static `input` path the modules other than the shipped library reference,
 *   truncated at the first non-constant part. The analysis is conservative: a path it omits is
 *   provably never read, so an input without it decides the same (the property test in
 *   test/authoring/analysis.property.test.ts checks exactly that).
 * - `rules`: every rule that can add a reason (`deny contains …` in `mcp.authz` and
 *   `mcp.authz.custom`), with its literal reason code, file, line and METADATA title.
 * - `builtins`: the builtins the compiled module imports (its own `builtins` export).
 * - `nondeterministic`: whether a custom module calls time, randomness or the network.
 *
 * @module
 */
import { NONDETERMINISTIC_BUILTINS } from './builtins/index.ts'
import { isRef, isVar, packagePath, refName, staticPath, type Expr, type Module, type Rule, type Term } from './rego-ast.ts'

/** The contract between `mcp-authz build` and the engine (`ActiveBundle.analysis`). */
export interface BundleAnalysis {
  version: 1
  /**
   * Static `input` paths referenced by modules other than the shipped library (e.g.
   * `['action','arguments','path']`, truncated at the first non-constant term:
   * `input.action.arguments[x]` → `['action','arguments']`). An empty path `[]` means "the whole
   * input" (a bare `input`, `input` passed to a function, `walk(input)`, a dynamic first key…). An
   * empty list: no custom module reads input. When the library folder is not the shipped one, it
   * is analysed too.
   */
  inputRefs: string[][]
  /** Every rule that can produce a reason and whose reason code is a string literal. */
  rules: Array<{ code: string; file: string; line: number; title?: string; package: string }>
  /** Builtins the compiled policy imports (the WASM module's own `builtins` export). */
  builtins: string[]
  /** Whether any custom module reads time (`time.now_ns`), randomness or the network. */
  nondeterministic: boolean
}

/** A module of the bundle: its path inside the bundle and whether it is the shipped library. */
export interface BundleModule {
  /** Path inside the bundle, e.g. `lib/mcp/authz/scopes.rego` or `custom/policies/fs.rego`. */
  file: string
  /** Part of the shipped, unmodified policy library. */
  library: boolean
  ast: Module
}

/** The manifest key holding the analysis. */
export const MANIFEST_KEY = 'mcp_authz'

/**
 * Reads the analysis from a bundle manifest (`metadata.mcp_authz`). Returns undefined when the
 * bundle was built without it (plain `opa build`) or it is malformed: then nothing may be assumed.
 *
 * @example
 * ```ts
 * const analysis = readAnalysis(bundle.manifest)
 * analysis?.inputRefs // [['action', 'arguments', 'path'], ['principal', 'subject']]
 * ```
 */
export function readAnalysis(manifest: unknown): BundleAnalysis | undefined {
  const meta = (manifest as { metadata?: Record<string, unknown> } | null)?.metadata?.[MANIFEST_KEY] as Partial<BundleAnalysis> | undefined
  if (meta === null || typeof meta !== 'object' || meta.version !== 1) return undefined
  const strings = (v: unknown): v is string[] => Array.isArray(v) && v.every((s) => typeof s === 'string')
  if (!Array.isArray(meta.inputRefs) || !meta.inputRefs.every(strings)) return undefined
  if (!strings(meta.builtins) || typeof meta.nondeterministic !== 'boolean' || !Array.isArray(meta.rules)) return undefined
  const rules = meta.rules.filter(
    (r): r is BundleAnalysis['rules'][number] =>
      typeof r === 'object' && r !== null && typeof r.code === 'string' && typeof r.file === 'string' && Number.isInteger(r.line) && typeof r.package === 'string' && (r.title === undefined || typeof r.title === 'string'),
  )
  if (rules.length !== meta.rules.length) return undefined
  return { version: 1, inputRefs: meta.inputRefs.map((p) => [...p]), rules, builtins: [...meta.builtins], nondeterministic: meta.nondeterministic }
}

/** Packages whose `deny` rules the decision consults. */
export const REASON_PACKAGES = ['mcp.authz', 'mcp.authz.custom'] as const

type Alias = { path: string[] }

/** Every input path one module reads (see {@link BundleAnalysis.inputRefs}). */
export function moduleInputRefs(m: Module): string[][] {
  const found: string[][] = []
  // `import input.action as act`: `act` is input.action in every rule.
  const imports = new Map<string, Alias>()
  for (const imp of m.imports ?? []) {
    if (!isRef(imp.path) || !isVar(imp.path.value[0], 'input')) continue
    const { path, complete } = staticPath(imp.path.value.slice(1))
    const name = imp.alias ?? (path.length === 0 ? 'input' : (path[path.length - 1] as string))
    if (!complete) found.push(path)
    else imports.set(name, { path })
  }
  for (const rule of m.rules ?? []) found.push(...ruleInputRefs(rule, imports))
  return found
}

function ruleInputRefs(rule: Rule, imports: Map<string, Alias>): string[][] {
  const found: string[][] = []
  const aliases = new Map<string, Alias[]>()
  const definitions = new Set<Expr>()
  const uses = new Map<string, number>()
  const rules: Rule[] = []
  for (let r: Rule | undefined = rule; r !== undefined; r = r.else) rules.push(r)

  /** The input path a ref denotes, when it is rooted at input (directly, or through an alias). */
  const resolve = (t: Term): Array<{ path: string[]; complete: boolean }> | undefined => {
    if (!isRef(t)) return undefined
    const head = t.value[0]
    if (!isVar(head)) return undefined
    const rest = staticPath(t.value.slice(1))
    const bases: Alias[] = head.value === 'input' ? [{ path: [] }] : (aliases.get(head.value) ?? (imports.has(head.value) ? [imports.get(head.value) as Alias] : undefined)) ?? []
    if (bases.length === 0) return undefined
    return bases.map((b) => ({ path: [...b.path, ...rest.path], complete: rest.complete }))
  }

  // Pass 1: `v := input.a.b` / `v = input.a.b` with a plain var and a fully static ref make v an
  // alias; chains (`w := v.c`) resolve to a fixpoint.
  const exprs: Expr[] = []
  const collect = (body: readonly Expr[]) => {
    for (const e of body) {
      exprs.push(e)
      visitNested(e, (nested) => collect(nested))
    }
  }
  for (const r of rules) collect(r.body)
  for (let changed = true; changed; ) {
    changed = false
    for (const e of exprs) {
      if (definitions.has(e) || !Array.isArray(e.terms) || e.terms.length !== 3) continue
      const op = refName(e.terms[0] as Term)
      if (op !== 'assign' && op !== 'eq') continue
      const [, a, b] = e.terms as [Term, Term, Term]
      const pairs: Array<[Term, Term]> = [[a, b], [b, a]]
      for (const [lhs, rhs] of pairs) {
        if (!isVar(lhs) || lhs.value === 'input' || lhs.value.startsWith('$') || lhs.value === '_') continue
        const target = resolve(rhs)
        if (target === undefined || !target.every((t) => t.complete)) continue
        definitions.add(e)
        // `w := v.c` is a use of v through w: w's own uses (or its non-use) account for it.
        const base = (rhs as Term & { value: Term[] }).value[0]
        if (isVar(base) && base.value !== 'input') uses.set(base.value, (uses.get(base.value) ?? 0) + 1)
        const list = aliases.get(lhs.value) ?? []
        for (const t of target) if (!list.some((x) => x.path.join('\0') === t.path.join('\0'))) list.push({ path: t.path })
        aliases.set(lhs.value, list)
        changed = true
        break
      }
    }
  }

  const record = (path: string[]) => found.push(path)

  const visit = (node: unknown): void => {
    if (Array.isArray(node)) {
      for (const n of node) visit(n)
      return
    }
    if (node === null || typeof node !== 'object') return
    if ('terms' in node && 'index' in node) {
      visitExpr(node as Expr)
      return
    }
    const t = node as Term
    if (t.type === 'ref' && Array.isArray(t.value)) {
      const head = t.value[0] as Term | undefined
      const resolved = resolve(t)
      if (resolved !== undefined) {
        if (isVar(head) && head.value !== 'input') uses.set(head.value, (uses.get(head.value) ?? 0) + 1)
        for (const r of resolved) record(r.path)
        // Dynamic parts may read input themselves: input.a[input.b].
        visit(t.value.slice(1).filter((e) => e.type !== 'string'))
        return
      }
      visit(t.value.slice(1))
      return
    }
    if (t.type === 'var' && typeof t.value === 'string') {
      if (t.value === 'input') record([])
      else if (aliases.has(t.value)) {
        uses.set(t.value, (uses.get(t.value) ?? 0) + 1)
        for (const a of aliases.get(t.value) as Alias[]) record(a.path)
      } else if (imports.has(t.value)) record((imports.get(t.value) as Alias).path)
      return
    }
    if (t.type === 'call' && Array.isArray(t.value)) {
      if (visitObjectGet(t.value as Term[])) return
      visit(t.value)
      return
    }
    if ('type' in t && 'value' in t) {
      visit(t.value)
      return
    }
    // Comprehension bodies, object pairs, every/some structures.
    for (const [k, v] of Object.entries(node)) if (k !== 'location') visit(v)
  }

  /** `object.get(input.a, ["b", "c"], d)` reads input.a.b.c only. */
  const visitObjectGet = (call: Term[]): boolean => {
    if (refName(call[0] as Term) !== 'object.get' || call.length !== 4) return false
    const target = resolve(call[1] as Term)
    const key = call[2] as Term
    let keys: string[] | undefined
    if (key.type === 'string') keys = [String(key.value)]
    else if (key.type === 'array' && Array.isArray(key.value) && (key.value as Term[]).every((k) => k.type === 'string')) keys = (key.value as Term[]).map((k) => String(k.value))
    if (target === undefined || keys === undefined || !target.every((x) => x.complete)) return false
    const head = (call[1] as Term & { value: Term[] }).value[0]
    if (isVar(head) && head.value !== 'input') uses.set(head.value, (uses.get(head.value) ?? 0) + 1)
    for (const x of target) record([...x.path, ...(keys as string[])])
    visit(call[3])
    return true
  }

  const visitExpr = (e: Expr): void => {
    if (!definitions.has(e)) visit(e.terms)
    else {
      // The alias definition itself is not a use; a dynamic part of it would be.
      for (const term of e.terms as Term[]) if (!isVar(term) && !isRef(term)) visit(term)
    }
    for (const w of e.with ?? []) {
      // The target is replaced, not read; the value is read.
      if (!isRef(w.target) || !isVar(w.target.value[0], 'input')) visit(w.target)
      visit(w.value)
    }
  }

  const visitBody = (body: readonly Expr[]) => {
    for (const e of body) {
      visitExpr(e)
    }
  }

  for (const r of rules) {
    visit(r.head.ref?.slice(1))
    visit(r.head.args)
    visit(r.head.key)
    visit(r.head.value)
    visitBody(r.body)
  }
  // An alias never used still requires its path to exist for the body to hold.
  for (const [name, list] of aliases) if ((uses.get(name) ?? 0) === 0) for (const a of list) record(a.path)
  return found

  function visitNested(e: Expr, onBody: (body: Expr[]) => void): void {
    const visit = (o: Record<string, unknown>): void => {
      if (Array.isArray(o.body) && (o.body as unknown[]).every((b) => typeof b === 'object' && b !== null && 'terms' in (b as object))) onBody(o.body as Expr[])
    }
    walkObjects(e.terms, visit, 'body')
    for (const w of e.with ?? []) walkObjects(w.value, visit, 'body')
  }
}

/** Deduplicates paths and drops those under a shorter one (`['action']` covers `['action','name']`). */
export function normalizePaths(paths: readonly string[][]): string[][] {
  const unique = [...new Map(paths.map((p) => [JSON.stringify(p), p])).values()].sort((a, b) => a.length - b.length || JSON.stringify(a).localeCompare(JSON.stringify(b)))
  const out: string[][] = []
  for (const p of unique) if (!out.some((q) => q.length <= p.length && q.every((k, i) => p[i] === k))) out.push(p)
  return out.sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)))
}

/** Names of every function a module calls (builtins and user functions, e.g. `time.now_ns`, `data.lib.f`). */
export function calledFunctions(m: Module): Array<{ name: string; row: number }> {
  const out: Array<{ name: string; row: number }> = []
  const pushCall = (op: unknown) => {
    const name = refName(op as Term)
    if (name !== undefined) out.push({ name, row: (op as Term).location?.row ?? 0 })
  }
  walkObjects(m.rules, (o) => {
    if (o.type === 'call' && Array.isArray(o.value)) pushCall(o.value[0])
    if (Array.isArray(o.terms) && o.terms.length > 0 && isRef(o.terms[0])) pushCall(o.terms[0])
  })
  return out
}

/** Calls `visit` on every object of an AST (depth first), skipping `location` and the key `skip`. */
function walkObjects(n: unknown, visit: (o: Record<string, unknown>) => void, skip?: string): void {
  if (Array.isArray(n)) {
    for (const x of n) walkObjects(x, visit, skip)
    return
  }
  if (n === null || typeof n !== 'object') return
  const o = n as Record<string, unknown>
  visit(o)
  for (const [k, v] of Object.entries(o)) if (k !== 'location' && k !== skip) walkObjects(v, visit, skip)
}

/** Whether custom modules call a builtin whose answer depends on more than its operands. */
export function isNondeterministic(modules: readonly BundleModule[]): boolean {
  return modules.some((m) => !m.library && calledFunctions(m.ast).some((c) => NONDETERMINISTIC_BUILTINS.has(c.name)))
}

/** The literal reason code of a deny rule's element: `{"code": "x", …}` or `_reason("x", …)`. */
export function literalCode(key: Term | undefined): string | undefined {
  if (key === undefined) return undefined
  if (key.type === 'object' && Array.isArray(key.value)) {
    for (const [k, v] of key.value as Array<[Term, Term]>) if (k.type === 'string' && k.value === 'code' && v.type === 'string') return String(v.value)
    return undefined
  }
  if (key.type === 'call' && Array.isArray(key.value)) {
    const first = (key.value as Term[])[1]
    if (first?.type === 'string') return String(first.value)
  }
  return undefined
}

/** Every deny rule of the consulted packages whose reason code is a literal. */
export function reasonRules(modules: readonly BundleModule[]): BundleAnalysis['rules'] {
  const out: BundleAnalysis['rules'] = []
  for (const m of modules) {
    const pkg = packagePath(m.ast).join('.')
    if (!(REASON_PACKAGES as readonly string[]).includes(pkg)) continue
    for (const rule of m.ast.rules ?? []) {
      if (rule.head.name !== 'deny' || rule.head.key === undefined) continue
      const title = rule.annotations?.find((a) => a.scope === 'rule')?.title
      const code = literalCode(rule.head.key)
      const line = rule.head.location?.row ?? rule.location?.row ?? 0
      if (code !== undefined) out.push({ code, file: m.file, line, ...(title !== undefined ? { title } : {}), package: pkg })
      else if (title !== undefined && /^[a-z][a-z0-9_]*( \/ [a-z][a-z0-9_]*)+$/.test(title)) {
        // A computed code whose METADATA title lists the codes it can produce ("a / b / c").
        for (const listed of title.split(' / ')) out.push({ code: listed, file: m.file, line, title, package: pkg })
      }
    }
  }
  return out
}

/** The analysis of a bundle's modules (everything but `builtins`, which comes from the compiled module). */
export function analyseModules(modules: readonly BundleModule[]): Omit<BundleAnalysis, 'builtins'> {
  const refs: string[][] = []
  for (const m of modules) if (!m.library) refs.push(...moduleInputRefs(m.ast))
  return { version: 1, inputRefs: normalizePaths(refs), rules: reasonRules(modules), nondeterministic: isNondeterministic(modules) }
}
