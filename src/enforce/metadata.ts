/**
 * RFC 9728 Protected Resource Metadata, built from the bundle's `data.mcp_authz`, so the document a
 * client discovers always agrees with the policy that decides its calls.
 *
 * @module
 */
import type { PolicyConfig } from '../policy/engine.ts'
import { protectedResourceMetadataUrl } from './challenge.ts'

/** The RFC 9728 § 2 document this server publishes. */
export interface ProtectedResourceMetadata {
  resource: string
  authorization_servers: string[]
  scopes_supported: string[]
  bearer_methods_supported: ['header']
  resource_name?: string
}

// The policy library's built-in read / write scopes (policies/mcp/authz/config.rego).
const BUILTIN_DEFAULTS = { read_scope: 'mcp:read', write_scope: 'mcp:write' }

/** Every scope the data names (rules for tools, prompts, resources, methods, plus the default read/write scopes), sorted. */
export function scopesNamed(config: PolicyConfig): string[] {
  const scopes = new Set<string>()
  const add = (list: unknown) => {
    if (Array.isArray(list)) for (const s of list) if (typeof s === 'string' && s !== '') scopes.add(s)
  }
  scopes.add(config.defaults?.read_scope ?? BUILTIN_DEFAULTS.read_scope)
  scopes.add(config.defaults?.write_scope ?? BUILTIN_DEFAULTS.write_scope)
  for (const rules of [config.tools, config.prompts, config.methods]) for (const rule of Object.values(rules ?? {})) add(rule.scopes)
  for (const rule of config.resources ?? []) add(rule.scopes)
  return [...scopes].sort()
}

/**
 * Builds the metadata document for the bundle's configuration.
 *
 * @example
 * ```ts
 * protectedResourceMetadata({ resource: 'https://mcp.example/mcp', issuers: {}, authorization_servers: ['https://as.example'], tools: { notes_write: { scopes: ['notes:write'] } } })
 * // { resource: 'https://mcp.example/mcp', authorization_servers: ['https://as.example'], scopes_supported: ['mcp:read', 'mcp:write', 'notes:write'], bearer_methods_supported: ['header'] }
 * ```
 */
export function protectedResourceMetadata(config: PolicyConfig): ProtectedResourceMetadata {
  const doc: ProtectedResourceMetadata = {
    resource: config.resource,
    // Without an explicit list, the trusted issuers are the authorization servers.
    authorization_servers: config.authorization_servers ?? Object.keys(config.issuers ?? {}),
    scopes_supported: scopesNamed(config),
    bearer_methods_supported: ['header'],
  }
  if (typeof config.server_name === 'string' && config.server_name !== '') doc.resource_name = config.server_name
  return doc
}

/**
 * The URL paths the document is served at: the RFC 9728 path form for the resource
 * (`/.well-known/oauth-protected-resource/mcp`), and with `root` also the bare well-known path.
 *
 * @example
 * ```ts
 * protectedResourceMetadataPaths('https://mcp.example/mcp', true) // ['/.well-known/oauth-protected-resource/mcp', '/.well-known/oauth-protected-resource']
 * ```
 */
export function protectedResourceMetadataPaths(resource: string, root = false): string[] {
  const path = new URL(protectedResourceMetadataUrl(resource)).pathname
  const paths = [path]
  if (root && path !== '/.well-known/oauth-protected-resource') paths.push('/.well-known/oauth-protected-resource')
  return paths
}
