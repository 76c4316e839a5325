/**
 * Embedding mcp-authz in `@modelcontextprotocol/sdk` servers: `protect()` hooks for any transport,
 * `getPrincipal()` in handlers, Streamable HTTP enforcement (node:http, Express, Fastify) with
 * RFC 9728 metadata, and `createMcpSessions()` owning the per-session transports. See `docs/mcp.md`.
 *
 * @module
 */
export { protect, getPrincipal, toolAnnotationsOf } from './protect.ts'
export type { ProtectOptions } from './protect.ts'
export { createMcpHttpGuard, authInfoFor, DECISION_ID_HEADER, STREAM_OPEN_METHOD, SESSION_END_METHOD } from './http.ts'
export type { McpHttpOptions, McpHttpGuard, HttpAnswer, HttpPass, HttpRequestFacts } from './http.ts'
export { bearerToken, MAX_AUTHORIZATION_LENGTH } from './authorization-header.ts'
export { SessionBindings, principalKey } from './session-bindings.ts'
export type { SessionBindingsOptions, SessionBindingsStats, EvictionReason } from './session-bindings.ts'
export { registerSessionMetrics } from './session-metrics.ts'
export { createMcpSessions } from './sessions.ts'
export type { McpSessions, McpSessionsOptions, McpTransportOptions } from './sessions.ts'
export { logDefaultError } from './errors.ts'
export type { McpErrorContext, McpErrorHandler } from './errors.ts'
export type { McpAdapterOptions, McpRequestHandler } from './adapter.ts'
export { mcpAuthzHandler, readBody } from './node.ts'
export type { NodeHandlerOptions } from './node.ts'
export { mcpAuthzExpress } from './express.ts'
export type { ExpressMcpAuthz } from './express.ts'
export { mcpAuthzFastify } from './fastify.ts'
export type { FastifyOptions } from './fastify.ts'
export { protectedResourceMetadata, protectedResourceMetadataPaths, scopesNamed } from '../enforce/metadata.ts'
export type { ProtectedResourceMetadata } from '../enforce/metadata.ts'
export { redactQuery, safeRequestLogSerializer } from '../enforce/safe-url.ts'
export type { LoggedRequest } from '../enforce/safe-url.ts'
