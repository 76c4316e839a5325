/**
 * `createMcpSessions()`: the per-session transports of a Streamable HTTP MCP server, owned for you,
 * so that the documented wiring serves any number of concurrent clients and cannot be gotten wrong.
 *
 * - **Stateful** (default): an `initialize` creates a server (your `createServer()`, wrapped with
 *   `protect()`) and a `StreamableHTTPServerTransport` for the new session; later requests are
 *   routed by `Mcp-Session-Id` to that session's transport, only for the principal that opened it.
 *   A session is freed on DELETE, when its transport closes, when it sits idle
 *   (`idleTimeoutMs`), and when its principal opens one more than `maxSessionsPerPrincipal`.
 *   The sessions are bounded in number (`maxSessions`).
 * - **Stateless** (`stateless: true`): a server and a transport per POST, closed when the response
 *   ends (the SDK's transports cannot be shared between requests when they have no session).
 *
 * Hand it to an adapter (`mcpAuthzHandler`, `mcpAuthzExpress`, `mcpAuthzFastify` with
 * `{ authz, sessions }`): the adapter's guard then binds sessions in the same
 * {@link SessionBindings} and reads tool annotations from your server.
 *
 * @module
 */
import { randomUUID } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js'
import type { Server } from '@modelcontextprotocol/sdk/server/index.js'
import { StreamableHTTPServerTransport, type StreamableHTTPServerTransportOptions } from '@modelcontextprotocol/sdk/server/streamableHttp.js'
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js'
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js'
import type { Authz } from '../authz.ts'
import type { Principal } from '../contracts/principal.ts'
import { reportError, type McpErrorHandler } from './errors.ts'
import { protect, registeredToolAnnotations, toolAnnotationsOf, type ProtectOptions } from './protect.ts'
import { SessionBindings } from './session-bindings.ts'

/** Transport options passed through to each `StreamableHTTPServerTransport` (session handling is the helper's). */
export type McpTransportOptions = Omit<StreamableHTTPServerTransportOptions, 'sessionIdGenerator' | 'onsessioninitialized' | 'onsessionclosed'>

/** Options of {@link createMcpSessions}. */
export interface McpSessionsOptions {
  /** The engine; every session's server is wrapped with `protect(server, authz)`. Required. */
  authz: Authz
  /**
   * Creates the MCP server of one session (stateful) or one request (stateless): a fresh
   * `McpServer` or low-level `Server` with your tools, resources and prompts. Called once more at
   * creation, to read the tools' annotations for the HTTP guard. Required.
   */
  createServer: () => McpServer | Server
  /** A server and transport per request, no sessions. Default `false` (a transport per session). */
  stateless?: boolean
  /** Most sessions open at once. Default 10000. */
  maxSessions?: number
  /** Most sessions one principal holds; one more frees its least recently used. Default 32. */
  maxSessionsPerPrincipal?: number
  /** A session with no request in flight and none for this long is freed, ms. Default 1800000 (30 min). */
  idleTimeoutMs?: number
  /** Passed to every transport (e.g. `enableJsonResponse`, `eventStore`, `allowedHosts`). Default none. */
  transport?: McpTransportOptions
  /** Passed to every `protect()` call (not `principal`: it comes from the HTTP guard). Default none. */
  protect?: Omit<ProtectOptions, 'principal'>
  /**
   * Receives failures: a handler or transport that throws (`stage: 'handler'`, reported by the
   * adapter), and the errors the SDK reports on a session's server (`stage: 'session'`, which
   * include client mistakes already answered with a 4xx). Default: handler failures are logged to
   * stderr with the decision id; session errors are not logged.
   */
  onError?: McpErrorHandler
}

