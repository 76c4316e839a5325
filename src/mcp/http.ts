/**
 * Streamable HTTP enforcement, framework-neutral: one {@link createMcpHttpGuard} that turns the facts
 * of an HTTP request (method, URL, headers, body) into a verdict — answer now (401 / 403 / 400 /
 * JSON-RPC error / 404) or pass the parsed message on with the SDK's `AuthInfo`. The node:http,
 * Express and Fastify adapters (`./node.ts`, `./express.ts`, `./fastify.ts`) only read bodies and
 * write responses.
 *
 * Response header `Mcp-Authz-Decision-Id` carries the decision id of every guarded request, so a
 * user's report can be matched to the decision log.
 *
 * @module
 */
import type { IncomingHttpHeaders } from 'node:http'
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js'
import type { Authz, DecisionResult } from '../authz.ts'
import { bearerChallenge } from '../enforce/challenge.ts'
import { hasQueryAccessToken } from '../enforce/safe-url.ts'
import { protectedResourceMetadata, protectedResourceMetadataPaths, type ProtectedResourceMetadata } from '../enforce/metadata.ts'
import type { Principal } from '../contracts/principal.ts'
import { bearerToken } from './authorization-header.ts'
import { registeredToolAnnotations } from './protect.ts'
import { SessionBindings, type SessionBindingsOptions } from './session-bindings.ts'

export { bearerToken, MAX_AUTHORIZATION_LENGTH } from './authorization-header.ts'
export { SessionBindings, principalKey } from './session-bindings.ts'
export type { SessionBindingsOptions, SessionBindingsStats, EvictionReason } from './session-bindings.ts'

/** Name of the response header carrying the decision id. */
export const DECISION_ID_HEADER = 'mcp-authz-decision-id'

/** Methods recorded for HTTP requests that carry no JSON-RPC message (they are authenticated all the same). */
export const STREAM_OPEN_METHOD = 'notifications/mcp-authz/stream-open'
export const SESSION_END_METHOD = 'notifications/mcp-authz/session-end'

/** Options of {@link createMcpHttpGuard} (and of every adapter). */
export interface McpHttpOptions {
  /** The engine (with a `verifier`, or every request is refused with 401). Required. */
  authz: Authz
  /** Largest request body read, in bytes. Default 1 MiB; larger bodies get 413. */
  maxBodyBytes?: number
  /** Also serve the metadata at `/.well-known/oauth-protected-resource` (root form). Default `false`. */
  rootMetadata?: boolean
  /** Path of the MCP endpoint. Default: the path of the bundle's resource URI. */
  path?: string
  /** Annotations of a tool by name, for the policy. Default: those of the server `protect(server, authz)` was called with. */
  toolAnnotations?: (name: string) => Record<string, unknown> | undefined
  /**
   * Principal of requests that carry no `Authorization` header at all, instead of a 401. For local
   * development and test suites that cannot send credentials (e.g. the MCP conformance suite);
   * never in production. Default: none (401).
   */
  dangerouslyAllowAnonymous?: Principal
  /**
   * Bind sessions to the principal that opened them. Default `true`: a {@link SessionBindings} with
   * its defaults (32 sessions per principal, 10 000 in all, 30 min idle). Give the bounds, or your
   * own instance (to share it, listen to its evictions or export its metrics); `false` turns
   * binding off.
   */
  sessionBinding?: boolean | SessionBindings | SessionBindingsOptions
}

/** What an adapter must send back. */
export interface HttpAnswer {
  pass: false
  status: number
  headers: Record<string, string>
  body?: string
}

/** What an adapter hands to the MCP transport. */
export interface HttpPass {
  pass: true
  /** The SDK's `AuthInfo`, to set as `req.auth` (the token is there for the SDK only; never log it). */
  authInfo: AuthInfo
  /** The parsed JSON-RPC message (undefined for GET / DELETE). */
  message: unknown
  principal: Principal
  decisionId: string
  headers: Record<string, string>
  /** The request's `Mcp-Session-Id` (checked: bound to this principal), if it sent one. */
  sessionId: string | undefined
  /** Call with the response's `Mcp-Session-Id` once the transport assigned one (initialize). `false` when it could not be bound. */
  bindSession(sessionId: string): boolean
  /** Call once the response has ended (the adapters do): the session's idle time counts from then; after a DELETE it is forgotten. */
  done(): void
}

/** The facts of one HTTP request. */
export interface HttpRequestFacts {
  method: string
  /** Request target, path and query (`req.url`). */
  url: string
  headers: IncomingHttpHeaders
  /** Raw body text/bytes, or an already parsed JSON value (framework body parsers). */
  body?: string | Uint8Array | unknown
  signal?: AbortSignal
}

const JSON_HEADERS = { 'content-type': 'application/json' }

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name]
  return Array.isArray(v) ? v[0] : v
}

