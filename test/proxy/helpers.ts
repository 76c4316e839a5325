/**
 * Helpers of the proxy tests: real upstreams (the official Python SDK over Streamable HTTP and
 * stdio, in the virtual environment scripts/python-env.sh creates; a TypeScript SDK server), the
 * policy data they share, a proxy in front of them, and SDK clients that get their tokens from a
 * real oidc-provider (and step up on 403, as an interactive client does).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http'
import { connect } from 'node:net'
import type { AddressInfo } from 'node:net'
import { promisify } from 'node:util'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { ClientCredentialsProvider } from '@modelcontextprotocol/sdk/client/auth-extensions.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { McpServer, ResourceTemplate } from '@modelcontextprotocol/sdk/server/mcp.js'
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js'
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js'
import { z } from 'zod'
import { createAuthz, type Authz, type DecisionEvent } from '../../src/authz.ts'
import { createProxy, type Proxy, type ProxyOptions } from '../../src/proxy/index.ts'
import { createTokenVerifier } from '../../src/verify/index.ts'
import type { AuthorizationServer } from '../helpers/authorization-server.ts'
import { buildTestBundle } from '../helpers/bundle.ts'
import { freePort } from '../helpers/net.ts'

const run = promisify(execFile)
const ROOT = new URL('../../', import.meta.url).pathname
export const PYTHON_SERVER = new URL('./python/notes_server.py', import.meta.url).pathname
export const SCOPES = ['notes:read', 'notes:write', 'notes:admin']

let python: Promise<string> | undefined
/** The virtual environment's python (created once by scripts/python-env.sh; a few minutes the first time). */
export function pythonEnv(): Promise<string> {
  python ??= run('bash', [`${ROOT}scripts/python-env.sh`], { cwd: ROOT, timeout: 600_000 }).then(({ stdout }) => stdout.trim().split('\n').pop() as string)
  return python
}

/** Waits until something listens on 127.0.0.1:port, or throws after `timeoutMs`. */
export async function waitForPort(port: number, timeoutMs = 30_000, alive: () => boolean = () => true): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1')
      socket.once('connect', () => {
        socket.destroy()
        resolve(true)
      })
      socket.once('error', () => resolve(false))
    })
    if (ok) return
    if (!alive()) throw new Error(`the process meant to listen on ${port} exited`)
    if (Date.now() > deadline) throw new Error(`nothing listens on ${port} after ${timeoutMs} ms`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

/** Stops a child process and waits for its exit (SIGTERM, then SIGKILL after 5 s). */
export async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  child.kill('SIGTERM')
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
  await exited
  clearTimeout(timer)
}

/** A running upstream. */
export interface RunningUpstream {
  url: string
  /** Headers of every request the upstream received. */
  seenHeaders(): Promise<Array<Record<string, string>>>
  close(): Promise<void>
}

