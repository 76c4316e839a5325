// protect(server, authz) over an in-memory transport (as stdio: the principal comes from
// configuration): every request decided, lists filtered, getPrincipal() in handlers, denials as
// JSON-RPC errors.
import assert from 'node:assert/strict'
import { before, describe, it } from 'node:test'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js'
import { McpServer, ResourceTemplate } from '@modelcontextprotocol/sdk/server/mcp.js'
import { Server } from '@modelcontextprotocol/sdk/server/index.js'
import { CallToolRequestSchema, ListToolsRequestSchema, McpError } from '@modelcontextprotocol/sdk/types.js'
import { z } from 'zod'
import { createAuthz, type Authz, type DecisionEvent } from '../../src/authz.ts'
import { getPrincipal, protect } from '../../src/mcp/index.ts'
import { staticPrincipal } from '../../src/verify/index.ts'
import type { Principal } from '../../src/verify/principal.ts'
import { buildTestBundle } from '../helpers/bundle.ts'

const data = {
  mcp_authz: {
    resource: 'https://notes.example.test/mcp',
    issuers: {},
    defaults: { read_scope: 'notes:read', write_scope: 'notes:write' },
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
