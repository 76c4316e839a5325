/**
 * RFC 7662 token introspection for opaque tokens. The resource server authenticates
 * (`client_secret_basic` or `private_key_jwt`), posts the token to the configured endpoint only
 * (redirects are refused), bounds the time and the response size, and **fails closed**: a down,
 * slow or garbage-answering server means `ERR_INTROSPECTION_UNAVAILABLE`, never access.
 *
 * An answer is accepted only with `active: true`, a bearer `token_type` (when present), no `cnf`,
 * the configured `iss` (when present), `exp` in the future, and an `aud` containing this server's
 * resource (required by default). Positive answers are cached by token digest for at most
 * `min(exp, cacheTtl)`; refusals for `negativeCacheTtl` (seconds); outages not at all. Concurrent
 * requests for the same token share one call.
 *
 * @module
 */
import { randomUUID } from 'node:crypto'
import { importJWK, SignJWT } from 'jose'
import type { CryptoKey, JWK, KeyObject } from 'jose'
import { LRUCache } from 'lru-cache'
import { raceAbort } from './abort.ts'
import { readBoundedBody } from './bounded-body.ts'
import type { JwsAlgorithm, ResolvedIntrospection } from './config.ts'
import { TokenVerificationError } from './errors.ts'
import type { TokenVerificationErrorCode } from './errors.ts'
import { tokenCacheKey } from './memo.ts'
import { normalizePrincipal, PrincipalError } from './principal.ts'
import type { Principal } from './principal.ts'
import { canonicalResourceUri } from './resource-uri.ts'

/** Settings shared with the other verifiers. */
export interface IntrospectionSettings {
  /** Canonical resource URI the response `aud` must contain. */
  audience: string
  /** Allowed clock skew, seconds. */
  clockTolerance: number
  /** Clock, milliseconds since the epoch. */
  now: () => number
  /** `fetch` implementation. */
  fetch: typeof globalThis.fetch
}

/** Verifies opaque tokens by introspection. */
export interface IntrospectionVerifier {
  /** Introspects (or answers from cache) and returns the principal. */
  verify(token: string, signal?: AbortSignal): Promise<Principal>
}

/** Refusals that depend only on the token, so they may be cached briefly. */
const CACHEABLE_REFUSALS = new Set<TokenVerificationErrorCode>([
  'ERR_TOKEN_INACTIVE',
  'ERR_AUDIENCE_MISMATCH',
  'ERR_ISSUER_MISMATCH',
  'ERR_TOKEN_EXPIRED',
  'ERR_TOKEN_NOT_YET_VALID',
  'ERR_CLAIM_INVALID',
])

const JSON_MEDIA_TYPE = /^application\/json\s*(;|$)/i

function unavailable(message: string, cause?: unknown): TokenVerificationError {
  return new TokenVerificationError('ERR_INTROSPECTION_UNAVAILABLE', message, cause === undefined ? undefined : { cause })
}

function formEncode(value: string): string {
  return new URLSearchParams({ v: value }).toString().slice(2)
}

function defaultAlgFor(jwk: Record<string, unknown>): JwsAlgorithm {
  if (typeof jwk.alg === 'string') return jwk.alg as JwsAlgorithm
  if (jwk.kty === 'EC') return jwk.crv === 'P-384' ? 'ES384' : jwk.crv === 'P-521' ? 'ES512' : 'ES256'
  if (jwk.kty === 'OKP') return 'EdDSA'
  return 'RS256'
}

interface Positive {
  principal: Principal
  validUntil: number
}

interface Negative {
  code: TokenVerificationErrorCode
  message: string
  validUntil: number
}

/**
 * Creates an introspection verifier.
 *
 * @example
 * ```ts
 * const introspection = createIntrospectionVerifier(resolveVerifierConfig(config).introspection!, {
 *   audience: 'https://mcp.example.com/mcp', clockTolerance: 30, now: Date.now, fetch,
 * })
 * const principal = await introspection.verify(opaqueToken)
 * ```
 */
