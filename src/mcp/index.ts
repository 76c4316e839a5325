/**
 * Embedding mcp-authz in `@modelcontextprotocol/sdk` servers: `protect()` hooks for any transport,
 * `getPrincipal()` in handlers, and Streamable HTTP enforcement (node:http, Express, Fastify) with
 * RFC 9728 metadata. See `docs/mcp.md`.
 *
 * @module
 */
export { protect, getPrincipal, toolAnnotationsOf } from './protect.ts'
export type { ProtectOptions } from './protect.ts'
export { createMcpHttpGuard, SessionBindings, principalKey, bearerToken, authInfoFor, DECISION_ID_HEADER, STREAM_OPEN_METHOD, SESSION_END_METHOD } from './http.ts'
export type { McpHttpOptions, McpHttpGuard, HttpAnswer, HttpPass, HttpRequestFacts } from './http.ts'
export { mcpAuthzHandler, readBody } from './node.ts'
export type { NodeHandlerOptions, McpRequestHandler } from './node.ts'
export { mcpAuthzExpress } from './express.ts'
export { mcpAuthzFastify } from './fastify.ts'
export type { FastifyOptions } from './fastify.ts'
export { protectedResourceMetadata, protectedResourceMetadataPaths, scopesNamed } from '../enforce/metadata.ts'
export type { ProtectedResourceMetadata } from '../enforce/metadata.ts'
export { redactQuery, safeRequestLogSerializer } from '../enforce/safe-url.ts'
export type { LoggedRequest } from '../enforce/safe-url.ts'
