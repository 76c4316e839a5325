/**
 * `WWW-Authenticate: Bearer …` challenges (RFC 6750 § 3, RFC 9728 § 5.1, MCP authorization
 * 2025-11-25 § "Scope Challenge Handling").
 *
 * @module
 */

/** The parameters of a Bearer challenge. Each appears at most once. */
export interface BearerChallenge {
  /** RFC 6750 error code; omitted when the request carried no credentials at all (§ 3.1). */
  error?: 'invalid_request' | 'invalid_token' | 'insufficient_scope'
  /** Scopes that would satisfy the request, space-delimited in the header. */
  scope?: readonly string[]
  /** URL of the RFC 9728 protected resource metadata document. */
  resourceMetadata?: string
  /** Human-readable, generic explanation (never which check failed). */
  errorDescription?: string
  /** Protection space. */
  realm?: string
}

// RFC 6750 § 3: attribute values must not contain '"' or '\'; error_description is limited to
// %x20-21 / %x23-5B / %x5D-7E. Control characters are refused for every value.
const SAFE_VALUE = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/

function quoted(name: string, value: string): string {
  if (!SAFE_VALUE.test(value)) throw new TypeError(`WWW-Authenticate ${name} holds a character RFC 6750 forbids`)
  return `${name}="${value}"`
}

/**
 * Builds the header value.
 *
 * @example
 * ```ts
 * bearerChallenge({ error: 'insufficient_scope', scope: ['notes:write'], resourceMetadata: 'https://mcp.example/.well-known/oauth-protected-resource/mcp' })
 * // 'Bearer error="insufficient_scope", scope="notes:write", resource_metadata="https://mcp.example/.well-known/oauth-protected-resource/mcp"'
 * ```
 */
export function bearerChallenge(c: BearerChallenge): string {
  const params: string[] = []
  if (c.realm !== undefined) params.push(quoted('realm', c.realm))
  if (c.error !== undefined) params.push(quoted('error', c.error))
  if (c.errorDescription !== undefined) params.push(quoted('error_description', c.errorDescription))
  if (c.scope !== undefined && c.scope.length > 0) params.push(quoted('scope', [...new Set(c.scope)].join(' ')))
  if (c.resourceMetadata !== undefined) params.push(quoted('resource_metadata', c.resourceMetadata))
  return params.length > 0 ? `Bearer ${params.join(', ')}` : 'Bearer'
}

/**
 * The RFC 9728 metadata URL for a resource: the well-known path inserted between host and path.
 *
 * @example
 * ```ts
 * protectedResourceMetadataUrl('https://mcp.example/mcp') // 'https://mcp.example/.well-known/oauth-protected-resource/mcp'
 * ```
 */
export function protectedResourceMetadataUrl(resource: string): string {
  const url = new URL(resource)
  // '/' and trailing slashes drop out: the root resource's metadata has no path suffix.
  const path = url.pathname.replace(/\/+$/, '')
  return `${url.origin}/.well-known/oauth-protected-resource${path}`
}
