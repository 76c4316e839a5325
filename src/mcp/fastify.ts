/**
 * Fastify adapter: a plugin that serves the RFC 9728 metadata and routes GET/POST/DELETE on the MCP
 * path through the guard; allowed requests are handed to the transport on the raw Node objects.
 *
 * @module
 */
import type { FastifyInstance } from 'fastify'
import { safeRequestLogSerializer } from '../enforce/safe-url.ts'
import { createMcpHttpGuard, type McpHttpOptions } from './http.ts'
import { captureSession, type McpRequestHandler } from './node.ts'

/** Options of {@link mcpAuthzFastify}. */
export interface FastifyOptions extends McpHttpOptions {
  /** Receives every allowed request: `(req, res, body) => transport.handleRequest(req, res, body)`. Required. */
  handle: McpRequestHandler
}

/**
 * @example
 * ```ts
 * await app.register(mcpAuthzFastify, { authz, handle: (req, res, body) => transport.handleRequest(req, res, body) })
 * ```
 */
export async function mcpAuthzFastify(app: FastifyInstance, options: FastifyOptions): Promise<void> {
  const guard = createMcpHttpGuard(options)
  // The app's request log must not carry a refused `?access_token=…`: these routes log URLs without query values.
  const logSerializers = { req: safeRequestLogSerializer }
  for (const url of guard.metadataPaths) {
    app.get(url, { logSerializers }, async (_request, reply) => reply.header('cache-control', 'public, max-age=300').header('access-control-allow-origin', '*').send(guard.metadata()))
  }
  app.route({
    method: ['GET', 'POST', 'DELETE'],
    url: guard.path,
    bodyLimit: options.maxBodyBytes ?? 1_048_576,
    logSerializers,
    handler: async (request, reply) => {
      const verdict = await guard.authorize({ method: request.method, url: request.url, headers: request.headers, body: request.body })
      if (!verdict.pass) return reply.code(verdict.status).headers(verdict.headers).send(verdict.body)
      reply.hijack()
      const req = Object.assign(request.raw, { auth: verdict.authInfo })
      captureSession(reply.raw, verdict)
      await options.handle(req, reply.raw, verdict.message)
    },
  })
}
