/**
 * The decision cache: a bounded LRU of policy decisions for bundles that declare themselves
 * cacheable (`data.mcp_authz.decision_cache: true` — policies free of time- and
 * randomness-dependent rules). A decision is a pure function of the policy input, so the key holds
 * everything of the input a policy can read except the per-call noise that a cacheable policy
 * promises not to read (`action.id`, `context.time_ns`, `context.request_id`):
 *
 * - the bundle revision (and the cache is cleared on every load);
 * - the principal: every field (subject, client, issuer, tenant, audience, scopes, auth method,
 *   token id, expiry and issue time, allowlisted claims) — a custom rule may read any of them;
 * - the action: method, kind, name, uri, arguments (only when they reach the policy), annotations,
 *   `_meta`;
 * - the transport (the server's resource and name come with the bundle, so the revision covers them).
 *
 * An entry never outlives the principal's `expiresAt`. The cache is bounded in entries and in
 * bytes (keys hold caller-chosen arguments and `_meta`): an entry larger than `maxEntryBytes` is
 * not cached at all, and the least recently used entries go once the total passes `maxBytes`.
 * Sizes count two bytes per UTF-16 code unit of the key and of the serialised decision (an upper
 * bound of what V8 stores), plus a fixed overhead per entry.
 *
 * @module
 */
import { LRUCache } from 'lru-cache'
import type { Action } from '../action/action.ts'
import type { Principal } from '../contracts/principal.ts'
import type { Decision } from './decision.ts'

/** Options of {@link DecisionCache}. */
export interface DecisionCacheOptions {
  /** Most decisions kept (least recently used evicted first). Default 10000. */
  max?: number
  /** Most bytes kept, keys and decisions together (least recently used evicted first). Default 33554432 (32 MiB). */
  maxBytes?: number
  /** Largest entry cached, bytes; a decision on a larger input is evaluated every time. Default 16384 (16 KiB). */
  maxEntryBytes?: number
}

/** Bytes counted per entry besides its key and decision (the entry object, the map slot). */
export const ENTRY_OVERHEAD_BYTES = 128

/** Bytes an entry is counted as: two per UTF-16 code unit of the key and the serialised decision, plus {@link ENTRY_OVERHEAD_BYTES}. */
export function entryBytes(key: string, decision: Decision): number {
  return 2 * (key.length + JSON.stringify(decision).length) + ENTRY_OVERHEAD_BYTES
}

function positiveInteger(value: unknown, fallback: number, name: string): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) throw new TypeError(`decisionCache.${name} must be a positive integer`)
  return value
}

interface Entry {
  decision: Decision
  /** What the entry is counted as ({@link entryBytes}). */
  bytes: number
  /** Milliseconds since the epoch after which the entry must not be served; Infinity when the principal has no expiry. */
  expiresAtMs: number
}

// Fields are length-prefixed (`<length>:<value>`, `-` when absent), so no value — a `sub` holding
// a separator, an audience with a space — can make two different inputs share a key.
function str(v: string | undefined): string {
  return v === undefined ? '-' : `${v.length}:${v}`
}

function list(v: readonly string[]): string {
  let out = `${v.length}[`
  for (const s of v) out += str(s)
  return out
}

function json(v: unknown): string {
  // JSON.stringify(undefined) is undefined, which str() writes as '-'.
  return str(JSON.stringify(v) as string | undefined)
}

/** Everything of a principal a policy can read, as one unambiguous string. */
export function principalFingerprint(p: Principal): string {
  return (
    str(p.tokenId) + str(p.subject) + str(p.clientId) + str(p.issuer) + str(p.tenant) + list(p.audience) + list(p.scopes) + str(p.authMethod) +
    (p.expiresAt ?? '-') + ',' + (p.issuedAt ?? '-') + ',' + json(p.claims)
  )
}

/** Everything of a (policy-bound, already slimmed) action a policy can read except its id. */
export function actionFingerprint(a: Action): string {
  return str(a.method) + str(a.kind) + str(a.name) + str(a.uri) + json(a.arguments) + json(a.annotations) + json(a.meta)
}

function deepFreeze(d: Decision): Decision {
  for (const r of d.reasons) Object.freeze(r)
  Object.freeze(d.reasons)
  Object.freeze(d.required_scopes)
  return Object.freeze(d)
}

/**
 * A bounded LRU of decisions keyed by bundle revision + principal + action (+ transport).
 *
 * @example
 * ```ts
 * const cache = new DecisionCache({ max: 1000 })
 * const key = cache.key(revision, principal, action, 'http')
 * const decision = cache.get(key) ?? cache.set(key, engine.evaluate(input), principal)
 * ```
 */
export class DecisionCache {
  readonly #lru: LRUCache<string, Entry>
  readonly #now: () => number

  readonly #maxEntryBytes: number

  constructor(options: DecisionCacheOptions = {}, now: () => number = Date.now) {
    const max = positiveInteger(options.max, 10_000, 'max')
    const maxBytes = positiveInteger(options.maxBytes, 32 * 1024 * 1024, 'maxBytes')
    this.#maxEntryBytes = Math.min(positiveInteger(options.maxEntryBytes, 16 * 1024, 'maxEntryBytes'), maxBytes)
    this.#lru = new LRUCache<string, Entry>({ max, maxSize: maxBytes, sizeCalculation: (entry) => entry.bytes })
    this.#now = now
  }

  /** The cache key of one decision. */
  key(revision: string, principal: Principal, action: Action, transport: string): string {
    return str(revision) + str(transport) + actionFingerprint(action) + principalFingerprint(principal)
  }

  /** The cached decision (frozen), or undefined on a miss or when the principal has expired. */
  get(key: string): Decision | undefined {
    const entry = this.#lru.get(key)
    if (entry === undefined) return undefined
    if (this.#now() >= entry.expiresAtMs) {
      this.#lru.delete(key)
      return undefined
    }
    return entry.decision
  }

  /**
   * Stores a decision for as long as the principal is valid; returns it frozen. Policy errors are
   * never cached, nor entries larger than `maxEntryBytes`.
   */
  set(key: string, decision: Decision, principal: Principal): Decision {
    if (decision.reasons.some((r) => r.code === 'policy_error')) return decision
    // Checked before serialising the decision: the key alone may already be too large.
    if (2 * key.length + ENTRY_OVERHEAD_BYTES > this.#maxEntryBytes) return decision
    const expiresAtMs = principal.expiresAt === undefined ? Number.POSITIVE_INFINITY : principal.expiresAt * 1000
    if (this.#now() >= expiresAtMs) return decision
    const bytes = entryBytes(key, decision)
    if (bytes > this.#maxEntryBytes) return decision
    const frozen = deepFreeze(decision)
    this.#lru.set(key, { decision: frozen, expiresAtMs, bytes })
    return frozen
  }

  /** Drops every entry (on bundle reload). */
  clear(): void {
    this.#lru.clear()
  }

  /** Number of entries. */
  get size(): number {
    return this.#lru.size
  }

  /** Bytes the entries are counted as, together. */
  get bytes(): number {
    return this.#lru.calculatedSize
  }
}
