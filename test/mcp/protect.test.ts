// protect(server, authz) over an in-memory transport (as stdio: the principal comes from
// configuration): every request decided, lists filtered, getPrincipal() in handlers, denials as
// JSON-RPC errors.
import assert from 'node:assert/strict'
import { before, describe, it } from 'node:test'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js'
import { McpServer, ResourceTemplate } from '@modelcontextprotocol/sdk/server/mcp.js'
import { Server } from '@modelcontextprotocol/sdk/server/index.js'
import { CallToolRequestSchema, ListToolsRequestSchema, McpError, SubscribeRequestSchema, UnsubscribeRequestSchema } from '@modelcontextprotocol/sdk/types.js'
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { createServer, type Server as HttpServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { after } from 'node:test'
import { z } from 'zod'
import { createAuthz, type Authz, type DecisionEvent } from '../../src/authz.ts'
import { getPrincipal, mcpAuthzHandler, protect } from '../../src/mcp/index.ts'
import { staticPrincipal } from '../../src/verify/index.ts'
import type { Principal } from '../../src/verify/principal.ts'
import { buildTestBundle } from '../helpers/bundle.ts'

const data = {
  mcp_authz: {
    resource: 'https://notes.example.test/mcp',
    issuers: {},
    // peek and poke are unlisted: their scopes come from their annotations (an explicit opt-in).
    defaults: { read_scope: 'notes:read', write_scope: 'notes:write', unlisted_tools: 'by_annotation' },
    tools: {
      notes_read: { scopes: ['notes:read'] },
      notes_write: { scopes: ['notes:write'], arguments: { folder: { enum: ['personal', 'work'] } } },
    },
    resources: [{ prefix: 'notes://', scopes: ['notes:read'] }, { prefix: 'admin://', scopes: ['notes:admin'] }],
    prompts: { summarize_notes: { scopes: ['notes:read'] }, admin_prompt: { scopes: ['notes:admin'] } },
  },
}

let authz: Authz
const events: DecisionEvent[] = []
const reader = staticPrincipal({ subject: 'alice', scopes: ['notes:read'] })
const writer = staticPrincipal({ subject: 'bob', scopes: ['notes:read', 'notes:write'] })

before(async () => {
  authz = await createAuthz({ bundle: await buildTestBundle(data), onDecision: (e) => events.push(e) })
})

function notesServer(): McpServer {
  const server = new McpServer({ name: 'notes', version: '1.0.0' })
  const whoami = () => ({ content: [{ type: 'text' as const, text: getPrincipal()?.subject ?? 'nobody' }] })
  server.registerTool('notes_read', { annotations: { readOnlyHint: true } }, whoami)
  server.registerTool('notes_write', { inputSchema: { folder: z.string().optional() } }, whoami)
  server.registerTool('peek', { annotations: { readOnlyHint: true } }, whoami) // unlisted: read scope by annotation
  server.registerTool('poke', {}, whoami) // unlisted, no annotation: write scope
  server.registerResource('note', new ResourceTemplate('notes://{id}', { list: async () => ({ resources: [{ uri: 'notes://1', name: 'one' }] }) }), {}, async (uri) => ({ contents: [{ uri: uri.href, text: getPrincipal()?.subject ?? '' }] }))
  server.registerResource('admin', 'admin://config', {}, async (uri) => ({ contents: [{ uri: uri.href, text: 'secret' }] }))
  server.registerPrompt('summarize_notes', {}, async () => ({ messages: [{ role: 'user', content: { type: 'text', text: getPrincipal()?.subject ?? '' } }] }))
  server.registerPrompt('admin_prompt', {}, async () => ({ messages: [] }))
  return server
}

async function connect(server: McpServer | Server, principal?: Principal): Promise<Client> {
  protect(server, authz, principal ? { principal } : {})
  const [a, b] = InMemoryTransport.createLinkedPair()
  await server.connect(a)
  const client = new Client({ name: 't', version: '1' })
  await client.connect(b)
  return client
}

describe('protect(McpServer) with a configured principal (stdio)', () => {
  it('filters every list to what the principal may use, in one evaluation each', async () => {
    const client = await connect(notesServer(), reader)
    assert.deepEqual((await client.listTools()).tools.map((t) => t.name).sort(), ['notes_read', 'peek'])
    assert.deepEqual((await client.listResources()).resources.map((r) => r.uri), ['notes://1'])
    assert.deepEqual((await client.listResourceTemplates()).resourceTemplates.map((r) => r.uriTemplate), ['notes://{id}'])
    assert.deepEqual((await client.listPrompts()).prompts.map((p) => p.name), ['summarize_notes'])
    const writerClient = await connect(notesServer(), writer)
    assert.deepEqual((await writerClient.listTools()).tools.map((t) => t.name).sort(), ['notes_read', 'notes_write', 'peek', 'poke'])
  })

  it('getPrincipal() inside tool, resource and prompt handlers is the caller', async () => {
    const client = await connect(notesServer(), writer)
    assert.deepEqual((await client.callTool({ name: 'notes_read', arguments: {} })).content, [{ type: 'text', text: 'bob' }])
    assert.equal(((await client.readResource({ uri: 'notes://1' })).contents[0] as { text?: string }).text, 'bob')
    assert.deepEqual((await client.getPrompt({ name: 'summarize_notes' })).messages[0]?.content, { type: 'text', text: 'bob' })
    assert.equal(getPrincipal(), undefined)
  })

  it('a denied call is a JSON-RPC error with a decision id, never an isError result', async () => {
    const client = await connect(notesServer(), reader)
    const err = await client.callTool({ name: 'notes_write', arguments: {} }).catch((e: unknown) => e)
    assert.ok(err instanceof McpError)
    assert.equal(err.code, -32003)
    const body = err.data as { decision_id: string; error?: string; scope?: string }
    assert.equal(body.error, 'insufficient_scope')
    assert.equal(body.scope, 'notes:write')
    assert.ok(events.some((e) => e.decisionId === body.decision_id && e.transport === 'stdio'))
    const arg = await (await connect(notesServer(), writer)).callTool({ name: 'notes_write', arguments: { folder: 'secret' } }).catch((e: unknown) => e)
    assert.ok(arg instanceof McpError && arg.code === -32003 && typeof (arg.data as { decision_id?: unknown }).decision_id === 'string')
    const resource = await client.readResource({ uri: 'admin://config' }).catch((e: unknown) => e)
    assert.ok(resource instanceof McpError && resource.code === -32003)
  })

  it('tool annotations from the registered tools reach the policy (readOnlyHint → read scope)', async () => {
    const client = await connect(notesServer(), reader)
    const before = events.length
    assert.deepEqual((await client.callTool({ name: 'peek', arguments: {} })).content, [{ type: 'text', text: 'alice' }])
    const event = events.slice(before).find((e) => e.input?.action.name === 'peek')
    assert.deepEqual(event?.input?.action.annotations, { readOnlyHint: true })
    await assert.rejects(client.callTool({ name: 'poke', arguments: {} }), McpError)
  })

  it('without any principal every request is refused (fail closed)', async () => {
    await assert.rejects(connect(notesServer()), /Forbidden|-32003/)
  })

  it('a server cannot be protected twice', async () => {
    const server = notesServer()
    protect(server, authz, { principal: reader })
    assert.throws(() => protect(server, authz, { principal: reader }), /already protected/)
  })
})

describe('protect(Server) — the low-level server', () => {
  it('guards handlers registered before and after protect(), learning annotations from tools/list', async () => {
    const server = new Server({ name: 'low', version: '1' }, { capabilities: { tools: {} } })
    server.setRequestHandler(ListToolsRequestSchema, async () => ({ tools: [
      { name: 'peek', inputSchema: { type: 'object' as const }, annotations: { readOnlyHint: true } },
      { name: 'poke', inputSchema: { type: 'object' as const } },
    ] }))
    const client = await connect(server, reader)
    server.setRequestHandler(CallToolRequestSchema, async (req) => ({ content: [{ type: 'text', text: `${req.params.name}:${getPrincipal()?.subject}` }] }))
    assert.deepEqual((await client.listTools()).tools.map((t) => t.name), ['peek'])
    assert.deepEqual((await client.callTool({ name: 'peek', arguments: {} })).content, [{ type: 'text', text: 'peek:alice' }])
    await assert.rejects(client.callTool({ name: 'poke', arguments: {} }), (e: unknown) => e instanceof McpError && e.code === -32003)
  })
})

// A resource the policy refuses must not be read through any spelling of its URI: the policy
// decides on the URI McpServer resolves, and the handler receives exactly that URI.
describe('resource URIs through a real McpServer: decided as resolved, handed as decided', () => {
  const RESOURCE = 'https://notes.example.test/mcp'
  const resourceData = {
    mcp_authz: {
      resource: RESOURCE,
      issuers: {},
      defaults: { read_scope: 'notes:read', write_scope: 'notes:write' },
      resources: [{ prefix: 'notes://', scopes: ['notes:read'] }, { prefix: 'notes://private/', scopes: ['notes:admin'] }],
    },
  }
  const SECRET = 'TOP SECRET'
  const admin = staticPrincipal({ subject: 'root', scopes: ['notes:read', 'notes:admin'] })
  let guarded: Authz
  let secretReads = 0
  const received: Array<{ method: string; uri: string }> = []
  before(async () => {
    guarded = await createAuthz({ bundle: await buildTestBundle(resourceData) })
  })

  function vault(): McpServer {
    const server = new McpServer({ name: 'vault', version: '1.0.0' })
    const store: Record<string, Record<string, string>> = { private: { secret: SECRET }, public: { a: 'hello' } }
    server.registerResource('secret', 'notes://private/secret', {}, async (uri) => {
      secretReads++
      received.push({ method: 'resources/read', uri: uri.href })
      return { contents: [{ uri: uri.href, text: SECRET }] }
    })
    server.registerResource('note', new ResourceTemplate('notes://{folder}/{id}', {
      list: undefined,
      complete: { id: (value) => { received.push({ method: 'completion/complete', uri: 'notes://{folder}/{id}' }); return Object.keys(store.private!).filter((k) => k.startsWith(value)) } },
    }), {}, async (uri, vars) => {
      received.push({ method: 'resources/read', uri: uri.href })
      const text = store[String(vars.folder)]?.[String(vars.id)]
      if (vars.folder === 'private') secretReads++
      if (text === undefined) throw new McpError(-32002, 'Resource not found')
      return { contents: [{ uri: uri.href, text }] }
    })
    server.server.registerCapabilities({ resources: { subscribe: true } })
    for (const schema of [SubscribeRequestSchema, UnsubscribeRequestSchema]) {
      server.server.setRequestHandler(schema, async (req) => {
        received.push({ method: req.method, uri: req.params.uri })
        return {}
      })
    }
    return server
  }
  async function vaultClient(principal: Principal): Promise<Client> {
    const server = vault()
    protect(server, guarded, { principal })
    const [a, b] = InMemoryTransport.createLinkedPair()
    await server.connect(a)
    const client = new Client({ name: 't', version: '1' })
    await client.connect(b)
    return client
  }

  const MUTATIONS = [
    'notes://private/secret', 'NOTES://private/secret', 'nOtEs://private/secret', 'notes://private/./secret', 'notes://private/x/../secret',
    'notes://private/x/%2e%2e/secret', 'notes://private/x/%2E%2E/secret', 'notes://private/x/.%2e/secret', 'notes://private/%2e/secret',
    'notes://private:/secret', 'notes://@private/secret', 'notes://:@private/secret', 'notes://user:pw@private/secret', 'notes://public@private/secret',
    'notes://private/\tsecret', 'notes://private/secret\n', 'notes://pri\rvate/secret', ' notes://private/secret', 'notes://private/secret ',
    '\u0000notes://private/secret', 'notes://private/secret#x', 'notes://private/secret?x', 'notes://private/secret/.', 'notes://private/secret/x/..',
    'notes://private//secret', 'notes://public/../private/secret', 'notes://private/secret/', 'notes:/private/secret', 'notes:private/secret',
  ]

  it('no spelling of a refused resource reaches its handler, over reads, subscriptions and completions', async () => {
    const reader = await vaultClient(writer) // notes:read notes:write, not notes:admin
    secretReads = 0
    received.length = 0
    for (const uri of MUTATIONS) {
      const got = await reader.readResource({ uri }).catch((e: unknown) => e)
      if (got instanceof McpError) {
        assert.ok([-32003, -32602, -32002].includes(got.code), `${JSON.stringify(uri)}: ${got.code} ${got.message}`)
      } else {
        assert.ok(!JSON.stringify(got).includes(SECRET), `${JSON.stringify(uri)} read the secret`)
      }
      await reader.subscribeResource({ uri }).catch(() => undefined)
      await reader.unsubscribeResource({ uri }).catch(() => undefined)
    }
    const completion = await reader.complete({ ref: { type: 'ref/resource', uri: 'NOTES://private/./{id}' }, argument: { name: 'id', value: 's' } }).catch((e: unknown) => e)
    assert.ok(completion instanceof McpError && completion.code === -32003)
    assert.equal(secretReads, 0, 'the secret was never read')
    assert.deepEqual(received.filter((r) => new URL(r.uri.replace(/[{}]/g, '')).host === 'private'), [], `handlers reached for private URIs: ${JSON.stringify(received)}`)
  })

  it('what a handler receives is the canonical URI that was decided', async () => {
    const root = await vaultClient(admin)
    received.length = 0
    secretReads = 0
    const got = await root.readResource({ uri: 'NOTES://private/x/%2e%2e/secret' })
    assert.equal((got.contents[0] as { text?: string }).text, SECRET)
    await root.subscribeResource({ uri: 'Notes://private/./secret' })
    await root.unsubscribeResource({ uri: 'notes://private:/secret' })
    // The SDK compares completion refs as strings: the canonical ref handed on finds the template.
    assert.deepEqual((await root.complete({ ref: { type: 'ref/resource', uri: 'NOTES://{folder}/{id}' }, argument: { name: 'id', value: 's' } })).completion.values, ['secret'])
    assert.deepEqual((await root.complete({ ref: { type: 'ref/resource', uri: 'notes://{folder}/{id}' }, argument: { name: 'id', value: 's' } })).completion.values, ['secret'])
    assert.deepEqual(received, [
      { method: 'resources/read', uri: 'notes://private/secret' },
      { method: 'resources/subscribe', uri: 'notes://private/secret' },
      { method: 'resources/unsubscribe', uri: 'notes://private/secret' },
      { method: 'completion/complete', uri: 'notes://{folder}/{id}' },
      { method: 'completion/complete', uri: 'notes://{folder}/{id}' },
    ])
    assert.equal(secretReads, 1)
  })

  it('over Streamable HTTP too: the guard hands the transport the canonical message', async (t) => {
    const tokens: Record<string, Principal> = { reader: writer, admin }
    const authzHttp = await createAuthz({ bundle: await buildTestBundle(resourceData), verifier: { async verify(token) { const p = tokens[token]; if (!p) throw Object.assign(new Error('bad token'), { code: 'ERR_JWT_INVALID' }); return p } } })
    const http: HttpServer = createServer(mcpAuthzHandler({
      authz: authzHttp,
      handle: async (req, res, body) => {
        // Stateless: one server and transport per request.
        const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true })
        await protect(vault(), authzHttp).connect(transport)
        await transport.handleRequest(req, res, body)
      },
    }))
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve))
    t.after(async () => {
      http.closeAllConnections()
      await new Promise((resolve) => http.close(resolve))
    })
    const url = new URL(`http://127.0.0.1:${(http.address() as AddressInfo).port}/mcp`)
    const connectAs = async (token: string) => {
      const client = new Client({ name: 't', version: '1' })
      await client.connect(new StreamableHTTPClientTransport(url, { requestInit: { headers: { authorization: `Bearer ${token}` } } }))
      t.after(() => client.close())
      return client
    }
    secretReads = 0
    received.length = 0
    const reader = await connectAs('reader')
    for (const uri of MUTATIONS) {
      const got = await reader.readResource({ uri }).catch((e: unknown) => e)
      assert.ok(!JSON.stringify(got ?? null).includes(SECRET), `${JSON.stringify(uri)} read the secret over HTTP`)
    }
    assert.equal(secretReads, 0)
    const root = await connectAs('admin')
    received.length = 0
    assert.equal(((await root.readResource({ uri: 'NOTES://private/a/../secret' })).contents[0] as { text?: string }).text, SECRET)
    assert.deepEqual(received, [{ method: 'resources/read', uri: 'notes://private/secret' }])
  })
})
