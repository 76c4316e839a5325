/**
 * node:http adapter: serves the RFC 9728 metadata, guards the MCP endpoint, and hands allowed
 * requests (with `req.auth` and the parsed body) to the sessions helper or your handler.
 *
 * The MCP handler is wrapped, not a path: whatever reaches it has been verified and decided. Which
 * requests count as the MCP endpoint is decided generously — the path compared after
 * percent-decoding, case folding, dropping `;` parameters, dot segments, repeated and trailing
 * slashes — so a spelling that some router in `fallback` might still map to MCP is guarded rather
 * than passed on.
 *
 * @module
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js'
import { adapterParts, type McpAdapterOptions, type McpRequestHandler } from './adapter.ts'
import { reportError, type McpErrorHandler } from './errors.ts'
import { DECISION_ID_HEADER, type HttpAnswer, type HttpPass, type McpHttpGuard } from './http.ts'

export type { McpRequestHandler } from './adapter.ts'

/** Options of {@link mcpAuthzHandler}. */
export interface NodeHandlerOptions extends McpAdapterOptions {
  /** Answers requests to other paths (never an MCP request: those are all guarded). Default: 404. */
  fallback?: (req: IncomingMessage, res: ServerResponse) => unknown
}

/** Thrown by {@link readBody} when the body is larger than allowed. */
class BodyTooLarge extends Error {}

/** Reads a request body up to `max` bytes. */
export async function readBody(req: IncomingMessage, max: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'])
  if (Number.isFinite(declared) && declared > max) throw new BodyTooLarge()
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req) {
    size += (chunk as Buffer).length
    if (size > max) throw new BodyTooLarge()
    chunks.push(chunk as Buffer)
  }
  return Buffer.concat(chunks)
}

/** Writes a refusal. */
export function sendAnswer(res: ServerResponse, answer: HttpAnswer): void {
  res.writeHead(answer.status, answer.headers).end(answer.body)
}

/**
 * Sets the decision id header, records the session id the transport assigns (in the `initialize`
 * response headers) as owned by the principal, and tells the guard when the response ended. The
 * SDK passes headers to `writeHead`, so that is where they are read.
 */
export function captureSession(res: ServerResponse, verdict: HttpPass): void {
  for (const [k, v] of Object.entries(verdict.headers)) res.setHeader(k, v)
  res.once('close', () => verdict.done())
  const writeHead = res.writeHead
  res.writeHead = function (this: ServerResponse, ...args: unknown[]) {
    const headers = args.find((a) => typeof a === 'object' && a !== null) as Record<string, unknown> | undefined
    const fromArgs = headers === undefined ? undefined : Object.entries(headers).find(([k]) => k.toLowerCase() === 'mcp-session-id')?.[1]
    const id = fromArgs ?? this.getHeader('mcp-session-id')
    if (typeof id === 'string') verdict.bindSession(id)
    return (writeHead as (...a: unknown[]) => ServerResponse).apply(this, args)
  } as typeof res.writeHead
}

/** Guards one request already routed to the MCP handler; resolves to the verdict after answering refusals. */
export async function guardNodeRequest(guard: McpHttpGuard, req: IncomingMessage, res: ServerResponse, maxBodyBytes: number, parsedBody?: unknown): Promise<HttpPass | undefined> {
  let body: unknown = parsedBody
  if (req.method === 'POST') {
    try {
      // A body parsed upstream is held to the same bound, by its declared length.
      if (body !== undefined && Number(req.headers['content-length']) > maxBodyBytes) throw new BodyTooLarge()
      body ??= await readBody(req, maxBodyBytes)
    } catch (err) {
      const status = err instanceof BodyTooLarge ? 413 : 400
      sendAnswer(res, { pass: false, status, headers: { 'content-type': 'application/json', connection: 'close' }, body: JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: -32700, message: status === 413 ? 'Parse error: request body too large' : 'Parse error: unreadable body' } }) })
      return undefined
    }
  }
  const abort = new AbortController()
  const onClose = () => abort.abort()
  res.once('close', onClose)
  const verdict = await guard.authorize({ method: req.method ?? 'GET', url: req.url ?? '/', headers: req.headers, body, signal: abort.signal })
  res.off('close', onClose)
  if (!verdict.pass) {
    sendAnswer(res, verdict)
    return undefined
  }
  ;(req as IncomingMessage & { auth?: AuthInfo }).auth = verdict.authInfo
  captureSession(res, verdict)
  return verdict
}

