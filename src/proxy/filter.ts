/**
 * What the proxy does to the upstream's answers: list results (`tools/list`, `resources/list`,
 * `resources/templates/list`, `prompts/list`) are filtered to what the principal may use with one
 * policy evaluation each (`authz.visible`), and the tool annotations a `tools/list` reveals are
 * remembered for the policy, as an embedded server does with `protect()`.
 *
 * A result is recognised by its shape (a JSON-RPC result whose `tools`, `resources`,
 * `resourceTemplates` or `prompts` member is an array), whatever stream it arrives on — a POST
 * answer, a GET stream, or a stream replayed after `Last-Event-ID` — so no bookkeeping of request ids
 * can be missed. A result of some other method that has that shape is filtered too (fail closed).
 *
 * @module
 */
import type { Authz, ListItem } from '../authz.ts'
import type { Principal } from '../contracts/principal.ts'

const LIST_FIELDS: ReadonlyArray<{ field: string; kind: 'tool' | 'resource' | 'prompt' }> = [
  { field: 'tools', kind: 'tool' },
  { field: 'resources', kind: 'resource' },
  { field: 'resourceTemplates', kind: 'resource' },
  { field: 'prompts', kind: 'prompt' },
]

/** Largest annotations object remembered for one tool (JSON characters); larger ones are ignored. */
export const MAX_ANNOTATIONS_LENGTH = 4096

/** The tool annotations learned from the upstream's `tools/list` results, bounded in count. */
export class LearnedAnnotations {
  readonly #byName = new Map<string, Record<string, unknown>>()
  readonly #max: number
  /** @param max Most tools remembered; the oldest learned is forgotten first. Default 10000. */
  constructor(max = 10_000) {
    if (!Number.isSafeInteger(max) || max <= 0) throw new TypeError('max must be a positive integer')
    this.#max = max
  }
  /** Remembers the annotations of each tool of a `tools/list` result. */
  learn(tools: readonly unknown[]): void {
    for (const tool of tools) {
      if (tool === null || typeof tool !== 'object') continue
      const { name, annotations } = tool as { name?: unknown; annotations?: unknown }
      if (typeof name !== 'string' || name.length > 256) continue
      if (annotations === null || typeof annotations !== 'object' || Array.isArray(annotations) || JSON.stringify(annotations).length > MAX_ANNOTATIONS_LENGTH) {
        this.#byName.delete(name)
        continue
      }
      this.#byName.delete(name)
      if (this.#byName.size >= this.#max) {
        const oldest = this.#byName.keys().next().value
        if (oldest !== undefined) this.#byName.delete(oldest)
      }
      this.#byName.set(name, annotations as Record<string, unknown>)
    }
  }
  /** The annotations of a tool, as last listed by the upstream. */
  get(name: string): Record<string, unknown> | undefined {
    return this.#byName.get(name)
  }
  get size(): number {
    return this.#byName.size
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

/**
 * Filters one JSON-RPC message from the upstream for `principal`. Returns the message to send on
 * (a new object when a list was filtered, else the same one).
 *
 * @example
 * ```ts
 * const out = filterMessage(authz, principal, { jsonrpc: '2.0', id: 1, result: { tools: [{ name: 'a' }, { name: 'b' }] } }, learned)
 * // out.result.tools → only the tools the principal may call
 * ```
 */
export function filterMessage(authz: Authz, principal: Principal, message: unknown, learned?: LearnedAnnotations): unknown {
  if (!isObject(message) || 'method' in message || !isObject(message.result)) return message
  const result = message.result
  let filtered: Record<string, unknown> | undefined
  for (const { field, kind } of LIST_FIELDS) {
    const items = result[field]
    if (!Array.isArray(items)) continue
    if (kind === 'tool') learned?.learn(items)
    const objects = items.filter(isObject) as ListItem[]
    filtered ??= { ...result }
    filtered[field] = authz.visible(principal, kind, objects)
  }
  return filtered === undefined ? message : { ...message, result: filtered }
}

/**
 * Whether a message is a JSON-RPC response (result or error) for request `id`.
 *
 * @example
 * ```ts
 * isResponseTo({ jsonrpc: '2.0', id: 3, result: {} }, 3) // true
 * ```
 */
export function isResponseTo(message: unknown, id: unknown): boolean {
  return isObject(message) && !('method' in message) && ('result' in message || 'error' in message) && message.id === id
}
