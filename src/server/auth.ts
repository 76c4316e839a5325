/**
 * Caller authentication for the decision endpoint: a shared API key, presented as
 * `Authorization: Bearer <key>` or `x-api-key: <key>`, whose SHA-256 is compared in constant time
 * with the configured hashes. Required when listening beyond loopback.
 *
 * @module
 */
import { createHash, timingSafeEqual } from 'node:crypto'
import type { FastifyReply, FastifyRequest } from 'fastify'

export { isLoopbackHost } from '../net/loopback.ts'

/** SHA-256 (hex) of an API key, the form `server.apiKeyHashes` stores. */
export function hashApiKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex')
}

/** Builds the `onRequest` hook that refuses callers without a valid key (401). */
export function apiKeyHook(hashes: readonly string[]) {
  const expected = hashes.map((h) => Buffer.from(h.replace(/^sha256:/, '').toLowerCase(), 'hex'))
  return async function authenticate(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    const header = request.headers.authorization
    const xKey = request.headers['x-api-key']
    const key = typeof header === 'string' && /^bearer /i.test(header) ? header.slice(7).trim() : typeof xKey === 'string' ? xKey : undefined
    let ok = false
    if (key !== undefined && key !== '') {
      const presented = createHash('sha256').update(key, 'utf8').digest()
      // Compare against every hash without stopping early, so timing says nothing about which matched.
      for (const e of expected) ok = timingSafeEqual(presented, e) || ok
    }
    if (!ok) {
      reply.header('www-authenticate', 'Bearer realm="mcp-authz"')
      await reply.code(401).send({ error: 'unauthorized', message: 'a valid API key is required (Authorization: Bearer <key> or x-api-key)' })
    }
  }
}
