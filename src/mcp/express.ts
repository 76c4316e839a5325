/**
 * Express adapter: one middleware that serves the RFC 9728 metadata and guards the MCP path; allowed
 * requests continue with `req.auth` (the SDK's `AuthInfo`) and `req.body` (the parsed message).
 * Works with or without `express.json()` before it.
 *
 * @module
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { createMcpHttpGuard, type McpHttpOptions } from './http.ts'
import { guardNodeRequest, serveMetadata } from './node.ts'

type Next = (err?: unknown) => void

/**
 * @example
 * ```ts
 * app.use(mcpAuthzExpress({ authz }))
 * app.all('/mcp', (req, res) => transport.handleRequest(req, res, req.body))
 * ```
 */
export function mcpAuthzExpress(options: McpHttpOptions): (req: IncomingMessage & { body?: unknown }, res: ServerResponse, next: Next) => Promise<void> {
  const guard = createMcpHttpGuard(options)
  const max = options.maxBodyBytes ?? 1_048_576
  return async (req, res, next) => {
    try {
      const pathname = new URL(req.url ?? '/', 'http://localhost').pathname
      if (serveMetadata(guard, req, res, pathname)) return
      if (pathname !== guard.path) return next()
      // A body parser before us (express.json()) consumed the stream: use what it parsed.
      const consumed = req.readableEnded || (req as { _body?: boolean })._body === true
      const parsed = consumed && req.body !== undefined ? req.body : undefined
      const verdict = await guardNodeRequest(guard, req, res, max, parsed)
      if (verdict === undefined) return
      req.body = verdict.message
      next()
    } catch (err) {
      next(err)
    }
  }
}
