/**
 * A tiny loopback HTTP server for the verification tests: counts requests (to prove that no
 * network call was made) and misbehaves on demand (down, slow, garbage, oversize). It stands in
 * for an authorization server only in fault tests; behaviour tests use the real one
 * (`authorization-server.ts`).
 *
 * @module
 */
import { createServer } from 'node:http'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

/** One recorded request. */
export interface RecordedRequest {
  method: string
  url: string
  headers: IncomingMessage['headers']
  body: string
}

/** Answers a request. May be async (e.g. to be slow). */
export type LoopbackHandler = (req: RecordedRequest, res: ServerResponse) => void | Promise<void>

/** A running loopback server. */
export interface LoopbackServer {
  /** `http://127.0.0.1:<port>`. */
  readonly url: string
  /** Requests received so far. */
  readonly requests: RecordedRequest[]
  /** Replaces the handler. */
  handle(handler: LoopbackHandler): void
  /** Stops the server, dropping open connections (slow handlers included). */
  close(): Promise<void>
}

/** Sends a JSON body. */
export function sendJson(res: ServerResponse, value: unknown, status = 200, contentType = 'application/json'): void {
  const body = JSON.stringify(value)
  res.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(body) })
  res.end(body)
}

/**
 * Starts a loopback server on 127.0.0.1 (ephemeral port).
 *
 * @example
 * ```ts
 * const jwksServer = await startLoopback((_req, res) => sendJson(res, jwks))
 * after(() => jwksServer.close())
 * ```
 */
export async function startLoopback(initial: LoopbackHandler = (_req, res) => sendJson(res, {}, 404)): Promise<LoopbackServer> {
  let handler = initial
  const requests: RecordedRequest[] = []
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const recorded = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') }
      requests.push(recorded)
      Promise.resolve(handler(recorded, res)).catch(() => res.destroy())
    })
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve())
  })
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    handle(next) {
      handler = next
    },
    async close() {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

/** A URL on 127.0.0.1 where nothing listens (connection refused). */
export async function closedPortUrl(): Promise<string> {
  const server = await startLoopback()
  const { url } = server
  await server.close()
  return url
}
