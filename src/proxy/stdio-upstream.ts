/**
 * A stdio upstream, bridged per MCP session: on the front the SDK's `StreamableHTTPServerTransport`
 * (with a bounded event store, so streams resume with `Last-Event-ID`), behind it one child process
 * speaking newline-delimited JSON-RPC. Messages the guard allowed are relayed to the child; the
 * child's messages are relayed back, list results filtered on the way.
 *
 * A process is spawned by `initialize` and lives as long as its session: it is stopped on DELETE,
 * when the session idles out (`idleTimeoutMs` without a message either way and no request pending;
 * a request the client cancels is no longer pending), and when the proxy closes. At most `maxProcesses` run at once; one more `initialize` gets 503 with `Retry-After`.
 * When a process dies, its pending requests get a JSON-RPC error and the session ends (404 after).
 *
 * Routing the child's messages: responses go to the stream of their request; `notifications/progress`
 * to the request that holds the progress token; requests (sampling, elicitation, roots) and log
 * messages to the latest request still pending — the stdio server made them while handling it —,
 * else, like other notifications, to the session's GET stream.
 *
 * @module
 */
import { randomUUID } from 'node:crypto'
import { performance } from 'node:perf_hooks'
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js'
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js'
import type { Principal } from '../contracts/principal.ts'
import { spawnStdioServer, type StdioServer } from './child.ts'
import { BoundedEventStore } from './event-store.ts'
import { filterMessage } from './filter.ts'
import { answerUpstreamFailure, requestIdOf, UPSTREAM_ERROR_CODE, type ProxiedRequest, type Upstream, type UpstreamContext } from './upstream.ts'

/** Options of {@link createStdioUpstream}. */
export interface StdioUpstreamOptions {
  /** Program to spawn per session (no shell). Required. */
  command: string
  /** Its arguments. Default none. */
  args?: readonly string[]
  /** Its whole environment (build it from an allowlist). Default: empty. */
  env?: Record<string, string>
  /** Its working folder. Default: the proxy's. */
  cwd?: string
  /** Most processes (sessions) at once. Default 16. */
  maxProcesses?: number
  /** A session without any message for this long is ended, ms. Default 300000. */
  idleTimeoutMs?: number
  /** Longest line from a process (one message), bytes. Default 16 MiB. */
  maxMessageBytes?: number
  /** Time between the stop steps of a process (EOF → SIGTERM → SIGKILL), ms. Default 2000. */
  stopGraceMs?: number
  /** Requests of one session waiting for the process's answer; one more is refused with a JSON-RPC error. Default 1024. */
  maxPendingRequests?: number
  /** The proxy's filtering, metrics and log. Required. */
  context: UpstreamContext
}

interface Pending {
  id: string | number
  progressToken?: unknown
  started: number
}

