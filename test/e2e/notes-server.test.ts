// The notes example end to end: the SDK's real Client and StreamableHTTPClientTransport over
// 127.0.0.1, tokens from a real oidc-provider (client_credentials, RFC 8707 resource indicators).
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { freePort } from '../helpers/net.ts'
import { after, before, describe, it } from 'node:test'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { ClientCredentialsProvider } from '@modelcontextprotocol/sdk/client/auth-extensions.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { McpError } from '@modelcontextprotocol/sdk/types.js'
import { createAuthz } from '../../src/authz.ts'
import type { DecisionEvent } from '../../src/authz.ts'
import { createTokenVerifier } from '../../src/verify/index.ts'
import { startNotesServer, type RunningNotesServer } from '../../examples/notes-server/server.ts'
import { startAuthorizationServer, type AuthorizationServer } from '../helpers/authorization-server.ts'
import { buildTestBundle } from '../helpers/bundle.ts'

const SCOPES = ['notes:read', 'notes:write', 'notes:admin']


let as: AuthorizationServer
let notes: RunningNotesServer
let resource: string
const events: DecisionEvent[] = []
const clients: Client[] = []

/**
 * SDK 1.32's client_credentials flow requests `clientMetadata.scope`, not the scope of a 403
 * challenge (only the authorization-code flow uses that). This provider adds the challenged scopes,
 * read from the 403 `WWW-Authenticate` by a fetch wrapper — what an interactive client does.
 */
class SteppingUpProvider extends ClientCredentialsProvider {
  readonly extra = new Set<string>()
  override get clientMetadata() {
    const base = super.clientMetadata
    return { ...base, scope: [...new Set([...(base.scope ?? '').split(' ').filter(Boolean), ...this.extra])].join(' ') }
  }
}

async function connect(clientId: string, scope: string): Promise<Client> {
  const provider = new SteppingUpProvider({ clientId, clientSecret: `${clientId}-secret`, scope, expectedIssuer: as.issuer })
  const fetchFn: typeof fetch = async (input, init) => {
    const res = await fetch(input, init)
    const challenge = res.status === 403 ? (res.headers.get('www-authenticate') ?? '') : ''
    if (/error="insufficient_scope"/.test(challenge)) for (const s of /scope="([^"]*)"/.exec(challenge)?.[1]?.split(' ') ?? []) provider.extra.add(s)
    return res
  }
  const client = new Client({ name: `e2e-${clientId}`, version: '1.0.0' })
  await client.connect(new StreamableHTTPClientTransport(new URL(notes.url), { authProvider: provider, fetch: fetchFn }))
  clients.push(client)
  return client
}

before(async () => {
  const port = await freePort()
  resource = `http://127.0.0.1:${port}/mcp`
  as = await startAuthorizationServer({
    resources: { [resource]: { scopes: SCOPES } },
    clients: ['reader', 'writer', 'admin-agent'].map((id) => ({ clientId: id, clientSecret: `${id}-secret`, scopes: SCOPES })),
  })
  const template = await readFile(new URL('../fixtures/mcp-notes-data.json', import.meta.url), 'utf8')
  const data = JSON.parse(template.replaceAll('${RESOURCE}', resource).replaceAll('${ISSUER}', as.issuer))
  const bundle = await buildTestBundle(data)
  const verifier = createTokenVerifier({ audience: resource, issuers: [{ issuer: as.issuer, jwksUri: as.jwksUri, requiredClaims: ['client_id'] }] })
  const authz = await createAuthz({ bundle, verifier, onDecision: (e) => events.push(e) })
  notes = await startNotesServer(authz, { port })
})

after(async () => {
  for (const c of clients) await c.close().catch(() => {})
  await notes?.close()
  await as?.close()
})

