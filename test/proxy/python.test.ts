// The proxy in front of a server nobody here wrote: the official MCP Python SDK (`mcp` from PyPI,
// MCPServer — FastMCP, renamed in mcp 2), over Streamable HTTP (SSE and JSON answers) and over
// stdio (a process per session). The TypeScript SDK client goes through the proxy with tokens from
// a real oidc-provider. The Python environment is created by scripts/python-env.sh.
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { McpError } from '@modelcontextprotocol/sdk/types.js'
import { createAssertionSigner, liveChildren } from '../../src/proxy/index.ts'
import { startAuthorizationServer, type AuthorizationServer } from '../helpers/authorization-server.ts'
import { freePort } from '../helpers/net.ts'
import { connectClient, PYTHON_SERVER, pythonEnv, SCOPES, startPythonHttp, startTestProxy, type RunningProxy } from './helpers.ts'

let as: AuthorizationServer
const closers: Array<() => Promise<unknown>> = []
before(async () => {
  as = await startAuthorizationServer({ resources: {}, clients: [] })
})
after(async () => {
  for (const close of closers.reverse()) await close().catch(() => undefined)
  await as?.close()
})

async function realmFor(port: number): Promise<{ realm: AuthorizationServer; resource: string }> {
  const resource = `http://127.0.0.1:${port}/mcp`
  const realm = (await as.addRealm(`py${port}`, {
    resources: { [resource]: { scopes: SCOPES } },
    clients: ['reader', 'writer', 'other'].map((id) => ({ clientId: id, clientSecret: `${id}-secret`, scopes: SCOPES })),
  })) as unknown as AuthorizationServer
  return { realm, resource }
}

const text = (out: unknown) => (((out as { content?: Array<{ text?: string }> }).content ?? [])[0]?.text ?? '')

/** The behaviour every transport must show through the proxy. */
function commonChecks(get: () => { proxy: RunningProxy; realm: AuthorizationServer }) {
  it('filters tools, resources and prompts to what the principal may use', async () => {
    const { proxy, realm } = get()
    const { client } = await connectClient(proxy.url, realm, 'reader', 'notes:read')
    closers.push(() => client.close())
    assert.deepEqual((await client.listTools()).tools.map((t) => t.name).sort(), ['notes_read', 'whoami'])
    assert.deepEqual((await client.listResources()).resources.map((r) => r.uri), ['notes://public/readme'])
    assert.deepEqual((await client.listPrompts()).prompts.map((p) => p.name), ['summarize'])
    assert.equal(text(await client.callTool({ name: 'notes_read', arguments: { title: 'welcome' } })), 'Hello from Python')
  })

  it('answers 403 insufficient_scope; the client steps up and the call goes through', async () => {
    const { proxy, realm } = get()
    const { client, tokens } = await connectClient(proxy.url, realm, 'writer', 'notes:read')
    closers.push(() => client.close())
    assert.equal(text(await client.callTool({ name: 'notes_write', arguments: { title: 'todo', body: 'milk' } })), 'saved todo')
    assert.equal(tokens().length, 2)
  })

  it('refuses a denied argument with JSON-RPC -32003 (the upstream never runs the tool)', async () => {
    const { proxy, realm } = get()
    const { client } = await connectClient(proxy.url, realm, 'writer', 'notes:read notes:write')
    closers.push(() => client.close())
    await assert.rejects(client.callTool({ name: 'notes_write', arguments: { title: 'Evil Title' } }), (err: unknown) => err instanceof McpError && err.code === -32003)
    assert.equal(text(await client.callTool({ name: 'notes_read', arguments: { title: 'Evil Title' } })), '')
  })

  it("refuses another principal's session (404)", async () => {
    const { proxy, realm } = get()
    const { client, transport } = await connectClient(proxy.url, realm, 'reader', 'notes:read')
    closers.push(() => client.close())
    const other = await realm.token('other', { resource: proxy.resource, scope: 'notes:read notes:write' })
    const res = await fetch(proxy.url, {
      method: 'POST',
      headers: { authorization: `Bearer ${other}`, 'mcp-session-id': transport.sessionId as string, 'mcp-protocol-version': '2025-11-25', 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 5, method: 'tools/call', params: { name: 'notes_read', arguments: { title: 'welcome' } } }),
    })
    assert.equal(res.status, 404)
    // The owner's session still works.
    assert.equal(text(await client.callTool({ name: 'notes_read', arguments: { title: 'welcome' } })), 'Hello from Python')
  })
}

