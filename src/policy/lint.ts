/**
 * Mistakes in custom Rego that `opa check` accepts but that would make the bundle silently do
 * something else than its author meant, caught at build with a message that names the fix:
 *
 * - a package no rule of the decision consults (`mcp.authz.customs`: "did you mean
 *   mcp.authz.custom?"), so its rules would never run;
 * - `deny` in `mcp.authz.custom` that is not a multi-value rule (`deny if …` never adds a reason),
 *   or whose elements are literally not `{code, message}` objects (a string, a number, an object
 *   without `code` or `message`); computed elements are checked at run time instead (the engine's
 *   `policy_error` names the element);
 * - `allow` in `mcp.authz.custom` that is not a single boolean (`allow contains …` is never `true`);
 * - a rule in `mcp.authz.custom` shaped like a reason but named like a typo of `deny`.
 *
 * @module
 */
import { didYouMean } from '../suggest.ts'
import type { BundleModule } from './analysis.ts'
import { isRef, isVar, packagePath, type Module, type Term } from './rego-ast.ts'

/** A problem in a Rego file, at a line. */
export interface RegoProblem {
  file: string
  line: number
  message: string
}

const CUSTOM = 'mcp.authz.custom'

/** Static data paths a module references (`data.x.y` → ['x','y']), and whether it reads data dynamically. */
function dataRefs(m: Module): { paths: string[][]; dynamic: boolean } {
  const paths: string[][] = []
  let dynamic = false
  const aliases = new Map<string, string[]>()
  for (const imp of m.imports ?? []) {
    if (!isRef(imp.path) || !isVar(imp.path.value[0], 'data')) continue
    const parts = imp.path.value.slice(1)
    if (!parts.every((p) => p.type === 'string')) {
      dynamic = true
      continue
    }
    const path = parts.map((p) => String(p.value))
    paths.push(path)
    aliases.set(imp.alias ?? (path[path.length - 1] as string), path)
  }
  const walk = (n: unknown): void => {
    if (Array.isArray(n)) {
      for (const x of n) walk(x)
      return
    }
    if (n === null || typeof n !== 'object') return
    const t = n as Term
    if (t.type === 'ref' && Array.isArray(t.value)) {
      const [head, ...rest] = t.value as Term[]
      const base = isVar(head, 'data') ? [] : isVar(head) ? aliases.get(head.value) : undefined
      if (base !== undefined) {
        const path = [...base]
        for (const p of rest) {
          if (p.type !== 'string') break
          path.push(String(p.value))
        }
        if (path.length === 0) dynamic = true
        else paths.push(path)
      }
      walk(rest)
      return
    }
    if (isVar(t, 'data')) {
      dynamic = true
      return
    }
    for (const [k, v] of Object.entries(n)) if (k !== 'location') walk(v)
  }
  walk(m.rules)
  return { paths, dynamic }
}

const overlaps = (a: readonly string[], b: readonly string[]) => a.every((k, i) => i >= b.length || b[i] === k) || b.every((k, i) => i >= a.length || a[i] === k)

/** Packages the decision consults: `mcp.authz`, and every package reachable from it through data refs and imports. */
export function consultedPackages(modules: readonly BundleModule[]): Set<string> {
  const byPackage = new Map<string, Module[]>()
  for (const m of modules) {
    const p = packagePath(m.ast).join('.')
    byPackage.set(p, [...(byPackage.get(p) ?? []), m.ast])
  }
  const reached = new Set<string>(['mcp.authz'])
  const queue = ['mcp.authz']
  while (queue.length > 0) {
    const pkg = queue.shift() as string
    for (const m of byPackage.get(pkg) ?? []) {
      const { paths, dynamic } = dataRefs(m)
      for (const candidate of byPackage.keys()) {
        if (reached.has(candidate)) continue
        const c = candidate.split('.')
        if (dynamic || paths.some((p) => overlaps(p, c))) {
          reached.add(candidate)
          queue.push(candidate)
        }
      }
    }
  }
  return reached
}

