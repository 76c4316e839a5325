/**
 * The policy input: what a decision is evaluated on. Every field a rule may read reaches the policy;
 * a field is left out only when the bundle proves that no rule reads it. The proof is the bundle's
 * own analysis (`mcp-authz build` records which `input` paths the Rego outside the shipped library
 * references, in the manifest), never a declaration a user could forget. A bundle without that
 * analysis (e.g. built with plain `opa build`) gets the whole input.
 *
 * The shipped library reads tool and prompt `arguments` only for items whose data declares argument
 * conditions, and never reads `_meta`, the request id or the context; those are the fields left out
 * when nothing else reads them. `test/authz/input.property.test.ts` proves that leaving them out
 * never changes a decision.
 *
 * @module
 */
import type { Action } from '../action/action.ts'
import type { Principal } from '../contracts/principal.ts'
import type { PolicyInput } from '../policy/decision.ts'
import type { ActiveBundle } from '../policy/engine.ts'

/** What of a bundle's analysis the input plan needs (see `BundleAnalysis` in src/policy/analysis.ts). */
export interface InputFacts {
  /** Static `input` paths read by rules outside the shipped library; a path `[]` is the whole input. */
  inputRefs: readonly (readonly string[])[]
  /** Whether a rule outside the library reads time or randomness. */
  nondeterministic: boolean
}

/** Which optional fields a bundle's rules can read. Derived once per bundle. */
export interface InputPlan {
  /** `all`: every call's arguments; `ruled`: only for tools / prompts with argument conditions. */
  arguments: 'all' | 'ruled'
  /** Tools and prompts whose data declares argument conditions (read by the library). */
  ruled: { tools: ReadonlySet<string>; prompts: ReadonlySet<string> }
  /** Whether `_meta` reaches the policy. */
  meta: boolean
  /**
   * Whether two calls with the same input apart from the per-call noise (`action.id`,
   * `context.time_ns`, `context.request_id`) always get the same decision: no rule reads that noise,
   * time or randomness. Decision caching requires it.
   */
  deterministic: boolean
  /**
   * Whether a decision depends on nothing but the principal, the method and the item (name or
   * URI, with its annotations), so that it may be answered from the principal's table
   * (src/authz/table.ts): the bundle is analysed, reads no time or randomness, and no rule outside
   * the library reads more than the principal, `action.method`, `kind`, `name`, `uri`,
   * `annotations` or the server block. Items with argument conditions never qualify.
   */
  table: boolean
  /** Why the plan is what it is, for `eval` and the docs. */
  basis: 'analysis' | 'no analysis: whole input'
}

/** Whether a referenced path and a field path overlap (one is a prefix of the other). */
function overlaps(ref: readonly string[], field: readonly string[]): boolean {
  const n = Math.min(ref.length, field.length)
  for (let i = 0; i < n; i++) if (ref[i] !== field[i]) return false
  return true
}

function reads(facts: InputFacts, field: readonly string[]): boolean {
  return facts.inputRefs.some((ref) => overlaps(ref, field))
}

/** What a rule outside the library may read and leave a decision table-able. */
function tableRef(ref: readonly string[]): boolean {
  const [head, field] = ref
  if (head === 'principal' || head === 'server') return true
  return head === 'action' && (field === 'method' || field === 'kind' || field === 'name' || field === 'uri' || field === 'annotations')
}

function withArguments(rules: Record<string, { arguments?: unknown }> | undefined): ReadonlySet<string> {
  return new Set(Object.entries(rules ?? {}).filter(([, r]) => r !== null && typeof r === 'object' && r.arguments !== undefined).map(([name]) => name))
}

/**
 * The input plan of a bundle.
 *
 * @example
 * ```ts
 * const plan = inputPlan(authz.bundle, authz.bundle.analysis)
 * plan.arguments // 'all' when a custom rule reads input.action.arguments
 * ```
 */
export function inputPlan(bundle: Pick<ActiveBundle, 'config'>, facts: InputFacts | undefined): InputPlan {
  const ruled = { tools: withArguments(bundle.config.tools), prompts: withArguments(bundle.config.prompts) }
  if (facts === undefined) return { arguments: 'all', ruled, meta: true, deterministic: false, table: false, basis: 'no analysis: whole input' }
  return {
    arguments: reads(facts, ['action', 'arguments']) ? 'all' : 'ruled',
    ruled,
    meta: reads(facts, ['action', 'meta']),
    deterministic:
      !facts.nondeterministic && !reads(facts, ['action', 'id']) && !reads(facts, ['context', 'time_ns']) && !reads(facts, ['context', 'request_id']),
    table: !facts.nondeterministic && facts.inputRefs.every(tableRef),
    basis: 'analysis',
  }
}

/** The action as the policy sees it under a plan. */
export function policyAction(plan: InputPlan, action: Action, annotations: Record<string, unknown> | undefined): Action {
  const slim: Action = { method: action.method, kind: action.kind }
  if (action.name !== undefined) slim.name = action.name
  if (action.uri !== undefined) slim.uri = action.uri
  if (action.id !== undefined) slim.id = action.id
  if (action.arguments !== undefined && argumentsReach(plan, action)) slim.arguments = action.arguments
  if (annotations !== undefined) slim.annotations = annotations
  if (action.meta !== undefined && plan.meta) slim.meta = action.meta
  return slim
}

/** Whether the policy reads a call's arguments under a plan (an item with argument conditions, or a rule reading every call's). */
export function argumentsReach(plan: InputPlan, action: Pick<Action, 'kind' | 'name'>): boolean {
  if (plan.arguments === 'all') return true
  if (action.name === undefined) return false
  if (action.kind === 'tool') return plan.ruled.tools.has(action.name)
  if (action.kind === 'prompt') return plan.ruled.prompts.has(action.name)
  return false
}

/** The facts of one call besides principal and action. */
export interface InputContext {
  server: PolicyInput['server']
  transport: string
  requestId?: string
  annotations?: Record<string, unknown>
  /** The clock, milliseconds since the epoch (`context.time_ns`). Default `Date.now()`. */
  nowMs?: number
}

/**
 * The policy input for one call.
 *
 * @example
 * ```ts
 * const input = policyInput(plan, principal, action, { server: { resource }, transport: 'http' })
 * ```
 */
export function policyInput(plan: InputPlan, principal: Principal, action: Action, ctx: InputContext): PolicyInput {
  return {
    principal,
    action: policyAction(plan, action, ctx.annotations ?? action.annotations),
    server: ctx.server,
    context: ctx.requestId ? { time_ns: (ctx.nowMs ?? Date.now()) * 1e6, transport: ctx.transport, request_id: ctx.requestId } : { time_ns: (ctx.nowMs ?? Date.now()) * 1e6, transport: ctx.transport },
  }
}
