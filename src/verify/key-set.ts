/**
 * Where an issuer's verification keys come from: only the configured location (a JWKS URL, or the
 * `jwks_uri` of the issuer's own metadata found by discovery), never a token header. Local sets
 * (inline / file) are vetted once at startup; every remote fetch is bounded (time, bytes, no
 * redirects) and vetted with {@link vetJwks} before anything is imported.
 *
 * Rotation without outage: a token whose `kid` is unknown, or whose signature fails under a cached
 * key (an authorization server reusing a `kid` for a new key), triggers **one** refetch shared by
 * every request waiting on it (single flight), as soon as the last fetch started at least
 * `cooldownMs` ago (default one second). A storm of random `kid`s therefore costs at most one fetch
 * per cooldown window, whatever its size. The set is also refetched once older than
 * `cacheMaxAgeMs`; if that fails, verification fails closed.
 *
 * @module
 */
import { createLocalJWKSet, errors } from 'jose'
import type { CompactJWSHeaderParameters, FlattenedJWSInput, JWSHeaderParameters, JWTVerifyGetKey } from 'jose'
import { BodyTooLargeError, readBoundedBody } from './bounded-body.ts'
import type { JwsAlgorithm, ResolvedIssuer } from './config.ts'
import { TokenVerificationError } from './errors.ts'
import { createIssuerDiscovery } from './discovery.ts'
import { vetJwks } from './key-vetting.ts'
import type { VettedJwks } from './key-vetting.ts'

/** An issuer's keys, as jose's key resolver plus an explanation hook for misses. */
export interface KeySet {
  /** jose key resolver; throws typed errors for JWKS outages and refused keys. */
  getKey: JWTVerifyGetKey
  /** The keys currently loaded and those refused, `undefined` before a remote set is first fetched. */
  current(): VettedJwks | undefined
  /**
   * Called after a signature failed under a cached key: refetches the set when the cooldown
   * allows (sharing a fetch already in flight) and resolves `true` when the key published for
   * `header.kid` changed, i.e. the verification is worth one retry. Local sets never change.
   */
  refreshAfterSignatureFailure(header: JWSHeaderParameters): Promise<boolean>
}

/** Options of {@link createKeySet}. */
export interface KeySetOptions {
  /** `fetch` used for remote sets. */
  fetch: typeof globalThis.fetch
  /** Clock (ms since the epoch) for the cooldown and the cache age. Default: `Date.now`. */
  now?: () => number
  /** Allow plain `http` metadata / JWKS URLs off loopback (discovery only). Default: `false`. */
  allowInsecureHttp?: boolean
}

/** Options of {@link createRemoteKeySet}. */
export interface RemoteKeySetOptions {
  /** Accepted algorithms (keys fitting none are dropped when vetted). */
  algorithms: readonly JwsAlgorithm[]
  /** Timeout of one fetch (headers and body), ms. */
  timeoutMs: number
  /** Minimum time between two fetches triggered by a miss (unknown `kid`, signature failure), ms. */
  cooldownMs: number
  /** Age after which the set is refetched before use, ms. */
  cacheMaxAgeMs: number
  /** Largest accepted response, bytes. */
  maxBytes: number
  /** `fetch` implementation. */
  fetch: typeof globalThis.fetch
  /** Clock, ms since the epoch. Default: `Date.now`. */
  now?: () => number
}

function explainMiss(vetted: VettedJwks | undefined, header: JWSHeaderParameters): TokenVerificationError | undefined {
  const { kid, alg } = header
  if (vetted === undefined || typeof kid !== 'string') return undefined
  if (vetted.jwks.keys.some((k) => k.kid === kid)) {
    return new TokenVerificationError('ERR_KEY_REJECTED', `key "${kid}" cannot verify alg ${String(alg)} (algorithm pinned per key)`)
  }
  const refused = vetted.rejected.find((r) => r.kid === kid)
  if (refused !== undefined) return new TokenVerificationError('ERR_KEY_REJECTED', `key "${kid}" was refused when loaded: ${refused.reason}`)
  return undefined
}

function keyNotFound(vetted: VettedJwks | undefined, header: JWSHeaderParameters, err: unknown): unknown {
  if (err instanceof errors.JWKSNoMatchingKey) return explainMiss(vetted, header) ?? err
  return err
}

/**
 * A vetted local key set from a JWKS object.
 *
 * @throws {TypeError} when the input is not a JWKS or no key survives vetting.
 * @example
 * ```ts
 * const keys = createLocalKeySet(JSON.parse(readFileSync('jwks.json', 'utf8')), ['ES256'], 'jwksFile')
 * await jwtVerify(token, keys.getKey, { algorithms: ['ES256'] })
 * ```
 */
