/**
 * Verifier configuration: the JSON-serialisable {@link VerifierConfig} (loaded from a file and
 * schema-checked by the caller), the non-serialisable {@link VerifierOverrides}, and
 * {@link resolveVerifierConfig}, which applies defaults and fails fast with a `TypeError` naming
 * the offending option.
 *
 * Durations are in seconds, sizes in bytes.
 *
 * @module
 */
import { readFileSync } from 'node:fs'
import { isLoopbackHost } from '../net/loopback.ts'
import { metadataUrls } from './discovery.ts'
import { parsePointer } from './json-pointer.ts'
import type { AccessTokenTyp } from './jws.ts'
import { canonicalResourceUri } from './resource-uri.ts'

/** Asymmetric JWS algorithms the verifier can be configured to accept. Symmetric ones never are. */
export type JwsAlgorithm =
  | 'RS256'
  | 'RS384'
  | 'RS512'
  | 'PS256'
  | 'PS384'
  | 'PS512'
  | 'ES256'
  | 'ES384'
  | 'ES512'
  | 'EdDSA'
  | 'Ed25519'

/** Every algorithm {@link JwtIssuerConfig.algorithms} may list. */
export const SUPPORTED_ALGORITHMS: readonly JwsAlgorithm[] = Object.freeze([
  'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519',
])

/** Default {@link JwtIssuerConfig.algorithms}. */
export const DEFAULT_ALGORITHMS: readonly JwsAlgorithm[] = Object.freeze(['RS256', 'PS256', 'ES256', 'ES384', 'EdDSA'])

/** RFC 9068 § 2.2 claims {@link JwtIssuerConfig.requiredClaims} may make mandatory. */
export type RequirableClaim = 'iss' | 'exp' | 'aud' | 'sub' | 'client_id' | 'iat' | 'jti'

/** Claims every JWT must carry whatever the configuration says. */
export const ALWAYS_REQUIRED_CLAIMS: readonly RequirableClaim[] = Object.freeze(['iss', 'exp', 'aud', 'sub'])

/** A JSON Web Key Set as found in configuration (RFC 7517 § 5). */
export interface JsonWebKeySet {
  keys: Array<Record<string, unknown>>
}

/**
 * Claims copied into `principal.claims`: a list of top-level claim names (`['roles', 'groups']`),
 * or a map from the name in `principal.claims` to an RFC 6901 JSON Pointer into the claim set
 * (`{ roles: '/realm_access/roles' }`) or to a top-level claim name (`{ groups: 'cognito:groups' }`).
 */
export type ClaimSelection = string[] | Record<string, string>

/**
 * One trusted JWT access-token issuer (RFC 9068). At most one of `jwksUri`, `jwks`, `jwksFile`;
 * with none, the keys are found by discovery of the issuer's metadata (`jwks_uri`).
 */
