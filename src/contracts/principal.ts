/**
 * The normalized principal: the contract between verification (which produces it, whatever the
 * token kind) and every consumer (policy input, decision cache, session binding, surfaces).
 * Contract: `schemas/principal.schema.json`. It lives here, in no stage, because both sides share it.
 *
 * @module
 */

/** How the principal was authenticated. */
export type AuthMethod = 'jwt' | 'introspection' | 'api_key' | 'static'

/** The normalized identity a policy decides on. Never holds the token itself. */
export interface Principal {
  /** `sub` of the token, or the configured subject of an API key / static principal. */
  subject: string
  /** OAuth client the token was issued to (`client_id`, RFC 9068 § 2.2). */
  clientId?: string
  /** Issuer exactly as in the token's `iss` (or the configured issuer of a local credential). */
  issuer: string
  /** Tenant, from the configured tenant claim or the issuer's configuration. */
  tenant?: string
  /** Audiences, canonical form where they are URIs (RFC 8707). */
  audience: string[]
  /** Granted scopes, sorted and unique. */
  scopes: string[]
  /** How the credential was verified. */
  authMethod: AuthMethod
  /** Expiry, seconds since the epoch. */
  expiresAt?: number
  /** Issued-at, seconds since the epoch. */
  issuedAt?: number
  /** `jti`, or `fp:` + a short SHA-256 fingerprint of the token; never the token. */
  tokenId: string
  /** Only the claims the configuration allowlists (e.g. roles, groups). */
  claims: Record<string, unknown>
}
