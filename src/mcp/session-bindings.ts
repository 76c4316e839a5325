/**
 * Which principal opened which MCP session. `Mcp-Session-Id` is never a credential: the HTTP guard
 * verifies every request, then checks here that the session it names was opened by the same
 * principal (issuer + subject + tenant).
 *
 * Bounded three ways, so that no caller can grow it or push others out:
 * - per principal (default 32): binding one more forgets that principal's least recently used
 *   session — a principal evicts only its own sessions;
 * - in total (default 10 000): when full, idle sessions are forgotten first; a principal that
 *   holds no session is then refused a new one ({@link SessionBindings.canBind} is `false`, the
 *   guard answers 503) rather than pushing another principal's session out;
 * - in time: a session unused for `idleTimeoutMs` (default 30 min) with no request in flight is
 *   forgotten.
 *
 * Each entry holds the session id (chosen by the server's transport) and a fixed-size digest of the
 * principal, so its bytes are bounded too. Evictions are counted ({@link SessionBindings.stats},
 * exported as Prometheus metrics by `registerSessionMetrics`) and announced to listeners
 * ({@link SessionBindings.onEvict}) so that whoever holds the session's transport can free it.
 *
 * @module
 */
import { createHash } from 'node:crypto'
import type { Principal } from '../contracts/principal.ts'

/** Options of {@link SessionBindings}. */
export interface SessionBindingsOptions {
  /** Most sessions bound at once, all principals together. Default 10000. */
  maxSessions?: number
  /** Most sessions one principal holds; one more forgets that principal's least recently used session. Default 32. */
  maxSessionsPerPrincipal?: number
  /** A session with no request in flight and none for this long is forgotten, ms. Default 1800000 (30 min). */
  idleTimeoutMs?: number
  /** The clock, ms since the epoch. Default `Date.now`. */
  now?: () => number
}

/** Why a binding was forgotten without its owner asking: its principal bound one more than allowed, or it sat idle. */
export type EvictionReason = 'principal_limit' | 'idle'

/** Counters of a {@link SessionBindings}. */
export interface SessionBindingsStats {
  /** Sessions bound now. */
  sessions: number
  /** Principals holding at least one session now. */
  principals: number
  /** Sessions forgotten without their owner asking, by reason, since creation. */
  evictions: Record<EvictionReason, number>
  /** New sessions refused because the table was full (and the principal held none to give up). */
  refused: number
}

interface Binding {
  owner: string
  lastUsed: number
  /** Requests of this session in flight (an open SSE stream counts until it ends). */
  active: number
}

/** Identity of a principal for session binding: issuer, subject and tenant. */
export function principalKey(p: Principal): string {
  return JSON.stringify([p.issuer, p.subject, p.tenant ?? null])
}

/** Fixed-size digest of {@link principalKey}: what a binding stores. */
function ownerDigest(p: Principal): string {
  return createHash('sha256').update(principalKey(p)).digest('base64url')
}

function positiveInteger(value: unknown, fallback: number, name: string): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) throw new TypeError(`${name} must be a positive integer`)
  return value
}

/**
 * Sessions bound to the principal that opened them.
 *
 * @example
 * ```ts
 * const bindings = new SessionBindings({ maxSessionsPerPrincipal: 8, idleTimeoutMs: 600_000 })
 * bindings.onEvict((sessionId) => transports.get(sessionId)?.close())
 * const guarded = mcpAuthzHandler({ authz, sessionBinding: bindings, handle })
 * ```
 */
export class SessionBindings {
  /** By session id, least recently used first. */
  readonly #sessions = new Map<string, Binding>()
  /** Session ids of each owner, least recently used first. */
  readonly #byOwner = new Map<string, Set<string>>()
  readonly #listeners = new Set<(sessionId: string, reason: EvictionReason) => void>()
  readonly #evictions: Record<EvictionReason, number> = { principal_limit: 0, idle: 0 }
  #refused = 0
  readonly maxSessions: number
  readonly maxSessionsPerPrincipal: number
  readonly idleTimeoutMs: number
  readonly #now: () => number

  /** @param options The bounds; a number is `maxSessions` (the form of earlier versions). */
  constructor(options: SessionBindingsOptions | number = {}) {
    const o = typeof options === 'number' ? { maxSessions: options } : options
    if (o === null || typeof o !== 'object') throw new TypeError('sessionBinding options must be an object')
    this.maxSessions = positiveInteger(o.maxSessions, 10_000, 'maxSessions')
    this.maxSessionsPerPrincipal = positiveInteger(o.maxSessionsPerPrincipal, 32, 'maxSessionsPerPrincipal')
    this.idleTimeoutMs = positiveInteger(o.idleTimeoutMs, 1_800_000, 'idleTimeoutMs')
    if (o.now !== undefined && typeof o.now !== 'function') throw new TypeError('now must be a function')
    this.#now = o.now ?? Date.now
  }