interface Session {
  id: string | undefined
  transport: StreamableHTTPServerTransport
  child: StdioServer
  principal: Principal
  pending: Map<string | number, Pending>
  timer: NodeJS.Timeout | undefined
  ended: boolean
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function positive(value: number | undefined, fallback: number, name: string): number {
  const v = value ?? fallback
  if (!Number.isSafeInteger(v) || v <= 0) throw new TypeError(`options.${name} must be a positive integer`)
  return v
}

/**
 * Creates the upstream.
 *
 * @example
 * ```ts
 * const upstream = createStdioUpstream({ command: 'python', args: ['server.py'], env: { PATH: process.env.PATH ?? '' }, context })
 * ```
 */
export function createStdioUpstream(options: StdioUpstreamOptions): Upstream & { readonly processes: number } {
  if (typeof options?.command !== 'string' || options.command === '') throw new TypeError('options.command must be a non-empty string')
  if (options.context === undefined) throw new TypeError('options.context is required')
  const maxProcesses = positive(options.maxProcesses, 16, 'maxProcesses')
  const idleMs = positive(options.idleTimeoutMs, 300_000, 'idleTimeoutMs')
  const maxBytes = positive(options.maxMessageBytes, 16 * 1024 * 1024, 'maxMessageBytes')
  const maxPending = positive(options.maxPendingRequests, 1024, 'maxPendingRequests')
  const { context } = options
  const sessions = new Map<string, Session>()
  const starting = new Set<Session>()
  let closed = false

  const count = () => sessions.size + starting.size

  function touch(session: Session): void {
    if (session.timer !== undefined) clearTimeout(session.timer)
    session.timer = setTimeout(() => {
      // A request still being worked on is not idleness (a process may take long to start or answer);
      // the client gives up on it with notifications/cancelled, which clears it.
      if (session.pending.size > 0) return touch(session)
      context.log('info', 'stdio session idle: ended', { session: session.id })
      void end(session)
    }, idleMs)
    session.timer.unref()
  }

  /** Ends a session: pending requests answered, transport closed, process stopped, binding forgotten. */
  async function end(session: Session, reason = 'Session ended'): Promise<void> {
    if (session.ended) return
    session.ended = true
    if (session.timer !== undefined) clearTimeout(session.timer)
    for (const p of session.pending.values()) {
      await session.transport.send({ jsonrpc: '2.0', id: p.id, error: { code: UPSTREAM_ERROR_CODE, message: reason } } as JSONRPCMessage).catch(() => undefined)
    }
    session.pending.clear()
    starting.delete(session)
    if (session.id !== undefined) {
      sessions.delete(session.id)
      context.forgetSession(session.id)
    }
    await session.transport.close().catch(() => undefined)
    await session.child.stop()
  }

  /** Where a message from the child goes (`undefined`: the GET stream). */
  function relatedRequest(session: Session, message: Record<string, unknown>): string | number | undefined {
    const method = message.method
    if (method === 'notifications/progress') {
      const token = isObject(message.params) ? message.params.progressToken : undefined
      for (const p of session.pending.values()) if (p.progressToken !== undefined && p.progressToken === token) return p.id
      return undefined
    }
    if ('id' in message || method === 'notifications/message') {
      let latest: Pending | undefined
      for (const p of session.pending.values()) latest = p
      return latest?.id
    }
    return undefined
  }

  async function fromChild(session: Session, message: unknown): Promise<void> {
    if (session.ended || !isObject(message)) return
    touch(session)
    if (!('method' in message) && ('result' in message || 'error' in message)) {
      const id = message.id as string | number
      const pending = session.pending.get(id)
      if (pending === undefined) return // not a request of this client (or already answered)
      session.pending.delete(id)
      context.metrics.upstreamAnswered('stdio', 200, (performance.now() - pending.started) / 1000)
      const out = filterMessage(context.authz, session.principal, message, context.annotations) as JSONRPCMessage
      await session.transport.send(out).catch((err: Error) => context.log('warn', 'could not deliver a stdio response', { err: err.message, session: session.id }))
      return
    }
    const related = relatedRequest(session, message)
    try {
      await session.transport.send(message as JSONRPCMessage, related === undefined ? undefined : { relatedRequestId: related })
    } catch {
      // The request's stream is gone (answered or disconnected): the GET stream, or the event store, gets it.
      await session.transport.send(message as JSONRPCMessage).catch(() => undefined)
    }
  }

  function toChild(session: Session, message: JSONRPCMessage): void {
    if (session.ended) return
    touch(session)
    const id = requestIdOf(message)
    const m = message as { method?: unknown; params?: { requestId?: unknown } }
    if (m.method === 'notifications/cancelled' && (typeof m.params?.requestId === 'string' || typeof m.params?.requestId === 'number')) session.pending.delete(m.params.requestId)
    if (id !== undefined && session.pending.size >= maxPending) {
      context.metrics.upstreamFailed('stdio', 'busy')
      void session.transport.send({ jsonrpc: '2.0', id, error: { code: UPSTREAM_ERROR_CODE, message: 'Too many requests in flight' } } as JSONRPCMessage).catch(() => undefined)
      return
    }
    if (id !== undefined) {
      const params = (message as { params?: unknown }).params
      const meta = isObject(params) && isObject(params._meta) ? params._meta : undefined
      session.pending.set(id, { id, started: performance.now(), ...(meta?.progressToken !== undefined ? { progressToken: meta.progressToken } : {}) })
    }
    if (!session.child.send(message)) {
      context.metrics.upstreamFailed('stdio', 'busy')
      if (id !== undefined) {
        session.pending.delete(id)
        void session.transport.send({ jsonrpc: '2.0', id, error: { code: UPSTREAM_ERROR_CODE, message: 'Upstream busy or gone' } } as JSONRPCMessage).catch(() => undefined)
      }
    }
  }

  function open(verdict: ProxiedRequest['verdict']): Session {
    const session = {} as Session
    Object.assign(session, { id: undefined, principal: verdict.principal, pending: new Map(), timer: undefined, ended: false })
    session.transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: randomUUID,
      eventStore: new BoundedEventStore(),
      onsessioninitialized: (id) => {
        session.id = id
        starting.delete(session)
        sessions.set(id, session)
        const bound = (verdict.bindSession as (id: string) => boolean | void)(id)
        if (bound === false) void end(session, 'Too many sessions')
      },
    })
    session.child = spawnStdioServer({
      command: options.command,
      ...(options.args ? { args: options.args } : {}),
      ...(options.env ? { env: options.env } : {}),
      ...(options.cwd ? { cwd: options.cwd } : {}),
      maxLineBytes: maxBytes,
      maxQueuedBytes: maxBytes,
      ...(options.stopGraceMs !== undefined ? { stopGraceMs: options.stopGraceMs } : {}),
      onMessage: (m) => void fromChild(session, m),
      onStderr: (line) => context.log('info', 'stdio upstream stderr', { session: session.id, line }),
      onExit: (info) => {
        if (!session.ended) {
          context.metrics.upstreamFailed('stdio', info.error !== undefined ? 'spawn' : 'lost')
          context.log('warn', info.error !== undefined ? 'stdio upstream could not be started' : 'stdio upstream exited', { session: session.id, code: info.code, signal: info.signal, err: info.error?.message })
          void end(session, 'Upstream process exited')
        }
      },
    })
    session.transport.onmessage = (message) => toChild(session, message)
    session.transport.onclose = () => void end(session)
    starting.add(session)
    touch(session)
    return session
  }

  async function handle({ req, res, method, verdict, sessionId }: ProxiedRequest): Promise<void> {
    const message = verdict.message
    const id = requestIdOf(message)
    if (closed) return answerUpstreamFailure(res, 503, id, 'Proxy is shutting down', verdict.decisionId)
    let session: Session | undefined
    if (sessionId === undefined) {
      if (method !== 'POST' || (message as { method?: unknown } | undefined)?.method !== 'initialize') {
        const body = JSON.stringify({ jsonrpc: '2.0', id: id ?? null, error: { code: UPSTREAM_ERROR_CODE, message: 'Bad Request: Mcp-Session-Id header is required' } })
        res.writeHead(400, { 'content-type': 'application/json', ...verdict.headers }).end(body)
        return
      }
      if (count() >= maxProcesses) {
        context.metrics.upstreamFailed('stdio', 'busy')
        res.setHeader('retry-after', '30')
        return answerUpstreamFailure(res, 503, id, 'Too many sessions; try again later', verdict.decisionId)
      }
      session = open(verdict)
    } else {
      session = sessions.get(sessionId)
      if (session === undefined || session.ended) {
        context.forgetSession(sessionId)
        const body = JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: -32001, message: 'Session not found' } })
        res.writeHead(404, { 'content-type': 'application/json', ...verdict.headers }).end(body)
        return
      }
      // A fresh token of the same principal may carry other scopes: lists are filtered for the latest.
      session.principal = verdict.principal
      touch(session)
    }
    for (const [k, v] of Object.entries(verdict.headers)) res.setHeader(k, v)
    const opened = session
    try {
      await opened.transport.handleRequest(req, res, method === 'POST' ? message : undefined)
    } catch (err) {
      context.log('error', 'stdio bridge failure', { err: (err as Error).message, decision_id: verdict.decisionId })
      answerUpstreamFailure(res, 500, id, 'Proxy error', verdict.decisionId)
    }
    // initialize that did not create a session (refused by the transport): nothing to keep.
    if (opened.id === undefined && starting.has(opened)) await end(opened)
  }

  return {
    kind: 'stdio',
    get processes() {
      return count()
    },
    handle,
    async close() {
      closed = true
      await Promise.all([...sessions.values(), ...starting].map((s) => end(s, 'Proxy is shutting down')))
    },
  }
}
