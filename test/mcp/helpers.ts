/**
 * Shared set-up of the MCP surface tests: a real bundle (opa), a verifier that maps fixed test
 * tokens to principals, a real `McpServer` (with a tool that elicits, so a session has something
 * to answer), real SDK clients over Streamable HTTP on 127.0.0.1, and raw HTTP requests whose
 * path is sent exactly as written (fetch would normalise `/./mcp`).
 */
import { request as httpRequest, type IncomingHttpHeaders, type IncomingMessage } from 'node:http'
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js'
import { ElicitRequestSchema } from '@modelcontextprotocol/sdk/types.js'
import { z } from 'zod'
import type { CredentialVerifier } from '../../src/authz.ts'
import type { Principal } from '../../src/contracts/principal.ts'
import { getPrincipal, type McpSessions } from '../../src/mcp/index.ts'
import { staticPrincipal } from '../../src/verify/index.ts'

export const RESOURCE = 'https://notes.example.test/mcp'

/** Policy data listing every tool the test server has. */
export const data = {
  mcp_authz: {
    resource: RESOURCE,
    server_name: 'Notes',
    authorization_servers: ['https://as.example.test'],
    issuers: { 'https://as.example.test': {} },
    defaults: { read_scope: 'notes:read', write_scope: 'notes:write' },
    tools: {
      whoami: { scopes: ['notes:read'] },
      ask: { scopes: ['notes:read'] },
      notes_read: { scopes: ['notes:read'] },
      notes_write: { scopes: ['notes:write'], arguments: { folder: { enum: ['personal', 'work'] } } },
    },
  },
}

/** Principals by test token. */
export const principals: Record<string, Principal> = {
  'alice-token': staticPrincipal({ subject: 'alice', clientId: 'agent', scopes: ['notes:read'] }),
  'bob-token': staticPrincipal({ subject: 'bob', scopes: ['notes:read', 'notes:write'] }),
  'carol-token': staticPrincipal({ subject: 'carol', scopes: ['notes:read'] }),
}

/** Tokens `user-0-token` … map to principals `user-0` … (for many concurrent clients). */
export const verifier: CredentialVerifier = {
  async verify(token) {
    const known = principals[token]
    if (known !== undefined) return known
    const user = /^(user-\d{1,4})-token$/.exec(token)?.[1]
    if (user !== undefined) return staticPrincipal({ subject: user, scopes: ['notes:read'] })
    throw Object.assign(new Error('bad token'), { code: 'ERR_JWT_INVALID', status: 401 })
  },
}

/** The MCP server of each session: `whoami` (read-only), `ask` (elicits: a session has something to answer). */
export function createTestServer(): McpServer {
  const server = new McpServer({ name: 'notes-test', version: '1.0.0' }, { capabilities: {} })
  server.registerTool('whoami', { description: 'The caller', annotations: { readOnlyHint: true } }, async () => ({ content: [{ type: 'text', text: getPrincipal()?.subject ?? 'nobody' }] }))
  server.registerTool('ask', { description: 'Asks the user', inputSchema: { question: z.string() } }, async ({ question }) => {
    const answer = await server.server.elicitInput({ message: question, requestedSchema: { type: 'object', properties: { ok: { type: 'boolean' } } } })
    return { content: [{ type: 'text', text: `${getPrincipal()?.subject}:${answer.action}` }] }
  })
  return server
}

/** Connects an SDK client with a fixed bearer token; answers elicitations with `accept`. */
export async function connectClient(url: string, token: string): Promise<Client> {
  const client = new Client({ name: `test-${token}`, version: '1.0.0' }, { capabilities: { elicitation: {} } })
  client.setRequestHandler(ElicitRequestSchema, async () => ({ action: 'accept', content: { ok: true } }))
  await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: { authorization: `Bearer ${token}` } } }))
  return client
}

/** The session id of a connected client. */
export function sessionIdOf(client: Client): string {
  const id = (client.transport as StreamableHTTPClientTransport | undefined)?.sessionId
  if (id === undefined) throw new Error('client has no session')
  return id
}

/** What reached the MCP handler behind the guard. */
export interface Reached {
  method: string | undefined
  url: string | undefined
  subject: string | undefined
  sessionId: string | undefined
}

/** The same sessions helper, recording every request its handler receives. */
export function spySessions(sessions: McpSessions, reached: Reached[]): McpSessions {
  const spy = Object.create(sessions) as McpSessions & { handle: McpSessions['handle'] }
  Object.defineProperty(spy, 'handle', {
    value: (req: IncomingMessage & { auth?: AuthInfo }, res: Parameters<McpSessions['handle']>[1], body: unknown) => {
      const sessionId = req.headers['mcp-session-id']
      reached.push({ method: req.method, url: req.url, subject: (req.auth?.extra?.principal as Principal | undefined)?.subject, sessionId: typeof sessionId === 'string' ? sessionId : undefined })
      return sessions.handle(req, res, body)
    },
  })
  return spy
}

/** One raw HTTP exchange: the path is sent exactly as given. Bounded to 10 s. */
export function raw(base: string, method: string, path: string, headers: Record<string, string> = {}, body?: string): Promise<{ status: number; headers: IncomingHttpHeaders; body: string }> {
  const { hostname, port } = new URL(base)
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: hostname, port, method, path, headers: { ...(body !== undefined ? { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) } : {}), ...headers }, timeout: 10_000 }, (res) => {
      const chunks: Buffer[] = []
      // An SSE stream that was let through stays open: read what arrived and stop.
      const sse = (res.headers['content-type'] ?? '').includes('text/event-stream')
      if (sse) {
        res.destroy()
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: '' })
        return
      }
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }))
      res.on('error', reject)
    })
    req.on('timeout', () => req.destroy(new Error(`${method} ${path} timed out`)))
    req.on('error', reject)
    req.end(body)
  })
}

/** Headers of an MCP request (JSON and SSE accepted), with a token and a session id when given. */
export function mcpHeaders(token?: string, sessionId?: string): Record<string, string> {
  return {
    accept: 'application/json, text/event-stream',
    'mcp-protocol-version': '2025-11-25',
    ...(token !== undefined ? { authorization: `Bearer ${token}` } : {}),
    ...(sessionId !== undefined ? { 'mcp-session-id': sessionId } : {}),
  }
}

export const initialize = (id = 1) => JSON.stringify({ jsonrpc: '2.0', id, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } })

/** Polls `check` every 10 ms for at most `ms` (a bound, not a timing assertion). */
export async function eventually(check: () => boolean, ms = 10_000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms
  while (!check()) {
    if (Date.now() > end) throw new Error(`${what} not met within ${ms} ms`)
    await new Promise((r) => setTimeout(r, 10))
  }
}
