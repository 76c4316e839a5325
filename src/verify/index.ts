/**
 * Token verification: credential in, {@link Principal} out — or a typed
 * {@link TokenVerificationError}. {@link createTokenVerifier} assembles the verifiers a
 * configuration names and routes each credential:
 *
 * 1. empty → `ERR_TOKEN_MISSING`; longer than `maxTokenLength` → `ERR_TOKEN_TOO_LARGE`; not RFC
 *    6750 `b64token` syntax → `ERR_TOKEN_MALFORMED` (all before any parsing);
 * 2. starts with the API-key prefix → API-key verifier;
 * 3. memoized principal for this token still valid → returned;
 * 4. compact JWS whose unverified `iss` is a configured issuer → that issuer's JWT verifier (the
 *    peek only selects the configuration; nothing unverified is trusted; keys come from the
 *    configured JWKS, or from the issuer's own metadata by discovery — never from the token);
 * 5. otherwise introspection when configured — except a JWT naming an issuer other than the
 *    introspection `issuer`, which is refused (`ERR_ISSUER_UNKNOWN`) without any network call;
 * 6. otherwise `ERR_ISSUER_UNKNOWN` / `ERR_TOKEN_MALFORMED`.
 *
 * @module
 */
import { decodeJwt } from 'jose'
import { createApiKeyVerifier } from './api-key.ts'
import type { ApiKeyVerifier } from './api-key.ts'
import { resolveVerifierConfig } from './config.ts'
import type { VerifierConfig, VerifierOverrides } from './config.ts'
import { asVerificationError, TokenVerificationError } from './errors.ts'
import { createIntrospectionVerifier } from './introspection.ts'
import type { IntrospectionVerifier } from './introspection.ts'
import { isCompactJws } from './jws.ts'
import { createJwtVerifier } from './jwt.ts'
import type { JwtVerifier } from './jwt.ts'
import { PrincipalMemo, tokenCacheKey } from './memo.ts'
import type { Principal } from './principal.ts'

export { hashApiKey, generateApiKey } from './api-key.ts'
export { DEFAULT_ALGORITHMS, SUPPORTED_ALGORITHMS, ALWAYS_REQUIRED_CLAIMS, resolveVerifierConfig } from './config.ts'
export type {
  ApiKeyConfig,
  ApiKeyEntry,
  ClaimSelection,
  IntrospectionConfig,
  JsonWebKeySet,
  JwsAlgorithm,
  JwtIssuerConfig,
  RequirableClaim,
  VerifierConfig,
  VerifierOverrides,
} from './config.ts'
export { createIssuerDiscovery, discoverIssuerMetadata, metadataUrls } from './discovery.ts'
export type { CachedDiscoveryOptions, DiscoveryOptions, IssuerDiscovery, IssuerMetadata } from './discovery.ts'
export { TokenVerificationError } from './errors.ts'
export type { AccessTokenTyp } from './jws.ts'
export { createKeySet, createLocalKeySet, createRemoteKeySet, fetchJwks } from './key-set.ts'
export type { KeySet, KeySetOptions, RemoteKeySetOptions } from './key-set.ts'
export type { BearerErrorCode, TokenVerificationErrorCode } from './errors.ts'
export { hasRocaFingerprint, vetJwks } from './key-vetting.ts'
export type { PublicJwk, RejectedKey, VettedJwks } from './key-vetting.ts'
export { normalizePrincipal, PrincipalError, tokenFingerprint } from './principal.ts'
export type { AuthMethod, NormalizeOptions, Principal, PrincipalErrorCode } from './principal.ts'
export { canonicalResourceUri, sameResource } from './resource-uri.ts'
export { STATIC_ISSUER, staticPrincipal, staticPrincipalFromEnv } from './static.ts'
export type { StaticPrincipalConfig } from './static.ts'

/** Options of {@link TokenVerifier.verify}. */
export interface VerifyOptions {
  /** Stops waiting (JWKS fetch, introspection) when the request is gone. Default: none. */
  signal?: AbortSignal
}

/** Token in, principal out. */
export interface TokenVerifier {
  /**
   * Verifies a credential (the bare token, without `Bearer `).
   *
   * @throws {TokenVerificationError} always this type, whatever went wrong.
   */
  verify(token: string, options?: VerifyOptions): Promise<Principal>
  /** What this verifier trusts (audience, issuers with their tenants), so `createAuthz` can check it against the policy data. */
  readonly trust: {
    audience?: string
    issuers: Array<{ issuer: string; tenant?: string; tenantClaim?: string }>
    introspection?: { issuer?: string; tenant?: string; tenantClaim?: string }
  }
}

/** RFC 6750 § 2.1 `b64token`. */
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/

/**
 * The unverified `iss` of a compact JWS, used only to pick a configuration: `null` when the
 * token does not decode as a JWT at all, `undefined` when it has no string `iss`.
 */