/** An OAuth-style error answer; `error` undefined leaves the code out (RFC 6750 § 3.1: none when no credentials were sent). */
function oauthAnswer(status: number, decisionId: string | undefined, wwwAuthenticate: string | undefined, error: string | undefined, description: string): HttpAnswer {
  const headers: Record<string, string> = { ...JSON_HEADERS }
  if (decisionId !== undefined) headers[DECISION_ID_HEADER] = decisionId
  if (wwwAuthenticate !== undefined) headers['www-authenticate'] = wwwAuthenticate
  return { pass: false, status, headers, body: JSON.stringify(error === undefined ? { error_description: description } : { error, error_description: description }) }
}

function jsonRpcAnswer(status: number, decisionId: string | undefined, id: unknown, error: unknown): HttpAnswer {
  const headers: Record<string, string> = { ...JSON_HEADERS }
  if (decisionId !== undefined) headers[DECISION_ID_HEADER] = decisionId
  return { pass: false, status, headers, body: JSON.stringify({ jsonrpc: '2.0', id: id ?? null, error }) }
}

/** Methods the Streamable HTTP transport serves; any other is answered 405 before it. */
const TRANSPORT_METHODS = new Set(['GET', 'POST', 'DELETE'])

function refusal(result: DecisionResult): HttpAnswer {
  const { decisionId } = result
  if (result.status === 401) {
    // The body claims exactly what the challenge does: no error code when it has none (no credentials, RFC 6750 § 3.1).
    const invalid = result.wwwAuthenticate?.includes('error="invalid_token"') === true
    return oauthAnswer(401, decisionId, result.wwwAuthenticate, invalid ? 'invalid_token' : undefined, 'Authentication required')
  }
  if (result.status === 403 && result.wwwAuthenticate !== undefined) {
    return oauthAnswer(403, decisionId, result.wwwAuthenticate, 'insufficient_scope', 'Additional scope is required for this request')
  }
  if (result.status === 400 && result.jsonRpcError === undefined) {
    return oauthAnswer(400, decisionId, result.wwwAuthenticate, 'invalid_request', 'The request is malformed')
  }
  if (result.jsonRpcError !== undefined) return jsonRpcAnswer(result.status, decisionId, result.requestId, result.jsonRpcError)
  return oauthAnswer(403, decisionId, undefined, 'forbidden', 'The request is not allowed')
}

/** The SDK's `AuthInfo` for an allowed request. */
export function authInfoFor(token: string, principal: Principal, resource: string, decisionId: string, requestId: unknown): AuthInfo {
  const info: AuthInfo = {
    token,
    clientId: principal.clientId ?? principal.subject,
    scopes: [...principal.scopes],
    resource: new URL(resource),
    extra: { principal, decisionId, requestId },
  }
  if (principal.expiresAt !== undefined) info.expiresAt = principal.expiresAt
  return info
}

/** The guard: metadata documents and the per-request verdict. */
export interface McpHttpGuard {
  /**
   * The MCP endpoint's path (`/mcp`), for adapters that register a route. The guard itself never
   * compares paths: every request given to {@link authorize} is guarded.
   */
  readonly path: string
  /** Paths the metadata document is served at. */
  readonly metadataPaths: readonly string[]
  /** The RFC 9728 document (rebuilt from the serving bundle). */
  metadata(): ProtectedResourceMetadata
  /** Decides one request to the MCP endpoint, whatever its path. Never throws. */
  authorize(facts: HttpRequestFacts): Promise<HttpAnswer | HttpPass>
  /** The bound sessions (`undefined` when binding is off). */
  readonly sessions: SessionBindings | undefined
}

/**
 * Creates the framework-neutral guard. It never decides "is this the MCP endpoint" itself: every
 * request handed to `authorize` is verified and decided, so mount it where the MCP handler is
 * (the adapters wrap the handler itself).
 *
 * @example
 * ```ts
 * const guard = createMcpHttpGuard({ authz })
 * const verdict = await guard.authorize({ method: 'POST', url: '/mcp', headers: req.headers, body })
 * if (!verdict.pass) res.writeHead(verdict.status, verdict.headers).end(verdict.body)
 * else await transport.handleRequest(Object.assign(req, { auth: verdict.authInfo }), res, verdict.message)
 * ```
 */
