/**
 * Fastify adapter: a plugin that serves the RFC 9728 metadata and registers the MCP route whose
 * handler is guarded — so whatever the router sends there (case-insensitive or trailing-slash
 * options included) is verified and decided first. Allowed requests go to the sessions helper or
 * your handler on the raw Node objects.
 *
 * @module
 */
import type { FastifyInstance } from 'fastify'
import { safeRequestLogSerializer } from '../enforce/safe-url.ts'
import { adapterParts, type McpAdapterOptions } from './adapter.ts'
import type { HttpPass } from './http.ts'
import { captureSession, handlerFailed } from './node.ts'

/** Options of {@link mcpAuthzFastify}: `sessions` (from `createMcpSessions`) or `handle` is required. */
export type FastifyOptions = McpAdapterOptions

/**
 * Registers the metadata routes and the guarded MCP route (GET, POST, DELETE on the resource's path).
 *
 * @throws {TypeError} naming the option, when an option is invalid.
 * @example
 * ```ts
 * const sessions = createMcpSessions({ authz, createServer: () => createNotesServer() })
 * await app.register(mcpAuthzFastify, { authz, sessions })
 * ```
 */
export async function mcpAuthzFastify(app: FastifyInstance, options: FastifyOptions): Promise<void> {
  const { guard, handle, onError } = adapterParts(options, true)
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
      const abort = new AbortController()
      const onClose = () => abort.abort()
      reply.raw.once('close', onClose)
      const verdict = await guard.authorize({ method: request.method, url: request.url, headers: request.headers, body: request.body, signal: abort.signal })
      reply.raw.off('close', onClose)
      if (!verdict.pass) return reply.code(verdict.status).headers(verdict.headers).send(verdict.body)
      reply.hijack()
      const req = Object.assign(request.raw, { auth: verdict.authInfo })
      captureSession(reply.raw, verdict)
      try {
        await handle?.(req, reply.raw, verdict.message)
      } catch (err) {
        handlerFailed(req, reply.raw, err, onError, verdict as HttpPass)
      }
    },
  })
}