/** The Python notes server (official MCP SDK) over Streamable HTTP. */
export async function startPythonHttp(options: { json?: boolean; jwks?: string; issuer?: string; audience?: string } = {}): Promise<RunningUpstream & { process: ChildProcess }> {
  const py = await pythonEnv()
  const port = await freePort()
  const args = [PYTHON_SERVER, 'http', '--port', String(port)]
  if (options.json) args.push('--json')
  if (options.jwks) args.push('--jwks', options.jwks, '--issuer', options.issuer ?? '', '--audience', options.audience ?? '')
  const child = spawn(py, args, { stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr?.on('data', (d: Buffer) => {
    if (stderr.length < 20_000) stderr += d.toString()
  })
  try {
    await waitForPort(port, 60_000, () => child.exitCode === null)
  } catch (err) {
    child.kill('SIGKILL')
    throw new Error(`${(err as Error).message}\n${stderr}`)
  }
  const url = `http://127.0.0.1:${port}/mcp`
  return {
    url,
    process: child,
    async seenHeaders() {
      return (await (await fetch(`http://127.0.0.1:${port}/seen-headers`)).json()) as Array<Record<string, string>>
    },
    close: () => stopProcess(child),
  }
}

/** A TypeScript SDK notes server (McpServer, a transport per session) over Streamable HTTP. */
export async function startTsUpstream(options: { json?: boolean } = {}): Promise<RunningUpstream & { sessions: () => number }> {
  const seen: Array<Record<string, string>> = []
  const transports = new Map<string, StreamableHTTPServerTransport>()
  const build = () => {
    const server = new McpServer({ name: 'ts-notes', version: '1.0.0' })
    server.registerTool('notes_read', { inputSchema: { title: z.string() }, annotations: { readOnlyHint: true } }, async ({ title }) => ({ content: [{ type: 'text', text: `note ${title}` }] }))
    server.registerTool('notes_write', { inputSchema: { title: z.string(), body: z.string().optional() } }, async ({ title }) => ({ content: [{ type: 'text', text: `saved ${title}` }] }))
    server.registerTool('notes_delete', { inputSchema: { title: z.string() }, annotations: { destructiveHint: true } }, async ({ title }) => ({ content: [{ type: 'text', text: `deleted ${title}` }] }))
    server.registerTool('whoami', { annotations: { readOnlyHint: true } }, async (extra) => ({ content: [{ type: 'text', text: JSON.stringify({ headers: extra.requestInfo?.headers ?? {} }) }] }))
    server.registerTool('slow', { inputSchema: { ms: z.number() } }, async ({ ms }, extra) => {
      for (let i = 0; i < 3; i++) {
        await new Promise((r) => setTimeout(r, ms / 3))
        await extra.sendNotification({ method: 'notifications/message', params: { level: 'info', data: `step ${i}` } })
      }
      return { content: [{ type: 'text', text: 'done' }] }
    })
    server.registerResource('readme', 'notes://public/readme', {}, async (uri) => ({ contents: [{ uri: uri.href, text: 'public readme' }] }))
    server.registerResource('diary', 'notes://private/diary', {}, async (uri) => ({ contents: [{ uri: uri.href, text: 'private diary' }] }))
    server.registerResource('note', new ResourceTemplate('notes://public/{title}', { list: undefined }), {}, async (uri) => ({ contents: [{ uri: uri.href, text: 'a note' }] }))
    server.registerPrompt('summarize', {}, () => ({ messages: [{ role: 'user', content: { type: 'text', text: 'Summarize.' } }] }))
    server.registerPrompt('admin_prompt', {}, () => ({ messages: [{ role: 'user', content: { type: 'text', text: 'secret' } }] }))
    return server
  }
  const http: Server = createServer(async (req, res) => {
    seen.push(Object.fromEntries(Object.entries(req.headers as IncomingHttpHeaders).map(([k, v]) => [k, String(v)])))
    const chunks: Buffer[] = []
    for await (const c of req) chunks.push(c as Buffer)
    const body = chunks.length > 0 ? JSON.parse(Buffer.concat(chunks).toString()) : undefined
    const id = req.headers['mcp-session-id']
    let transport = typeof id === 'string' ? transports.get(id) : undefined
    if (transport === undefined) {
      if (typeof id === 'string' || !isInitializeRequest(body)) {
        res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: -32001, message: 'Session not found' } }))
        return
      }
      const created = new StreamableHTTPServerTransport({ sessionIdGenerator: randomUUID, enableJsonResponse: options.json ?? false, onsessioninitialized: (sid) => void transports.set(sid, created) })
      created.onclose = () => {
        if (created.sessionId !== undefined) transports.delete(created.sessionId)
      }
      await build().connect(created)
      transport = created
    }
    await transport.handleRequest(req, res, body)
  })
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve))
  const port = (http.address() as AddressInfo).port
  return {
    url: `http://127.0.0.1:${port}/mcp`,
    sessions: () => transports.size,
    async seenHeaders() {
      return seen
    },
    async close() {
      for (const t of transports.values()) await t.close().catch(() => undefined)
      http.closeAllConnections()
      await new Promise<void>((resolve) => http.close(() => resolve()))
    },
  }
}

