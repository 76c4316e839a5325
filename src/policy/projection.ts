/**
 * The input the WASM policy is sent: only the fields its compiled rules can read. Parsing the input
 * inside WebAssembly is most of an evaluation's fixed cost (`bench/README.md`, `policy.floor`), and
 * most of a policy input — the token id, expiry and issue time, claims the policy never looks at,
 * the server and context blocks — is read by no rule of the shipped library.
 *
 * What is read is derived, never declared:
 *
 * - the shipped library's reads are {@link LIBRARY_READS}, checked against its Rego by
 *   `test/policy/projection.test.ts` (every input path the library's source names is listed) and
 *   by the property in the same file (random inputs with every contract field varied decide the
 *   same projected and whole, over random policy data);
 * - every other module's reads are the bundle's own analysis (`mcp-authz build` writes them into
 *   the manifest: `BundleAnalysis.inputRefs`); a bundle without that analysis, or whose rules read
 *   the whole input, is sent the whole input.
 *
 * The projection keeps every field any rule may read, verbatim, and drops only the others, so an
 * evaluation of the projected input is the evaluation of the whole one. The decision record, `eval`
 * and the decision result still show the whole input.
 *
 * @module
 */
import type { BundleAnalysis } from './analysis.ts'

/**
 * What the shipped policy library (`policies/mcp/authz/`) reads of an input. `claims` is read under
 * one key only (`data.mcp_authz.defaults.roles_claim`, default `roles`) and `arguments` only for
 * tools and prompts whose rule has `arguments` conditions; `kind` and `items` are the list-filtering
 * input's (`mcp/authz/visible`).
 */
export const LIBRARY_READS = {
  principal: ['subject', 'issuer', 'scopes', 'authMethod', 'tenant', 'audience', 'clientId'],
  action: ['method', 'kind', 'name', 'uri', 'annotations'],
  top: ['principal', 'action', 'kind', 'items'],
} as const

/** The part of `data.mcp_authz` the projection depends on. */
export interface ProjectionConfig {
  defaults?: { roles_claim?: unknown; [key: string]: unknown }
  tools?: Record<string, { arguments?: unknown; [key: string]: unknown } | undefined>
  prompts?: Record<string, { arguments?: unknown; [key: string]: unknown } | undefined>
}

/** Which fields of an input reach the policy. Derived once per bundle by {@link inputProjection}. */
export interface InputProjection {
  /** Send the whole input: the bundle has no analysis, or a rule reads the input as a whole. */
  readonly whole: boolean
  /** Top-level keys kept (beyond `principal` and `action`, which are projected themselves). */
  readonly top: readonly string[]
  /** Principal fields kept (`claims` separately); `undefined`: the whole principal. */
  readonly principal: readonly string[] | undefined
  /** Claim keys kept; `undefined`: every claim. */
  readonly claims: readonly string[] | undefined
  /** Action fields kept (`arguments` separately); `undefined`: the whole action. */
  readonly action: readonly string[] | undefined
  /** `all`: every call's arguments; `ruled`: only for tools / prompts whose rule has argument conditions. */
  readonly arguments: 'all' | 'ruled'
  /** Tools and prompts whose rule has argument conditions. */
  readonly ruled: { readonly tools: ReadonlySet<string>; readonly prompts: ReadonlySet<string> }
}

function ruledNames(rules: ProjectionConfig['tools']): ReadonlySet<string> {
  const names = new Set<string>()
  for (const [name, rule] of Object.entries(rules ?? {})) if (rule !== null && typeof rule === 'object' && rule.arguments !== undefined) names.add(name)
  return names
}

/**
 * The projection of a bundle: the library's reads plus what its analysis says other modules read.
 *
 * @example
 * ```ts
 * const p = inputProjection(active.config, active.analysis)
 * projectedText(p, input) // '{"principal":{"subject":"alice",…},"action":{"method":"tools/call",…}}'
 * ```
 */
