/**
 * Header hygiene between the client and the upstream, by allowlist in both directions.
 *
 * Towards the upstream only what the MCP Streamable HTTP transport needs crosses
 * (`Mcp-Session-Id`, `Mcp-Protocol-Version`, `Last-Event-ID`, `Accept`, `Content-Type`): never the
 * client's `Authorization` (the MCP authorization spec forbids token passthrough), `Cookie`,
 * `Proxy-Authorization`, API-key headers, hop-by-hop headers or forwarding headers a client could
 * forge. The proxy adds its own static credential or signed assertion afterwards.
 *
 * Towards the client only what a Streamable HTTP client reads crosses: never `WWW-Authenticate`
 * (the client would start an OAuth flow against whatever the upstream names), `Set-Cookie`, or
 * hop-by-hop headers.
 *
 * @module
 */
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http'

/** Request headers forwarded upstream (lower case). */
export const FORWARDED_REQUEST_HEADERS: readonly string[] = ['accept', 'mcp-session-id', 'mcp-protocol-version', 'last-event-id']

/** Response headers passed back to the client (lower case). */
export const FORWARDED_RESPONSE_HEADERS: readonly string[] = ['content-type', 'mcp-session-id', 'mcp-protocol-version', 'cache-control', 'retry-after', 'allow']

/** Longest value of a forwarded header: MCP's are short tokens; anything longer is dropped. */
export const MAX_FORWARDED_HEADER_LENGTH = 1024

// Visible ASCII and spaces only: what a session id, a protocol version, an event id or a media range is made of.
const SAFE_VALUE = /^[\x20-\x7e]*$/

function single(value: string | string[] | number | undefined): string | undefined {
  if (Array.isArray(value)) return value.length === 1 ? value[0] : undefined
  return value === undefined ? undefined : String(value)
}

function safe(value: string | undefined): string | undefined {
  if (value === undefined || value.length > MAX_FORWARDED_HEADER_LENGTH || !SAFE_VALUE.test(value)) return undefined
  return value
}

/**
 * The headers of a request to the upstream: the allowlisted client headers, then the proxy's own
 * (`extra`: static credential, assertion), which win on a name clash.
 *
 * @example
 * ```ts
 * upstreamRequestHeaders(req.headers, { 'x-api-key': key })
 * // { accept: 'application/json, text/event-stream', 'mcp-session-id': '…', 'x-api-key': key }
 * ```
 */
export function upstreamRequestHeaders(client: IncomingHttpHeaders, extra: Record<string, string> = {}): Record<string, string> {
  const out: Record<string, string> = {}
  for (const name of FORWARDED_REQUEST_HEADERS) {
    const value = safe(single(client[name]))
    if (value !== undefined) out[name] = value
  }
  for (const [name, value] of Object.entries(extra)) out[name.toLowerCase()] = value
  return out
}

/**
 * The headers of the answer to the client: the allowlisted upstream headers.
 *
 * @example
 * ```ts
 * clientResponseHeaders(upstreamRes.headers) // no www-authenticate, no set-cookie, no connection
 * ```
 */
export function clientResponseHeaders(upstream: IncomingHttpHeaders): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {}
  for (const name of FORWARDED_RESPONSE_HEADERS) {
    const value = safe(single(upstream[name]))
    if (value !== undefined) out[name] = value
  }
  return out
}

/**
 * The media type of a `Content-Type` value, lower case, without parameters.
 *
 * @example
 * ```ts
 * mediaType('Text/Event-Stream; charset=utf-8') // 'text/event-stream'
 * ```
 */
export function mediaType(contentType: string | string[] | undefined): string {
  const value = single(contentType) ?? ''
  const end = value.indexOf(';')
  return (end === -1 ? value : value.slice(0, end)).trim().toLowerCase()
}