function peekIssuer(token: string): string | undefined | null {
  try {
    const { iss } = decodeJwt(token)
    return typeof iss === 'string' ? iss : undefined
  } catch {
    return null
  }
}

/**
 * Builds the verifier for a configuration. Options are checked now (`TypeError` naming the
 * option); local key sets are loaded and vetted now; remote key sets on first use.
 *
 * @throws {TypeError} on a bad option.
 * @example
 * ```ts
 * const verifier = createTokenVerifier({
 *   audience: 'https://mcp.example.com/mcp',
 *   issuers: [{ issuer: 'https://auth.example.com', jwksUri: 'https://auth.example.com/.well-known/jwks.json' }],
 * })
 * try {
 *   const principal = await verifier.verify(bearerToken, { signal: request.signal })
 * } catch (err) {
 *   if (err instanceof TokenVerificationError) log.info({ reason: err.code }) // answer 401
 * }
 * ```
 */
export function createTokenVerifier(config: VerifierConfig, overrides: VerifierOverrides = {}): TokenVerifier {
  const resolved = resolveVerifierConfig(config, overrides)
  const { now, fetch, clockTolerance, maxTokenAge, maxTokenLength } = resolved
  const audience = resolved.audience as string // required whenever JWT or introspection is configured

  const jwtByIssuer = new Map<string, JwtVerifier>()
  for (const issuer of resolved.issuers) {
    jwtByIssuer.set(issuer.issuer, createJwtVerifier(issuer, { audience, clockTolerance, maxTokenAge, now, fetch }))
  }
  const introspection: IntrospectionVerifier | undefined = resolved.introspection
    ? createIntrospectionVerifier(resolved.introspection, { audience, clockTolerance, now, fetch })
    : undefined
  const introspectionIssuer = resolved.introspection?.issuer
  const apiKeys: ApiKeyVerifier | undefined = resolved.apiKeys ? createApiKeyVerifier(resolved.apiKeys, { audience: resolved.audience }) : undefined
  const memo = new PrincipalMemo(resolved.cacheMax, now)

  async function route(token: string, signal: AbortSignal | undefined): Promise<Principal> {
    if (signal?.aborted) throw new TokenVerificationError('ERR_VERIFICATION_ABORTED', 'verification aborted by the caller')
    if (typeof token !== 'string' || token.length === 0) throw new TokenVerificationError('ERR_TOKEN_MISSING', 'no credential')
    if (token.length > maxTokenLength || Buffer.byteLength(token, 'utf8') > maxTokenLength) {
      throw new TokenVerificationError('ERR_TOKEN_TOO_LARGE', `credential longer than ${maxTokenLength} bytes`)
    }
    if (!B64TOKEN.test(token)) throw new TokenVerificationError('ERR_TOKEN_MALFORMED', 'credential is not RFC 6750 b64token syntax')

    if (apiKeys !== undefined && token.startsWith(apiKeys.prefix)) return apiKeys.verify(token)

    const key = tokenCacheKey(token)
    const memoized = memo.get(key)
    if (memoized !== undefined) return memoized

    const iss = isCompactJws(token) ? peekIssuer(token) : null
    if (typeof iss === 'string') {
      const jwt = jwtByIssuer.get(iss)
      if (jwt !== undefined) {
        const { principal, validUntil } = await jwt.verify(token, signal)
        memo.set(key, principal, validUntil)
        return principal
      }
      if (introspection === undefined || (introspectionIssuer !== undefined && introspectionIssuer !== iss)) {
        throw new TokenVerificationError('ERR_ISSUER_UNKNOWN', 'the token names an issuer that is not configured')
      }
    }
    if (introspection !== undefined) return introspection.verify(token, signal)
    if (iss === undefined) throw new TokenVerificationError('ERR_ISSUER_UNKNOWN', 'the JWT names no issuer')
    throw new TokenVerificationError('ERR_TOKEN_MALFORMED', 'no configured verifier accepts this kind of credential')
  }

  const optional = <K extends string>(key: K, value: string | undefined) => (value === undefined ? {} : ({ [key]: value } as Record<K, string>))
  const trust: TokenVerifier['trust'] = {
    ...optional('audience', resolved.audience),
    issuers: resolved.issuers.map((i) => ({ issuer: i.issuer, ...optional('tenant', i.tenant), ...optional('tenantClaim', i.tenantClaim) })),
    ...(resolved.introspection === undefined
      ? {}
      : { introspection: { ...optional('issuer', resolved.introspection.issuer), ...optional('tenant', resolved.introspection.tenant), ...optional('tenantClaim', resolved.introspection.tenantClaim) } }),
  }
  return {
    trust,
    async verify(token, options) {
      try {
        return await route(token, options?.signal)
      } catch (err) {
        throw asVerificationError(err)
      }
    },
  }
}