export function createIntrospectionVerifier(config: ResolvedIntrospection, settings: IntrospectionSettings): IntrospectionVerifier {
  const positive = config.cacheMax > 0 && config.cacheTtlMs > 0 ? new LRUCache<string, Positive>({ max: config.cacheMax }) : undefined
  const negative = config.cacheMax > 0 && config.negativeCacheTtlMs > 0 ? new LRUCache<string, Negative>({ max: config.cacheMax }) : undefined
  const inflight = new Map<string, Promise<Principal>>()
  const defaultIssuer = config.issuer ?? config.endpoint.origin
  const assertionAudience = config.issuer ?? config.endpoint.href
  let signingKey: Promise<CryptoKey | KeyObject | Uint8Array> | undefined

  async function clientAssertion(): Promise<string> {
    const jwk = config.privateKey as Record<string, unknown>
    const alg = config.privateKeyAlg ?? defaultAlgFor(jwk)
    signingKey ??= importJWK(jwk as JWK, alg)
    const nowSec = Math.floor(settings.now() / 1000)
    return new SignJWT({})
      .setProtectedHeader(typeof jwk.kid === 'string' ? { alg, kid: jwk.kid } : { alg })
      .setIssuer(config.clientId)
      .setSubject(config.clientId)
      .setAudience(assertionAudience)
      .setIssuedAt(nowSec)
      .setExpirationTime(nowSec + 60)
      .setJti(randomUUID())
      .sign(await signingKey)
  }

  async function post(token: string): Promise<unknown> {
    const body = new URLSearchParams({ token, token_type_hint: 'access_token' })
    const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' }
    if (config.clientAuthMethod === 'client_secret_basic') {
      const secret = config.clientSecret as string
      headers.authorization = `Basic ${Buffer.from(`${formEncode(config.clientId)}:${formEncode(secret)}`).toString('base64')}`
    } else {
      try {
        body.set('client_id', config.clientId)
        body.set('client_assertion_type', 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer')
        body.set('client_assertion', await clientAssertion())
      } catch (cause) {
        signingKey = undefined
        throw unavailable('could not sign the client assertion', cause)
      }
    }
    let response: Response
    try {
      response = await settings.fetch(config.endpoint, {
        method: 'POST',
        headers,
        body,
        redirect: 'error', // the token goes to the configured endpoint and nowhere else
        signal: AbortSignal.timeout(config.timeoutMs),
      })
    } catch (cause) {
      throw unavailable('introspection request failed', cause)
    }
    if (response.status !== 200) {
      await response.body?.cancel().catch(() => {})
      throw unavailable(`introspection endpoint answered HTTP ${response.status}`)
    }
    if (!JSON_MEDIA_TYPE.test(response.headers.get('content-type') ?? '')) {
      await response.body?.cancel().catch(() => {})
      throw unavailable('introspection response is not application/json')
    }
    let text: string
    try {
      text = await readBoundedBody(response, config.maxResponseBytes)
    } catch (cause) {
      throw unavailable('introspection response too large or unreadable', cause)
    }
    try {
      return JSON.parse(text)
    } catch {
      throw unavailable('introspection response is not JSON')
    }
  }

  /** Turns an introspection response into a principal, or throws why not (RFC 7662 § 2.2). */
  function interpret(json: unknown, token: string): { principal: Principal; validUntil: number } {
    if (typeof json !== 'object' || json === null || Array.isArray(json)) throw unavailable('introspection response is not a JSON object')
    const r = json as Record<string, unknown>
    if (r.active === false) throw new TokenVerificationError('ERR_TOKEN_INACTIVE', 'the token is not active')
    if (r.active !== true) throw unavailable('introspection response has no boolean "active"')

    if (r.token_type !== undefined && (typeof r.token_type !== 'string' || !['bearer', 'access_token'].includes(r.token_type.toLowerCase()))) {
      throw new TokenVerificationError('ERR_CLAIM_INVALID', 'token_type is not a bearer access token')
    }
    if (r.cnf !== undefined) throw new TokenVerificationError('ERR_CLAIM_INVALID', 'sender-constrained token (cnf) presented as a bearer token')
    if (r.iss !== undefined) {
      if (typeof r.iss !== 'string') throw new TokenVerificationError('ERR_CLAIM_INVALID', '"iss" must be a string')
      if (config.issuer !== undefined && r.iss !== config.issuer) throw new TokenVerificationError('ERR_ISSUER_MISMATCH', 'iss is not the configured issuer')
    }
    const nowSec = settings.now() / 1000
    for (const name of ['exp', 'nbf', 'iat'] as const) {
      if (r[name] !== undefined && (typeof r[name] !== 'number' || !Number.isFinite(r[name]))) {
        throw new TokenVerificationError('ERR_CLAIM_INVALID', `"${name}" must be a NumericDate`)
      }
    }
    const exp = r.exp as number | undefined
    if (exp !== undefined && exp <= nowSec - settings.clockTolerance) throw new TokenVerificationError('ERR_TOKEN_EXPIRED', 'the token has expired')
    if (typeof r.nbf === 'number' && r.nbf > nowSec + settings.clockTolerance) throw new TokenVerificationError('ERR_TOKEN_NOT_YET_VALID', 'nbf is in the future')

    const values = typeof r.aud === 'string' ? [r.aud] : Array.isArray(r.aud) ? r.aud : undefined
    if (r.aud !== undefined && values === undefined) throw new TokenVerificationError('ERR_CLAIM_INVALID', '"aud" must be a string or array')
    if (values === undefined ? config.requireAudience : !values.some((v) => typeof v === 'string' && canonicalResourceUri(v) === settings.audience)) {
      throw new TokenVerificationError('ERR_AUDIENCE_MISMATCH', 'aud is missing or does not name this resource')
    }

    const claims: Record<string, unknown> = { ...r }
    // Client-credentials tokens have no user: the client is the subject (as in RFC 9068 § 2.2).
    if (claims.sub === undefined && typeof claims.client_id === 'string') claims.sub = claims.client_id
    // Some servers use the opaque token itself as its jti; it must never become principal.tokenId.
    if (claims.jti === token) delete claims.jti
    let principal: Principal
    try {
      principal = normalizePrincipal(claims, {
        authMethod: 'introspection',
        token,
        tenantClaim: config.tenantClaim,
        issuerTenant: config.tenant,
        claimAllowlist: config.claims,
        claimPointers: config.claimPointers,
        acceptScp: config.acceptScp,
        defaultIssuer,
      })
    } catch (err) {
      if (err instanceof PrincipalError) throw new TokenVerificationError('ERR_CLAIM_INVALID', err.message)
      throw err
    }
    const cap = settings.now() + config.cacheTtlMs
    return { principal, validUntil: exp === undefined ? cap : Math.min(cap, exp * 1000) }
  }

  async function introspect(token: string, key: string): Promise<Principal> {
    const json = await post(token)
    try {
      const { principal, validUntil } = interpret(json, token)
      if (validUntil > settings.now()) positive?.set(key, { principal: structuredClone(principal), validUntil })
      return principal
    } catch (err) {
      if (err instanceof TokenVerificationError && CACHEABLE_REFUSALS.has(err.code)) {
        negative?.set(key, { code: err.code, message: err.message, validUntil: settings.now() + config.negativeCacheTtlMs })
      }
      throw err
    }
  }

  return {
    async verify(token, signal) {
      const key = tokenCacheKey(token)
      const now = settings.now()
      const hit = positive?.get(key)
      if (hit !== undefined) {
        if (hit.validUntil > now) return structuredClone(hit.principal)
        positive?.delete(key)
      }
      const refusal = negative?.get(key)
      if (refusal !== undefined) {
        if (refusal.validUntil > now) throw new TokenVerificationError(refusal.code, refusal.message)
        negative?.delete(key)
      }
      let pending = inflight.get(key)
      if (pending === undefined) {
        pending = introspect(token, key).finally(() => inflight.delete(key))
        inflight.set(key, pending)
      }
      return structuredClone(await raceAbort(pending, signal))
    },
  }
}