/** The sessions of one MCP endpoint. */
export interface McpSessions {
  /** The engine the sessions' servers are protected with. */
  readonly authz: Authz
  /** Whether each request gets its own server and transport. */
  readonly stateless: boolean
  /** Who opened which session (stateful), shared with the adapter's guard; `undefined` when stateless. */
  readonly bindings: SessionBindings | undefined
  /** Sessions open (stateful), or requests being served (stateless). */
  readonly size: number
  /** The `onError` it was created with (the adapters use it too, unless given their own). */
  readonly onError: McpErrorHandler | undefined
  /** Annotations of a tool of your server, by name (for the HTTP guard). */
  toolAnnotations(name: string): Record<string, unknown> | undefined
  /** Serves one request the HTTP guard allowed (`req.auth` set by the guard). Rejects only when the transport fails. */
  handle(req: IncomingMessage & { auth?: AuthInfo }, res: ServerResponse, body: unknown): Promise<void>
  /** Frees idle sessions now (also done on a timer, at most every minute). Returns how many. */
  sweep(): number
  /** Closes every session and stops the timer. */
  close(): Promise<void>
}

interface Session {
  transport: StreamableHTTPServerTransport
}

function positiveInteger(value: unknown, fallback: number, name: string): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) throw new TypeError(`options.${name} must be a positive integer`)
  return value
}

function jsonRpcError(res: ServerResponse, status: number, code: number, message: string): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ jsonrpc: '2.0', id: null, error: { code, message } }))
}

function isMcpServer(server: McpServer | Server): server is McpServer {
  return typeof (server as McpServer).registerTool === 'function'
}

/**
 * Creates the session helper.
 *
 * @throws {TypeError} naming the option, when an option is invalid.
 * @example
 * ```ts
 * const sessions = createMcpSessions({ authz, createServer: () => createNotesServer() })
 * http.createServer(mcpAuthzHandler({ authz, sessions })).listen(3000, '127.0.0.1')
 * // on shutdown: await sessions.close()
 * ```
 */
