/**
 * The normalized principal: what every verifier (JWT, introspection, API key, static) produces,
 * whatever the token kind. Contract: `schemas/principal.schema.json`.
 *
 * @module
 */
import { createHash } from 'node:crypto'
import { AuthzError } from '../errors.ts'
import type { AuthMethod, Principal } from '../contracts/principal.ts'
import { parsePointer, valueAt } from './json-pointer.ts'
import { canonicalResourceUri } from './resource-uri.ts'

export type { AuthMethod, Principal } from '../contracts/principal.ts'

/** Stable codes of {@link PrincipalError}. */
export type PrincipalErrorCode = 'ERR_PRINCIPAL_INVALID_CLAIM'

/** A verified claim set that cannot become a principal (e.g. `scope` is not a string). */
export class PrincipalError extends AuthzError {
  declare readonly code: PrincipalErrorCode
  /** The claim at fault. */
  readonly claim: string
  constructor(claim: string, message: string) {
    super('ERR_PRINCIPAL_INVALID_CLAIM', message)
    this.claim = claim
  }
}

/** Options of {@link normalizePrincipal}. */
export interface NormalizeOptions {
  /** How the claims were verified. */
  authMethod: AuthMethod
  /** The raw credential, only to derive a fingerprint when there is no `jti`. Never stored. */
  token?: string
  /**
   * Claim holding the tenant: a top-level claim name (e.g. `tid`, `tenant`), or an RFC 6901 JSON
   * Pointer when it starts with `/` (e.g. `/organization/id`). Its value must be a non-empty string.
   * Default: none.
   */
  tenantClaim?: string
  /** Tenant configured for the issuer; used when the tenant claim is absent. */
  issuerTenant?: string
  /** Top-level claims copied into `principal.claims` under their own name (e.g. `['roles', 'groups']`). Default: none. */
  claimAllowlist?: readonly string[]
  /**
   * Nested claims copied into `principal.claims`: name in `principal.claims` → RFC 6901 JSON
   * Pointer into the claim set (e.g. `{ roles: '/realm_access/roles' }`). A pointer that resolves
   * to nothing copies nothing. Default: none.
   */
  claimPointers?: Readonly<Record<string, string>>
  /** Accept the `scp` claim (array or string) besides `scope`. Default: `false` (RFC 9068: `scope` only). */
  acceptScp?: boolean
  /** Fallback issuer for credentials without `iss` (API keys, static principals). */
  defaultIssuer?: string
}

const MAX_SCOPES = 256
const MAX_SCOPE_LENGTH = 256

/** Splits and checks scopes: RFC 6749 § 3.3 scope-token characters only, sorted and unique. */
function collectScopes(value: unknown, claim: string, allowArray: boolean, into: Set<string>): void {
  if (value === undefined || value === null) return
  let tokens: unknown[]
  if (typeof value === 'string') tokens = value.split(' ').filter((s) => s.length > 0)
  else if (allowArray && Array.isArray(value)) tokens = value
  else throw new PrincipalError(claim, `"${claim}" claim must be a ${allowArray ? 'string or array of strings' : 'space-delimited string'}`)
  for (const t of tokens) {
    // scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
    if (typeof t !== 'string' || t.length === 0 || t.length > MAX_SCOPE_LENGTH || !/^[\x21\x23-\x5b\x5d-\x7e]+$/.test(t)) {
      throw new PrincipalError(claim, `"${claim}" claim holds an invalid scope token`)
    }
    into.add(t)
    if (into.size > MAX_SCOPES) throw new PrincipalError(claim, `more than ${MAX_SCOPES} scopes`)
  }
}

function stringValue(v: unknown, name: string): string | undefined {
  if (v === undefined || v === null) return undefined
  if (typeof v !== 'string' || v.length === 0) throw new PrincipalError(name, `"${name}" claim must be a non-empty string`)
  return v
}

function optionalString(claims: Record<string, unknown>, name: string): string | undefined {
  return stringValue(Object.hasOwn(claims, name) ? claims[name] : undefined, name)
}

/** The tokens of a claim reference: a pointer when it starts with `/`, else one top-level name. */
function claimPath(reference: string, option: string): string[] {
  if (!reference.startsWith('/')) return [reference]
  const tokens = parsePointer(reference)
  if (tokens === undefined) throw new TypeError(`"${option}" is not a valid JSON Pointer: ${JSON.stringify(reference)}`)
  return tokens
}

