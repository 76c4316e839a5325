/**
 * The authorizing reverse proxy: the whole pipeline — verify, classify, decide, enforce, log — in
 * front of any MCP server, Streamable HTTP or stdio, without changing its code. See `docs/proxy.md`.
 *
 * @module
 */
export { createProxy } from './app.ts'
export type { Proxy, ProxyOptions, UpstreamOptions } from './app.ts'
export { startProxy, childEnvironment } from './start.ts'
export type { RunningProxy, StartProxyOptions } from './start.ts'
export { createAssertionSigner, ASSERTION_TYPE } from './assertion.ts'
export type { AssertionSigner, AssertionSignerOptions } from './assertion.ts'
export { createHttpUpstream } from './http-upstream.ts'
export type { HttpUpstreamOptions } from './http-upstream.ts'
export { createStdioUpstream } from './stdio-upstream.ts'
export type { StdioUpstreamOptions } from './stdio-upstream.ts'
export { spawnStdioServer, liveChildren } from './child.ts'
export type { StdioServer, StdioServerOptions } from './child.ts'
export { SseRewriter, SseEventTooLarge } from './sse.ts'
export type { SseRewriterOptions } from './sse.ts'
export { filterMessage, LearnedAnnotations } from './filter.ts'
export { BoundedEventStore } from './event-store.ts'
export { upstreamRequestHeaders, clientResponseHeaders, FORWARDED_REQUEST_HEADERS, FORWARDED_RESPONSE_HEADERS } from './headers.ts'
export { UPSTREAM_ERROR_CODE } from './upstream.ts'
export type { Upstream, UpstreamContext, ProxiedRequest } from './upstream.ts'