export interface JwtIssuerConfig {
  /** The issuer identifier, compared byte for byte with the token's `iss` (no normalisation). Required. */
  issuer: string
  /**
   * HTTPS URL of the issuer's JWKS (loopback `http` allowed). Fetched lazily, cached, refreshed on
   * rotation. Default: the `jwks_uri` of the issuer's metadata (OpenID Connect discovery, then
   * RFC 8414), whose `issuer` must equal {@link issuer} exactly.
   */
  jwksUri?: string
  /** Inline JWKS (public keys only). Vetted at startup. */
  jwks?: JsonWebKeySet
  /** Path of a JWKS file (public keys only). Read and vetted once at startup. */
  jwksFile?: string
  /** Accepted `alg` values. Default: `['RS256', 'PS256', 'ES256', 'ES384', 'EdDSA']`. Symmetric algorithms cannot be enabled. */
  algorithms?: JwsAlgorithm[]
  /**
   * Accepted `typ` header values, case-insensitive, `application/` prefix ignored: `at+jwt`
   * (RFC 9068) and/or `JWT` (Keycloak, Auth0, Microsoft Entra ID sign access tokens with
   * `typ: JWT`). Other types (`dpop+jwt`, `logout+jwt`, …) can never be accepted.
   * Default: `['at+jwt']`; `['at+jwt', 'JWT']` when `requireTyp` is `false`.
   */
  typ?: Array<'at+jwt' | 'application/at+jwt' | 'JWT' | 'jwt'>
  /**
   * Whether the header must carry a `typ` at all. `false` also accepts tokens without `typ`
   * (Okta, Amazon Cognito). Default: `true`.
   */
  requireTyp?: boolean
  /** Claims that must be present besides the always-required `iss`, `exp`, `aud`, `sub` (e.g. `client_id`, `iat`, `jti`). Default: `[]`. */
  requiredClaims?: RequirableClaim[]
  /** Tenant this issuer maps to (used when `tenantClaim` is absent from the token). Default: none. */
  tenant?: string
  /**
   * Claim holding the tenant: a top-level name (e.g. `tid`) or an RFC 6901 JSON Pointer
   * (e.g. `/organization/id`). Its value must be a non-empty string. Default: none.
   */
  tenantClaim?: string
  /** Claims copied into `principal.claims` (see {@link ClaimSelection}). Default: `[]`. */
  claims?: ClaimSelection
  /** Also read scopes from `scp` (string or array). Default: `false` (RFC 9068: `scope` string only). */
  acceptScp?: boolean
  /** Timeout of one JWKS (or metadata) request, seconds. Default: `5`. */
  jwksTimeout?: number
  /**
   * Minimum time between two JWKS fetches triggered by a miss — an unknown `kid`, or a signature
   * that fails under a cached key (a reused `kid`) — seconds. Requests arriving meanwhile share
   * the fetch in flight. Default: `1`.
   */
  jwksCooldown?: number
  /** Maximum age of the cached JWKS before it is refetched, seconds. Default: `600`. */
  jwksCacheMaxAge?: number
  /** Maximum JWKS response size, bytes; larger responses are aborted. Default: `262144` (256 KiB). */
  jwksMaxBytes?: number
}

/** RFC 7662 token introspection, for opaque tokens. */
export interface IntrospectionConfig {
  /** The introspection endpoint (HTTPS; loopback `http` allowed). The only place a token is ever sent. Required. */
  endpoint: string
  /**
   * The authorization server's issuer identifier. When set, a response `iss` must equal it, and a
   * JWT naming another issuer is never sent here. Default: none (recommended to set).
   */
  issuer?: string
  /** This resource server's client id at the authorization server. Required. */
  clientId: string
  /** Client authentication. Default: `'client_secret_basic'`. */
  clientAuthMethod?: 'client_secret_basic' | 'private_key_jwt'
  /** Client secret, for `client_secret_basic`. */
  clientSecret?: string
  /** Private JWK signing the `private_key_jwt` client assertion. */
  privateKey?: Record<string, unknown>
  /** Algorithm of the client assertion. Default: the key's `alg`, else RS256 / ES256 / ES384 / ES512 / EdDSA by key type. */
  privateKeyAlg?: JwsAlgorithm
  /** Request timeout, seconds. Default: `5`. */
  timeout?: number
  /** Maximum response size, bytes. Default: `65536`. */
  maxResponseBytes?: number
  /** Refuse responses without `aud` (a response `aud` must always contain our resource). Default: `true`. */
  requireAudience?: boolean
  /** Longest time a positive answer is reused, seconds (never beyond the token's `exp`). Default: `60`. */
  cacheTtl?: number
  /** How long a refusal (`active: false`, wrong audience…) is reused, seconds, `0`–`10`. Default: `2`. */
  negativeCacheTtl?: number
  /** Maximum cached answers. Default: `10000`. */
  cacheMax?: number
  /** Tenant for principals from this server. Default: none. */
  tenant?: string
  /** Response member holding the tenant: a name or an RFC 6901 JSON Pointer. Default: none. */
  tenantClaim?: string
  /** Response members copied into `principal.claims` (see {@link ClaimSelection}). Default: `[]`. */
  claims?: ClaimSelection
  /** Also read scopes from `scp`. Default: `false`. */
  acceptScp?: boolean
}

/** One API key, stored only as its hash. */
export interface ApiKeyEntry {
  /** `sha256:` + 64 lowercase hex digits of SHA-256 over the whole key (prefix included). Required. */
  hash: string
  /** Stable name of the key, used as `principal.tokenId` (`api-key:<id>`). Default: `key-<index>`. */
  id?: string
  /** Subject of the principal. Required. */
  subject: string
  /** Client id of the principal. Default: none. */
  clientId?: string
  /** Granted scopes. Default: `[]`. */
  scopes?: string[]
  /** Tenant of the principal. Default: none. */
  tenant?: string
  /** Extra claims copied into `principal.claims` (e.g. roles). Default: `{}`. */
  claims?: Record<string, unknown>
}

