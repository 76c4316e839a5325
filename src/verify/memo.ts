/**
 * Memoization of verified principals, so the signature cost is paid once per token: a bounded
 * LRU keyed by a SHA-256 digest of the token (the map never holds a token), each entry valid
 * until the token's `exp` (or `iat + maxTokenAge`) and re-checked against the clock on every read.
 *
 * @module
 */
import { createHash } from 'node:crypto'
import { LRUCache } from 'lru-cache'
import type { Principal } from './principal.ts'

/**
 * The cache key of a credential: base64url SHA-256 of it. Full length (unlike the log-friendly
 * `tokenFingerprint`), so a collision with a cached token is out of reach.
 *
 * @example
 * ```ts
 * tokenCacheKey('eyJ…') // 'q1cE…' (43 characters)
 * ```
 */
export function tokenCacheKey(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('base64url')
}

interface Entry {
  principal: Principal
  validUntil: number
}

/** A bounded, clock-checked cache of principals. Returns copies, so callers cannot alter entries. */
export class PrincipalMemo {
  readonly #cache: LRUCache<string, Entry> | undefined
  readonly #now: () => number

  /**
   * @param max Maximum entries; `0` disables memoization.
   * @param now Clock, milliseconds since the epoch.
   * @example
   * ```ts
   * const memo = new PrincipalMemo(10_000, Date.now)
   * ```
   */
  constructor(max: number, now: () => number) {
    this.#cache = max > 0 ? new LRUCache<string, Entry>({ max }) : undefined
    this.#now = now
  }

  /**
   * The principal cached for `key`, if still valid now.
   *
   * @example
   * ```ts
   * memo.get(tokenCacheKey(token)) ?? (await verifySlowly(token))
   * ```
   */
  get(key: string): Principal | undefined {
    const entry = this.#cache?.get(key)
    if (entry === undefined) return undefined
    if (entry.validUntil <= this.#now()) {
      this.#cache?.delete(key)
      return undefined
    }
    return entry.principal
  }

  /**
   * Caches `principal` until `validUntil` (ms since the epoch); ignored when that is not in the future.
   *
   * @example
   * ```ts
   * memo.set(tokenCacheKey(token), principal, principal.expiresAt * 1000)
   * ```
   */
  set(key: string, principal: Principal, validUntil: number): void {
    if (this.#cache === undefined || !(validUntil > this.#now())) return
    // Stored deeply frozen and handed out as is: a cache hit costs no copy, and no caller can
    // change what the next request sees.
    this.#cache.set(key, { principal: deepFreeze(structuredClone(principal)), validUntil })
  }

  /** Number of cached entries. */
  get size(): number {
    return this.#cache?.size ?? 0
  }
}

/** Freezes a value and everything reachable from it. */
export function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value)
    for (const v of Object.values(value)) deepFreeze(v)
  }
  return value
}
