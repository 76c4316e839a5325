// Streamable HTTP enforcement: what a client sees from the guard through each adapter (node:http,
// Express, Fastify) — challenges, refusals, JSON-RPC errors, metadata, and what reaches the transport.
import assert from 'node:assert/strict'
import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, describe, it } from 'node:test'
import express from 'express'
import Fastify from 'fastify'
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js'
import { createAuthz, type Authz, type CredentialVerifier } from '../../src/authz.ts'
import { mcpAuthzExpress, mcpAuthzFastify, mcpAuthzHandler, protectedResourceMetadata } from '../../src/mcp/index.ts'
import { staticPrincipal } from '../../src/verify/index.ts'
import { buildTestBundle } from '../helpers/bundle.ts'

const RESOURCE = 'https://notes.example.test/mcp'
const data = {
  mcp_authz: {
    resource: RESOURCE,
    server_name: 'Notes',
    authorization_servers: ['https://as.example.test'],
    issuers: { 'https://as.example.test': {} },
    defaults: { read_scope: 'notes:read', write_scope: 'notes:write' },
    tools: {
      notes_read: { scopes: ['notes:read'] },
      notes_write: { scopes: ['notes:write'], arguments: { folder: { enum: ['personal', 'work'] } } },
      notes_delete: { scopes: ['notes:admin'] },
    },
  },
}
const principals = {
  'reader-token': staticPrincipal({ subject: 'alice', clientId: 'agent', scopes: ['notes:read'] }),
  'writer-token': staticPrincipal({ subject: 'bob', scopes: ['notes:read', 'notes:write'] }),
}
const verifier: CredentialVerifier = {
  async verify(token) {
    const p = principals[token as keyof typeof principals]
    if (p === undefined) throw Object.assign(new Error('bad token'), { code: 'ERR_JWT_INVALID', status: 401 })
    return p
  },
}

let authz: Authz
const seen: Array<{ auth: AuthInfo | undefined; body: unknown; method: string | undefined }> = []
const servers: Server[] = []
const apps: Array<{ close(): Promise<unknown> }> = []

async function listen(handler: Parameters<typeof createServer>[1]): Promise<string> {
  const server = createServer(handler)
  servers.push(server)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

const record = (req: IncomingMessage & { auth?: AuthInfo }, body: unknown) => void seen.push({ auth: req.auth, body, method: req.method })
const call = (name: string, args: Record<string, unknown> = {}, id: string | number = 7) => JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: args } })

function post(base: string, body: string, token?: string, path = '/mcp'): Promise<Response> {
  return fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...(token ? { authorization: `Bearer ${token}` } : {}) }, body })
}

let bases: Record<'node' | 'express' | 'fastify', string>

