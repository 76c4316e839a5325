/**
 * A Streamable HTTP upstream, proxied at the HTTP level: the message the guard decided is sent as it
 * was decided (re-serialised from the parsed value, so the upstream parses exactly what the policy
 * saw), with the allowlisted MCP headers and the proxy's own identity headers; the answer streams
 * back. A JSON answer is read (bounded), its list results filtered, and re-serialised; an SSE answer
 * goes through {@link SseRewriter} with backpressure, event ids kept. The upstream's session ids
 * stay end to end, bound by the guard to the principal that opened them.
 *
 * Failures: unreachable → 502, no answer within `timeoutMs` → 504 (JSON-RPC error on the request's
 * id); the upstream refusing the proxy's credentials (401/403) → 502 (its `WWW-Authenticate` never
 * reaches the client); the upstream dying mid-stream → a JSON-RPC error event for the pending request
 * when the stream cannot be resumed (no event ids), else the stream closes and the client resumes.
 *
 * @module
 */
import { Agent as HttpAgent, request as httpRequest, type ClientRequest, type IncomingMessage } from 'node:http'
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https'
import { performance } from 'node:perf_hooks'
import { finished } from 'node:stream/promises'
import { filterMessage, isResponseTo } from './filter.ts'
import { clientResponseHeaders, mediaType, upstreamRequestHeaders } from './headers.ts'
import { SseRewriter } from './sse.ts'
import { answerUpstreamFailure, requestIdOf, UPSTREAM_ERROR_CODE, type ProxiedRequest, type Upstream, type UpstreamContext } from './upstream.ts'

/** Options of {@link createHttpUpstream}. */
export interface HttpUpstreamOptions {
  /** The upstream's Streamable HTTP endpoint. Required. */
  url: string
  /** Longest wait for the upstream's response headers (and a JSON answer as a whole), ms. Default 60000. */
  timeoutMs?: number
  /** An SSE stream silent this long is closed, ms. Default 600000. */
  streamIdleTimeoutMs?: number
  /** Largest JSON answer and largest SSE event, bytes. Default 16 MiB. */
  maxMessageBytes?: number
  /** Static headers for every upstream request (a static credential). Default none. */
  headers?: Record<string, string>
  /** The proxy's filtering, identity, metrics and log. Required. */
  context: UpstreamContext
}

class TooLarge extends Error {}

function positive(value: number | undefined, fallback: number, name: string): number {
  const v = value ?? fallback
  if (!Number.isSafeInteger(v) || v <= 0) throw new TypeError(`options.${name} must be a positive integer`)
  return v
}

/** Reads a whole body, bounded in bytes. */
async function readBounded(stream: IncomingMessage, max: number): Promise<Buffer> {
  const declared = Number(stream.headers['content-length'])
  if (Number.isFinite(declared) && declared > max) throw new TooLarge()
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of stream) {
    size += (chunk as Buffer).length
    if (size > max) throw new TooLarge()
    chunks.push(chunk as Buffer)
  }
  return Buffer.concat(chunks)
}

function responseOf(req: ClientRequest): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    req.once('response', resolve)
    req.once('error', reject)
  })
}

/** An SSE event carrying a JSON-RPC error for request `id`. */
function errorEvent(id: string | number, message: string, decisionId: string): string {
  return `event: message\ndata: ${JSON.stringify({ jsonrpc: '2.0', id, error: { code: UPSTREAM_ERROR_CODE, message, data: { decision_id: decisionId } } })}\n\n`
}

/**
 * Creates the upstream.
 *
 * @example
 * ```ts
 * const upstream = createHttpUpstream({ url: 'http://127.0.0.1:9000/mcp', context })
 * await upstream.handle({ req, res, method: 'POST', verdict })
 * ```
 */
