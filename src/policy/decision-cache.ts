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
 * An entry never outlives the principal's `expiresAt`.
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
}

interface Entry {
  decision: Decision
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
  return v === undefined ? '-' : str(JSON.stringify(v))
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

  constructor(options: DecisionCacheOptions = {}, now: () => number = Date.now) {
    const max = options.max ?? 10_000
    if (!Number.isInteger(max) || max < 1) throw new TypeError('decisionCache.max must be a positive integer')
    this.#lru = new LRUCache<string, Entry>({ max })
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

  /** Stores a decision for as long as the principal is valid; returns it frozen. Policy errors are never cached. */
  set(key: string, decision: Decision, principal: Principal): Decision {
    if (decision.reasons.some((r) => r.code === 'policy_error')) return decision
    const expiresAtMs = principal.expiresAt === undefined ? Number.POSITIVE_INFINITY : principal.expiresAt * 1000
    if (this.#now() >= expiresAtMs) return decision
    const frozen = deepFreeze(decision)
    this.#lru.set(key, { decision: frozen, expiresAtMs })
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
}