export function inputProjection(config: ProjectionConfig, analysis: Pick<BundleAnalysis, 'inputRefs'> | undefined): InputProjection {
  const ruled = { tools: ruledNames(config.tools), prompts: ruledNames(config.prompts) }
  const wholeInput: InputProjection = { whole: true, top: [], principal: undefined, claims: undefined, action: undefined, arguments: 'all', ruled }
  if (analysis === undefined) return wholeInput
  const rolesClaim = config.defaults?.roles_claim ?? 'roles'
  const top = new Set<string>(LIBRARY_READS.top)
  let principal: Set<string> | undefined = new Set(LIBRARY_READS.principal)
  // A roles claim that is not a string names no key the policy could find: keep every claim.
  let claims: Set<string> | undefined = typeof rolesClaim === 'string' ? new Set([rolesClaim]) : undefined
  let action: Set<string> | undefined = new Set(LIBRARY_READS.action)
  let args: 'all' | 'ruled' = 'ruled'
  for (const ref of analysis.inputRefs) {
    const [head, field, sub] = ref
    if (head === undefined) return wholeInput
    if (head === 'principal') {
      if (field === undefined) principal = undefined
      else if (field === 'claims') {
        if (sub === undefined) claims = undefined
        else claims?.add(sub)
      } else principal?.add(field)
    } else if (head === 'action') {
      if (field === undefined) action = undefined
      else if (field === 'arguments') args = 'all'
      else action?.add(field)
    } else top.add(head)
  }
  principal?.delete('claims')
  action?.delete('arguments')
  return {
    whole: false,
    top: [...top].filter((k) => k !== 'principal' && k !== 'action'),
    principal: principal === undefined ? undefined : [...principal],
    claims: claims === undefined ? undefined : [...claims],
    action: action === undefined ? undefined : [...action],
    arguments: action === undefined ? 'all' : args,
    ruled,
  }
}

const isEnumerable = Object.prototype.propertyIsEnumerable

/** An object JSON.stringify writes field by field (no array, no `toJSON` of its own or inherited). */
function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && typeof (v as { toJSON?: unknown }).toJSON !== 'function'
}

/** Copies the listed own enumerable fields (what JSON.stringify would write of them). */
function pick(from: Record<string, unknown>, fields: readonly string[], into: Record<string, unknown>): Record<string, unknown> {
  for (const f of fields) {
    const v = from[f]
    if (v === undefined || !isEnumerable.call(from, f)) continue
    // `__proto__` (a JSON key like any other) would set the prototype if assigned.
    if (f === '__proto__') Object.defineProperty(into, f, { value: v, enumerable: true, writable: true, configurable: true })
    else into[f] = v
  }
  return into
}

/** The principal as the policy reads it. */
export function projectPrincipal(p: InputProjection, principal: unknown): unknown {
  if (p.whole || p.principal === undefined || !isPlainObject(principal)) return principal
  const out = pick(principal, p.principal, {})
  const claims = principal.claims
  if (claims !== undefined && isEnumerable.call(principal, 'claims')) {
    out.claims = p.claims === undefined || !isPlainObject(claims) ? claims : pick(claims, p.claims, {})
  }
  return out
}

/** Whether the policy reads an action's arguments under a projection. */
export function argumentsRead(p: Pick<InputProjection, 'arguments' | 'ruled'>, action: { kind?: unknown; name?: unknown }): boolean {
  if (p.arguments === 'all') return true
  if (typeof action.name !== 'string') return false
  if (action.kind === 'tool') return p.ruled.tools.has(action.name)
  if (action.kind === 'prompt') return p.ruled.prompts.has(action.name)
  return false
}

/** The action as the policy reads it. */
export function projectAction(p: InputProjection, action: unknown): unknown {
  if (p.whole || p.action === undefined || !isPlainObject(action)) return action
  const out = pick(action, p.action, {})
  if (action.arguments !== undefined && argumentsRead(p, action) && isEnumerable.call(action, 'arguments')) out.arguments = action.arguments
  return out
}

/**
 * The JSON text of an input as the policy is sent it. `principalText`, when given, is the
 * principal's projected text already serialised (a frozen principal's, cached by the caller).
 *
 * @example
 * ```ts
 * engine.policy.evaluate(projectedText(projection, input), entrypoint)
 * ```
 */
export function projectedText(p: InputProjection, input: unknown, principalText?: string): string {
  if (p.whole || !isPlainObject(input)) return JSON.stringify(input)
  let text = '{'
  let sep = ''
  if (input.principal !== undefined && isEnumerable.call(input, 'principal')) {
    const t = principalText ?? JSON.stringify(projectPrincipal(p, input.principal))
    if (t !== undefined) {
      text += `"principal":${t}`
      sep = ','
    }
  }
  if (input.action !== undefined && isEnumerable.call(input, 'action')) {
    const t = JSON.stringify(projectAction(p, input.action))
    if (t !== undefined) {
      text += `${sep}"action":${t}`
      sep = ','
    }
  }
  for (const key of p.top) {
    if (input[key] === undefined || !isEnumerable.call(input, key)) continue
    const t = JSON.stringify(input[key])
    if (t === undefined) continue
    text += `${sep}${JSON.stringify(key)}:${t}`
    sep = ','
  }
  return `${text}}`
}
