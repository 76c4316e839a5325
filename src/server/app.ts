/**
 * The standalone decision endpoint: `buildServer(options)` assembles a Fastify instance from
 * plugins — decisions (`/v1/decide`, `/v1/visible`), the OPA-compatible Data API
 * (`/v1/data/mcp/authz/decision`), health and readiness, metrics — behind an API-key hook.
 *
 * @module
 */
import Fastify, { type FastifyError, type FastifyInstance, type FastifyPluginAsync } from 'fastify'
import type { Authz, CredentialVerifier } from '../authz.ts'
import { bearerChallenge } from '../enforce/challenge.ts'
import { hasQueryAccessToken, redactQuery, safeRequestLogSerializer } from '../enforce/safe-url.ts'
import type { PolicyInput } from '../policy/decision.ts'
import { schemaProblems } from '../schemas.ts'
import { isLoopbackHost } from '../net/loopback.ts'
import { apiKeyHook } from './auth.ts'
import { createServerMetrics, type ServerMetrics } from '../observability/prometheus.ts'
import { dataApiSchema, decideSchema, healthSchema, readySchema, visibleSchema } from './schemas.ts'

/** Options of {@link buildServer}. */
export interface ServerOptions {
  /** The assembled engine. Required. */
  authz: Authz
  /** Verifier used by `/v1/visible` (the one given to `createAuthz`). Without it `/v1/visible` answers 401. */
  verifier?: CredentialVerifier
  /** Host the server will listen on; beyond loopback, `apiKeyHashes` is required. Default `127.0.0.1`. */
  host?: string
  /** SHA-256 (hex) of the callers' API keys. Default none (no caller authentication, loopback only). */
  apiKeyHashes?: readonly string[]
  /** Largest request body, bytes. Default 1 MiB. */
  bodyLimit?: number
  /** Time limit of one request (and of token verification), ms. Default 10000. */
  requestTimeoutMs?: number
  /** Metrics to expose at `/metrics`. Default: a fresh set (fed only by the bundle gauge). */
  metrics?: ServerMetrics
  /** JWKS of the development issuer, served at `/dev-issuer/jwks` (development only). */
  devIssuerJwks?: { keys: unknown[] }
  /** Fastify logger option. Default `false`. */
  logger?: boolean | Record<string, unknown>
}

/** Fastify's logger option, with request URLs logged through {@link safeRequestLogSerializer} (no query values). */
function loggerOption(logger: boolean | Record<string, unknown> | undefined): boolean | Record<string, unknown> {
  if (logger === undefined || logger === false) return false
  const base = logger === true ? {} : logger
  return { ...base, serializers: { ...(base.serializers as Record<string, unknown> | undefined), req: safeRequestLogSerializer } }
}

/**
 * An abort signal that fires after `ms`, cleared as soon as the work is done. (`AbortSignal.timeout`
 * would keep a timer and its signal alive for the full timeout after every request.)
 */
