// 13.1 / 11.5: createMcpSessions behind each adapter serves many concurrent SDK clients, stateful
// (a transport per session) and stateless (a server and transport per request); sessions are
// freed on DELETE, when idle, and beyond the per-principal bound — only the principal's own; no
// failure is swallowed (onError, else a log line with the decision id).
import assert from 'node:assert/strict'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, describe, it, type TestContext } from 'node:test'
import express from 'express'
import Fastify from 'fastify'
import type { Client } from '@modelcontextprotocol/sdk/client/index.js'
import type { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { createAuthz, type Authz } from '../../src/authz.ts'
import { createMcpSessions, mcpAuthzExpress, mcpAuthzFastify, mcpAuthzHandler, type McpErrorContext, type McpSessions, type McpSessionsOptions } from '../../src/mcp/index.ts'
import { buildTestBundle } from '../helpers/bundle.ts'
import { connectClient, createTestServer, data, eventually, initialize, mcpHeaders, raw, sessionIdOf, verifier } from './helpers.ts'

let authz: Authz

before(async () => {
  authz = await createAuthz({ bundle: await buildTestBundle(data), verifier })
})

type Adapter = 'node' | 'express' | 'fastify'

/** Serves `sessions` through an adapter in its documented wiring; returns the MCP URL and a stop function. */
async function serve(adapter: Adapter, sessions: McpSessions, extra: { onError?: (e: unknown, c: McpErrorContext) => void } = {}): Promise<{ url: string; stop(): Promise<void> }> {
  if (adapter === 'fastify') {
    const app = Fastify()
    await app.register(mcpAuthzFastify, { authz, sessions, ...extra })
    await app.listen({ port: 0, host: '127.0.0.1' })
    return { url: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}/mcp`, stop: async () => void (await sessions.close(), await app.close()) }
  }
  let server: Server
  if (adapter === 'node') {
    server = createServer(mcpAuthzHandler({ authz, sessions, ...extra }))
  } else {
    const app = express()
    const mcp = mcpAuthzExpress({ authz, sessions, ...extra })
    app.use(mcp.metadata)
    app.all('/mcp', mcp)
    server = createServer(app)
  }
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`,
    stop: async () => {
      await sessions.close()
      server.closeAllConnections()
      await new Promise((r) => server.close(r))
    },
  }
}

async function started(t: TestContext, adapter: Adapter, options: Partial<McpSessionsOptions> = {}, extra = {}) {
  const sessions = createMcpSessions({ authz, createServer: createTestServer, ...options })
  const s = await serve(adapter, sessions, extra)
  const clients: Client[] = []
  t.after(async () => {
    for (const c of clients) await c.close().catch(() => {})
    await s.stop()
  })
  const connect = async (token: string) => {
    const c = await connectClient(s.url, token)
    clients.push(c)
    return c
  }
  return { sessions, url: s.url, connect }
}

const CLIENTS = 6

for (const adapter of ['node', 'express', 'fastify'] as const) {
  describe(`${adapter}: the documented wiring serves many clients at once`, () => {
    it(`stateful: ${CLIENTS} SDK clients initialize and call tools concurrently, each in its own session, as itself`, async (t) => {
      const { sessions, connect } = await started(t, adapter)
      const clients = await Promise.all(Array.from({ length: CLIENTS }, (_, i) => connect(`user-${i}-token`)))
      assert.equal(new Set(clients.map(sessionIdOf)).size, CLIENTS)
      const results = await Promise.all(clients.map((c) => c.callTool({ name: 'whoami', arguments: {} })))
      assert.deepEqual(results.map((r) => (r.content as Array<{ text: string }>)[0]?.text), clients.map((_, i) => `user-${i}`))
      // An elicitation round trip in every session at once: each answer reaches its own caller.
      const asked = await Promise.all(clients.map((c) => c.callTool({ name: 'ask', arguments: { question: '?' } })))
      assert.deepEqual(asked.map((r) => (r.content as Array<{ text: string }>)[0]?.text), clients.map((_, i) => `user-${i}:accept`))
      assert.equal(sessions.size, CLIENTS)
      assert.equal(sessions.bindings?.size, CLIENTS)
    })

    it(`stateless: ${CLIENTS} SDK clients share nothing; each request gets its own server and transport, freed after`, async (t) => {
      const { sessions, connect } = await started(t, adapter, { stateless: true })
      const clients = await Promise.all(Array.from({ length: CLIENTS }, (_, i) => connect(`user-${i}-token`)))
      for (let round = 0; round < 2; round++) {
        const results = await Promise.all(clients.map((c) => c.callTool({ name: 'whoami', arguments: {} })))
        assert.deepEqual(results.map((r) => (r.content as Array<{ text: string }>)[0]?.text), clients.map((_, i) => `user-${i}`))
      }
      assert.equal((clients[0]?.transport as StreamableHTTPClientTransport).sessionId, undefined)
      assert.equal(sessions.bindings, undefined)
      await eventually(() => sessions.size === 0, 10_000, 'stateless transports freed')
    })

    it('stateful: DELETE ends the session and frees its transport; the others go on', async (t) => {
      const { sessions, connect, url } = await started(t, adapter)
      const [a, b] = await Promise.all([connect('alice-token'), connect('bob-token')])
      const aId = sessionIdOf(a as Client)
      await (a?.transport as StreamableHTTPClientTransport).terminateSession()
      await eventually(() => sessions.size === 1, 10_000, 'session freed')
      assert.equal(sessions.bindings?.has(aId), false)
      assert.equal((await raw(url.replace('/mcp', ''), 'POST', '/mcp', mcpHeaders('alice-token', aId), JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }))).status, 404)
      assert.ok((await (b as Client).listTools()).tools.length > 0)
    })
  })
}

