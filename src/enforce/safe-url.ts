/**
 * Request targets made safe to log or echo: a query string can carry a credential (RFC 6750 § 2.3
 * `?access_token=…`, which MCP forbids and mcp-authz refuses), and a refused request is still
 * logged by the web framework. Used by the Fastify surfaces (the MCP adapter's routes and the
 * decision endpoint) for their request logs and error messages.
 *
 * @module
 */

/**
 * The request target with every query value replaced by `[REDACTED]` (names are kept).
 *
 * @example
 * ```ts
 * redactQuery('/mcp?access_token=eyJ…&x=1') // '/mcp?access_token=[REDACTED]&x=[REDACTED]'
 * ```
 */
export function redactQuery(url: string): string {
  const q = url.indexOf('?')
  return q === -1 ? url : `${url.slice(0, q)}?${url.slice(q + 1).replace(/=[^&#]*/g, '=[REDACTED]')}`
}

/** Whether the query string carries an `access_token` parameter. */
export function hasQueryAccessToken(url: string): boolean {
  const q = url.indexOf('?')
  return q !== -1 && new URLSearchParams(url.slice(q + 1)).has('access_token')
}

/** What {@link safeRequestLogSerializer} reads of a Fastify request. */
export interface LoggedRequest {
  method: string
  url: string
  headers?: Record<string, unknown>
  host?: string
  ip?: string
  socket?: { remotePort?: number }
}

/**
 * Fastify's default `req` log serializer, with {@link redactQuery} applied to the URL. Fastify
 * logs `incoming request` before any hook or handler runs, so only a serializer keeps a
 * query-string token out of the request log.
 *
 * @example
 * ```ts
 * const app = Fastify({ logger: { serializers: { req: safeRequestLogSerializer } } })
 * ```
 */
export function safeRequestLogSerializer(request: LoggedRequest): Record<string, unknown> {
  return {
    method: request.method,
    url: redactQuery(request.url),
    version: request.headers?.['accept-version'],
    host: request.host,
    remoteAddress: request.ip,
    remotePort: request.socket?.remotePort,
  }
}
