/**
 * Principals and JSON-RPC messages written the short way, for `eval` flags and decision tables:
 * `sub`, `scopes`, `tenant`, `roles`, `client` (issuer, tenant and audience default to the policy
 * data's first trusted issuer, its tenant and the resource), and `tool` + `args`, `prompt` + `args`,
 * `uri`, or `method` + `params`.
 *
 * @module
 */
import type { Principal } from '../contracts/principal.ts'
import type { PolicyConfig } from '../policy/engine.ts'

/** A principal in shorthand. Every field is optional. */
export interface PrincipalShorthand {
  /** Subject. Default `user`. */
  sub?: string
  /** Scopes: a space- or comma-separated string, or a list. Default none. */
  scopes?: string | readonly string[]
  /** Tenant. Default: the tenant the issuer is pinned to in the data, if any. */
  tenant?: string
  /** Roles, put in the data's roles claim (`defaults.roles_claim`, default `roles`). Default none. */
  roles?: string | readonly string[]
  /** OAuth client id. Default none. */
  client?: string
  /** Issuer. Default: the first issuer of `data.mcp_authz.issuers`. */
  issuer?: string
  /** Audience. Default: the data's `resource`. */
  audience?: string | readonly string[]
  /** Other claims (allowlisted claims as a verifier would pass them). Default `{}`. */
  claims?: Record<string, unknown>
  /** How the principal was authenticated. Default `jwt`. */
  authMethod?: Principal['authMethod']
}

/** A JSON-RPC message in shorthand: exactly one of `tool`, `prompt`, `uri`, `method`. */
export interface MessageShorthand {
  tool?: string
  prompt?: string
  uri?: string
  method?: string
  /** Arguments of the tool or prompt. */
  args?: Record<string, unknown>
  /** Params of a `method` message. */
  params?: Record<string, unknown>
  /** Request id. Default 1. */
  id?: string | number
}

/** A shorthand that cannot be turned into a principal or message; the message says what to fix. */
export class ShorthandError extends Error {}

function list(v: string | readonly string[] | undefined, what: string): string[] {
  if (v === undefined) return []
  if (typeof v === 'string') return v.split(/[\s,]+/).filter((s) => s !== '')
  if (!Array.isArray(v) || !v.every((s) => typeof s === 'string')) throw new ShorthandError(`${what} must be a string or a list of strings`)
  return [...v]
}

/**
 * Builds a full principal from shorthand, with defaults taken from the policy data.
 *
 * @example
 * ```ts
 * principalFromShorthand({ sub: 'alice', scopes: 'notes:read notes:write' }, data.mcp_authz)
 * // { subject: 'alice', issuer: <first trusted issuer>, tenant: <its tenant>, audience: [resource], scopes: [...], … }
 * ```
 */
export function principalFromShorthand(short: PrincipalShorthand, config: Pick<PolicyConfig, 'issuers' | 'resource' | 'defaults'>, tokenId = 'shorthand'): Principal {
  const issuer = short.issuer ?? Object.keys(config.issuers ?? {})[0]
  if (issuer === undefined) throw new ShorthandError('the policy data trusts no issuer: give the issuer explicitly')
  const tenant = short.tenant ?? config.issuers?.[issuer]?.tenant
  const audience = short.audience === undefined ? [config.resource] : list(short.audience, 'audience')
  const rolesClaim = (config.defaults as { roles_claim?: string } | undefined)?.roles_claim ?? 'roles'
  const roles = list(short.roles, 'roles')
  const claims: Record<string, unknown> = { ...(short.claims ?? {}) }
  if (roles.length > 0) claims[rolesClaim] = roles
  const principal: Principal = {
    subject: short.sub ?? 'user',
    issuer,
    audience,
    scopes: [...new Set(list(short.scopes, 'scopes'))].sort(),
    authMethod: short.authMethod ?? 'jwt',
    tokenId,
    claims,
  }
  if (tenant !== undefined) principal.tenant = tenant
  if (short.client !== undefined) principal.clientId = short.client
  return principal
}

/**
 * Builds a JSON-RPC 2.0 message from shorthand.
 *
 * @example
 * ```ts
 * messageFromShorthand({ tool: 'fs_read', args: { path: '/home/alice/a' } })
 * // { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'fs_read', arguments: { path: '/home/alice/a' } } }
 * ```
 */
export function messageFromShorthand(short: MessageShorthand): Record<string, unknown> {
  const given = (['tool', 'prompt', 'uri', 'method'] as const).filter((k) => short[k] !== undefined)
  if (given.length !== 1) throw new ShorthandError(given.length === 0 ? 'say what is called: a tool, prompt, uri (resource) or method' : `give only one of ${given.join(', ')}`)
  const id = short.id ?? 1
  if (short.args !== undefined && (short.args === null || typeof short.args !== 'object' || Array.isArray(short.args))) throw new ShorthandError('args must be a JSON object')
  if (short.tool !== undefined) return { jsonrpc: '2.0', id, method: 'tools/call', params: { name: short.tool, ...(short.args !== undefined ? { arguments: short.args } : {}) } }
  if (short.prompt !== undefined) return { jsonrpc: '2.0', id, method: 'prompts/get', params: { name: short.prompt, ...(short.args !== undefined ? { arguments: short.args } : {}) } }
  if (short.uri !== undefined) return { jsonrpc: '2.0', id, method: 'resources/read', params: { uri: short.uri } }
  if (short.args !== undefined) throw new ShorthandError('args go with a tool or prompt; use params with a method')
  return { jsonrpc: '2.0', id, method: short.method, ...(short.params !== undefined ? { params: short.params } : {}) }
}