class Deadline {
  readonly #controller = new AbortController()
  readonly #timer: NodeJS.Timeout
  constructor(ms: number) {
    this.#timer = setTimeout(() => this.#controller.abort(new DOMException('request timed out', 'TimeoutError')), ms)
    this.#timer.unref()
  }
  get signal(): AbortSignal {
    return this.#controller.signal
  }
  clear(): void {
    clearTimeout(this.#timer)
  }
}

/** The `error` of a client error answer, by HTTP status (anything else is `bad_request`). */
const CLIENT_ERRORS: Record<number, string> = { 401: 'unauthorized', 404: 'not_found', 405: 'method_not_allowed', 413: 'payload_too_large', 415: 'unsupported_media_type' }

/** Decorations shared by the plugins. */
interface Shared {
  authz: Authz
  verifier: CredentialVerifier | undefined
  requestTimeoutMs: number
}

/** The list method whose result `/v1/visible` filters. */
const LIST_METHODS = { tool: 'tools/list', resource: 'resources/list', prompt: 'prompts/list' } as const

const decisionRoutes =
  (shared: Shared): FastifyPluginAsync =>
  async (app) => {
    app.post<{ Body: { token?: string; message: Record<string, unknown> | string; context?: { transport?: string; requestId?: string; annotations?: Record<string, unknown> } } }>(
      '/v1/decide',
      { schema: decideSchema },
      async (request) => {
        const { token, message, context } = request.body
        const deadline = new Deadline(shared.requestTimeoutMs)
        const r = await shared.authz.check(token, message, { ...context, signal: deadline.signal }).finally(() => deadline.clear())
        return {
          decision_id: r.decisionId,
          allow: r.allow,
          status: r.status,
          reasons: r.reasons,
          required_scopes: r.requiredScopes,
          enforcement: r.enforcement,
          ...(r.revision !== undefined ? { revision: r.revision } : {}),
          ...(r.wwwAuthenticate !== undefined ? { www_authenticate: r.wwwAuthenticate } : {}),
          ...(r.jsonRpcError !== undefined ? { jsonrpc_error: r.jsonRpcError } : {}),
        }
      },
    )

    app.post<{ Body: { token?: string; kind: 'tool' | 'resource' | 'prompt'; items: Array<{ name?: string; uri?: string; uriTemplate?: string; annotations?: Record<string, unknown> }> } }>(
      '/v1/visible',
      { schema: visibleSchema },
      async (request) => {
        const { token, kind, items } = request.body
        // Filtering belongs to a list call: that call is verified, decided and logged first (as over MCP),
        // so the answer's decision_id has its record and failed credentials leave a trace.
        const deadline = new Deadline(shared.requestTimeoutMs)
        const r = await shared.authz.check(shared.verifier === undefined ? undefined : token, { jsonrpc: '2.0', id: 0, method: LIST_METHODS[kind] }, { signal: deadline.signal }).finally(() => deadline.clear())
        if (!r.allow || r.principal === undefined) {
          return { decision_id: r.decisionId, status: r.status, items: [], ...(r.wwwAuthenticate !== undefined ? { www_authenticate: r.wwwAuthenticate } : {}) }
        }
        const decisionId = r.decisionId
        const visible = shared.authz.visible(r.principal, kind, items, { decisionId })
        return { decision_id: decisionId, status: 200, items: visible.map((i) => (kind === 'resource' ? (i.uri ?? i.uriTemplate) : i.name) as string) }
      },
    )
  }

const dataApiRoutes =
  (shared: Shared): FastifyPluginAsync =>
  async (app) => {
    // Same path and shape as OPA's Data API, so clients written for an OPA sidecar work unchanged.
    app.post<{ Body: { input: unknown } }>('/v1/data/mcp/authz/decision', { schema: dataApiSchema }, async (request, reply) => {
      const problems = schemaProblems('input', request.body.input)
      if (problems.length > 0) return reply.code(400).send({ error: 'bad_request', message: `input is not a policy input: ${problems.map((p) => `${p.path} ${p.message}`).join('; ')}` })
      const { decisionId, allow, reasons, required_scopes } = shared.authz.evaluate(request.body.input as PolicyInput)
      return { decision_id: decisionId, result: { allow, reasons, required_scopes } }
    })
  }

const healthRoutes =
  (shared: Shared): FastifyPluginAsync =>
  async (app) => {
    app.get('/health', { schema: healthSchema }, async () => ({ status: 'ok' }))
    app.get('/ready', { schema: readySchema }, async (_request, reply) => {
      let bundle
      try {
        bundle = shared.authz.bundle
      } catch {
        bundle = undefined
      }
      if (bundle === undefined) return reply.code(503).send({ status: 'not_ready', message: 'no policy bundle is loaded' })
      return { status: 'ready', revision: bundle.revision, loaded_at: bundle.loadedAt.toISOString() }
    })
  }

const metricsRoutes =
  (metrics: ServerMetrics): FastifyPluginAsync =>
  async (app) => {
    app.get('/metrics', async (_request, reply) => {
      const text = await metrics.registry.metrics()
      return reply.type(metrics.registry.contentType).send(text)
    })
  }

/**
 * Builds the decision endpoint (not yet listening).
 *
 * @throws {TypeError} when `host` is beyond loopback and no `apiKeyHashes` are configured.
 * @example
 * ```ts
 * const app = buildServer({ authz })
 * await app.listen({ host: '127.0.0.1', port: 8181 })
 * ```
 */
export function buildServer(options: ServerOptions): FastifyInstance {
  if (options?.authz === undefined) throw new TypeError('authz is required')
  const host = options.host ?? '127.0.0.1'
  const apiKeyHashes = options.apiKeyHashes ?? []
  if (!isLoopbackHost(host) && apiKeyHashes.length === 0) throw new TypeError(`server.apiKeyHashes is required to listen on ${host} (beyond loopback)`)
  const requestTimeoutMs = options.requestTimeoutMs ?? 10_000
  const app = Fastify({
    logger: loggerOption(options.logger),
    bodyLimit: options.bodyLimit ?? 1024 * 1024,
    requestTimeout: requestTimeoutMs,
    connectionTimeout: requestTimeoutMs + 5_000,
    return503OnClosing: true,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, allErrors: true, allowUnionTypes: true } },
  })
  const metrics = options.metrics ?? createServerMetrics({ processMetrics: false })
  metrics.bundleActivated(options.authz.bundle.revision)
  const shared: Shared = { authz: options.authz, verifier: options.verifier, requestTimeoutMs }

  app.setErrorHandler((err: FastifyError, _request, reply) => {
    if (err.validation !== undefined) return reply.code(400).send({ error: 'bad_request', message: `${err.validationContext ?? 'request'} ${err.message.replace(/^(body|querystring)\s*/, '')}` })
    const status = err.statusCode ?? 500
    // The documented shape, whatever Fastify's internal code (FST_ERR_CTP_INVALID_JSON_BODY, …).
    if (status < 500) return reply.code(status).send({ error: CLIENT_ERRORS[status] ?? 'bad_request', message: err.message })
    reply.log.error(err)
    return reply.code(500).send({ error: 'internal_error', message: 'internal error' })
  })
  // Graceful shutdown: requests in flight finish, and their keep-alive connections close with them.
  let closing = false
  app.addHook('preClose', async () => {
    closing = true
  })
  app.addHook('onSend', async (_request, reply) => {
    if (closing) reply.header('connection', 'close')
  })
  // Every JSON or text body ends with a newline, so `curl` output does not run into the prompt.
  app.addHook('onSend', async (_request, _reply, payload) => (typeof payload === 'string' && payload.length > 0 && !payload.endsWith('\n') ? `${payload}\n` : payload))
  app.setNotFoundHandler((request, reply) => reply.code(404).send({ error: 'not_found', message: `no route ${request.method} ${redactQuery(request.url)}` }))
  // RFC 6750 § 2.3 tokens in the URL end up in logs and proxies: refused on every route, before anything else.
  app.addHook('onRequest', async (request, reply) => {
    if (!hasQueryAccessToken(request.url)) return
    await reply
      .code(400)
      .header('www-authenticate', bearerChallenge({ error: 'invalid_request' }))
      .send({ error: 'invalid_request', message: 'access tokens are never accepted in the URL; send the token in the request body' })
  })

  // Open to everyone: liveness / readiness probes and the public development JWKS.
  app.register(healthRoutes(shared))
  if (options.devIssuerJwks !== undefined) {
    const jwks = options.devIssuerJwks
    app.get('/dev-issuer/jwks', async (_request, reply) => reply.header('cache-control', 'max-age=60').send(jwks))
  }
  // Behind the API key when one is configured.
  app.register(async (api) => {
    if (apiKeyHashes.length > 0) api.addHook('onRequest', apiKeyHook(apiKeyHashes))
    api.register(decisionRoutes(shared))
    api.register(dataApiRoutes(shared))
    api.register(metricsRoutes(metrics))
  })
  return app
}
