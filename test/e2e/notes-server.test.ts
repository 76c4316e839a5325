// The notes example end to end: the SDK's real Client and StreamableHTTPClientTransport over
// 127.0.0.1, tokens from a real oidc-provider (client_credentials, RFC 8707 resource indicators).
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { freePort } from '../helpers/net.ts'
import { tempDir } from '../helpers/temp.ts'
import { after, before, describe, it } from 'node:test'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { ClientCredentialsProvider } from '@modelcontextprotocol/sdk/client/auth-extensions.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { McpError } from '@modelcontextprotocol/sdk/types.js'
import { createAuthz } from '../../src/authz.ts'
import type { DecisionEvent } from '../../src/authz.ts'
import { createTokenVerifier } from '../../src/verify/index.ts'
import { startNotesServer, type RunningNotesServer } from '../../examples/notes-server/server.ts'
import { loadNotesConfig, notesPolicyData } from '../../examples/notes-server/config.ts'
import { startAuthorizationServer, type AuthorizationServer } from '../helpers/authorization-server.ts'
import { buildTestBundle } from '../helpers/bundle.ts'

const SCOPES = ['notes:read', 'notes:write', 'notes:admin']


let as: AuthorizationServer
let notes: RunningNotesServer
let resource: string
/** Resources main.ts may listen for: a port found free can be taken by another test before the process binds it, so there are spares. */
let mainResources: string[]
let authz: Awaited<ReturnType<typeof createAuthz>>
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
  mainResources = [`http://127.0.0.1:${await freePort()}/mcp`, `http://127.0.0.1:${await freePort()}/mcp`, `http://127.0.0.1:${await freePort()}/mcp`]
  as = await startAuthorizationServer({
    resources: { [resource]: { scopes: SCOPES }, ...Object.fromEntries(mainResources.map((r) => [r, { scopes: SCOPES }])) },
    clients: ['reader', 'writer', 'admin-agent'].map((id) => ({ clientId: id, clientSecret: `${id}-secret`, scopes: SCOPES })),
  })
  const template = await readFile(new URL('../fixtures/mcp-notes-data.json', import.meta.url), 'utf8')
  const data = JSON.parse(template.replaceAll('${RESOURCE}', resource).replaceAll('${ISSUER}', as.issuer))
  const bundle = await buildTestBundle(data)
  const verifier = createTokenVerifier({ audience: resource, issuers: [{ issuer: as.issuer, jwksUri: as.jwksUri, requiredClaims: ['client_id'] }] })
  authz = await createAuthz({ bundle, verifier, onDecision: (e) => events.push(e) })
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

describe('notes server: many clients, sessions freed', () => {
  it('several SDK clients at once, each with its own session and its own notes', async () => {
    const ids = ['reader', 'writer', 'admin-agent']
    const clients = await Promise.all(ids.map((id) => connect(id, 'notes:read notes:write')))
    const sessionIds = clients.map((c) => (c.transport as StreamableHTTPClientTransport).sessionId)
    assert.equal(new Set(sessionIds).size, ids.length)
    await Promise.all(clients.map((c, i) => c.callTool({ name: 'notes_write', arguments: { title: `mine-${i}`, body: ids[i] } })))
    const reads = await Promise.all(clients.map((c, i) => c.callTool({ name: 'notes_read', arguments: { title: `mine-${i}` } })))
    assert.deepEqual(reads.map((r) => (r.content as Array<{ text: string }>)[0]?.text), ids)
    const others = await clients[0]?.callTool({ name: 'notes_read', arguments: { title: 'mine-1' } })
    assert.equal(others?.isError, true, "another principal's note is not there")
  })

  it('a session its client ends is freed (its transport closed)', async () => {
    const client = await connect('writer', 'notes:read')
    const before = notes.sessions.size
    await (client.transport as StreamableHTTPClientTransport).terminateSession()
    const end = Date.now() + 10_000
    while (notes.sessions.size !== before - 1) {
      assert.ok(Date.now() < end, 'session not freed within 10 s')
      await new Promise((r) => setTimeout(r, 10))
    }
  })

  it('a session that goes idle is freed', async () => {
    // Long enough that a loaded machine cannot idle the session out while the client is still connecting.
    const idle = await startNotesServer(authz, { idleTimeoutMs: 2000 })
    try {
      const token = await as.token('writer', { resource, scope: 'notes:read' })
      const client = new Client({ name: 'idle', version: '1.0.0' })
      await client.connect(new StreamableHTTPClientTransport(new URL(idle.url), { requestInit: { headers: { authorization: `Bearer ${token}` } } }))
      const open = () => idle.sessions.size
      assert.equal(open(), 1)
      await client.close()
      const end = Date.now() + 20_000
      while (open() !== 0) {
        assert.ok(Date.now() < end, 'idle session not freed within 20 s')
        await new Promise((r) => setTimeout(r, 10))
      }
      assert.equal(idle.sessions.bindings?.stats().evictions.idle, 1)
    } finally {
      await idle.close()
    }
  })
})