describe('createMcpSessions: freeing sessions', () => {
  it('a session idle for idleTimeoutMs is freed by the timer (its transport closed); a client then gets 404', async (t) => {
    // Long enough that a loaded machine cannot idle the session out while the client is still connecting.
    const { sessions, connect, url } = await started(t, 'node', { idleTimeoutMs: 2000 })
    const client = await connect('alice-token')
    const id = sessionIdOf(client)
    // The client's own SSE GET stream keeps the session busy: end it, then wait for the sweep.
    await (client.transport as StreamableHTTPClientTransport).close()
    await eventually(() => sessions.size === 0, 20_000, 'idle session freed')
    assert.equal(sessions.bindings?.stats().evictions.idle, 1)
    assert.equal((await raw(url.replace('/mcp', ''), 'POST', '/mcp', mcpHeaders('alice-token', id), JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }))).status, 404)
  })

  it('one session more than maxSessionsPerPrincipal frees that principal’s oldest — never another principal’s', async (t) => {
    const { sessions, connect, url } = await started(t, 'node', { maxSessionsPerPrincipal: 2 })
    const bob = await connect('bob-token')
    const first = await connect('alice-token')
    const firstId = sessionIdOf(first)
    await connect('alice-token')
    await connect('alice-token')
    await eventually(() => sessions.size === 3, 10_000, 'oldest alice session freed')
    assert.equal(sessions.bindings?.stats().evictions.principal_limit, 1)
    assert.equal((await raw(url.replace('/mcp', ''), 'POST', '/mcp', mcpHeaders('alice-token', firstId), JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }))).status, 404)
    assert.ok((await bob.listTools()).tools.length > 0)
  })

  it('when full, a principal holding no session is refused (503) and nobody is evicted', async (t) => {
    const { sessions, connect, url } = await started(t, 'node', { maxSessions: 2 })
    const a = await connect('alice-token')
    const b = await connect('bob-token')
    const r = await raw(url.replace('/mcp', ''), 'POST', '/mcp', mcpHeaders('carol-token'), initialize())
    assert.equal(r.status, 503)
    assert.equal(sessions.size, 2)
    assert.equal(sessions.bindings?.stats().refused, 1)
    assert.ok((await a.listTools()).tools.length > 0)
    assert.ok((await b.listTools()).tools.length > 0)
  })

  it('a failed initialize leaves no transport behind; requests without a session get 400, unknown sessions 404', async (t) => {
    const { sessions, url } = await started(t, 'node')
    const base = url.replace('/mcp', '')
    const bad = await raw(base, 'POST', '/mcp', mcpHeaders('alice-token'), JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: 1 } }))
    assert.ok(bad.status >= 400, `${bad.status}`)
    assert.equal((await raw(base, 'POST', '/mcp', mcpHeaders('alice-token'), JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'ping' }))).status, 400)
    assert.equal((await raw(base, 'GET', '/mcp', { ...mcpHeaders('alice-token'), accept: 'text/event-stream' })).status, 400)
    await eventually(() => sessions.size === 0, 10_000, 'nothing left')
  })

  it('close() closes every session', async (t) => {
    const { sessions, connect } = await started(t, 'node')
    await connect('alice-token')
    await connect('bob-token')
    assert.equal(sessions.size, 2)
    await sessions.close()
    assert.equal(sessions.size, 0)
  })
})