before(async () => {
  authz = await createAuthz({ bundle: await buildTestBundle(data), verifier })
  const node = await listen(mcpAuthzHandler({ authz, rootMetadata: true, maxBodyBytes: 4096, handle: (req, res, body) => { record(req, body); res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}') } }))
  const app = express()
  app.use(express.json())
  // The documented wiring: metadata application-wide, the guard on the MCP route, your handler after it.
  const mcp = mcpAuthzExpress({ authz, maxBodyBytes: 4096, rootMetadata: true })
  app.use(mcp.metadata)
  app.all('/mcp', mcp, (req, res) => { record(req as IncomingMessage & { auth?: AuthInfo }, req.body); res.json({ ok: true }) })
  const ex = await listen(app)
  const fastify = Fastify()
  await fastify.register(mcpAuthzFastify, { authz, maxBodyBytes: 4096, handle: (req, res, body) => { record(req, body); res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}') } })
  await fastify.listen({ port: 0, host: '127.0.0.1' })
  apps.push(fastify)
  bases = { node, express: ex, fastify: `http://127.0.0.1:${(fastify.server.address() as AddressInfo).port}` }
})

after(async () => {
  for (const s of servers) { s.closeAllConnections(); await new Promise((r) => s.close(r)) }
  for (const a of apps) await a.close()
})

describe('RFC 9728 metadata', () => {
  it('is built from the bundle data: every scope named, header bearer method, resource name', () => {
    assert.deepEqual(protectedResourceMetadata(authz.bundle.config), {
      resource: RESOURCE,
      authorization_servers: ['https://as.example.test'],
      scopes_supported: ['notes:admin', 'notes:read', 'notes:write'],
      bearer_methods_supported: ['header'],
      resource_name: 'Notes',
    })
  })

  for (const adapter of ['node', 'express', 'fastify'] as const) {
    it(`${adapter}: served as JSON on GET at /.well-known/oauth-protected-resource/mcp`, async () => {
      const res = await fetch(`${bases[adapter]}/.well-known/oauth-protected-resource/mcp`)
      assert.equal(res.status, 200)
      assert.match(res.headers.get('content-type') ?? '', /application\/json/)
      assert.equal(((await res.json()) as { resource: string }).resource, RESOURCE)
    })
  }

  it('node: a token in a form body is never read (401 as without a token)', async () => {
    const res = await fetch(`${bases.node}/mcp`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'access_token=reader-token' })
    assert.equal(res.status, 401)
    assert.doesNotMatch(res.headers.get('www-authenticate') ?? '', /error=/)
  })

  it('node: also at the root when configured', async () => {
    const res = await fetch(`${bases.node}/.well-known/oauth-protected-resource`)
    assert.equal(res.status, 200)
  })
})

for (const adapter of ['node', 'express', 'fastify'] as const) {
  describe(`${adapter} adapter`, () => {
    it('no token: 401 with a bare Bearer challenge (scope, resource_metadata) and a decision id header', async () => {
      const res = await post(bases[adapter], call('notes_read'))
      assert.equal(res.status, 401)
      assert.equal(res.headers.get('www-authenticate'), 'Bearer scope="notes:read", resource_metadata="https://notes.example.test/.well-known/oauth-protected-resource/mcp"')
      assert.match(res.headers.get('mcp-authz-decision-id') ?? '', /^[0-9a-f-]{36}$/)
      // RFC 6750 § 3.1: no credentials sent, no error code claimed — in the body either.
      assert.deepEqual(await res.json(), { error_description: 'Authentication required' })
    })

    it('a bad token: 401 invalid_token', async () => {
      const res = await post(bases[adapter], call('notes_read'), 'forged')
      assert.equal(res.status, 401)
      assert.match(res.headers.get('www-authenticate') ?? '', /^Bearer error="invalid_token"/)
      assert.equal(((await res.json()) as { error: string }).error, 'invalid_token')
    })

    it('a token in the query string: 400 invalid_request, even with a good header', async () => {
      const res = await post(bases[adapter], call('notes_read'), 'reader-token', '/mcp?access_token=reader-token')
      assert.equal(res.status, 400)
      assert.match(res.headers.get('www-authenticate') ?? '', /error="invalid_request"/)
    })

    it('missing scope: 403 insufficient_scope naming the scope, with resource_metadata', async () => {
      const res = await post(bases[adapter], call('notes_write', { title: 'x' }), 'reader-token')
      assert.equal(res.status, 403)
      assert.match(res.headers.get('www-authenticate') ?? '', /^Bearer error="insufficient_scope", error_description="[^"]+", scope="notes:write", resource_metadata="https:\/\/notes\.example\.test\/\.well-known\/oauth-protected-resource\/mcp"$/)
    })

    it('denied otherwise: HTTP 200 JSON-RPC error for that id, generic message, decision id', async () => {
      const res = await post(bases[adapter], call('notes_write', { folder: 'secret' }, 'req-9'), 'writer-token')
      assert.equal(res.status, 200)
      const body = (await res.json()) as { id: unknown; error: { code: number; message: string; data: { decision_id: string } } }
      assert.equal(body.id, 'req-9')
      assert.equal(body.error.code, -32003)
      assert.equal(body.error.message, 'Forbidden')
      assert.equal(body.error.data.decision_id, res.headers.get('mcp-authz-decision-id'))
    })

    it('malformed JSON-RPC: 400 with the JSON-RPC error', async () => {
      const res = await post(bases[adapter], JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: {} }), 'reader-token')
      assert.equal(res.status, 400)
      assert.equal(((await res.json()) as { error: { code: number } }).error.code, -32602)
    })

    it('a body over the limit: 413', async () => {
      const res = await post(bases[adapter], call('notes_read', { pad: 'x'.repeat(8000) }), 'reader-token')
      assert.equal(res.status, 413)
    })

    it('allowed: the transport gets the parsed message and req.auth (the SDK AuthInfo with the principal)', async () => {
      seen.length = 0
      const res = await post(bases[adapter], call('notes_read'), 'reader-token')
      assert.equal(res.status, 200)
      assert.ok(res.headers.get('mcp-authz-decision-id'))
      const [hit] = seen
      assert.deepEqual(hit?.body, JSON.parse(call('notes_read')))
      assert.equal(hit?.auth?.token, 'reader-token')
      assert.equal(hit?.auth?.clientId, 'agent')
      assert.deepEqual(hit?.auth?.scopes, ['notes:read'])
      assert.equal(hit?.auth?.resource?.href, RESOURCE)
      assert.equal((hit?.auth?.extra?.principal as { subject: string }).subject, 'alice')
    })

    it('GET (SSE stream) and DELETE are authenticated too', async () => {
      assert.equal((await fetch(`${bases[adapter]}/mcp`, { headers: { accept: 'text/event-stream' } })).status, 401)
      assert.equal((await fetch(`${bases[adapter]}/mcp`, { method: 'DELETE' })).status, 401)
      seen.length = 0
      const res = await fetch(`${bases[adapter]}/mcp`, { headers: { accept: 'text/event-stream', authorization: 'Bearer reader-token' } })
      assert.equal(res.status, 200)
      assert.equal(seen[0]?.method, 'GET')
      assert.equal(seen[0]?.body, undefined)
    })

    it('an unknown session id is refused before the transport sees it (404)', async () => {
      const res = await fetch(`${bases[adapter]}/mcp`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer reader-token', 'mcp-session-id': 'guessed' }, body: call('notes_read') })
      assert.equal(res.status, 404)
    })
  })
}