/** API keys: for internal and single-user servers, where running an authorization server is overkill. */
export interface ApiKeyConfig {
  /** Prefix that marks a credential as an API key. Default: `'mcpk_'`. */
  prefix?: string
  /** `principal.issuer` of API-key principals. Default: `'urn:mcp-authz:api-key'`. */
  issuer?: string
  /** The accepted keys. Required (may be empty). */
  keys: ApiKeyEntry[]
}

/** Everything token verification needs. JSON-serialisable. */
export interface VerifierConfig {
  /**
   * This server's canonical resource URI (RFC 8707 / RFC 9728 `resource`). Every JWT `aud` and
   * introspection `aud` must contain it, compared in canonical form. Required with `issuers` or
   * `introspection`.
   */
  audience?: string
  /**
   * Trusted JWT issuers. A plain string is an issuer whose keys are found by discovery
   * (`'https://kc.example/realms/mcp'` ≡ `{ issuer: 'https://kc.example/realms/mcp' }`). Default: `[]`.
   */
  issuers?: Array<JwtIssuerConfig | string>
  /** Introspection for opaque tokens. Default: none. */
  introspection?: IntrospectionConfig
  /** API keys. Default: none. */
  apiKeys?: ApiKeyConfig
  /** Clock skew allowed on `exp`, `nbf`, `iat`, seconds. Default: `30`. */
  clockTolerance?: number
  /** Refuse JWTs whose `iat` is older than this, seconds (makes `iat` mandatory). Default: none. */
  maxTokenAge?: number
  /** Longest accepted credential, bytes; checked before any parsing. Default: `8192`. */
  maxTokenLength?: number
  /** Verified JWT principals memoized (by token digest, never beyond `exp`); `0` disables. Default: `10000`. */
  cacheMax?: number
  /** Allow plain `http` JWKS / introspection URLs on non-loopback hosts. Default: `false`. Never in production. */
  dangerouslyAllowInsecureHttp?: boolean
}

/** Non-serialisable hooks, mostly for tests. */
export interface VerifierOverrides {
  /** `fetch` used for JWKS and introspection. Default: `globalThis.fetch`. */
  fetch?: typeof globalThis.fetch
  /** Current time in milliseconds since the epoch. Default: `Date.now`. */
  now?: () => number
}

/** A {@link JwtIssuerConfig} with defaults applied. */
export interface ResolvedIssuer {
  issuer: string
  keySource: { kind: 'remote'; url: URL } | { kind: 'local'; jwks: unknown; origin: string } | { kind: 'discovery' }
  algorithms: JwsAlgorithm[]
  requireTyp: boolean
  typ: AccessTokenTyp[]
  requiredClaims: RequirableClaim[]
  tenant: string | undefined
  tenantClaim: string | undefined
  claims: string[]
  claimPointers: Record<string, string>
  acceptScp: boolean
  allowInsecureHttp: boolean
  jwksTimeoutMs: number
  jwksCooldownMs: number
  jwksCacheMaxAgeMs: number
  jwksMaxBytes: number
}

/** An {@link IntrospectionConfig} with defaults applied. */
export interface ResolvedIntrospection {
  endpoint: URL
  issuer: string | undefined
  clientId: string
  clientAuthMethod: 'client_secret_basic' | 'private_key_jwt'
  clientSecret: string | undefined
  privateKey: Record<string, unknown> | undefined
  privateKeyAlg: JwsAlgorithm | undefined
  timeoutMs: number
  maxResponseBytes: number
  requireAudience: boolean
  cacheTtlMs: number
  negativeCacheTtlMs: number
  cacheMax: number
  tenant: string | undefined
  tenantClaim: string | undefined
  claims: string[]
  claimPointers: Record<string, string>
  acceptScp: boolean
}

/** An {@link ApiKeyConfig} with defaults applied. */
export interface ResolvedApiKeys {
  prefix: string
  issuer: string
  keys: Array<Required<Pick<ApiKeyEntry, 'hash' | 'id' | 'subject'>> & ApiKeyEntry>
}