for (const mode of ['sse', 'json'] as const) {
  describe(`proxy → Python SDK server over Streamable HTTP (${mode.toUpperCase()} answers)`, { timeout: 240_000 }, () => {
    let proxy: RunningProxy
    let realm: AuthorizationServer
    let upstream: Awaited<ReturnType<typeof startPythonHttp>>

    before(async () => {
      const port = await freePort()
      ;({ realm } = await realmFor(port))
      const origin = `http://127.0.0.1:${port}`
      upstream = await startPythonHttp({ json: mode === 'json', jwks: `${origin}/.well-known/jwks.json`, issuer: origin, audience: 'urn:python-notes' })
      closers.push(() => upstream.close())
      const signer = await createAssertionSigner({ issuer: origin, audience: 'urn:python-notes', ttlSeconds: 60 })
      proxy = await startTestProxy(realm, { url: upstream.url }, { port, assertion: { signer } })
      closers.push(() => proxy.close())
    })

    commonChecks(() => ({ proxy, realm }))

    it('the Python server verifies the signed assertion with PyJWT and the JWKS route; it never sees the client token', async () => {
      const { client, tokens } = await connectClient(proxy.url, realm, 'reader', 'notes:read')
      closers.push(() => client.close())
      const who = JSON.parse(text(await client.callTool({ name: 'whoami', arguments: {} }))) as { verified: boolean; authorization_header: boolean; claims: Record<string, unknown> }
      assert.equal(who.verified, true, JSON.stringify(who))
      assert.equal(who.authorization_header, false)
      assert.equal(who.claims.sub, 'reader')
      assert.equal(who.claims.client_id, 'reader')
      assert.equal(who.claims.scope, 'notes:read')
      assert.equal(who.claims.aud, 'urn:python-notes')
      assert.ok(proxy.events.some((e) => e.decisionId === who.claims.decision_id))
      const seen = await upstream.seenHeaders()
      assert.ok(seen.length > 3)
      for (const headers of seen) {
        assert.equal(headers.authorization, undefined)
        for (const token of tokens()) for (const value of Object.values(headers)) assert.ok(!value.includes(token), 'a client token reached the upstream')
      }
    })
  })
}

describe('proxy → Python SDK server over stdio (a process per session)', { timeout: 240_000 }, () => {
  let proxy: RunningProxy
  let realm: AuthorizationServer

  before(async () => {
    const python = await pythonEnv()
    const port = await freePort()
    ;({ realm } = await realmFor(port))
    proxy = await startTestProxy(realm, { command: python, args: [PYTHON_SERVER, 'stdio'], env: { PATH: process.env.PATH ?? '' }, maxProcesses: 8, idleTimeoutMs: 60_000, stopGraceMs: 1000 }, { port })
    closers.push(() => proxy.close())
  })

  commonChecks(() => ({ proxy, realm }))

  it('tells the tool it runs over stdio (no headers reach a stdio server)', async () => {
    const { client } = await connectClient(proxy.url, realm, 'reader', 'notes:read')
    closers.push(() => client.close())
    assert.deepEqual(JSON.parse(text(await client.callTool({ name: 'whoami', arguments: {} }))), { transport: 'stdio' })
  })

  it('spawns a process per session, bounded (503 beyond maxProcesses), and stops it when the session ends', async () => {
    const python = await pythonEnv()
    const port = await freePort()
    const { realm: own } = await realmFor(port)
    const bounded = await startTestProxy(own, { command: python, args: [PYTHON_SERVER, 'stdio'], env: { PATH: process.env.PATH ?? '' }, maxProcesses: 2, stopGraceMs: 1000 }, { port })
    closers.push(() => bounded.close())
    const stdio = bounded.proxy.upstream as unknown as { processes: number }
    const before = liveChildren()
    const clients = [await connectClient(bounded.url, own, 'reader', 'notes:read'), await connectClient(bounded.url, own, 'reader', 'notes:read')]
    assert.equal(stdio.processes, 2)
    assert.equal(liveChildren(), before + 2)
    const token = await own.token('reader', { resource: bounded.resource, scope: 'notes:read' })
    const res = await fetch(bounded.url, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'third', version: '1' } } }),
    })
    assert.equal(res.status, 503)
    assert.ok(res.headers.get('retry-after'))
    assert.ok(res.headers.get('mcp-authz-decision-id'))
    for (const { transport, client } of clients) {
      await transport.terminateSession() // DELETE ends the session and its process
      await client.close()
    }
    await waitFor(() => stdio.processes === 0 && liveChildren() === before, 'every process stopped after DELETE')
    // A new session can start again.
    const again = await connectClient(bounded.url, own, 'reader', 'notes:read')
    assert.equal(text(await again.client.callTool({ name: 'notes_read', arguments: { title: 'welcome' } })), 'Hello from Python')
    await again.transport.terminateSession()
    await again.client.close()
  })

  it('ends an idle session and its process', async () => {
    const python = await pythonEnv()
    const port = await freePort()
    const { realm: own } = await realmFor(port)
    const idle = await startTestProxy(own, { command: python, args: [PYTHON_SERVER, 'stdio'], env: { PATH: process.env.PATH ?? '' }, idleTimeoutMs: 1500, stopGraceMs: 500 }, { port })
    closers.push(() => idle.close())
    const stdio = idle.proxy.upstream as unknown as { processes: number }
    const { client, transport } = await connectClient(idle.url, own, 'reader', 'notes:read')
    closers.push(() => client.close())
    assert.equal(stdio.processes, 1)
    await waitFor(() => stdio.processes === 0, "the idle session ended", 30_000)
    await assert.rejects(client.listTools(), 'the ended session is gone (404)')
    void transport
  })
})

async function waitFor(condition: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting: ${what}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}
