/**
 * `createProxy(options)`: the authorizing reverse proxy as a Fastify instance (not yet listening).
 * Every request to the MCP path goes through the HTTP guard of `src/mcp/http.ts` — verify, classify,
 * decide, bind sessions, answer refusals (401 + RFC 9728 challenge, 403 step-up, JSON-RPC -32003) —
 * and only then to the upstream. Routes:
 *
 * - GET/POST/DELETE `<path>` (default: the resource URI's path): the guarded MCP endpoint;
 * - GET `/.well-known/oauth-protected-resource<path>` (and the root form with `rootMetadata`): RFC 9728;
 * - GET `<jwksPath>`: the keys of the signed assertion, when one is configured;
 * - GET `/health`, `/ready` (bundle revision), `/metrics` (Prometheus; loopback callers only unless `publicMetrics`).
 *
 * Requests to the MCP path whose `Host` or `Origin` names another host are refused with 403 before
 * anything else (DNS rebinding protection, as the MCP transport spec requires of local servers).
 *
 * @module
 */
import Fastify, { type FastifyError, type FastifyInstance } from 'fastify'
import type { Authz } from '../authz.ts'
import type { Principal } from '../contracts/principal.ts'
import { safeRequestLogSerializer, redactQuery } from '../enforce/safe-url.ts'
import { createMcpHttpGuard, type McpHttpGuard, type McpHttpOptions } from '../mcp/http.ts'
import { isLoopbackHost } from '../net/loopback.ts'
import type { ServerMetrics } from '../observability/prometheus.ts'
import type { AssertionSigner } from './assertion.ts'
import { LearnedAnnotations } from './filter.ts'
import { createHttpUpstream, type HttpUpstreamOptions } from './http-upstream.ts'
import { createProxyMetrics } from './metrics.ts'
import { createStdioUpstream, type StdioUpstreamOptions } from './stdio-upstream.ts'
import type { Upstream, UpstreamContext } from './upstream.ts'

/** The upstream of {@link createProxy}: a Streamable HTTP URL or a stdio command. */
export type UpstreamOptions = Omit<HttpUpstreamOptions, 'context'> | Omit<StdioUpstreamOptions, 'context'>

/** Options of {@link createProxy}. */
export interface ProxyOptions {
  /** The engine, with a verifier (else every request gets 401). Required. */
  authz: Authz
  /** Where allowed requests go. Required. */
  upstream: UpstreamOptions
  /** Path of the MCP endpoint. Default: the path of the resource URI. */
  path?: string
  /** Largest request body, bytes. Default 1 MiB. */
  maxBodyBytes?: number
  /**
   * Host names accepted in `Host` / `Origin` on the MCP path. Default: the resource URI's host name,
   * plus `localhost`, `127.0.0.1` and `[::1]` when `listenHost` is loopback.
   */
  allowedHosts?: readonly string[]
  /** Interface the proxy will listen on (for the default `allowedHosts`). Default `127.0.0.1`. */
  listenHost?: string
  /** Also serve the metadata at the root well-known path. Default `false`. */
  rootMetadata?: boolean
  /** Signed assertion sent upstream: the signer, the request header, the JWKS path. Default: none. */
  assertion?: { signer: AssertionSigner; header?: string; jwksPath?: string }
  /** Static headers for the upstream (a static credential; HTTP upstream only). Default none. */
  upstreamHeaders?: Record<string, string>
  /** Metrics served at `/metrics` (decision metrics plus the proxy's). Default: none (no `/metrics`). */
  metrics?: ServerMetrics
  /** Serve `/metrics` to any caller, not only loopback ones. Default `false`. */
  publicMetrics?: boolean
  /** Fastify logger option (request URLs are logged without query values). Default `false`. */
  logger?: boolean | Record<string, unknown>
  /** Session binding of the guard (see `McpHttpOptions.sessionBinding`). Default `true`. */
  sessionBinding?: McpHttpOptions['sessionBinding']
  /** Principal of requests without any `Authorization` header — test suites and local development only. Default: none (401). */
  dangerouslyAllowAnonymous?: Principal
}

