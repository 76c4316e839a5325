/**
 * The static principal of a stdio MCP server: stdio carries no token (MCP authorization
 * 2025-11-25 § "stdio"), so the identity comes from configuration or the environment of the
 * process that launched the server.
 *
 * @module
 */
import { userInfo } from 'node:os'
import { normalizePrincipal, PrincipalError } from './principal.ts'
import type { Principal } from './principal.ts'

/** Configuration of {@link staticPrincipal}. */
export interface StaticPrincipalConfig {
  /** Subject (the local user). Required. */
  subject: string
  /** Client id. Default: none. */
  clientId?: string
  /** Granted scopes, array or space-delimited string. Default: none. */
  scopes?: string[] | string
  /** Tenant. Default: none. */
  tenant?: string
  /** Issuer. Default: `'urn:mcp-authz:static'`. */
  issuer?: string
  /** Audience(s), e.g. the server's resource URI. Default: none. */
  audience?: string | string[]
  /** Extra claims copied into `principal.claims` (e.g. roles). Default: `{}`. */
  claims?: Record<string, unknown>
}

/** Default issuer of static principals. */
export const STATIC_ISSUER = 'urn:mcp-authz:static'

/**
 * Builds the principal of a stdio server from configuration (`authMethod: 'static'`).
 *
 * @throws {TypeError} when the configuration cannot become a principal.
 * @example
 * ```ts
 * const principal = staticPrincipal({ subject: 'alice', scopes: ['notes:read', 'notes:write'] })
 * // principal.tokenId → 'static:alice'
 * ```
 */
export function staticPrincipal(config: StaticPrincipalConfig): Principal {
  if (typeof config !== 'object' || config === null) throw new TypeError('static principal config must be an object')
  if (typeof config.subject !== 'string' || config.subject.length === 0) throw new TypeError('"subject" must be a non-empty string')
  const scopes = config.scopes
  if (scopes !== undefined && typeof scopes !== 'string' && !(Array.isArray(scopes) && scopes.every((s) => typeof s === 'string'))) {
    throw new TypeError('"scopes" must be a string or an array of strings')
  }
  if (Array.isArray(scopes) && scopes.some((s) => !/^[\x21\x23-\x5b\x5d-\x7e]+$/.test(s))) {
    throw new TypeError('"scopes" entries must be RFC 6749 scope tokens (no spaces)')
  }
  const extra = config.claims ?? {}
  const claims: Record<string, unknown> = {
    ...extra,
    iss: config.issuer ?? STATIC_ISSUER,
    sub: config.subject,
    scope: Array.isArray(scopes) ? scopes.join(' ') : scopes,
    aud: config.audience,
    client_id: config.clientId,
    jti: undefined,
  }
  try {
    return normalizePrincipal(claims, { authMethod: 'static', issuerTenant: config.tenant, claimAllowlist: Object.keys(extra) })
  } catch (err) {
    if (err instanceof PrincipalError) throw new TypeError(`static principal: ${err.message}`)
    throw err
  }
}

/**
 * Builds the static principal from the environment: `MCP_AUTHZ_SUBJECT` (default: the OS user
 * name), `MCP_AUTHZ_SCOPES` (space-delimited), `MCP_AUTHZ_TENANT`, `MCP_AUTHZ_CLIENT_ID`.
 *
 * @example
 * ```ts
 * // MCP_AUTHZ_SUBJECT=alice MCP_AUTHZ_SCOPES="notes:read" node server.js
 * const principal = staticPrincipalFromEnv()
 * ```
 */
export function staticPrincipalFromEnv(env: Record<string, string | undefined> = process.env): Principal {
  const config: StaticPrincipalConfig = { subject: env.MCP_AUTHZ_SUBJECT || userInfo().username }
  if (env.MCP_AUTHZ_SCOPES) config.scopes = env.MCP_AUTHZ_SCOPES
  if (env.MCP_AUTHZ_TENANT) config.tenant = env.MCP_AUTHZ_TENANT
  if (env.MCP_AUTHZ_CLIENT_ID) config.clientId = env.MCP_AUTHZ_CLIENT_ID
  return staticPrincipal(config)
}