/** The policy data of the proxy tests: every tool, resource and prompt used is listed (default deny). */
export function notesData(resource: string, issuer: string, extra: Record<string, unknown> = {}): unknown {
  return {
    mcp_authz: {
      resource,
      server_name: 'notes behind mcp-authz proxy',
      authorization_servers: [issuer],
      issuers: { [issuer]: {} },
      defaults: { read_scope: 'notes:read', write_scope: 'notes:write', unlisted_tools: 'deny', unlisted_resources: 'deny', unlisted_prompts: 'deny' },
      tools: {
        notes_read: { scopes: ['notes:read'] },
        notes_write: { scopes: ['notes:write'], arguments: { title: { pattern: '^[a-z]+$' } } },
        notes_delete: { scopes: ['notes:admin'] },
        whoami: { scopes: ['notes:read'] },
        slow: { scopes: ['notes:read'] },
      },
      resources: [{ prefix: 'notes://public/', scopes: ['notes:read'] }],
      prompts: { summarize: { scopes: ['notes:read'] } },
      ...extra,
    },
  }
}

/** A proxy listening on 127.0.0.1 (port chosen first: it is in the resource URI). */
export interface RunningProxy {
  proxy: Proxy
  authz: Authz
  url: string
  resource: string
  events: DecisionEvent[]
  close(): Promise<void>
}

/** Builds the bundle for `data(resource)`, an engine that trusts `as`, and a proxy in front of `upstream`. */
export async function startTestProxy(as: AuthorizationServer | undefined, upstream: ProxyOptions['upstream'], options: Partial<ProxyOptions> & { data?: (resource: string, issuer: string) => unknown; port?: number } = {}): Promise<RunningProxy> {
  const port = options.port ?? (await freePort())
  const resource = `http://127.0.0.1:${port}/mcp`
  const issuer = as?.issuer ?? 'http://127.0.0.1:1/unused'
  const bundle = await buildTestBundle(options.data?.(resource, issuer) ?? notesData(resource, issuer))
  const events: DecisionEvent[] = []
  const verifier = as === undefined ? undefined : createTokenVerifier({ audience: resource, issuers: [{ issuer: as.issuer, jwksUri: as.jwksUri, requiredClaims: ['client_id'] }] })
  const authz = await createAuthz({ bundle, ...(verifier ? { verifier } : {}), onDecision: (e) => events.push(e) })
  const { data: _data, port: _port, ...rest } = options
  const proxy = await createProxy({ authz, upstream, ...rest })
  await proxy.app.listen({ host: '127.0.0.1', port })
  return { proxy, authz, url: resource, resource, events, close: () => proxy.close() }
}

/** SDK 1.32's client_credentials flow requests `clientMetadata.scope` only; this adds the scopes a 403 challenged. */
class SteppingUpProvider extends ClientCredentialsProvider {
  readonly extra = new Set<string>()
  override get clientMetadata() {
    const base = super.clientMetadata
    return { ...base, scope: [...new Set([...(base.scope ?? '').split(' ').filter(Boolean), ...this.extra])].join(' ') }
  }
}

/** An SDK client through the proxy, authenticating at `as` as `clientId` (secret `<id>-secret`) with `scope`. */
export async function connectClient(url: string, as: AuthorizationServer, clientId: string, scope: string): Promise<{ client: Client; transport: StreamableHTTPClientTransport; tokens: () => string[] }> {
  const provider = new SteppingUpProvider({ clientId, clientSecret: `${clientId}-secret`, scope, expectedIssuer: as.issuer })
  const tokens: string[] = []
  const fetchFn: typeof fetch = async (input, init) => {
    const auth = new Headers(init?.headers).get('authorization')
    if (auth?.startsWith('Bearer ') && !tokens.includes(auth.slice(7))) tokens.push(auth.slice(7))
    const res = await fetch(input, init)
    const challenge = res.status === 403 ? (res.headers.get('www-authenticate') ?? '') : ''
    if (/error="insufficient_scope"/.test(challenge)) for (const s of /scope="([^"]*)"/.exec(challenge)?.[1]?.split(' ') ?? []) provider.extra.add(s)
    return res
  }
  const client = new Client({ name: `proxy-e2e-${clientId}`, version: '1.0.0' })
  const transport = new StreamableHTTPClientTransport(new URL(url), { authProvider: provider, fetch: fetchFn })
  await client.connect(transport)
  return { client, transport, tokens: () => tokens }
}