export function createMcpHttpGuard(options: McpHttpOptions): McpHttpGuard {
  if (options === null || typeof options !== 'object' || options.authz === undefined) throw new TypeError('options.authz is required')
  const { authz } = options
  const maxBodyBytes = options.maxBodyBytes ?? 1_048_576
  if (!Number.isSafeInteger(maxBodyBytes) || maxBodyBytes <= 0) throw new TypeError('options.maxBodyBytes must be a positive integer')
  const binding = options.sessionBinding
  const sessions = binding === false ? undefined : binding instanceof SessionBindings ? binding : new SessionBindings(binding === true || binding === undefined ? {} : binding)
  if (options.toolAnnotations !== undefined && typeof options.toolAnnotations !== 'function') throw new TypeError('options.toolAnnotations must be a function')
  const path = options.path ?? (new URL(authz.resource).pathname.replace(/\/+$/, '') || '/')

  async function authorize(facts: HttpRequestFacts): Promise<HttpAnswer | HttpPass> {
    // RFC 6750 § 2.3 is not allowed by MCP: a token in the query string is refused outright.
    if (hasQueryAccessToken(facts.url)) {
      return oauthAnswer(400, undefined, bearerChallenge({ error: 'invalid_request', resourceMetadata: authz.resourceMetadataUrl }), 'invalid_request', 'Access tokens are accepted in the Authorization header only')
    }
    const method = facts.method.toUpperCase()
    if (!TRANSPORT_METHODS.has(method)) {
      // HEAD, OPTIONS, PUT…: nothing the transport serves, so nothing to decide; never passed on.
      return { pass: false, status: 405, headers: { ...JSON_HEADERS, allow: 'GET, POST, DELETE' }, body: JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: -32000, message: 'Method not allowed' } }) }
    }
    const token = bearerToken(header(facts.headers, 'authorization'))
    let message: unknown
    if (method === 'POST') {
      message = facts.body
      if (typeof message === 'string' || message instanceof Uint8Array) {
        const bytes = typeof message === 'string' ? Buffer.byteLength(message) : message.byteLength
        if (bytes > maxBodyBytes) return jsonRpcAnswer(413, undefined, null, { code: -32700, message: 'Parse error: request body too large' })
      }
    } else {
      // GET (SSE stream) and DELETE (session end) carry no message; they are decided all the same.
      message = { jsonrpc: '2.0', method: method === 'DELETE' ? SESSION_END_METHOD : STREAM_OPEN_METHOD }
    }
    let annotations: Record<string, unknown> | undefined
    const toolAnnotations = options.toolAnnotations ?? registeredToolAnnotations(authz)
    if (toolAnnotations !== undefined && method === 'POST') {
      const parsed = parseOnce(message)
      message = parsed
      const p = (parsed as { method?: unknown; params?: { name?: unknown } } | undefined)
      if (p?.method === 'tools/call' && typeof p.params?.name === 'string') annotations = toolAnnotations(p.params.name)
    }
    const context = { transport: 'http', ...(annotations ? { annotations } : {}) }
    const anonymous = token === undefined ? options.dangerouslyAllowAnonymous : undefined
    const result = anonymous !== undefined
      ? { ...authz.decide(anonymous, message, context), principal: anonymous }
      : await authz.check(token, message, { ...context, ...(facts.signal ? { signal: facts.signal } : {}) })
    if (!result.allow || result.principal === undefined) return refusal(result)
    const principal = result.principal
    const sessionId = header(facts.headers, 'mcp-session-id')
    if (sessions !== undefined && sessionId !== undefined) {
      // Answered like an unknown session (as the SDK does), so a session id reveals nothing about its owner.
      if (sessions.owner(sessionId, principal) !== 'owner') return jsonRpcAnswer(404, result.decisionId, null, { code: -32001, message: 'Session not found' })
      sessions.acquire(sessionId)
    } else if (sessions !== undefined && result.action?.method === 'initialize' && !sessions.canBind(principal)) {
      // A new session would push another principal's out: refused before the transport creates one.
      const answer = jsonRpcAnswer(503, result.decisionId, result.requestId, { code: -32000, message: 'Too many sessions; try again later', data: { decision_id: result.decisionId } })
      answer.headers['retry-after'] = '60'
      return answer
    }
    let finished = false
    return {
      pass: true,
      authInfo: authInfoFor(token ?? '', principal, authz.resource, result.decisionId, result.requestId),
      message: method === 'POST' ? (result.message ?? message) : undefined,
      principal,
      decisionId: result.decisionId,
      headers: { [DECISION_ID_HEADER]: result.decisionId },
      sessionId,
      bindSession(id: string) {
        return sessions === undefined || sessions.bind(id, principal)
      },
      done() {
        if (finished || sessions === undefined || sessionId === undefined) return
        finished = true
        // The owner ended its session: forgotten once the transport has answered the DELETE.
        if (method === 'DELETE') sessions.forget(sessionId)
        else sessions.release(sessionId)
      },
    }
  }

  return {
    path,
    get metadataPaths() {
      return protectedResourceMetadataPaths(authz.resource, options.rootMetadata ?? false)
    },
    metadata: () => protectedResourceMetadata(authz.bundle.config),
    authorize,
    sessions,
  }
}

function parseOnce(body: unknown): unknown {
  if (typeof body !== 'string' && !(body instanceof Uint8Array)) return body
  try {
    return JSON.parse(typeof body === 'string' ? body : new TextDecoder('utf-8', { fatal: true }).decode(body))
  } catch {
    return body // classifyMessage answers with the parse error
  }
}
