/**
 * List filtering: which of a list's items the principal may use, in one policy evaluation, recorded
 * as its own event (what the list hid, bounded) so a reader of the log sees why an item was missing.
 *
 * @module
 */
import { randomUUID } from 'node:crypto'
import { performance } from 'node:perf_hooks'
import { canonicalResourceIdentifier, canonicalResourceTemplate } from '../action/resource-uri.ts'
import type { Principal } from '../contracts/principal.ts'
import type { ListItem } from '../authz.ts'
import type { Core } from './core.ts'
import { nsSince } from './events.ts'
import type { BundleState } from './state.ts'
import { itemPath, type ItemPath } from './table.ts'

/** The list method whose result is filtered, per kind. */
export const LIST_METHOD = { tool: 'tools/list', resource: 'resources/list', prompt: 'prompts/list' } as const

/** Most hidden item names a record lists (the count is always exact). */
export const HIDDEN_NAMES_MAX = 20

/** Options of {@link visible}. */
export interface VisibleOptions {
  /** The decision id of the list call being filtered, to relate the two records. */
  decisionId?: string
  /** Transport of the list call. Default: the engine's. */
  transport?: string
}

function keyOf(kind: 'tool' | 'resource' | 'prompt', item: ListItem): string | undefined {
  return kind === 'resource' ? (item.uri ?? item.uriTemplate) : item.name
}

/**
 * The key the policy decides an item on: its name, or — for a resource — its URI (template) in the
 * canonical form a `resources/read` of it would be decided on. An item without one is never shown.
 */
function policyKeyOf(kind: 'tool' | 'resource' | 'prompt', item: ListItem): string | undefined {
  if (kind !== 'resource') return typeof item.name === 'string' ? item.name : undefined
  if (typeof item.uri === 'string') {
    const c = canonicalResourceIdentifier(item.uri)
    return c.ok ? c.uri : undefined
  }
  if (typeof item.uriTemplate === 'string') {
    const c = canonicalResourceTemplate(item.uriTemplate)
    return c.ok ? c.uri : undefined
  }
  return undefined
}

type Entry = { name?: string; uri?: string; annotations?: Record<string, unknown> }

/**
 * The policy keys of the visible items: from the principal's table where it knows them (each item
 * is decided on its own, so a table answer per item is the list's answer), the others in one
 * evaluation, then kept. Throws when the policy cannot answer.
 */
function visibleKeys(core: Core, state: BundleState, principal: Principal, kind: 'tool' | 'resource' | 'prompt', items: readonly ListItem[], policyKeys: ReadonlyArray<string | undefined>, context: { time_ns: number; transport: string }): Set<string> {
  const entries: Entry[] = []
  for (const [i, item] of items.entries()) {
    const k = policyKeys[i]
    if (k === undefined) continue
    const entry: Entry = kind === 'resource' ? { uri: k } : { name: k }
    if (item.annotations !== undefined) entry.annotations = item.annotations
    entries.push(entry)
  }
  const evaluate = (list: Entry[]) => core.engine.visible({ principal, kind, items: list, server: state.server, context })
  const tables = state.tables
  if (tables === undefined || !tables.accepts(principal)) return new Set(evaluate(entries))
  const nowMs = context.time_ns / 1e6
  const keys = new Set<string>()
  const unknown: Array<{ entry: Entry; key: string; path: ItemPath }> = []
  for (const entry of entries) {
    const key = (entry.uri ?? entry.name) as string
    const path = itemPath(kind, key, entry.annotations)
    const known = tables.visibility(principal, path, nowMs)
    if (known === undefined) unknown.push({ entry, key, path })
    else if (known) keys.add(key)
  }
  if (unknown.length === 0) return keys
  const shown = new Set(evaluate(unknown.map((u) => u.entry)))
  for (const u of unknown) {
    const visible = shown.has(u.key)
    if (visible) keys.add(u.key)
    tables.keepVisibility(principal, u.path, visible, nowMs)
  }
  return keys
}

/**
 * The items the principal may see. Fails closed (empty) when the policy cannot answer.
 *
 * @example
 * ```ts
 * const tools = visible(core, principal, 'tool', [{ name: 'notes_read' }, { name: 'notes_delete' }])
 * ```
 */
export function visible<T extends ListItem>(core: Core, principal: Principal, kind: 'tool' | 'resource' | 'prompt', items: readonly T[], options: VisibleOptions = {}): T[] {
  if (items.length === 0) return []
  const started = performance.now()
  const decisionId = randomUUID()
  const state = core.state()
  const transport = options.transport ?? core.transport
  const nowMs = Date.now()
  const context = { time_ns: nowMs * 1e6, transport }
  let shown: T[]
  let error: { code: string; message: string } | undefined
  try {
    const policyKeys = items.map((item) => policyKeyOf(kind, item))
    const keys = visibleKeys(core, state, principal, kind, items, policyKeys, context)
    shown = items.filter((_, i) => {
      const k = policyKeys[i]
      return k !== undefined && keys.has(k)
    })
  } catch (err) {
    shown = []
    const cause = (err as { cause?: unknown }).cause
    const message = `${(err as Error).message}${cause instanceof Error ? `: ${cause.message}` : ''}`
    error = { code: 'ERR_POLICY_EVAL', message }
    core.incident({ code: 'ERR_POLICY_EVAL', message, decisionId })
  }
  if (!core.recorder.active) return shown
  const shownSet = new Set<T>(shown)
  const hidden: string[] = []
  for (const item of items) {
    if (hidden.length >= HIDDEN_NAMES_MAX) break
    if (!shownSet.has(item)) hidden.push(keyOf(kind, item) ?? '')
  }
  const elapsed = nsSince(started)
  core.recorder.record({
    decisionId,
    path: 'mcp/authz/visible',
    input: { principal, action: { method: LIST_METHOD[kind], kind: 'list' }, server: state.server, context },
    result: error === undefined ? { allow: true, reasons: [], required_scopes: [] } : { allow: false, reasons: [{ code: 'policy_error', message: error.message }], required_scopes: [] },
    metrics: { eval_ns: elapsed, total_ns: elapsed },
    enforcement: 'enforced',
    wouldAllow: error === undefined,
    transport,
    list: { kind, total: items.length, visible: shown.length, hidden },
    ...(options.decisionId !== undefined ? { relatedDecisionId: options.decisionId } : {}),
    ...(error !== undefined ? { error } : {}),
  })
  return shown
}