function optionalNumericDate(claims: Record<string, unknown>, name: string): number | undefined {
  const v = claims[name]
  if (v === undefined || v === null) return undefined
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new PrincipalError(name, `"${name}" claim must be a NumericDate`)
  return Math.floor(v)
}

/**
 * A short, non-reversible fingerprint of a credential, safe to log and to key caches with.
 *
 * @example
 * ```ts
 * tokenFingerprint('eyJ...') // 'fp:3f1a…' (24 hex digits)
 * ```
 */
export function tokenFingerprint(token: string): string {
  return `fp:${createHash('sha256').update(token).digest('hex').slice(0, 24)}`
}

/**
 * Turns verified claims into the normalized {@link Principal}. Call it only with claims whose
 * signature / introspection has been checked; it checks types, not trust.
 *
 * @throws {PrincipalError} when a claim has the wrong type.
 * @example
 * ```ts
 * const p = normalizePrincipal(
 *   { iss: 'https://as.example', sub: 'alice', aud: 'https://mcp.example/mcp', scope: 'notes:write notes:read', roles: ['editor'] },
 *   { authMethod: 'jwt', claimAllowlist: ['roles'], issuerTenant: 'acme' },
 * )
 * // p.scopes → ['notes:read', 'notes:write'], p.tenant → 'acme', p.claims → { roles: ['editor'] }
 * ```
 */
export function normalizePrincipal(claims: Record<string, unknown>, options: NormalizeOptions): Principal {
  const issuer = optionalString(claims, 'iss') ?? options.defaultIssuer
  if (issuer === undefined) throw new PrincipalError('iss', '"iss" claim is required')
  const subject = optionalString(claims, 'sub')
  if (subject === undefined) throw new PrincipalError('sub', '"sub" claim is required')

  const audRaw = claims.aud
  let audience: string[] = []
  if (typeof audRaw === 'string') audience = [audRaw]
  else if (Array.isArray(audRaw) && audRaw.every((a) => typeof a === 'string')) audience = audRaw as string[]
  else if (audRaw !== undefined && audRaw !== null) throw new PrincipalError('aud', '"aud" claim must be a string or array of strings')
  audience = [...new Set(audience.map((a) => canonicalResourceUri(a) ?? a))]

  const scopes = new Set<string>()
  collectScopes(claims.scope, 'scope', false, scopes)
  if (options.acceptScp) collectScopes(claims.scp, 'scp', true, scopes)

  let tenant: string | undefined
  if (options.tenantClaim !== undefined) tenant = stringValue(valueAt(claims, claimPath(options.tenantClaim, 'tenantClaim')), options.tenantClaim)
  tenant ??= options.issuerTenant

  const jti = optionalString(claims, 'jti')
  const tokenId = jti ?? (options.token !== undefined ? tokenFingerprint(options.token) : `${options.authMethod}:${subject}`)

  const copied: Record<string, unknown> = {}
  for (const name of options.claimAllowlist ?? []) {
    // `__proto__` would set the prototype of `copied` instead of copying a claim.
    if (name === '__proto__') continue
    if (Object.hasOwn(claims, name) && claims[name] !== undefined) copied[name] = structuredClone(claims[name])
  }
  for (const [name, pointer] of Object.entries(options.claimPointers ?? {})) {
    if (name === '__proto__') continue
    const value = valueAt(claims, claimPath(pointer, `claims.${name}`))
    if (value !== undefined) copied[name] = structuredClone(value)
  }

  const principal: Principal = {
    subject,
    issuer,
    audience,
    scopes: [...scopes].sort(),
    authMethod: options.authMethod,
    tokenId,
    claims: copied,
  }
  const clientId = optionalString(claims, 'client_id') ?? optionalString(claims, 'azp')
  if (clientId !== undefined) principal.clientId = clientId
  if (tenant !== undefined) principal.tenant = tenant
  const exp = optionalNumericDate(claims, 'exp')
  if (exp !== undefined) principal.expiresAt = exp
  const iat = optionalNumericDate(claims, 'iat')
  if (iat !== undefined) principal.issuedAt = iat
  return principal
}