describe('no error is swallowed', () => {
  const failing = () => {
    throw new Error('server factory broke')
  }

  for (const adapter of ['node', 'express', 'fastify'] as const) {
    it(`${adapter}: a failing handler reaches onError with the decision id; the client gets a 500 carrying it`, async (t) => {
      const seen: Array<{ error: unknown; context: McpErrorContext }> = []
      let calls = 0
      const sessions = createMcpSessions({ authz, stateless: true, createServer: () => (calls++ === 0 ? createTestServer() : failing()) })
      const s = await serve(adapter, sessions, { onError: (error, context) => void seen.push({ error, context }) })
      t.after(() => s.stop())
      const r = await raw(s.url.replace('/mcp', ''), 'POST', '/mcp', mcpHeaders('alice-token'), initialize())
      assert.equal(r.status, 500)
      const decisionId = r.headers['mcp-authz-decision-id']
      assert.match(String(decisionId), /^[0-9a-f-]{36}$/)
      assert.equal(JSON.parse(r.body).error.data.decision_id, decisionId)
      assert.equal(seen.length, 1)
      assert.match(String(seen[0]?.error), /server factory broke/)
      assert.deepEqual(seen[0]?.context, { stage: 'handler', decisionId, method: 'POST' })
    })
  }

  it('without onError: one line on stderr with the decision id', async (t) => {
    const lines: string[] = []
    t.mock.method(console, 'error', (...args: unknown[]) => void lines.push(args.join(' ')))
    let calls = 0
    const sessions = createMcpSessions({ authz, stateless: true, createServer: () => (calls++ === 0 ? createTestServer() : failing()) })
    const s = await serve('node', sessions)
    t.after(() => s.stop())
    const r = await raw(s.url.replace('/mcp', ''), 'POST', '/mcp', mcpHeaders('alice-token'), initialize())
    assert.equal(r.status, 500)
    assert.equal(lines.length, 1)
    assert.match(lines[0] ?? '', new RegExp(`^mcp-authz: the MCP handler failed \\(decision ${r.headers['mcp-authz-decision-id']}, POST\\): Error: server factory broke`))
    assert.doesNotMatch(lines[0] ?? '', /alice-token/)
  })

  it('a handler wired without the guard fails closed (500) and says so', async (t) => {
    const lines: string[] = []
    t.mock.method(console, 'error', (...args: unknown[]) => void lines.push(args.join(' ')))
    const sessions = createMcpSessions({ authz, createServer: createTestServer })
    const server = createServer((req, res) => void sessions.handle(req, res, undefined))
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    t.after(async () => {
      server.closeAllConnections()
      await new Promise((r) => server.close(r))
    })
    const r = await raw(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, 'POST', '/mcp', mcpHeaders(), initialize())
    assert.equal(r.status, 500)
    assert.match(lines.join('\n'), /put the mcp-authz HTTP guard/)
  })

  it("errors the SDK reports on a session's server go to onError (stage: session)", async (t) => {
    const seen: McpErrorContext[] = []
    const { connect, url } = await started(t, 'node', { onError: (_e, c) => void seen.push(c) })
    const client = await connect('alice-token')
    const id = sessionIdOf(client)
    // An unsupported protocol version is answered 400 by the transport, and reported.
    const r = await raw(url.replace('/mcp', ''), 'POST', '/mcp', { ...mcpHeaders('alice-token', id), 'mcp-protocol-version': '1999-01-01' }, JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }))
    assert.equal(r.status, 400)
    await eventually(() => seen.length > 0, 5000, 'error reported')
    assert.deepEqual(seen[0], { stage: 'session', sessionId: id })
  })
})