/** A {@link VerifierConfig} with defaults applied and overrides merged. */
export interface ResolvedVerifierConfig {
  audience: string | undefined
  issuers: ResolvedIssuer[]
  introspection: ResolvedIntrospection | undefined
  apiKeys: ResolvedApiKeys | undefined
  clockTolerance: number
  maxTokenAge: number | undefined
  maxTokenLength: number
  cacheMax: number
  fetch: typeof globalThis.fetch
  now: () => number
}

function fail(option: string, message: string): never {
  throw new TypeError(`"${option}" ${message}`)
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function optString(value: unknown, option: string): string | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'string' || value.length === 0) fail(option, 'must be a non-empty string')
  return value
}

function reqString(value: unknown, option: string): string {
  const s = optString(value, option)
  if (s === undefined) fail(option, 'is required')
  return s
}

function optBool(value: unknown, option: string, fallback: boolean): boolean {
  if (value === undefined) return fallback
  if (typeof value !== 'boolean') fail(option, 'must be a boolean')
  return value
}

function optNumber(value: unknown, option: string, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
    fail(option, `must be a number between ${min} and ${max}`)
  }
  return value
}

function optInteger(value: unknown, option: string, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const n = optNumber(value, option, fallback, min, max)
  if (!Number.isInteger(n)) fail(option, 'must be an integer')
  return n
}

function optStringArray(value: unknown, option: string): string[] {
  if (value === undefined) return []
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string' && v.length > 0)) {
    fail(option, 'must be an array of non-empty strings')
  }
  return [...value] as string[]
}

/** RFC 6749 § 3.3 scope-token. */
const SCOPE_TOKEN = /^[\x21\x23-\x5b\x5d-\x7e]+$/

function scopeArray(value: unknown, option: string): string[] {
  const scopes = optStringArray(value, option)
  for (const s of scopes) if (!SCOPE_TOKEN.test(s)) fail(option, `contains ${JSON.stringify(s)}, not an RFC 6749 scope token`)
  return scopes
}

/** A claim reference: a top-level name, or a JSON Pointer when it starts with `/`. */
function claimReference(value: unknown, option: string): string | undefined {
  const ref = optString(value, option)
  if (ref !== undefined && ref.startsWith('/') && parsePointer(ref) === undefined) fail(option, `is not a valid RFC 6901 JSON Pointer`)
  return ref
}

function claimSelection(value: unknown, option: string): { claims: string[]; claimPointers: Record<string, string> } {
  if (value === undefined || Array.isArray(value)) return { claims: optStringArray(value, option), claimPointers: {} }
  if (!isPlainObject(value)) fail(option, 'must be an array of claim names or an object mapping names to JSON Pointers')
  const claimPointers: Record<string, string> = {}
  for (const [name, ref] of Object.entries(value)) {
    if (name.length === 0 || name === '__proto__') fail(option, `has an invalid name ${JSON.stringify(name)}`)
    claimPointers[name] = claimReference(ref, `${option}.${name}`) ?? fail(`${option}.${name}`, 'must be a non-empty string')
  }
  return { claims: [], claimPointers }
}

const TYP_VALUES: Record<string, AccessTokenTyp> = { 'at+jwt': 'at+jwt', 'application/at+jwt': 'at+jwt', jwt: 'jwt', 'application/jwt': 'jwt' }

function typList(value: unknown, option: string, requireTyp: boolean): AccessTokenTyp[] {
  if (value === undefined) return requireTyp ? ['at+jwt'] : ['at+jwt', 'jwt']
  const list = optStringArray(value, option)
  if (list.length === 0) fail(option, 'must not be empty')
  const out = new Set<AccessTokenTyp>()
  for (const t of list) {
    const typ = TYP_VALUES[t.toLowerCase()]
    if (typ === undefined) fail(option, `contains ${JSON.stringify(t)}; allowed: at+jwt, JWT (other token types are never access tokens)`)
    out.add(typ)
  }
  return [...out]
}

function endpointUrl(value: unknown, option: string, allowInsecure: boolean): URL {
  const raw = reqString(value, option)
  const url = URL.parse(raw)
  if (url === null) fail(option, 'must be an absolute URL')
  if (url.username !== '' || url.password !== '') fail(option, 'must not contain credentials')
  if (url.hash !== '') fail(option, 'must not contain a fragment')
  if (url.protocol === 'https:') return url
  if (url.protocol === 'http:' && (allowInsecure || isLoopbackHost(url.hostname))) return url
  fail(option, 'must be an https URL (plain http only on loopback, or with dangerouslyAllowInsecureHttp)')
}