/** The path of a request target (before `?` / `#`), never throwing. */
export function pathOf(url: string | undefined): string {
  const target = url ?? '/'
  let end = target.length
  const q = target.indexOf('?')
  if (q !== -1) end = q
  const h = target.indexOf('#')
  if (h !== -1 && h < end) end = h
  return target.slice(0, end)
}

/**
 * A path in the form used to tell whether a request is for the MCP endpoint: percent-decoded,
 * lower-cased, `\` read as `/`, `;` parameters, empty and `.` segments dropped, `..` applied.
 * Generous on purpose: anything a router might map to the endpoint compares equal.
 */
export function endpointPathKey(path: string): string {
  let decoded = path
  try {
    decoded = decodeURIComponent(path)
  } catch {
    // Malformed escapes: compare the raw path.
  }
  const out: string[] = []
  for (const raw of decoded.replaceAll('\\', '/').split('/')) {
    const semicolon = raw.indexOf(';')
    const segment = (semicolon === -1 ? raw : raw.slice(0, semicolon)).trim().toLowerCase()
    if (segment === '' || segment === '.') continue
    if (segment === '..') out.pop()
    else out.push(segment)
  }
  return `/${out.join('/')}`
}

/** Answers GET on a metadata path; `true` when it did. */
export function serveMetadata(guard: McpHttpGuard, req: IncomingMessage, res: ServerResponse, pathname: string): boolean {
  if (!guard.metadataPaths.includes(pathname)) return false
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { allow: 'GET, HEAD' }).end()
    return true
  }
  res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'public, max-age=300', 'access-control-allow-origin': '*' }).end(req.method === 'HEAD' ? undefined : JSON.stringify(guard.metadata()))
  return true
}

/** Reports a failure after the guard and answers 500 (with the decision id) if nothing was sent yet. */
export function handlerFailed(req: IncomingMessage, res: ServerResponse, error: unknown, onError: McpErrorHandler | undefined, verdict: HttpPass | undefined): void {
  const sessionId = req.headers['mcp-session-id']
  reportError(onError, error, {
    stage: 'handler',
    ...(verdict !== undefined ? { decisionId: verdict.decisionId } : {}),
    ...(req.method !== undefined ? { method: req.method } : {}),
    ...(typeof sessionId === 'string' ? { sessionId } : {}),
  })
  if (res.headersSent) {
    res.end()
    return
  }
  const headers: Record<string, string> = { 'content-type': 'application/json' }
  if (verdict !== undefined) headers[DECISION_ID_HEADER] = verdict.decisionId
  res.writeHead(500, headers).end(JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: -32603, message: 'Internal error', ...(verdict !== undefined ? { data: { decision_id: verdict.decisionId } } : {}) } }))
}

/**
 * A `node:http` request listener: metadata at the RFC 9728 paths, the guarded MCP endpoint, and
 * `fallback` (default 404) for everything else.
 *
 * @throws {TypeError} naming the option, when an option is invalid.
 * @example
 * ```ts
 * const sessions = createMcpSessions({ authz, createServer: () => createNotesServer() })
 * http.createServer(mcpAuthzHandler({ authz, sessions })).listen(3000, '127.0.0.1')
 * ```
 */
export function mcpAuthzHandler(options: NodeHandlerOptions): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  const { guard, handle, maxBodyBytes, onError } = adapterParts(options, true)
  if (options.fallback !== undefined && typeof options.fallback !== 'function') throw new TypeError('options.fallback must be a function')
  const endpoint = endpointPathKey(guard.path)
  return async (req, res) => {
    let verdict: HttpPass | undefined
    try {
      const pathname = pathOf(req.url)
      if (serveMetadata(guard, req, res, pathname)) return
      if (endpointPathKey(pathname) !== endpoint) {
        if (options.fallback) await options.fallback(req, res)
        else res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not_found"}\n')
        return
      }
      verdict = await guardNodeRequest(guard, req, res, maxBodyBytes)
      if (verdict !== undefined) await (handle as McpRequestHandler)(req, res, verdict.message)
    } catch (err) {
      handlerFailed(req, res, err, onError, verdict)
    }
  }
}