describe('notes server over Streamable HTTP with oidc-provider tokens', () => {
  it('a client without a token is told where to authenticate (401 → metadata → authorization server)', async () => {
    const res = await fetch(notes.url, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }) })
    assert.equal(res.status, 401)
    const challenge = res.headers.get('www-authenticate') ?? ''
    assert.match(challenge, /^Bearer /)
    assert.doesNotMatch(challenge, /error=/, 'no credential sent: bare challenge')
    assert.ok(res.headers.get('mcp-authz-decision-id'))
    const metadataUrl = /resource_metadata="([^"]+)"/.exec(challenge)?.[1]
    assert.equal(metadataUrl, `${new URL(resource).origin}/.well-known/oauth-protected-resource/mcp`)
    const metadata = (await (await fetch(metadataUrl!)).json()) as Record<string, unknown>
    assert.equal(metadata.resource, resource)
    assert.deepEqual(metadata.authorization_servers, [as.issuer])
    assert.deepEqual(metadata.bearer_methods_supported, ['header'])
    assert.deepEqual(metadata.scopes_supported, SCOPES.slice().sort())
    const asMetadata = (await (await fetch(`${as.issuer}/.well-known/openid-configuration`)).json()) as Record<string, unknown>
    assert.equal(asMetadata.issuer, as.issuer)
    assert.ok(asMetadata.token_endpoint)
  })

  it('an invalid token gets 401 invalid_token with resource_metadata and scope', async () => {
    const res = await fetch(notes.url, { method: 'POST', headers: { authorization: 'Bearer not-a-token', 'content-type': 'application/json', accept: 'application/json, text/event-stream' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }) })
    assert.equal(res.status, 401)
    assert.match(res.headers.get('www-authenticate') ?? '', /error="invalid_token".*scope="notes:read".*resource_metadata=/)
  })

  it('the SDK client discovers, authenticates and calls a tool; getPrincipal() sees the caller', async () => {
    const client = await connect('writer', 'notes:read notes:write')
    const saved = await client.callTool({ name: 'notes_write', arguments: { title: 'groceries', body: 'milk', folder: 'personal' } })
    assert.equal(saved.isError, undefined)
    const read = await client.callTool({ name: 'notes_read', arguments: { title: 'groceries' } })
    assert.deepEqual(read.content, [{ type: 'text', text: 'milk' }])
    const prompt = await client.getPrompt({ name: 'summarize_notes', arguments: {} })
    assert.match(JSON.stringify(prompt.messages), /groceries/)
    const resources = await client.listResources()
    assert.deepEqual(resources.resources.map((r) => r.uri), ['notes://groceries'])
  })

  it('step-up: a read-scoped token calling notes_write gets 403 insufficient_scope, re-authorizes with notes:write, and succeeds', async () => {
    const tokensBefore = as.counts.token
    const client = await connect('reader', 'notes:read')
    const stepUps = events.length
    const result = await client.callTool({ name: 'notes_write', arguments: { title: 'step-up', body: 'ok' } })
    assert.deepEqual(result.content, [{ type: 'text', text: 'saved step-up' }])
    const denied = events.slice(stepUps).find((e) => e.httpStatus === 403)
    assert.ok(denied, 'the first attempt was refused with 403')
    assert.deepEqual(denied.result.required_scopes, ['notes:write'])
    assert.ok(as.counts.token >= tokensBefore + 2, 'a second token was requested')
  })

  it('two principals see different tools/list results', async () => {
    const reader = await connect('reader', 'notes:read')
    const admin = await connect('admin-agent', 'notes:read notes:write notes:admin')
    const names = async (c: Client) => (await c.listTools()).tools.map((t) => t.name).sort()
    assert.deepEqual(await names(reader), ['notes_read'])
    assert.deepEqual(await names(admin), ['notes_delete', 'notes_read', 'notes_write'])
  })

  it('a denied argument gets a JSON-RPC error carrying a decision id (not an isError result)', async () => {
    const client = await connect('writer', 'notes:read notes:write')
    const err = await client.callTool({ name: 'notes_write', arguments: { title: 'x', folder: 'secret' } }).then(() => undefined, (e: unknown) => e)
    assert.ok(err instanceof McpError, `expected McpError, got ${String(err)}`)
    assert.equal(err.code, -32003)
    const decisionId = (err.data as { decision_id?: string }).decision_id
    assert.ok(decisionId)
    const logged = events.find((e) => e.decisionId === decisionId)
    assert.ok(logged?.result.reasons.some((r) => r.code === 'argument_denied'))
    assert.equal(JSON.stringify(logged).includes('Bearer'), false)
  })

  it('a session id presented by another principal is refused as unknown (404)', async () => {
    const owner = await connect('writer', 'notes:read notes:write')
    const sessionId = (owner.transport as StreamableHTTPClientTransport).sessionId
    assert.ok(sessionId)
    const token = await as.token('reader', { resource, scope: 'notes:read' })
    const res = await fetch(notes.url, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'mcp-session-id': sessionId, 'mcp-protocol-version': '2025-11-25', 'content-type': 'application/json', accept: 'application/json, text/event-stream' }, body: JSON.stringify({ jsonrpc: '2.0', id: 9, method: 'tools/list' }) })
    assert.equal(res.status, 404)
    const getRes = await fetch(notes.url, { headers: { authorization: `Bearer ${token}`, 'mcp-session-id': sessionId, accept: 'text/event-stream' } })
    assert.equal(getRes.status, 404)
    const anonymous = await fetch(notes.url, { method: 'DELETE', headers: { 'mcp-session-id': sessionId } })
    assert.equal(anonymous.status, 401)
    // The session still works for its owner.
    assert.ok((await owner.listTools()).tools.length > 0)
  })

  it('no decision event ever holds an access token', async () => {
    const token = await as.token('writer', { resource, scope: 'notes:read' })
    const res = await fetch(notes.url, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } }) })
    assert.equal(res.status, 200)
    await res.body?.cancel()
    const logged = JSON.stringify(events)
    assert.equal(logged.includes(token), false)
    assert.equal(logged.includes(token.split('.')[2] ?? '-'), false, 'not even the signature')
  })
})