function resolveIssuer(input: unknown, index: number, allowInsecure: boolean): ResolvedIssuer {
  const at = `issuers[${index}]`
  const raw = typeof input === 'string' ? { issuer: input } : input
  if (!isPlainObject(raw)) fail(at, 'must be an object or an issuer string')
  const issuer = reqString(raw.issuer, `${at}.issuer`)

  const sources = (['jwksUri', 'jwks', 'jwksFile'] as const).filter((k) => raw[k] !== undefined)
  if (sources.length > 1) fail(at, 'must set at most one of jwksUri, jwks, jwksFile (none: discovery)')
  let keySource: ResolvedIssuer['keySource']
  if (raw.jwksUri !== undefined) {
    keySource = { kind: 'remote', url: endpointUrl(raw.jwksUri, `${at}.jwksUri`, allowInsecure) }
  } else if (raw.jwks !== undefined) {
    if (!isPlainObject(raw.jwks)) fail(`${at}.jwks`, 'must be a JWKS object')
    keySource = { kind: 'local', jwks: raw.jwks, origin: `${at}.jwks` }
  } else if (raw.jwksFile !== undefined) {
    const path = reqString(raw.jwksFile, `${at}.jwksFile`)
    let jwks: unknown
    try {
      jwks = JSON.parse(readFileSync(path, 'utf8'))
    } catch (cause) {
      throw new TypeError(`"${at}.jwksFile" could not be read as JSON`, { cause })
    }
    keySource = { kind: 'local', jwks, origin: `${at}.jwksFile` }
  } else {
    try {
      metadataUrls(issuer, allowInsecure)
    } catch {
      fail(`${at}.issuer`, 'must be an https URL (plain http only on loopback) to find its keys by discovery; otherwise set jwksUri, jwks or jwksFile')
    }
    keySource = { kind: 'discovery' }
  }

  let algorithms = [...DEFAULT_ALGORITHMS]
  if (raw.algorithms !== undefined) {
    const list = optStringArray(raw.algorithms, `${at}.algorithms`)
    if (list.length === 0) fail(`${at}.algorithms`, 'must not be empty')
    for (const alg of list) {
      if (!(SUPPORTED_ALGORITHMS as readonly string[]).includes(alg)) {
        fail(`${at}.algorithms`, `contains "${alg}"; allowed: ${SUPPORTED_ALGORITHMS.join(', ')} (symmetric algorithms and "none" are never accepted)`)
      }
    }
    algorithms = list as JwsAlgorithm[]
  }

  const requirable: readonly string[] = ['iss', 'exp', 'aud', 'sub', 'client_id', 'iat', 'jti']
  const extra = optStringArray(raw.requiredClaims, `${at}.requiredClaims`)
  for (const c of extra) if (!requirable.includes(c)) fail(`${at}.requiredClaims`, `contains "${c}"; allowed: ${requirable.join(', ')}`)
  const requiredClaims = [...new Set([...ALWAYS_REQUIRED_CLAIMS, ...(extra as RequirableClaim[])])]

  const requireTyp = optBool(raw.requireTyp, `${at}.requireTyp`, true)
  return {
    issuer,
    keySource,
    algorithms,
    requireTyp,
    typ: typList(raw.typ, `${at}.typ`, requireTyp),
    requiredClaims,
    tenant: optString(raw.tenant, `${at}.tenant`),
    tenantClaim: claimReference(raw.tenantClaim, `${at}.tenantClaim`),
    ...claimSelection(raw.claims, `${at}.claims`),
    acceptScp: optBool(raw.acceptScp, `${at}.acceptScp`, false),
    allowInsecureHttp: allowInsecure,
    jwksTimeoutMs: Math.round(optNumber(raw.jwksTimeout, `${at}.jwksTimeout`, 5, 0.001, 120) * 1000),
    jwksCooldownMs: Math.round(optNumber(raw.jwksCooldown, `${at}.jwksCooldown`, 1, 0, 86400) * 1000),
    jwksCacheMaxAgeMs: Math.round(optNumber(raw.jwksCacheMaxAge, `${at}.jwksCacheMaxAge`, 600, 0, 86400 * 7) * 1000),
    jwksMaxBytes: optInteger(raw.jwksMaxBytes, `${at}.jwksMaxBytes`, 262144, 256, 16 * 1024 * 1024),
  }
}