  /**
   * Binds `sessionId` to `principal` (again: marks it used). Returns `false` — and binds nothing —
   * when the id is bound to another principal, or when the table is full and `principal` holds no
   * session it could give up.
   */
  bind(sessionId: string, principal: Principal): boolean {
    const owner = ownerDigest(principal)
    const existing = this.#sessions.get(sessionId)
    if (existing !== undefined) {
      if (existing.owner !== owner) return false
      this.#touch(sessionId, existing)
      return true
    }
    const own = this.#byOwner.get(owner)
    if (own !== undefined && own.size >= this.maxSessionsPerPrincipal) this.#evictOldest(own, 'principal_limit')
    if (this.#sessions.size >= this.maxSessions) {
      this.sweep()
      if (this.#sessions.size >= this.maxSessions) {
        const mine = this.#byOwner.get(owner)
        if (mine === undefined) {
          this.#refused++
          return false
        }
        this.#evictOldest(mine, 'principal_limit')
      }
    }
    this.#sessions.set(sessionId, { owner, lastUsed: this.#now(), active: 0 })
    let ids = this.#byOwner.get(owner)
    if (ids === undefined) this.#byOwner.set(owner, (ids = new Set()))
    ids.add(sessionId)
    return true
  }

  /**
   * Whether {@link bind} would accept a new session of `principal` now (forgets idle sessions first
   * when the table is full). The guard asks before an `initialize` reaches the transport.
   */
  canBind(principal: Principal): boolean {
    if (this.#sessions.size < this.maxSessions) return true
    this.sweep()
    if (this.#sessions.size < this.maxSessions || this.#byOwner.has(ownerDigest(principal))) return true
    this.#refused++
    return false
  }

  /**
   * `owner`: bound to this principal (the session is marked used); `other`: bound to someone else;
   * `unknown`: never bound here, forgotten, or idle past the timeout (then forgotten now).
   */
  owner(sessionId: string, principal: Principal): 'owner' | 'other' | 'unknown' {
    const binding = this.#sessions.get(sessionId)
    if (binding === undefined) return 'unknown'
    if (this.#expired(binding, this.#now())) {
      this.#evict(sessionId, binding, 'idle')
      return 'unknown'
    }
    if (binding.owner !== ownerDigest(principal)) return 'other'
    this.#touch(sessionId, binding)
    return 'owner'
  }

  /** Whether `sessionId` is bound (without marking it used). */
  has(sessionId: string): boolean {
    return this.#sessions.has(sessionId)
  }

  /** A request of the session started: it does not expire until {@link release}. */
  acquire(sessionId: string): void {
    const binding = this.#sessions.get(sessionId)
    if (binding !== undefined) binding.active++
  }

  /** A request of the session ended: the idle time counts from now. */
  release(sessionId: string): void {
    const binding = this.#sessions.get(sessionId)
    if (binding === undefined) return
    if (binding.active > 0) binding.active--
    this.#touch(sessionId, binding)
  }

  /** Forgets a session its owner ended (DELETE) or whose transport closed. Not an eviction. */
  forget(sessionId: string): void {
    const binding = this.#sessions.get(sessionId)
    if (binding !== undefined) this.#remove(sessionId, binding)
  }

  /** Forgets every idle session now; returns how many. (Also done lazily on use and when the table is full.) */
  sweep(): number {
    const now = this.#now()
    let forgotten = 0
    for (const [id, binding] of this.#sessions) {
      if (this.#expired(binding, now)) {
        this.#evict(id, binding, 'idle')
        forgotten++
      } else if (binding.active === 0) {
        break // least recently used first: every later one was used more recently
      }
    }
    return forgotten
  }

  /** Calls `listener` for each eviction (not for {@link forget}); returns the unsubscribe function. */
  onEvict(listener: (sessionId: string, reason: EvictionReason) => void): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }

  /** Sessions bound now. */
  get size(): number {
    return this.#sessions.size
  }

  /** Counters, for metrics. */
  stats(): SessionBindingsStats {
    return { sessions: this.#sessions.size, principals: this.#byOwner.size, evictions: { ...this.#evictions }, refused: this.#refused }
  }

  #expired(binding: Binding, now: number): boolean {
    return binding.active === 0 && now - binding.lastUsed >= this.idleTimeoutMs
  }

  #touch(sessionId: string, binding: Binding): void {
    binding.lastUsed = this.#now()
    // Re-inserting keeps both maps in least-recently-used order.
    this.#sessions.delete(sessionId)
    this.#sessions.set(sessionId, binding)
    const ids = this.#byOwner.get(binding.owner)
    ids?.delete(sessionId)
    ids?.add(sessionId)
  }

  #evictOldest(ids: Set<string>, reason: EvictionReason): void {
    const oldest = ids.values().next().value
    if (oldest === undefined) return
    const binding = this.#sessions.get(oldest)
    if (binding !== undefined) this.#evict(oldest, binding, reason)
  }

  #evict(sessionId: string, binding: Binding, reason: EvictionReason): void {
    this.#remove(sessionId, binding)
    this.#evictions[reason]++
    for (const listener of this.#listeners) {
      try {
        listener(sessionId, reason)
      } catch (err) {
        // A listener's failure must not keep the binding alive or break the caller's request; it is reported, not swallowed.
        process.emitWarning(`mcp-authz: a session eviction listener failed: ${err instanceof Error ? err.message : String(err)}`, 'McpAuthzWarning')
      }
    }
  }

  #remove(sessionId: string, binding: Binding): void {
    this.#sessions.delete(sessionId)
    const ids = this.#byOwner.get(binding.owner)
    if (ids === undefined) return
    ids.delete(sessionId)
    if (ids.size === 0) this.#byOwner.delete(binding.owner)
  }
}