export function createLocalKeySet(jwks: unknown, algorithms: readonly JwsAlgorithm[], option = 'jwks'): KeySet {
  const vetted = vetJwks(jwks, algorithms)
  if (vetted === undefined) throw new TypeError(`"${option}" is not a JWKS ({ "keys": [...] })`)
  if (vetted.jwks.keys.length === 0) {
    const reasons = vetted.rejected.map((r) => `${r.kid ?? '(no kid)'}: ${r.reason}`).join('; ')
    throw new TypeError(`"${option}" has no usable verification key${reasons ? ` (${reasons})` : ''}`)
  }
  const local = createLocalJWKSet(vetted.jwks)
  return {
    async getKey(header: CompactJWSHeaderParameters, token: FlattenedJWSInput) {
      try {
        return await local(header, token)
      } catch (err) {
        throw localKeyError(keyNotFound(vetted, header, err))
      }
    },
    current: () => vetted,
    refreshAfterSignatureFailure: async () => false,
  }
}

function localKeyError(err: unknown): unknown {
  if (err instanceof errors.JWKSNoMatchingKey || err instanceof errors.JWKSMultipleMatchingKeys || err instanceof TokenVerificationError) return err
  if (err instanceof errors.JOSENotSupported) return new TokenVerificationError('ERR_ALG_NOT_ALLOWED', 'algorithm not usable with a key set')
  return new TokenVerificationError('ERR_KEY_REJECTED', 'the key could not be imported', { cause: err })
}

/** The JSON of the key published for `kid` (or of the whole set without a `kid`), to tell a changed key. */
function publishedKey(vetted: VettedJwks | undefined, kid: unknown): string {
  if (vetted === undefined) return ''
  if (typeof kid !== 'string') return JSON.stringify(vetted.jwks.keys)
  return JSON.stringify(vetted.jwks.keys.find((k) => k.kid === kid) ?? null)
}

/**
 * Fetches one JWKS: bounded in time (`timeoutMs`, headers and body) and size, no redirects,
 * HTTP 200 only, JSON, vetted.
 *
 * @throws {TokenVerificationError} `ERR_JWKS_UNAVAILABLE` on any failure.
 * @example
 * ```ts
 * const vetted = await fetchJwks(new URL('https://as.example.com/jwks'), { algorithms: ['RS256'], timeoutMs: 5000, maxBytes: 262144, fetch })
 * ```
 */
export async function fetchJwks(
  url: URL,
  options: Pick<RemoteKeySetOptions, 'algorithms' | 'timeoutMs' | 'maxBytes' | 'fetch'>,
): Promise<VettedJwks> {
  let response: Response
  const signal = AbortSignal.timeout(options.timeoutMs)
  try {
    response = await options.fetch(url, { headers: { accept: 'application/json, application/jwk-set+json' }, redirect: 'manual', signal })
  } catch (cause) {
    throw new TokenVerificationError('ERR_JWKS_UNAVAILABLE', signal.aborted ? 'the JWKS request timed out' : 'the issuer JWKS could not be fetched', { cause })
  }
  if (response.status !== 200) {
    await response.body?.cancel().catch(() => {})
    throw new TokenVerificationError('ERR_JWKS_UNAVAILABLE', `the JWKS endpoint answered HTTP ${response.status}`)
  }
  let text: string
  try {
    text = await readBoundedBody(response, options.maxBytes)
  } catch (cause) {
    const why = cause instanceof BodyTooLargeError ? `larger than ${options.maxBytes} bytes` : signal.aborted ? 'too slow' : 'unreadable'
    throw new TokenVerificationError('ERR_JWKS_UNAVAILABLE', `JWKS response ${why}`, { cause })
  }
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    throw new TokenVerificationError('ERR_JWKS_UNAVAILABLE', 'JWKS response is not JSON')
  }
  const vetted = vetJwks(json, options.algorithms)
  if (vetted === undefined) throw new TokenVerificationError('ERR_JWKS_UNAVAILABLE', 'JWKS response is not a JWKS')
  return vetted
}

/**
 * A remote key set: fetched lazily, every response bounded and vetted, refetched on a miss with
 * a single-flight, cooldown-limited fetch (see the module comment). `url` may be a function that
 * resolves the JWKS URL when a fetch starts (discovery).
 *
 * @example
 * ```ts
 * const keys = createRemoteKeySet(new URL('https://as.example.com/jwks'), {
 *   algorithms: ['RS256'], timeoutMs: 5000, cooldownMs: 1000, cacheMaxAgeMs: 600000, maxBytes: 262144, fetch,
 * })
 * await jwtVerify(token, keys.getKey, { algorithms: ['RS256'] })
 * ```
 */