/** A proxy, built and not yet listening. */
export interface Proxy {
  app: FastifyInstance
  guard: McpHttpGuard
  upstream: Upstream
  /** Tool annotations learned from the upstream. */
  annotations: LearnedAnnotations
  /** Ends every upstream stream, session and process, then closes the server. */
  close(): Promise<void>
}

function hostnameOf(value: string): string | undefined {
  try {
    return new URL(value.includes('://') ? value : `http://${value}`).hostname.toLowerCase()
  } catch {
    return undefined
  }
}

function header(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value
}

/**
 * Builds the proxy.
 *
 * @throws {TypeError} naming the option when an option is invalid.
 * @example
 * ```ts
 * const proxy = await createProxy({ authz, upstream: { url: 'http://127.0.0.1:9000/mcp' } })
 * await proxy.app.listen({ host: '127.0.0.1', port: 8080 })
 * ```
 */
export async function createProxy(options: ProxyOptions): Promise<Proxy> {
  if (options === null || typeof options !== 'object' || options.authz === undefined) throw new TypeError('options.authz is required')
  if (options.upstream === null || typeof options.upstream !== 'object') throw new TypeError('options.upstream is required')
  const { authz } = options
  const maxBodyBytes = options.maxBodyBytes ?? 1_048_576
  if (!Number.isSafeInteger(maxBodyBytes) || maxBodyBytes <= 0) throw new TypeError('options.maxBodyBytes must be a positive integer')
  const listenHost = options.listenHost ?? '127.0.0.1'
  const resourceHost = new URL(authz.resource).hostname.toLowerCase()
  const allowedHosts = new Set(
    (options.allowedHosts ?? [resourceHost, ...(isLoopbackHost(listenHost) ? ['localhost', '127.0.0.1', '[::1]'] : [])]).map((h) => hostnameOf(h) ?? h.toLowerCase()),
  )
  const annotations = new LearnedAnnotations()
  const guard = createMcpHttpGuard({
    authz,
    maxBodyBytes,
    rootMetadata: options.rootMetadata ?? false,
    toolAnnotations: (name) => annotations.get(name),
    ...(options.path !== undefined ? { path: options.path } : {}),
    ...(options.sessionBinding !== undefined ? { sessionBinding: options.sessionBinding } : {}),
    ...(options.dangerouslyAllowAnonymous !== undefined ? { dangerouslyAllowAnonymous: options.dangerouslyAllowAnonymous } : {}),
  })

  const app = Fastify({
    logger: options.logger === undefined || options.logger === false ? false : { ...(options.logger === true ? {} : options.logger), serializers: { req: safeRequestLogSerializer } },
    bodyLimit: maxBodyBytes,
    // SSE streams are long and may be quiet: no socket inactivity limit on the front; the request itself must arrive in time.
    connectionTimeout: 0,
    requestTimeout: 30_000,
    return503OnClosing: true,
  })
  const log: UpstreamContext['log'] = (level, message, fields) => app.log[level](fields ?? {}, message)

  let processes: (() => number) | undefined
  const assertion = options.assertion
  const assertionHeader = (assertion?.header ?? 'mcp-authz-assertion').toLowerCase()
  const context: UpstreamContext = {
    authz,
    annotations,
    async identity(principal, decisionId) {
      if (assertion === undefined) return {}
      return { [assertionHeader]: await assertion.signer.sign(principal, decisionId) }
    },
    forgetSession: (sessionId) => guard.sessions?.forget(sessionId),
    metrics: createProxyMetrics(options.metrics?.registry, 'command' in options.upstream ? { processes: () => processes?.() ?? 0 } : {}),
    log,
  }
  let upstream: Upstream
  if ('command' in options.upstream) {
    const stdio = createStdioUpstream({ ...options.upstream, context })
    upstream = stdio
    processes = () => stdio.processes
  } else {
    upstream = createHttpUpstream({ ...options.upstream, headers: { ...(options.upstream.headers ?? {}), ...(options.upstreamHeaders ?? {}) }, context })
  }

  app.setErrorHandler((err: FastifyError, request, reply) => {
    const status = err.statusCode ?? 500
    if (status === 413) return reply.code(413).header('connection', 'close').send({ jsonrpc: '2.0', id: null, error: { code: -32700, message: 'Parse error: request body too large' } })
    if (status < 500) return reply.code(status).send({ jsonrpc: '2.0', id: null, error: { code: -32700, message: 'Parse error: unreadable body' } })
    request.log.error({ err: err.message }, 'proxy error')
    return reply.code(500).send({ error: 'internal_error' })
  })
  app.setNotFoundHandler((request, reply) => reply.code(404).send({ error: 'not_found', message: `no route ${request.method} ${redactQuery(request.url)}` }))

  for (const url of guard.metadataPaths) {
    app.get(url, async (_request, reply) => reply.header('cache-control', 'public, max-age=300').header('access-control-allow-origin', '*').send(guard.metadata()))
  }
  if (assertion !== undefined) {
    const jwksPath = assertion.jwksPath ?? '/.well-known/jwks.json'
    app.get(jwksPath, async (_request, reply) => reply.header('cache-control', 'public, max-age=300').send(assertion.signer.jwks))
  }
  app.get('/health', async () => ({ status: 'ok' }))
  app.get('/ready', async (_request, reply) => {
    const bundle = authz.bundle
    if (bundle === undefined) return reply.code(503).send({ status: 'not_ready' })
    return { status: 'ready', revision: bundle.revision, loaded_at: bundle.loadedAt.toISOString(), upstream: upstream.kind }
  })
  if (options.metrics !== undefined) {
    const { registry } = options.metrics
    app.get('/metrics', async (request, reply) => {
      if (!options.publicMetrics && !isLoopbackHost(request.socket.remoteAddress?.replace(/^::ffff:/, '') ?? '')) return reply.code(404).send({ error: 'not_found' })
      return reply.type(registry.contentType).send(await registry.metrics())
    })
  }

  await app.register(async (mcp) => {
    // The body reaches the guard as bytes: it parses (bounded) and decides what it parsed.
    mcp.removeAllContentTypeParsers()
    mcp.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: maxBodyBytes }, (_request, body, done) => done(null, body))
    mcp.route({
      method: ['GET', 'POST', 'DELETE', 'PUT', 'PATCH', 'OPTIONS'],
      url: guard.path,
      handler: async (request, reply) => {
        const host = hostnameOf(header(request.headers.host) ?? '')
        const origin = header(request.headers.origin)
        if (host === undefined || !allowedHosts.has(host) || (origin !== undefined && !allowedHosts.has(hostnameOf(origin) ?? '\0'))) {
          return reply.code(403).send({ jsonrpc: '2.0', id: null, error: { code: -32000, message: 'Forbidden: Host or Origin not allowed' } })
        }
        const method = request.method
        if (method !== 'GET' && method !== 'POST' && method !== 'DELETE') {
          return reply.code(405).header('allow', 'GET, POST, DELETE').send({ jsonrpc: '2.0', id: null, error: { code: -32000, message: 'Method not allowed' } })
        }
        // The client went away while its token was being verified: stop waiting (the response's close, not the request's, which ends with its body).
        const abort = new AbortController()
        const onClose = () => abort.abort()
        reply.raw.once('close', onClose)
        const verdict = await guard.authorize({ method, url: request.url, headers: request.headers, body: method === 'POST' ? (request.body ?? Buffer.alloc(0)) : undefined, signal: abort.signal })
        reply.raw.off('close', onClose)
        if (!verdict.pass) return reply.code(verdict.status).headers(verdict.headers).send(verdict.body)
        reply.hijack()
        const res = reply.raw
        res.once('close', () => (verdict as { done?: () => void }).done?.())
        await upstream.handle({ req: request.raw, res, method, verdict, sessionId: header(request.headers['mcp-session-id']) })
      },
    })
  })

  let closing: Promise<void> | undefined
  return {
    app,
    guard,
    upstream,
    annotations,
    close: () =>
      (closing ??= (async () => {
        await upstream.close()
        await app.close()
      })()),
  }
}