export function createHttpUpstream(options: HttpUpstreamOptions): Upstream & { readonly active: number } {
  let target: URL
  try {
    target = new URL(options?.url)
  } catch {
    throw new TypeError('options.url must be an absolute http(s) URL')
  }
  if (target.protocol !== 'http:' && target.protocol !== 'https:') throw new TypeError('options.url must be an absolute http(s) URL')
  if (options.context === undefined) throw new TypeError('options.context is required')
  const timeoutMs = positive(options.timeoutMs, 60_000, 'timeoutMs')
  const idleMs = positive(options.streamIdleTimeoutMs, 600_000, 'streamIdleTimeoutMs')
  const maxBytes = positive(options.maxMessageBytes, 16 * 1024 * 1024, 'maxMessageBytes')
  const staticHeaders = { ...(options.headers ?? {}) }
  const { context } = options
  const secure = target.protocol === 'https:'
  const agent = secure ? new HttpsAgent({ keepAlive: true }) : new HttpAgent({ keepAlive: true })
  const send = secure ? httpsRequest : httpRequest
  const inFlight = new Set<ClientRequest>()
  let closed = false

  async function handle({ req, res, method, verdict, sessionId }: ProxiedRequest): Promise<void> {
    const { principal, decisionId } = verdict
    const message = verdict.message
    const id = requestIdOf(message)
    const isInitialize = method === 'POST' && (message as { method?: unknown } | undefined)?.method === 'initialize'
    if (closed) return answerUpstreamFailure(res, 503, id, 'Proxy is shutting down', decisionId)

    let identity: Record<string, string>
    try {
      identity = await context.identity(principal, decisionId)
    } catch (err) {
      context.log('error', 'could not build the upstream identity headers', { err: (err as Error).message, decision_id: decisionId })
      return answerUpstreamFailure(res, 500, id, 'Proxy error', decisionId)
    }
    const headers = upstreamRequestHeaders(req.headers, { ...staticHeaders, ...identity })
    let body: Buffer | undefined
    if (method === 'POST') {
      body = Buffer.from(JSON.stringify(message))
      headers['content-type'] = 'application/json'
      headers['content-length'] = String(body.length)
    }

    const started = performance.now()
    const upReq = send(target, { method, headers, agent })
    inFlight.add(upReq)
    // Failures are read where they matter (responseOf, finished, readBounded); never an unhandled 'error'.
    upReq.on('error', () => undefined)
    let timedOut = false
    const timer = setTimeout(() => {
      timedOut = true
      upReq.destroy(new Error('upstream timed out'))
    }, timeoutMs)
    // The client went away: the upstream request goes too (and with it any stream).
    const onClientClose = () => upReq.destroy()
    res.once('close', onClientClose)
    const cleanup = () => {
      clearTimeout(timer)
      inFlight.delete(upReq)
      res.off('close', onClientClose)
    }
    upReq.end(body)

    let upRes: IncomingMessage
    try {
      upRes = await responseOf(upReq)
    } catch (err) {
      cleanup()
      if (res.destroyed) return
      const reason = timedOut ? 'timeout' : 'connect'
      context.metrics.upstreamFailed('http', reason)
      context.log('warn', timedOut ? 'upstream did not answer in time' : 'upstream unreachable', { err: (err as Error).message, decision_id: decisionId })
      return answerUpstreamFailure(res, timedOut ? 504 : 502, id, timedOut ? 'Upstream timed out' : 'Upstream unavailable', decisionId)
    }
    upRes.on('error', () => undefined)
    const status = upRes.statusCode ?? 502
    context.metrics.upstreamAnswered('http', status, (performance.now() - started) / 1000)

    if (status === 401 || status === 403 || status === 407) {
      // The upstream refused the proxy's own credentials: the client's token is not at fault, and
      // the upstream's challenge must not send the client to another authorization server.
      upRes.resume()
      cleanup()
      context.metrics.upstreamFailed('http', 'refused')
      context.log('error', 'upstream refused the proxy (check proxy.upstream.headers / assertion)', { status, decision_id: decisionId })
      return answerUpstreamFailure(res, 502, id, 'Upstream refused the request', decisionId)
    }
    if (status === 404 && sessionId !== undefined) context.forgetSession(sessionId)

    const outHeaders = { ...clientResponseHeaders(upRes.headers), ...verdict.headers }
    const newSession = upRes.headers['mcp-session-id']
    if (isInitialize && status >= 200 && status < 300 && typeof newSession === 'string') {
      const bound = (verdict.bindSession as (id: string) => boolean | void)(newSession)
      if (bound === false) {
        upRes.resume()
        cleanup()
        void endUpstreamSession(newSession, headers)
        return answerUpstreamFailure(res, 503, id, 'Too many sessions; try again later', decisionId)
      }
    }

    if (mediaType(upRes.headers['content-type']) === 'text/event-stream' && status === 200) {
      clearTimeout(timer)
      upReq.setTimeout(idleMs, () => upReq.destroy(new Error('upstream stream idle')))
      await stream(upRes, upReq, res, outHeaders, id, verdict)
      cleanup()
      return
    }

    let raw: Buffer
    try {
      raw = await readBounded(upRes, maxBytes)
    } catch (err) {
      cleanup()
      upReq.destroy()
      if (res.destroyed) return
      const reason = err instanceof TooLarge ? 'too_large' : timedOut ? 'timeout' : 'lost'
      context.metrics.upstreamFailed('http', reason)
      context.log('warn', 'upstream answer unusable', { reason, decision_id: decisionId })
      return answerUpstreamFailure(res, reason === 'timeout' ? 504 : 502, id, reason === 'too_large' ? 'Upstream answer too large' : 'Upstream answer incomplete', decisionId)
    }
    cleanup()
    let out = raw
    if (mediaType(upRes.headers['content-type']) === 'application/json' && raw.length > 0) {
      let parsed: unknown
      try {
        parsed = JSON.parse(raw.toString('utf8'))
      } catch {
        context.metrics.upstreamFailed('http', 'bad_response')
        return answerUpstreamFailure(res, 502, id, 'Upstream answer is not JSON', decisionId)
      }
      const filtered = filterMessage(context.authz, principal, parsed, context.annotations)
      if (filtered !== parsed) out = Buffer.from(JSON.stringify(filtered))
    }
    if (res.destroyed) return
    res.writeHead(status, { ...outHeaders, 'content-length': String(out.length) }).end(out)
  }

  /** Streams an SSE answer through the rewriter; resolves when the client's response is over. */
  async function stream(upRes: IncomingMessage, upReq: ClientRequest, res: ProxiedRequest['res'], headers: Record<string, unknown>, id: string | number | undefined, verdict: ProxiedRequest['verdict']): Promise<void> {
    let answered = false
    const rewriter = new SseRewriter({
      maxEventBytes: maxBytes,
      map: (m) => {
        if (id !== undefined && isResponseTo(m, id)) answered = true
        return filterMessage(context.authz, verdict.principal, m, context.annotations)
      },
    })
    res.writeHead(200, headers as Record<string, string>)
    res.flushHeaders()
    rewriter.pipe(res)
    rewriter.once('error', (err) => {
      context.metrics.upstreamFailed('http', 'too_large')
      context.log('warn', 'upstream SSE event refused', { err: err.message, decision_id: verdict.decisionId })
      upReq.destroy()
      res.destroy()
    })
    upRes.pipe(rewriter, { end: false })
    try {
      await finished(upRes)
      rewriter.end()
    } catch {
      // The upstream died mid-stream (or the client left, which destroyed the upstream request).
      if (!res.destroyed) {
        context.metrics.upstreamFailed('http', 'lost')
        context.log('warn', 'upstream stream lost', { decision_id: verdict.decisionId })
      }
      upRes.unpipe(rewriter)
      rewriter.discardPartial()
      // Resumable (the client holds an event id): close and let it resume; else answer the request.
      if (id !== undefined && !answered && rewriter.lastEventId === undefined && !res.destroyed) rewriter.end(errorEvent(id, 'Upstream connection lost', verdict.decisionId))
      else rewriter.end()
    }
    if (!res.writableFinished && !res.destroyed) await finished(res).catch(() => undefined)
  }

  /** Best effort: ends an upstream session the proxy will not hand out. */
  async function endUpstreamSession(sessionId: string, headers: Record<string, string>): Promise<void> {
    const { 'content-length': _l, 'content-type': _t, ...rest } = headers
    const r = send(target, { method: 'DELETE', headers: { ...rest, 'mcp-session-id': sessionId }, agent, timeout: timeoutMs })
    r.on('response', (x) => x.resume()).on('error', () => undefined).on('timeout', () => r.destroy()).end()
  }

  return {
    kind: 'http',
    get active() {
      return inFlight.size
    },
    handle: async (request) => {
      try {
        await handle(request)
      } catch (err) {
        context.log('error', 'proxy failure', { err: (err as Error).message, decision_id: request.verdict.decisionId })
        answerUpstreamFailure(request.res, 502, requestIdOf(request.verdict.message), 'Upstream failure', request.verdict.decisionId)
      }
    },
    async close() {
      closed = true
      for (const r of inFlight) r.destroy()
      agent.destroy()
    },
  }
}