export function createRemoteKeySet(url: URL | (() => Promise<URL>), options: RemoteKeySetOptions): KeySet {
  const now = options.now ?? Date.now
  const resolveUrl = typeof url === 'function' ? url : async () => url
  let vetted: VettedJwks | undefined
  let resolver: JWTVerifyGetKey | undefined
  let fetchedAt = Number.NEGATIVE_INFINITY
  let attemptedAt = Number.NEGATIVE_INFINITY
  let lastFailure: TokenVerificationError | undefined
  let inflight: Promise<void> | undefined

  /** One fetch at a time; everyone who asks while it runs shares it. */
  function refresh(): Promise<void> {
    inflight ??= (async () => {
      attemptedAt = now()
      try {
        const next = await fetchJwks(await resolveUrl(), options)
        vetted = next
        resolver = createLocalJWKSet(next.jwks)
        fetchedAt = now()
        lastFailure = undefined
      } catch (err) {
        lastFailure = err instanceof TokenVerificationError ? err : new TokenVerificationError('ERR_JWKS_UNAVAILABLE', 'the issuer JWKS could not be fetched', { cause: err })
        throw lastFailure
      } finally {
        inflight = undefined
      }
    })()
    return inflight
  }

  const coolingDown = (): boolean => now() - attemptedAt < options.cooldownMs

  /** A usable set: fetched when missing or older than the max age (within the cooldown, the last failure is repeated). */
  async function ensureFresh(): Promise<void> {
    // A fresh set is used as is, even while a miss-triggered refetch runs (and perhaps fails).
    if (vetted !== undefined && now() - fetchedAt < options.cacheMaxAgeMs) return
    if (inflight !== undefined) return inflight
    if (coolingDown() && lastFailure !== undefined) throw lastFailure
    return refresh()
  }

  /** After a miss: refetch if allowed, or wait for the fetch in flight. Resolves whether the set may have changed. */
  async function refreshAfterMiss(): Promise<boolean> {
    if (inflight !== undefined) {
      await inflight
      return true
    }
    if (coolingDown()) return false
    await refresh()
    return true
  }

  async function lookup(header: CompactJWSHeaderParameters, token: FlattenedJWSInput) {
    try {
      return await (resolver as JWTVerifyGetKey)(header, token)
    } catch (err) {
      throw localKeyError(keyNotFound(vetted, header, err))
    }
  }

  return {
    async getKey(header, token) {
      await ensureFresh()
      try {
        return await lookup(header, token)
      } catch (err) {
        if (!(err instanceof errors.JWKSNoMatchingKey)) throw err
        if (!(await refreshAfterMiss())) throw err
        return lookup(header, token)
      }
    },
    current: () => vetted,
    async refreshAfterSignatureFailure(header) {
      const before = publishedKey(vetted, header.kid)
      try {
        if (!(await refreshAfterMiss())) return false
      } catch {
        return false // the original signature failure stands
      }
      return publishedKey(vetted, header.kid) !== before
    },
  }
}

/**
 * The key set an issuer's configuration names.
 *
 * @example
 * ```ts
 * const keys = createKeySet(resolveVerifierConfig(config).issuers[0], { fetch })
 * ```
 */
export function createKeySet(issuer: ResolvedIssuer, options: KeySetOptions): KeySet {
  const source = issuer.keySource
  if (source.kind === 'local') return createLocalKeySet(source.jwks, issuer.algorithms, source.origin)
  const remote: RemoteKeySetOptions = {
    algorithms: issuer.algorithms,
    timeoutMs: issuer.jwksTimeoutMs,
    cooldownMs: issuer.jwksCooldownMs,
    cacheMaxAgeMs: issuer.jwksCacheMaxAgeMs,
    maxBytes: issuer.jwksMaxBytes,
    fetch: options.fetch,
    ...(options.now !== undefined ? { now: options.now } : {}),
  }
  if (source.kind === 'remote') return createRemoteKeySet(source.url, remote)
  const discovery = createIssuerDiscovery(issuer.issuer, {
    fetch: options.fetch,
    timeoutMs: issuer.jwksTimeoutMs,
    maxBytes: issuer.jwksMaxBytes,
    maxAgeMs: issuer.jwksCacheMaxAgeMs,
    allowInsecureHttp: options.allowInsecureHttp ?? false,
    ...(options.now !== undefined ? { now: options.now } : {}),
  })
  return createRemoteKeySet(async () => new URL((await discovery.metadata()).jwks_uri), remote)
}
