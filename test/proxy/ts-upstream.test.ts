// The proxy in front of a TypeScript SDK server (McpServer, a transport per session) over
// Streamable HTTP, answering with SSE and with JSON: the SDK client through the proxy, tokens from a
// real oidc-provider.
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { createLocalJWKSet, jwtVerify } from 'jose'
import { McpError } from '@modelcontextprotocol/sdk/types.js'
import { createAssertionSigner } from '../../src/proxy/index.ts'
import { startAuthorizationServer, type AuthorizationServer } from '../helpers/authorization-server.ts'
import { connectClient, notesData, SCOPES, startTestProxy, startTsUpstream, type RunningProxy, type RunningUpstream } from './helpers.ts'

let as: AuthorizationServer
const closers: Array<() => Promise<unknown>> = []

before(async () => {
  as = await startAuthorizationServer({ resources: {}, clients: [] })
})
after(async () => {
  for (const close of closers.reverse()) await close().catch(() => undefined)
  await as?.close()
})

async function setup(mode: 'sse' | 'json', extra: Parameters<typeof startTestProxy>[2] = {}): Promise<{ upstream: RunningUpstream; proxy: RunningProxy; realm: AuthorizationServer }> {
  const upstream = await startTsUpstream({ json: mode === 'json' })
  closers.push(() => upstream.close())
  // One realm per proxy: its resource (with the port) is known only now.
  const { freePort } = await import('../helpers/net.ts')
  const port = await freePort()
  const resource = `http://127.0.0.1:${port}/mcp`
  const realm = (await as.addRealm(`r${port}`, {
    resources: { [resource]: { scopes: SCOPES } },
    clients: ['reader', 'writer', 'admin', 'other'].map((id) => ({ clientId: id, clientSecret: `${id}-secret`, scopes: SCOPES })),
  })) as unknown as AuthorizationServer
  const proxy = await startTestProxy(realm, { url: upstream.url }, { port, ...extra })
  closers.push(() => proxy.close())
  return { upstream, proxy, realm }
}

for (const mode of ['sse', 'json'] as const) {
  describe(`proxy → TypeScript SDK upstream answering with ${mode.toUpperCase()}`, { timeout: 120_000 }, () => {
    let upstream: RunningUpstream
    let proxy: RunningProxy
    let realm: AuthorizationServer

    before(async () => {
      ;({ upstream, proxy, realm } = await setup(mode))
    })

    it('answers 401 with the RFC 9728 challenge, and serves the metadata that names the authorization server', async () => {
      const res = await fetch(proxy.url, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }) })
      assert.equal(res.status, 401)
      assert.ok(res.headers.get('mcp-authz-decision-id'))
      const challenge = res.headers.get('www-authenticate') ?? ''
      const metadataUrl = /resource_metadata="([^"]+)"/.exec(challenge)?.[1]
      assert.equal(metadataUrl, `${new URL(proxy.url).origin}/.well-known/oauth-protected-resource/mcp`)
      const metadata = (await (await fetch(metadataUrl as string)).json()) as { resource: string; authorization_servers: string[] }
      assert.equal(metadata.resource, proxy.resource)
      assert.deepEqual(metadata.authorization_servers, [realm.issuer])
      const seen = await upstream.seenHeaders()
      assert.equal(seen.length, 0, 'nothing reached the upstream')
    })

    it('filters tools/list, resources/list and prompts/list to what the principal may use', async () => {
      const { client } = await connectClient(proxy.url, realm, 'reader', 'notes:read')
      closers.push(() => client.close())
      const tools = (await client.listTools()).tools.map((t) => t.name).sort()
      assert.deepEqual(tools, ['notes_read', 'slow', 'whoami'])
      const uris = (await client.listResources()).resources.map((r) => r.uri)
      assert.deepEqual(uris, ['notes://public/readme'])
      const templates = (await client.listResourceTemplates()).resourceTemplates.map((r) => r.uriTemplate)
      assert.deepEqual(templates, ['notes://public/{title}'])
      const prompts = (await client.listPrompts()).prompts.map((p) => p.name)
      assert.deepEqual(prompts, ['summarize'])
      const text = (await client.readResource({ uri: 'notes://public/readme' })).contents[0] as { text: string }
      assert.equal(text.text, 'public readme')
      await assert.rejects(client.readResource({ uri: 'notes://private/diary' }), (err: unknown) => err instanceof McpError && err.code === -32003)
    })

    it('steps up on 403 insufficient_scope, then the call goes through', async () => {
      const { client, tokens } = await connectClient(proxy.url, realm, 'writer', 'notes:read')
      closers.push(() => client.close())
      const result = await client.callTool({ name: 'notes_write', arguments: { title: 'groceries' } })
      assert.deepEqual(result.content, [{ type: 'text', text: 'saved groceries' }])
      assert.equal(tokens().length, 2, 'a second token was fetched after the 403')
      assert.ok(proxy.events.some((e) => e.httpStatus === 403 && e.input?.action.name === 'notes_write'))
    })

    it('refuses a denied argument with JSON-RPC -32003 and the decision id', async () => {
      const { client } = await connectClient(proxy.url, realm, 'writer', 'notes:read notes:write')
      closers.push(() => client.close())
      await assert.rejects(client.callTool({ name: 'notes_write', arguments: { title: 'Not Allowed!' } }), (err: unknown) => {
        assert.ok(err instanceof McpError)
        assert.equal(err.code, -32003)
        const id = (err.data as { decision_id?: string }).decision_id
        assert.ok(proxy.events.some((e) => e.decisionId === id && e.result.reasons.some((r) => r.code === 'argument_denied')))
        return true
      })
    })

    it('refuses a session presented by another principal (404, as an unknown session)', async () => {
      const { transport } = await connectClient(proxy.url, realm, 'reader', 'notes:read')
      const sessionId = transport.sessionId as string
      assert.ok(sessionId)
      const other = await realm.token('other', { resource: proxy.resource, scope: 'notes:read' })
      const res = await fetch(proxy.url, {
        method: 'POST',
        headers: { authorization: `Bearer ${other}`, 'mcp-session-id': sessionId, 'mcp-protocol-version': '2025-11-25', 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 9, method: 'tools/list' }),
      })
      assert.equal(res.status, 404)
      assert.ok(res.headers.get('mcp-authz-decision-id'))
      await transport.close()
    })

    it('never lets the client token, cookies or forged forwarding headers reach the upstream', async () => {
      const token = await realm.token('reader', { resource: proxy.resource, scope: 'notes:read' })
      const res = await fetch(proxy.url, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, cookie: `sid=${token}`, 'x-forwarded-for': '10.0.0.1', 'x-api-key': 'client-key', 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } }),
      })
      assert.equal(res.status, 200)
      await res.text()
      const seen = await upstream.seenHeaders()
      assert.ok(seen.length > 0)
      for (const headers of seen) {
        for (const name of ['authorization', 'cookie', 'x-forwarded-for', 'x-api-key', 'proxy-authorization']) assert.equal(headers[name], undefined, `${name} reached the upstream`)
        for (const value of Object.values(headers)) assert.ok(!value.includes(token), 'the token reached the upstream')
      }
    })

    it('sets Mcp-Authz-Decision-Id on every guarded response, allowed or not', async () => {
      const token = await realm.token('reader', { resource: proxy.resource, scope: 'notes:read' })
      const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' }
      const init = await fetch(proxy.url, { method: 'POST', headers, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } }) })
      await init.text()
      const sid = init.headers.get('mcp-session-id') as string
      const denied = await fetch(proxy.url, { method: 'POST', headers: { ...headers, 'mcp-session-id': sid, 'mcp-protocol-version': '2025-11-25' }, body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'notes_delete', arguments: { title: 'x' } } }) })
      await denied.text()
      for (const res of [init, denied]) {
        const id = res.headers.get('mcp-authz-decision-id')
        assert.ok(id && proxy.events.some((e) => e.decisionId === id), `status ${res.status} carries a recorded decision id`)
      }
      assert.equal(denied.status, 403)
    })
  })
}