describe('options', () => {
  it('createMcpSessions: bad options fail fast with a TypeError naming the option', () => {
    const ok = { authz, createServer: createTestServer }
    assert.throws(() => createMcpSessions(null as never), /options/)
    assert.throws(() => createMcpSessions({ createServer: createTestServer } as never), /options\.authz/)
    assert.throws(() => createMcpSessions({ authz } as never), /options\.createServer/)
    assert.throws(() => createMcpSessions({ ...ok, stateless: 'yes' as never }), /options\.stateless/)
    assert.throws(() => createMcpSessions({ ...ok, onError: 1 as never }), /options\.onError/)
    for (const name of ['maxSessions', 'maxSessionsPerPrincipal', 'idleTimeoutMs'] as const) assert.throws(() => createMcpSessions({ ...ok, [name]: 0 }), new RegExp(`options\\.${name}`))
    const defaults = createMcpSessions(ok)
    assert.deepEqual([defaults.bindings?.maxSessions, defaults.bindings?.maxSessionsPerPrincipal, defaults.bindings?.idleTimeoutMs, defaults.stateless], [10_000, 32, 1_800_000, false])
  })

  it("tool annotations come from the server's registrations, for the guard, before any session exists", () => {
    const sessions = createMcpSessions({ authz, createServer: createTestServer, stateless: true })
    assert.deepEqual(sessions.toolAnnotations('whoami'), { readOnlyHint: true })
    assert.equal(sessions.toolAnnotations('nope'), undefined)
  })

  it('adapters: handle or sessions, not both, not neither; sessions of the same engine; no second binding table', async () => {
    const sessions = createMcpSessions({ authz, createServer: createTestServer })
    const handle = () => undefined
    assert.throws(() => mcpAuthzHandler({ authz } as never), /options\.sessions.*or options\.handle is required/)
    assert.throws(() => mcpAuthzHandler({ authz, sessions, handle }), /exclusive/)
    assert.throws(() => mcpAuthzHandler({ authz, handle: 'x' as never }), /options\.handle/)
    assert.throws(() => mcpAuthzHandler({ authz, sessions: {} as never }), /createMcpSessions/)
    assert.throws(() => mcpAuthzHandler({ authz, handle, onError: 1 as never }), /options\.onError/)
    assert.throws(() => mcpAuthzHandler({ authz, handle, fallback: 1 as never }), /options\.fallback/)
    const other = await createAuthz({ bundle: await buildTestBundle(data), verifier })
    assert.throws(() => mcpAuthzHandler({ authz: other, sessions }), /another authz/)
    assert.throws(() => mcpAuthzHandler({ authz, sessions, sessionBinding: { maxSessions: 5 } }), /sessionBinding/)
    assert.equal(mcpAuthzExpress({ authz }).guard.sessions instanceof Object, true, 'Express without a handler: next() serves')
    assert.equal(mcpAuthzExpress({ authz, sessions }).guard.sessions, sessions.bindings, 'the guard binds in the sessions’ table')
  })
})

after(() => undefined)