describe('notes server: main.ts against any issuer', () => {
  it('configured by the environment: serves SDK clients, logs one redacted decision record per decision, stops on SIGTERM', async () => {
    const root = fileURLToPath(new URL('../../', import.meta.url))
    let child!: ChildProcess
    let stdout = ''
    let stderr = ''
    let mainResource = ''
    let exited!: Promise<number | null>
    for (const candidate of mainResources) {
      mainResource = candidate
      const env = { ...process.env, NOTES_RESOURCE: candidate, NOTES_ISSUER: as.issuer, NOTES_JWKS_URI: as.jwksUri, NOTES_TYP: 'at+jwt' }
      child = spawn(process.execPath, ['examples/notes-server/main.ts'], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] })
      stdout = ''
      stderr = ''
      child.stdout?.on('data', (d: Buffer) => void (stdout += d.toString()))
      child.stderr?.on('data', (d: Buffer) => void (stderr += d.toString()))
      const started = child
      exited = new Promise<number | null>((resolve) => started.once('exit', (code) => resolve(code)))
      const closed = new Promise((resolve) => started.once('close', resolve))
      const end = Date.now() + 60_000
      while (!stderr.includes('notes server:') && child.exitCode === null) {
        assert.ok(Date.now() < end, `main.ts did not start within 60 s: ${stderr}`)
        await new Promise((r) => setTimeout(r, 50))
      }
      if (child.exitCode === null) break
      await closed // all of its stderr
      if (!stderr.includes('EADDRINUSE')) break
    }
    try {
      assert.equal(child.exitCode, null, `main.ts exited: ${stderr}`)
      assert.match(stderr, new RegExp(`notes server: ${mainResource}`))
      assert.doesNotMatch(stderr, /dev issuer/, 'an issuer is configured: no development issuer')
      const token = await as.token('writer', { resource: mainResource, scope: 'notes:read notes:write' })
      const clients = await Promise.all([0, 1].map(async () => {
        const c = new Client({ name: 'main', version: '1.0.0' })
        await c.connect(new StreamableHTTPClientTransport(new URL(mainResource), { requestInit: { headers: { authorization: `Bearer ${token}` } } }))
        return c
      }))
      await clients[0]?.callTool({ name: 'notes_write', arguments: { title: 'from-main', body: 'hello' } })
      const read = await clients[1]?.callTool({ name: 'notes_read', arguments: { title: 'from-main' } })
      assert.deepEqual(read?.content, [{ type: 'text', text: 'hello' }])
      for (const c of clients) await c.close()
      const records = stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as { decision_id?: string; type?: string })
      assert.ok(records.length >= 4, `${records.length} records`)
      assert.ok(records.every((r) => typeof r.decision_id === 'string'))
      assert.equal(stdout.includes(token), false, 'no token in the decision log')
      assert.equal(stdout.includes(token.split('.')[2] ?? '-'), false)
    } finally {
      child.kill('SIGTERM')
      const code = await Promise.race([exited, new Promise<string>((r) => setTimeout(() => r('timeout'), 10_000))])
      if (code === 'timeout') child.kill('SIGKILL')
      assert.equal(code, 0, `exit ${code}: ${stderr}`)
    }
  })

  it('configuration: the environment wins over the file; a verifier configuration passes through as-is', async () => {
    const dir = await tempDir('mcp-authz-notes-config-')
    try {
      const file = join(dir, 'notes.json')
      const verifier = { issuers: [{ issuer: 'https://a.example', jwksUri: 'https://a.example/keys', tenant: 'acme' }, 'https://b.example'], clockTolerance: 5 }
      await writeFile(file, JSON.stringify({ resource: 'https://notes.example.com/mcp', port: 4000, verifier }))
      const fromFile = await loadNotesConfig({ NOTES_CONFIG: file })
      assert.equal(fromFile.resource, 'https://notes.example.com/mcp')
      assert.equal(fromFile.port, 4000)
      assert.deepEqual(fromFile.verifier, { audience: 'https://notes.example.com/mcp', ...verifier })
      assert.deepEqual(fromFile.issuers, { 'https://a.example': { tenant: 'acme' }, 'https://b.example': {} })
      assert.equal(fromFile.devIssuer, undefined)
      const data = (await notesPolicyData(fromFile)) as { mcp_authz: { resource: string; issuers: unknown; tools: Record<string, unknown> } }
      assert.equal(data.mcp_authz.resource, 'https://notes.example.com/mcp')
      assert.deepEqual(data.mcp_authz.issuers, fromFile.issuers)
      assert.deepEqual(Object.keys(data.mcp_authz.tools).sort(), ['notes_delete', 'notes_read', 'notes_write'])
      const overridden = await loadNotesConfig({ NOTES_CONFIG: file, NOTES_PORT: '4100', NOTES_ISSUER: 'https://c.example', NOTES_TYP: 'at+jwt, JWT', NOTES_TENANT: 't' })
      assert.equal(overridden.port, 4100)
      assert.deepEqual(overridden.verifier, { audience: 'https://notes.example.com/mcp', issuers: [{ issuer: 'https://c.example', claims: ['roles'], typ: ['at+jwt', 'JWT'], tenant: 't' }] })
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('configuration: by default port 3000 with the development issuer; never 8181', async () => {
    const config = await loadNotesConfig({})
    assert.equal(config.resource, 'http://127.0.0.1:3000/mcp')
    assert.equal(config.port, 3000)
    assert.notEqual(config.port, 8181)
    assert.equal(config.devIssuer, 'http://127.0.0.1:3000/dev-issuer')
    assert.equal((await loadNotesConfig({ NOTES_DEV_ISSUER: '0' })).devIssuer, undefined)
    await assert.rejects(loadNotesConfig({ NOTES_RESOURCE: 'not a uri' }), /not an absolute URI/)
    await assert.rejects(loadNotesConfig({ NOTES_PORT: 'x' }), /NOTES_PORT/)
    await assert.rejects(loadNotesConfig({ NOTES_ISSUER: 'https://elsewhere.example', NOTES_DEV_ISSUER: '1' }), /share the resource origin/)
  })
})
