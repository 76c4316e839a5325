/**
 * Where an issuer's verification keys come from: only the configured location, never a token
 * header. Local sets (inline / file) are vetted once at startup; remote sets use jose's
 * `createRemoteJWKSet` (timeouts, cooldown against unknown-`kid` fetch storms, max cache age,
 * rotation without restart) with a `customFetch` that bounds the response size and runs
 * {@link vetJwks} on every fetched set before jose sees it. Vetting inside the fetch keeps jose's
 * caching and refresh logic intact while guaranteeing no unvetted key is ever imported.
 *
 * @module
 */
import { createLocalJWKSet, createRemoteJWKSet, customFetch, errors } from 'jose'
import type { CompactJWSHeaderParameters, FlattenedJWSInput, JWSHeaderParameters, JWTVerifyGetKey } from 'jose'
import { BodyTooLargeError, readBoundedBody } from './bounded-body.ts'
import type { JwsAlgorithm, ResolvedIssuer } from './config.ts'
import { TokenVerificationError } from './errors.ts'
import { vetJwks } from './key-vetting.ts'
import type { VettedJwks } from './key-vetting.ts'

/** An issuer's keys, as jose's key resolver plus an explanation hook for misses. */
export interface KeySet {
  /** jose key resolver; throws typed errors for JWKS outages and refused keys. */
  getKey: JWTVerifyGetKey
  /** The keys currently loaded and those refused, `undefined` before a remote set is first fetched. */
  current(): VettedJwks | undefined
}

/** Options of {@link createKeySet}. */
export interface KeySetOptions {
  /** `fetch` used for remote sets. */
  fetch: typeof globalThis.fetch
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

function wrapResolver(resolve: JWTVerifyGetKey, current: () => VettedJwks | undefined, remote: boolean): JWTVerifyGetKey {
  return async (header: CompactJWSHeaderParameters, token: FlattenedJWSInput) => {
    try {
      return await resolve(header, token)
    } catch (err) {
      if (err instanceof errors.JWKSNoMatchingKey) throw explainMiss(current(), header) ?? err
      if (err instanceof errors.JWKSMultipleMatchingKeys || err instanceof TokenVerificationError) throw err
      if (err instanceof errors.JOSENotSupported) throw new TokenVerificationError('ERR_ALG_NOT_ALLOWED', 'algorithm not usable with a key set')
      if (remote) throw new TokenVerificationError('ERR_JWKS_UNAVAILABLE', 'the issuer JWKS could not be fetched', { cause: err })
      throw new TokenVerificationError('ERR_KEY_REJECTED', 'the key could not be imported', { cause: err })
    }
  }
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
  return { getKey: wrapResolver(createLocalJWKSet(vetted.jwks), () => vetted, false), current: () => vetted }
}

/**
 * A remote key set: jose's `createRemoteJWKSet`, every response size-limited and vetted.
 *
 * @example
 * ```ts
 * const keys = createRemoteKeySet(new URL('https://as.example.com/jwks'), {
 *   algorithms: ['RS256'], timeoutMs: 5000, cooldownMs: 30000, cacheMaxAgeMs: 600000, maxBytes: 262144, fetch,
 * })
 * ```
 */
export function createRemoteKeySet(
  url: URL,
  options: { algorithms: readonly JwsAlgorithm[]; timeoutMs: number; cooldownMs: number; cacheMaxAgeMs: number; maxBytes: number; fetch: typeof globalThis.fetch },
): KeySet {
  let latest: VettedJwks | undefined
  const vettingFetch = async (input: string, init: RequestInit): Promise<Response> => {
    const response = await options.fetch(input, init)
    if (response.status !== 200) {
      await response.body?.cancel().catch(() => {})
      return new Response(null, { status: 502 }) // jose only needs to see "not 200"
    }
    let text: string
    try {
      text = await readBoundedBody(response, options.maxBytes)
    } catch (cause) {
      const why = cause instanceof BodyTooLargeError ? `larger than ${options.maxBytes} bytes` : 'unreadable'
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
    latest = vetted
    return Response.json(vetted.jwks)
  }
  const remote = createRemoteJWKSet(url, {
    timeoutDuration: options.timeoutMs,
    cooldownDuration: options.cooldownMs,
    cacheMaxAge: options.cacheMaxAgeMs,
    [customFetch]: vettingFetch,
  })
  return { getKey: wrapResolver(remote, () => latest, true), current: () => latest }
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
  return createRemoteKeySet(source.url, {
    algorithms: issuer.algorithms,
    timeoutMs: issuer.jwksTimeoutMs,
    cooldownMs: issuer.jwksCooldownMs,
    cacheMaxAgeMs: issuer.jwksCacheMaxAgeMs,
    maxBytes: issuer.jwksMaxBytes,
    fetch: options.fetch,
  })
}
