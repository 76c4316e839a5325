/**
 * Canonical resource URIs (MCP authorization 2025-11-25 § "Canonical Server URI", RFC 8707 § 2).
 *
 * A token's `aud` and the server's configured resource are compared in canonical form: scheme and
 * host lowercased, default port removed, no fragment, no trailing slash on the path.
 *
 * @module
 */

/**
 * Returns the canonical form of an absolute `http(s)` resource URI, or `undefined` when the value is
 * not one (relative, another scheme, unparsable, has a fragment).
 *
 * @example
 * ```ts
 * canonicalResourceUri('HTTPS://MCP.Example.com:443/mcp/') // 'https://mcp.example.com/mcp'
 * ```
 */
export function canonicalResourceUri(value: string): string | undefined {
  if (typeof value !== 'string' || value.length === 0 || value.length > 2048) return undefined
  let url: URL
  try {
    url = new URL(value)
  } catch {
    return undefined
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return undefined
  if (url.hash !== '' || value.includes('#')) return undefined
  if (url.username !== '' || url.password !== '') return undefined
  let path = url.pathname
  while (path.length > 1 && path.endsWith('/')) path = path.slice(0, -1)
  if (path === '/') path = ''
  // URL already lowercases scheme and host and drops the default port.
  return `${url.protocol}//${url.host}${path}${url.search}`
}

/**
 * Whether two resource URIs name the same resource once both are in canonical form.
 *
 * @example
 * ```ts
 * sameResource('https://a.example/mcp', 'https://A.EXAMPLE/mcp/') // true
 * ```
 */
export function sameResource(a: string, b: string): boolean {
  const ca = canonicalResourceUri(a)
  return ca !== undefined && ca === canonicalResourceUri(b)
}