export function createMcpSessions(options: McpSessionsOptions): McpSessions {
  if (options === null || typeof options !== 'object') throw new TypeError('options must be an object')
  if (options.authz === undefined || typeof options.authz.check !== 'function') throw new TypeError('options.authz is required')
  if (typeof options.createServer !== 'function') throw new TypeError('options.createServer must be a function')
  if (options.stateless !== undefined && typeof options.stateless !== 'boolean') throw new TypeError('options.stateless must be a boolean')
  if (options.onError !== undefined && typeof options.onError !== 'function') throw new TypeError('options.onError must be a function')
  const { authz, createServer, onError } = options
  const stateless = options.stateless ?? false
  const idleTimeoutMs = positiveInteger(options.idleTimeoutMs, 1_800_000, 'idleTimeoutMs')
  const bindings = stateless
    ? undefined
    : new SessionBindings({
        maxSessions: positiveInteger(options.maxSessions, 10_000, 'maxSessions'),
        maxSessionsPerPrincipal: positiveInteger(options.maxSessionsPerPrincipal, 32, 'maxSessionsPerPrincipal'),
        idleTimeoutMs,
      })
  const prototype = createServer()
  const annotationsOf = isMcpServer(prototype) ? toolAnnotationsOf(prototype) : undefined
  const sessions = new Map<string, Session>()
  const inFlight = new Set<StreamableHTTPServerTransport>()
  let timer: NodeJS.Timeout | undefined

  const closeTransport = (transport: StreamableHTTPServerTransport, sessionId?: string) => {
    transport.close().catch((err: unknown) => reportError(onError, err, { stage: 'session', ...(sessionId !== undefined ? { sessionId } : {}) }))
  }

  bindings?.onEvict((sessionId) => {
    const session = sessions.get(sessionId)
    if (session === undefined) return
    sessions.delete(sessionId)
    closeTransport(session.transport, sessionId)
  })

  function sweep(): number {
    if (bindings === undefined) return 0
    let freed = bindings.sweep()
    // Sessions their owner ended (DELETE) whose transport did not close, or that were never bound.
    for (const [id, session] of sessions) {
      if (bindings.has(id)) continue
      sessions.delete(id)
      closeTransport(session.transport, id)
      freed++
    }
    if (sessions.size === 0) stopTimer()
    return freed
  }

  function startTimer(): void {
    if (timer !== undefined) return
    timer = setInterval(sweep, Math.min(idleTimeoutMs, 60_000))
    timer.unref()
  }

  function stopTimer(): void {
    if (timer === undefined) return
    clearInterval(timer)
    timer = undefined
  }

  function newServer(): McpServer | Server {
    const server = createServer()
    protect(server, authz, options.protect ?? {})
    return server
  }

  function wireErrors(server: McpServer | Server, sessionId: () => string | undefined): void {
    const low = isMcpServer(server) ? server.server : server
    low.onerror = (err) => {
      if (onError === undefined) return // client mistakes, already answered with a 4xx
      const id = sessionId()
      reportError(onError, err, { stage: 'session', ...(id !== undefined ? { sessionId: id } : {}) })
    }
  }

  async function handleStateless(req: IncomingMessage & { auth?: AuthInfo }, res: ServerResponse, body: unknown): Promise<void> {
    if (req.method !== 'POST') {
      // No session: no stream to open, nothing to end (as the SDK's stateless examples answer).
      res.writeHead(405, { 'content-type': 'application/json', allow: 'POST' }).end(JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: -32000, message: 'Method not allowed' } }))
      return
    }
    const server = newServer()
    const transport = new StreamableHTTPServerTransport({ ...options.transport, sessionIdGenerator: undefined })
    wireErrors(server, () => undefined)
    inFlight.add(transport)
    res.once('close', () => {
      inFlight.delete(transport)
      closeTransport(transport)
    })
    await server.connect(transport)
    await transport.handleRequest(req, res, body)
  }

  async function handleStateful(req: IncomingMessage & { auth?: AuthInfo }, res: ServerResponse, body: unknown, principal: Principal): Promise<void> {
    const table = bindings as SessionBindings
    const header = req.headers['mcp-session-id']
    const sessionId = typeof header === 'string' ? header : undefined
    if (sessionId !== undefined) {
      const session = sessions.get(sessionId)
      // Checked here too, so the helper stays safe behind a guard with its own bindings.
      if (session === undefined || table.owner(sessionId, principal) !== 'owner') return jsonRpcError(res, 404, -32001, 'Session not found')
      await session.transport.handleRequest(req, res, body)
      return
    }
    if (req.method !== 'POST' || !isInitializeRequest(body)) return jsonRpcError(res, 400, -32000, 'Bad Request: No valid session ID provided')
    const server = newServer()
    const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
      ...options.transport,
      sessionIdGenerator: randomUUID,
      onsessioninitialized: (id) => {
        if (!table.bind(id, principal)) {
          // Full, and this principal holds no session to give up: the SDK answers 404 to a transport closed here.
          closeTransport(transport, id)
          return
        }
        sessions.set(id, { transport })
        startTimer()
      },
    })
    // Set before connect(): the SDK's Protocol chains its own clean-up after it.
    transport.onclose = () => {
      const id = transport.sessionId
      if (id === undefined || sessions.get(id)?.transport !== transport) return
      sessions.delete(id)
      table.forget(id)
      if (sessions.size === 0) stopTimer()
    }
    wireErrors(server, () => transport.sessionId)
    res.once('close', () => {
      // An initialize that failed, or whose session could not be bound, leaves nothing behind.
      const id = transport.sessionId
      if (id === undefined || sessions.get(id)?.transport !== transport) closeTransport(transport, id)
    })
    await server.connect(transport)
    await transport.handleRequest(req, res, body)
  }

  return {
    authz,
    stateless,
    bindings,
    onError,
    get size() {
      return stateless ? inFlight.size : sessions.size
    },
    toolAnnotations(name) {
      return annotationsOf?.(name) ?? registeredToolAnnotations(authz)?.(name)
    },
    async handle(req, res, body) {
      const principal = req.auth?.extra?.principal as Principal | undefined
      if (principal === undefined) {
        // Wired without the mcp-authz guard in front: fail closed, loudly.
        reportError(onError, new TypeError('createMcpSessions: request without req.auth — put the mcp-authz HTTP guard (an adapter) in front of sessions.handle'), { stage: 'handler', ...(req.method ? { method: req.method } : {}) })
        return jsonRpcError(res, 500, -32603, 'Internal error')
      }
      if (stateless) return handleStateless(req, res, body)
      return handleStateful(req, res, body, principal)
    },
    sweep,
    async close() {
      stopTimer()
      const open = [...sessions.values()].map((s) => s.transport).concat([...inFlight])
      sessions.clear()
      inFlight.clear()
      await Promise.all(open.map((t) => t.close().catch((err: unknown) => reportError(onError, err, { stage: 'session' }))))
    },
  }
}
