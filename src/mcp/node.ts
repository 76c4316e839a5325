/**
 * node:http adapter: serves the RFC 9728 metadata, guards the MCP endpoint, and hands allowed
 * requests (with `req.auth` and the parsed body) to the Streamable HTTP transport.
 *
 * @module
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js'
import { createMcpHttpGuard, type HttpAnswer, type HttpPass, type McpHttpGuard, type McpHttpOptions } from './http.ts'

/** What receives an allowed request: typically `(req, res, body) => transport.handleRequest(req, res, body)`. */
export type McpRequestHandler = (req: IncomingMessage & { auth?: AuthInfo }, res: ServerResponse, body: unknown) => unknown

/** Options of {@link mcpAuthzHandler}. */
export interface NodeHandlerOptions extends McpHttpOptions {
  /** Receives every allowed request to the MCP path. Required. */
  handle: McpRequestHandler
  /** Answers requests to other paths. Default: 404. */
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
 * Records the session id the transport assigns (in the `initialize` response headers) as owned by
 * the principal. The SDK passes headers to `writeHead`, so that is where they are read.
 */
export function captureSession(res: ServerResponse, verdict: HttpPass): void {
  for (const [k, v] of Object.entries(verdict.headers)) res.setHeader(k, v)
  const writeHead = res.writeHead
  res.writeHead = function (this: ServerResponse, ...args: unknown[]) {
    const headers = args.find((a) => typeof a === 'object' && a !== null) as Record<string, unknown> | undefined
    const fromArgs = headers === undefined ? undefined : Object.entries(headers).find(([k]) => k.toLowerCase() === 'mcp-session-id')?.[1]
    const id = fromArgs ?? this.getHeader('mcp-session-id')
    if (typeof id === 'string') verdict.bindSession(id)
    return (writeHead as (...a: unknown[]) => ServerResponse).apply(this, args)
  } as typeof res.writeHead
}

/** Guards one request already routed to the MCP path; resolves to the verdict after answering refusals. */
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

/**
 * A `node:http` request listener: metadata at the RFC 9728 paths, the guarded MCP endpoint, 404 elsewhere.
 *
 * @example
 * ```ts
 * http.createServer(mcpAuthzHandler({ authz, handle: (req, res, body) => transport.handleRequest(req, res, body) })).listen(3000, '127.0.0.1')
 * ```
 */
export function mcpAuthzHandler(options: NodeHandlerOptions): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  if (typeof options?.handle !== 'function') throw new TypeError('options.handle must be a function')
  const guard = createMcpHttpGuard(options)
  const max = options.maxBodyBytes ?? 1_048_576
  return async (req, res) => {
    try {
      const pathname = new URL(req.url ?? '/', 'http://localhost').pathname
      if (serveMetadata(guard, req, res, pathname)) return
      if (pathname !== guard.path) {
        if (options.fallback) await options.fallback(req, res)
        else res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not_found"}')
        return
      }
      const verdict = await guardNodeRequest(guard, req, res, max)
      if (verdict !== undefined) await options.handle(req, res, verdict.message)
    } catch {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' }).end('{"error":"server_error"}')
      else res.end()
    }
  }
}