function resolveIntrospection(raw: unknown, allowInsecure: boolean): ResolvedIntrospection {
  const at = 'introspection'
  if (!isPlainObject(raw)) fail(at, 'must be an object')
  const clientAuthMethod = raw.clientAuthMethod ?? 'client_secret_basic'
  if (clientAuthMethod !== 'client_secret_basic' && clientAuthMethod !== 'private_key_jwt') {
    fail(`${at}.clientAuthMethod`, 'must be "client_secret_basic" or "private_key_jwt"')
  }
  const clientSecret = optString(raw.clientSecret, `${at}.clientSecret`)
  let privateKey: Record<string, unknown> | undefined
  let privateKeyAlg: JwsAlgorithm | undefined
  if (clientAuthMethod === 'client_secret_basic') {
    if (clientSecret === undefined) fail(`${at}.clientSecret`, 'is required with client_secret_basic')
  } else {
    if (!isPlainObject(raw.privateKey) || typeof raw.privateKey.d !== 'string') {
      fail(`${at}.privateKey`, 'must be a private JWK with private_key_jwt')
    }
    privateKey = raw.privateKey
    const alg = optString(raw.privateKeyAlg, `${at}.privateKeyAlg`)
    if (alg !== undefined && !(SUPPORTED_ALGORITHMS as readonly string[]).includes(alg)) {
      fail(`${at}.privateKeyAlg`, `must be one of ${SUPPORTED_ALGORITHMS.join(', ')}`)
    }
    privateKeyAlg = alg as JwsAlgorithm | undefined
  }
  return {
    endpoint: endpointUrl(raw.endpoint, `${at}.endpoint`, allowInsecure),
    issuer: optString(raw.issuer, `${at}.issuer`),
    clientId: reqString(raw.clientId, `${at}.clientId`),
    clientAuthMethod,
    clientSecret,
    privateKey,
    privateKeyAlg,
    timeoutMs: Math.round(optNumber(raw.timeout, `${at}.timeout`, 5, 0.001, 120) * 1000),
    maxResponseBytes: optInteger(raw.maxResponseBytes, `${at}.maxResponseBytes`, 65536, 256, 16 * 1024 * 1024),
    requireAudience: optBool(raw.requireAudience, `${at}.requireAudience`, true),
    cacheTtlMs: Math.round(optNumber(raw.cacheTtl, `${at}.cacheTtl`, 60, 0, 86400) * 1000),
    negativeCacheTtlMs: Math.round(optNumber(raw.negativeCacheTtl, `${at}.negativeCacheTtl`, 2, 0, 10) * 1000),
    cacheMax: optInteger(raw.cacheMax, `${at}.cacheMax`, 10000, 0, 10_000_000),
    tenant: optString(raw.tenant, `${at}.tenant`),
    tenantClaim: claimReference(raw.tenantClaim, `${at}.tenantClaim`),
    ...claimSelection(raw.claims, `${at}.claims`),
    acceptScp: optBool(raw.acceptScp, `${at}.acceptScp`, false),
  }
}

const API_KEY_HASH = /^sha256:[0-9a-f]{64}$/
const RESERVED_CLAIMS = new Set(['iss', 'sub', 'aud', 'exp', 'nbf', 'iat', 'jti', 'scope', 'scp', 'client_id', 'azp', 'cnf'])

