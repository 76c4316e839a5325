/**
 * Express adapter: a route-level middleware that guards every request reaching it — mount it on
 * the MCP route, where no spelling of the path the router accepts (`/MCP`, `/mcp/`, …) can get
 * around it — plus `.metadata`, a middleware serving the RFC 9728 documents (public, matched by
 * path).
 *
 * ```ts
 * const mcp = mcpAuthzExpress({ authz, sessions })
 * app.use(mcp.metadata)
 * app.all('/mcp', mcp)
 * ```
 *
 * With `sessions` (or `handle`) the middleware serves allowed requests itself; without, it sets
 * `req.auth` (the SDK's `AuthInfo`) and `req.body` (the parsed message) and calls `next()` for your
 * handler. Works with or without `express.json()` before it.
 *
 * Mounted application-wide (`app.use(mcpAuthzExpress(…))`, the wiring of earlier versions) it
 * still fails closed: it serves the metadata documents and guards every other request it sees,
 * whatever its path.
 *
 * @module
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { adapterParts, type McpAdapterOptions } from './adapter.ts'
import type { McpHttpGuard } from './http.ts'
import { guardNodeRequest, handlerFailed, pathOf, serveMetadata } from './node.ts'
import type { HttpPass } from './http.ts'

type Next = (err?: unknown) => void
type Middleware = (req: IncomingMessage & { body?: unknown }, res: ServerResponse, next: Next) => Promise<void>

/** The guard middleware, with the metadata middleware and the guard attached. */
export interface ExpressMcpAuthz extends Middleware {
  /** Serves `GET` / `HEAD` on the RFC 9728 metadata paths; calls `next()` for everything else. */
  metadata: (req: IncomingMessage, res: ServerResponse, next: Next) => void
  /** The framework-neutral guard inside. */
  guard: McpHttpGuard
}

/**
 * Creates the Express middleware.
 *
 * @throws {TypeError} naming the option, when an option is invalid.
 * @example
 * ```ts
 * const sessions = createMcpSessions({ authz, createServer: () => createNotesServer() })
 * const mcp = mcpAuthzExpress({ authz, sessions })
 * app.use(mcp.metadata)
 * app.all('/mcp', mcp)
 * ```
 */
export function mcpAuthzExpress(options: McpAdapterOptions): ExpressMcpAuthz {
  const { guard, handle, maxBodyBytes, onError } = adapterParts(options, false)

  const metadata = (req: IncomingMessage, res: ServerResponse, next: Next): void => {
    try {
      if (!serveMetadata(guard, req, res, pathOf(req.url))) next()
    } catch (err) {
      next(err)
    }
  }

  const middleware: Middleware = async (req, res, next) => {
    let verdict: HttpPass | undefined
    try {
      // Application-wide, the metadata documents are still public.
      if ((req as { route?: unknown }).route === undefined && serveMetadata(guard, req, res, pathOf(req.url))) return
      // A body parser before us (express.json()) consumed the stream: use what it parsed.
      const consumed = req.readableEnded || (req as { _body?: boolean })._body === true
      const parsed = consumed && req.body !== undefined ? req.body : undefined
      verdict = await guardNodeRequest(guard, req, res, maxBodyBytes, parsed)
      if (verdict === undefined) return
      req.body = verdict.message
      if (handle === undefined) return next()
      await handle(req, res, verdict.message)
    } catch (err) {
      if (handle === undefined && verdict === undefined) return next(err)
      handlerFailed(req, res, err, onError, verdict)
    }
  }
  return Object.assign(middleware, { metadata, guard })
}