describe('proxy: what the upstream learns of the caller', { timeout: 60_000 }, () => {
  it('sends a signed assertion of the principal (ES256, ≤ 60 s, keys at the JWKS route) and no credential of the client', async () => {
    const { upstream, proxy, realm } = await setup('sse', {
      assertion: { signer: await createAssertionSigner({ issuer: 'https://proxy.example', audience: 'urn:test-upstream', ttlSeconds: 30 }) },
    })
    const { client, tokens } = await connectClient(proxy.url, realm, 'reader', 'notes:read')
    closers.push(() => client.close())
    const out = await client.callTool({ name: 'whoami', arguments: {} })
    const headers = (JSON.parse((out.content as Array<{ text: string }>)[0]?.text ?? '{}') as { headers: Record<string, string> }).headers
    assert.equal(headers.authorization, undefined)
    const jwt = headers['mcp-authz-assertion'] as string
    assert.ok(jwt, 'the assertion header reached the upstream')
    assert.ok(!jwt.includes(tokens()[0] as string))
    const jwks = (await (await fetch(`${new URL(proxy.url).origin}/.well-known/jwks.json`)).json()) as { keys: [] }
    const { payload, protectedHeader } = await jwtVerify(jwt, createLocalJWKSet(jwks), { issuer: 'https://proxy.example', audience: 'urn:test-upstream', algorithms: ['ES256'], typ: 'mcp-authz-assertion+jwt' })
    assert.equal(protectedHeader.alg, 'ES256')
    assert.equal(payload.sub, 'reader')
    assert.equal(payload.client_id, 'reader')
    assert.equal(payload.scope, 'notes:read')
    assert.equal(payload.idp, realm.issuer)
    assert.ok((payload.exp as number) - (payload.iat as number) <= 30)
    assert.ok(proxy.events.some((e) => e.decisionId === payload.decision_id), 'decision_id names the record of this call')
    assert.ok(typeof payload.jti === 'string')
    void upstream
  })

  it('feeds the tool annotations learned from tools/list to the policy (unlisted tools by annotation)', async () => {
    const { proxy, realm } = await setup('json', {
      data: (resource: string, issuer: string) => {
        const base = notesData(resource, issuer) as { mcp_authz: { defaults: Record<string, unknown> } }
        return notesData(resource, issuer, { defaults: { ...base.mcp_authz.defaults, unlisted_tools: 'by_annotation' }, tools: {} })
      },
    })
    const { client } = await connectClient(proxy.url, realm, 'reader', 'notes:read')
    closers.push(() => client.close())
    const listed = (await client.listTools()).tools.map((t) => t.name).sort()
    assert.deepEqual(listed, ['notes_read', 'whoami'], 'read-only tools by their annotations')
    assert.deepEqual(proxy.proxy.annotations.get('notes_read'), { readOnlyHint: true })
    // readOnlyHint (learned from the listing) lets the read scope call it; without it the write scope would be needed.
    const read = await client.callTool({ name: 'notes_read', arguments: { title: 'a' } })
    assert.deepEqual(read.content, [{ type: 'text', text: 'note a' }])
    const decided = proxy.events.find((e) => e.input?.action.name === 'notes_read')
    assert.deepEqual(decided?.input?.action.annotations, { readOnlyHint: true })
  })
})
