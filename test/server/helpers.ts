/**
 * Shared set-up of the endpoint tests: a real bundle (opa), a development-issuer key folder in a
 * temporary directory, and an app listening on 127.0.0.1:0.
 */
import { createServer, type Server } from 'node:http'
import { join } from 'node:path'
import { createAuthz, type Authz } from '../../src/authz.ts'
import { buildServer, type ServerOptions } from '../../src/server/app.ts'
import { DEV_ISSUER, ensureDevIssuer, mintDevToken } from '../../src/runtime/dev-issuer.ts'
import { createServerMetrics, type ServerMetrics } from '../../src/observability/prometheus.ts'
import { createTokenVerifier } from '../../src/verify/index.ts'
import { buildTestBundle } from '../helpers/bundle.ts'
import { tempDir } from '../helpers/temp.ts'

export const RESOURCE = 'http://127.0.0.1:8181/mcp'

export const quickData = {
  mcp_authz: {
    resource: RESOURCE,
    issuers: { [DEV_ISSUER]: { tenant: 'acme' } },
    defaults: { read_scope: 'notes:read', write_scope: 'notes:write' },
    tools: { notes_read: { scopes: ['notes:read'] }, notes_write: { scopes: ['notes:write'], arguments: { title: { required: true, max_length: 200 } } } },
  },
}

export interface Harness {
  url: string
  authz: Authz
  metrics: ServerMetrics
  token(scope: string): Promise<string>
  close(): Promise<void>
}

/** Starts an endpoint with the dev issuer trusted; options are passed to buildServer. */
export async function startHarness(options: Partial<ServerOptions> = {}, data: unknown = quickData): Promise<Harness> {
  const dir = await tempDir('mcp-authz-dev-')
  const { jwks } = await ensureDevIssuer(dir)
  const metrics = createServerMetrics({ processMetrics: false })
  const verifier = createTokenVerifier({ audience: RESOURCE, issuers: [{ issuer: DEV_ISSUER, jwks: jwks as never, algorithms: ['ES256'], tenant: 'acme' }] })
  const authz = await createAuthz({ bundle: await buildTestBundle(data), verifier, onDecision: metrics.observeDecision })
  const app = buildServer({ authz, verifier, metrics, ...options })
  const url = await app.listen({ host: '127.0.0.1', port: 0 })
  return { url, authz, metrics, token: (scope) => mintDevToken({ audience: RESOURCE, scope, dir }), close: () => app.close() }
}

/** JSON POST with a bounded wait. */
export async function post(url: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; json: any; headers: Headers }> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body), signal: AbortSignal.timeout(5000) })
  const text = await res.text()
  return { status: res.status, json: text === '' ? undefined : JSON.parse(text), headers: res.headers }
}

export const call = (name: string, args: Record<string, unknown> = {}) => ({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name, arguments: args } })

/** Polls `check` every 20 ms for at most `ms`. */
export async function eventually(check: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms
  while (!check()) {
    if (Date.now() > end) throw new Error('condition not met in time')
    await new Promise((r) => setTimeout(r, 20))
  }
}

/** A static bundle server with ETag / If-None-Match / 304, like a bundle service. */
export function bundleServer(): { server: Server; set(bytes: Uint8Array, etag: string): void; requests: Array<{ ifNoneMatch?: string; status: number }>; listen(): Promise<string> } {
  let current: { bytes: Uint8Array; etag: string } | undefined
  const requests: Array<{ ifNoneMatch?: string; status: number }> = []
  const server = createServer((req, res) => {
    const inm = req.headers['if-none-match']
    const status = current === undefined ? 404 : inm === current.etag ? 304 : 200
    requests.push({ ...(inm ? { ifNoneMatch: inm } : {}), status })
    if (status !== 200 || current === undefined) return res.writeHead(status).end()
    res.writeHead(200, { etag: current.etag, 'content-type': 'application/gzip', 'content-length': current.bytes.byteLength }).end(current.bytes)
  })
  return {
    server,
    requests,
    set(bytes, etag) {
      current = { bytes, etag }
    },
    listen: () =>
      new Promise((resolve) =>
        server.listen(0, '127.0.0.1', () => {
          const a = server.address() as { port: number }
          resolve(`http://127.0.0.1:${a.port}/bundles/mcp.tar.gz`)
        }),
      ),
  }
}

