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

/** Longest API key header read, characters; a longer one is refused before it is hashed. */
export const MAX_API_KEY_HEADER_LENGTH = 4096

/**
 * The key a caller presents: `Authorization: Bearer <key>` (scheme case-insensitive), else
 * `x-api-key`. Linear time, length bounded first; `undefined` when none or too long.
 */
export function presentedApiKey(authorization: unknown, xApiKey: unknown): string | undefined {
  if (typeof authorization === 'string' && authorization.length > 7 && authorization.slice(0, 7).toLowerCase() === 'bearer ') {
    return authorization.length > MAX_API_KEY_HEADER_LENGTH ? undefined : authorization.slice(7).trim()
  }
  if (typeof xApiKey === 'string') return xApiKey.length > MAX_API_KEY_HEADER_LENGTH ? undefined : xApiKey
  return undefined
}

/** Builds the `onRequest` hook that refuses callers without a valid key (401). */
export function apiKeyHook(hashes: readonly string[]) {
  const expected = hashes.map((h) => Buffer.from(h.replace(/^sha256:/, '').toLowerCase(), 'hex'))
  return async function authenticate(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    const key = presentedApiKey(request.headers.authorization, request.headers['x-api-key'])
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