function describe(t: Term): string {
  switch (t.type) {
    case 'string':
      return `the string ${JSON.stringify(t.value)}`
    case 'number':
      return `the number ${String(t.value)}`
    case 'boolean':
      return `the boolean ${String(t.value)}`
    case 'null':
      return 'null'
    case 'array':
      return 'an array'
    case 'set':
      return 'a set'
    default:
      return `a ${t.type}`
  }
}

/** Every statically detectable authoring mistake in the custom modules (see the module doc). */
export function lintModules(modules: readonly BundleModule[]): RegoProblem[] {
  const problems: RegoProblem[] = []
  const consulted = consultedPackages(modules)
  const fix = 'write: deny contains {"code": "my_reason", "message": "why"} if { … }'
  for (const m of modules) {
    if (m.library) continue
    const pkg = packagePath(m.ast).join('.')
    const pkgLine = m.ast.package.location?.row ?? 1
    if (!consulted.has(pkg)) {
      const close = didYouMean(pkg, [CUSTOM, 'mcp.authz'])
      problems.push({
        file: m.file,
        line: pkgLine,
        message: `package ${pkg} is never consulted by the decision, so its rules never run${close !== undefined ? `: did you mean ${close}?` : `: the decision reads deny and allow from ${CUSTOM} (and the packages that package uses); move the rules there or use them from it`}`,
      })
      continue
    }
    if (pkg !== CUSTOM) continue
    for (const rule of m.ast.rules ?? []) {
      const name = rule.head.name ?? (rule.head.ref !== undefined && isVar(rule.head.ref[0]) ? rule.head.ref[0].value : undefined)
      const line = rule.head.location?.row ?? rule.location?.row ?? 0
      const multiValue = rule.head.key !== undefined && rule.head.value === undefined
      if (name === 'deny') {
        if (!multiValue || (rule.head.ref !== undefined && rule.head.ref.length > 1)) {
          problems.push({ file: m.file, line, message: `deny in ${CUSTOM} must be a multi-value rule whose elements are reasons; this one never adds a reason: ${fix}` })
          continue
        }
        const key = rule.head.key as Term
        if (key.type === 'object' && Array.isArray(key.value)) {
          const keys = new Map((key.value as Array<[Term, Term]>).filter(([k]) => k.type === 'string').map(([k, v]) => [String(k.value), v]))
          const missing = ['code', 'message'].filter((k) => !keys.has(k))
          if (missing.length > 0) problems.push({ file: m.file, line, message: `deny element has no ${missing.join(' and no ')}: a reason is {"code": string, "message": string}; ${fix}` })
          const code = keys.get('code')
          if (code !== undefined && ['number', 'boolean', 'null', 'array', 'object', 'set'].includes(code.type)) problems.push({ file: m.file, line, message: `deny element's code is ${describe(code)}: the code must be a string such as "path_outside_home"` })
          const message = keys.get('message')
          if (message !== undefined && ['number', 'boolean', 'null', 'array', 'object', 'set'].includes(message.type)) problems.push({ file: m.file, line, message: `deny element's message is ${describe(message)}: the message must be a string` })
        } else if (['string', 'number', 'boolean', 'null', 'array', 'set'].includes(key.type)) {
          problems.push({ file: m.file, line, message: `deny elements must be {code, message} objects, not ${describe(key)}: ${fix}` })
        }
      } else if (name === 'allow') {
        if (rule.head.key !== undefined && rule.head.value === undefined) problems.push({ file: m.file, line, message: `allow in ${CUSTOM} must be a single boolean (allow if { … }); a multi-value allow is never true and enables nothing` })
        else if (rule.head.value !== undefined && ['string', 'number', 'null', 'array', 'object', 'set'].includes(rule.head.value.type)) problems.push({ file: m.file, line, message: `allow in ${CUSTOM} is ${describe(rule.head.value)}: only allow = true enables a method; write allow if { … }` })
      } else if (name !== undefined && multiValue && rule.head.key?.type === 'object' && didYouMean(name, ['deny']) === 'deny') {
        problems.push({ file: m.file, line, message: `rule ${name} in ${CUSTOM} builds reasons but only deny is consulted: did you mean deny?` })
      }
    }
  }
  return problems
}