function resolveApiKeys(raw: unknown): ResolvedApiKeys {
  const at = 'apiKeys'
  if (!isPlainObject(raw)) fail(at, 'must be an object')
  const prefix = optString(raw.prefix, `${at}.prefix`) ?? 'mcpk_'
  if (!/^[A-Za-z0-9._~+/-]{2,32}$/.test(prefix)) fail(`${at}.prefix`, 'must be 2–32 token characters')
  if (prefix.startsWith('ey')) fail(`${at}.prefix`, 'must not start with "ey" (the start of every JWT)')
  if (!Array.isArray(raw.keys)) fail(`${at}.keys`, 'must be an array')
  const seenHashes = new Set<string>()
  const seenIds = new Set<string>()
  const keys = raw.keys.map((entry: unknown, i: number) => {
    const kat = `${at}.keys[${i}]`
    if (!isPlainObject(entry)) fail(kat, 'must be an object')
    const hash = reqString(entry.hash, `${kat}.hash`)
    if (!API_KEY_HASH.test(hash)) fail(`${kat}.hash`, 'must be "sha256:" followed by 64 lowercase hex digits')
    if (seenHashes.has(hash)) fail(`${kat}.hash`, 'duplicates another key')
    seenHashes.add(hash)
    const id = optString(entry.id, `${kat}.id`) ?? `key-${i}`
    if (seenIds.has(id)) fail(`${kat}.id`, 'duplicates another key')
    seenIds.add(id)
    if (entry.claims !== undefined && !isPlainObject(entry.claims)) fail(`${kat}.claims`, 'must be an object')
    for (const name of Object.keys(entry.claims ?? {})) {
      if (RESERVED_CLAIMS.has(name)) fail(`${kat}.claims`, `must not set the registered claim "${name}"`)
    }
    return {
      hash,
      id,
      subject: reqString(entry.subject, `${kat}.subject`),
      clientId: optString(entry.clientId, `${kat}.clientId`),
      scopes: scopeArray(entry.scopes, `${kat}.scopes`),
      tenant: optString(entry.tenant, `${kat}.tenant`),
      claims: (entry.claims as Record<string, unknown> | undefined) ?? {},
    }
  })
  return { prefix, issuer: optString(raw.issuer, `${at}.issuer`) ?? 'urn:mcp-authz:api-key', keys }
}

/**
 * Applies defaults, checks every option, and merges overrides.
 *
 * @throws {TypeError} naming the first bad option, e.g. `"issuers[0].jwksUri" must be an https URL`.
 * @example
 * ```ts
 * const resolved = resolveVerifierConfig({
 *   audience: 'https://mcp.example.com/mcp',
 *   issuers: [{ issuer: 'https://as.example.com', jwksUri: 'https://as.example.com/jwks' }],
 * })
 * resolved.clockTolerance // 30
 * ```
 */
export function resolveVerifierConfig(config: VerifierConfig, overrides: VerifierOverrides = {}): ResolvedVerifierConfig {
  if (!isPlainObject(config)) throw new TypeError('verifier config must be an object')
  const allowInsecure = optBool(config.dangerouslyAllowInsecureHttp, 'dangerouslyAllowInsecureHttp', false)

  if (config.issuers !== undefined && !Array.isArray(config.issuers)) fail('issuers', 'must be an array')
  const issuers = (config.issuers ?? []).map((raw, i) => resolveIssuer(raw, i, allowInsecure))
  const seen = new Set<string>()
  for (const [i, iss] of issuers.entries()) {
    if (seen.has(iss.issuer)) fail(`issuers[${i}].issuer`, 'duplicates another issuer')
    seen.add(iss.issuer)
  }
  const introspection = config.introspection === undefined ? undefined : resolveIntrospection(config.introspection, allowInsecure)
  const apiKeys = config.apiKeys === undefined ? undefined : resolveApiKeys(config.apiKeys)

  let audience: string | undefined
  if (config.audience !== undefined) {
    const raw = reqString(config.audience, 'audience')
    audience = canonicalResourceUri(raw)
    if (audience === undefined) fail('audience', 'must be an absolute http(s) URI without fragment')
  } else if (issuers.length > 0 || introspection !== undefined) {
    fail('audience', 'is required when issuers or introspection are configured')
  }
  if (issuers.length === 0 && introspection === undefined && apiKeys === undefined) {
    throw new TypeError('verifier config must configure at least one of issuers, introspection, apiKeys')
  }

  if (overrides.fetch !== undefined && typeof overrides.fetch !== 'function') fail('fetch', 'override must be a function')
  if (overrides.now !== undefined && typeof overrides.now !== 'function') fail('now', 'override must be a function')

  return {
    audience,
    issuers,
    introspection,
    apiKeys,
    clockTolerance: optNumber(config.clockTolerance, 'clockTolerance', 30, 0, 600),
    maxTokenAge: config.maxTokenAge === undefined ? undefined : optNumber(config.maxTokenAge, 'maxTokenAge', 0, 1),
    maxTokenLength: optInteger(config.maxTokenLength, 'maxTokenLength', 8192, 64, 1024 * 1024),
    cacheMax: optInteger(config.cacheMax, 'cacheMax', 10000, 0, 10_000_000),
    fetch: overrides.fetch ?? ((input, init) => globalThis.fetch(input, init)),
    now: overrides.now ?? Date.now,
  }
}
