// 11.2: no spelling of the MCP path gets around the guard. Each adapter, in its documented wiring
// and with its router set loose (case-insensitive, trailing slash, duplicate slashes, `;`
// parameters) or strict, and Express's application-wide wiring of earlier versions, runs in front
// of a real SDK transport holding a victim's live session. Path variants, with no token and with
// another principal's token plus the victim's Mcp-Session-Id, try to answer the victim's
// elicitation, open its stream and end its session: none reaches the transport. A control proves
// each variant the router does route is served — to the victim, with the victim's token.
import assert from 'node:assert/strict'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, describe, it } from 'node:test'
import express from 'express'
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify'
import type { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { createAuthz, type Authz } from '../../src/authz.ts'
import { createMcpSessions, mcpAuthzExpress, mcpAuthzFastify, mcpAuthzHandler, type McpSessions } from '../../src/mcp/index.ts'
import { buildTestBundle } from '../helpers/bundle.ts'
import { connectClient, createTestServer, data, initialize, mcpHeaders, raw, sessionIdOf, spySessions, verifier, type Reached } from './helpers.ts'

const VARIANTS = ['/mcp', '/MCP', '/Mcp/', '/mcp/', '/%6Dcp', '/%6dcp', '//mcp', '/mcp//', '/mcp;x=1', '/mcp?x=1', '/mcp#f', '/./mcp', '/a/../mcp', '/%2e/mcp', '/mcp%2F', '/mcp/.']
const ANSWER = JSON.stringify({ jsonrpc: '2.0', id: 0, result: { action: 'accept', content: { ok: true } } })
const PING = JSON.stringify({ jsonrpc: '2.0', id: 99, method: 'ping' })

/** What reached the transport as anyone but the victim in the victim's own session (the victim's client runs meanwhile). */
function attacks(reached: Reached[]): Reached[] {
  return reached.filter((r) => r.subject !== 'alice')
}

interface Target {
  name: string
  base: string
  sessions: McpSessions
  reached: Reached[]
  close(): Promise<void>
}

let authz: Authz
const targets: Target[] = []

async function listen(handler: Parameters<typeof createServer>[1]): Promise<{ base: string; server: Server }> {
  const server = createServer(handler)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return { base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server }
}

function stopper(server: Server, sessions: McpSessions): () => Promise<void> {
  return async () => {
    await sessions.close()
    server.closeAllConnections()
    await new Promise((r) => server.close(r))
  }
}

async function nodeTarget(): Promise<Target> {
  const reached: Reached[] = []
  const sessions = createMcpSessions({ authz, createServer: createTestServer })
  const { base, server } = await listen(mcpAuthzHandler({ authz, sessions: spySessions(sessions, reached) }))
  return { name: 'node:http', base, sessions, reached, close: stopper(server, sessions) }
}

async function expressTarget(name: string, configure: (app: express.Express, sessions: McpSessions, reached: Reached[]) => void): Promise<Target> {
  const reached: Reached[] = []
  const sessions = createMcpSessions({ authz, createServer: createTestServer })
  const app = express()
  configure(app, sessions, reached)
  const { base, server } = await listen(app)
  return { name, base, sessions, reached, close: stopper(server, sessions) }
}

async function fastifyTarget(name: string, options: FastifyServerOptions): Promise<Target> {
  const reached: Reached[] = []
  const sessions = createMcpSessions({ authz, createServer: createTestServer })
  const app: FastifyInstance = Fastify(options)
  await app.register(mcpAuthzFastify, { authz, sessions: spySessions(sessions, reached) })
  await app.listen({ port: 0, host: '127.0.0.1' })
  return {
    name,
    base: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`,
    sessions,
    reached,
    close: async () => {
      await sessions.close()
      await app.close()
    },
  }
}

before(async () => {
  authz = await createAuthz({ bundle: await buildTestBundle(data), verifier })
  targets.push(await nodeTarget())
  targets.push(
    await expressTarget('express (documented wiring, default router: case-insensitive, non-strict)', (app, sessions, reached) => {
      const mcp = mcpAuthzExpress({ authz, sessions: spySessions(sessions, reached) })
      app.use(mcp.metadata)
      app.all('/mcp', mcp)
    }),
  )
  targets.push(
    await expressTarget('express (documented wiring, case-sensitive and strict router, express.json() first)', (app, sessions, reached) => {
      app.set('case sensitive routing', true)
      app.set('strict routing', true)
      app.use(express.json())
      const mcp = mcpAuthzExpress({ authz, sessions: spySessions(sessions, reached) })
      app.all('/mcp', mcp)
    }),
  )
  targets.push(
    await expressTarget('express (application-wide app.use of earlier versions, own route handler)', (app, sessions, reached) => {
      const spied = spySessions(sessions, reached)
      app.use(express.json())
      app.use(mcpAuthzExpress({ authz, sessionBinding: sessions.bindings, toolAnnotations: (n) => sessions.toolAnnotations(n) }))
      app.all('/mcp', (req, res) => void spied.handle(req, res, req.body))
      app.get('/health', (_req, res) => void res.json({ ok: true }))
    }),
  )
  targets.push(await fastifyTarget('fastify (default router)', {}))
  targets.push(
    await fastifyTarget('fastify (caseSensitive false, ignoreTrailingSlash, ignoreDuplicateSlashes, useSemicolonDelimiter)', {
      // useSemicolonDelimiter is a router option at run time (the top-level form is deprecated), not yet in the types.
      routerOptions: { caseSensitive: false, ignoreTrailingSlash: true, ignoreDuplicateSlashes: true, useSemicolonDelimiter: true } as FastifyServerOptions['routerOptions'],
    }),
  )
})

after(async () => {
  for (const t of targets) await t.close()
})

const TARGET_NAMES = ['node:http', 'express, documented wiring, default router', 'express, documented wiring, strict router', 'express, application-wide (earlier versions)', 'fastify, default router', 'fastify, loose router']

for (const [index, name] of TARGET_NAMES.entries()) {
  describe(`${name}: path variants cannot get around the guard`, () => {
    let target: Target
    let victim: Client
    let sessionId: string

    before(async () => {
      target = targets[index] as Target
      victim = await connectClient(`${target.base}/mcp`, 'alice-token')
      sessionId = sessionIdOf(victim)
    })
    after(async () => {
      await victim.close().catch(() => {})
    })

    it('without a token, no variant and no method reaches the transport (answer, stream, end, initialize, HEAD, OPTIONS)', async () => {
      const before = target.reached.length
      for (const path of VARIANTS) {
        const attempts = [
          await raw(target.base, 'POST', path, mcpHeaders(undefined, sessionId), ANSWER),
          await raw(target.base, 'GET', path, { ...mcpHeaders(undefined, sessionId), accept: 'text/event-stream' }),
          await raw(target.base, 'DELETE', path, mcpHeaders(undefined, sessionId)),
          await raw(target.base, 'POST', path, mcpHeaders(), initialize()),
          await raw(target.base, 'HEAD', path, mcpHeaders(undefined, sessionId)),
          await raw(target.base, 'OPTIONS', path, mcpHeaders(undefined, sessionId)),
        ]
        for (const r of attempts) assert.ok([401, 404, 405].includes(r.status), `${target.name} ${path}: ${r.status} ${r.body}`)
      }
      assert.deepEqual(attacks(target.reached.slice(before)), [], `${target.name}: requests reached the transport unguarded`)
    })

    it("another principal's token with the victim's session id is refused at every variant (404), before the transport", async () => {
      const before = target.reached.length
      for (const path of VARIANTS) {
        for (const [method, body] of [['POST', ANSWER], ['POST', PING], ['GET', undefined], ['DELETE', undefined]] as const) {
          const r = await raw(target.base, method, path, { ...mcpHeaders('carol-token', sessionId), ...(method === 'GET' ? { accept: 'text/event-stream' } : {}) }, body)
          assert.equal(r.status, 404, `${target.name} ${method} ${path}: ${r.status} ${r.body}`)
        }
      }
      assert.deepEqual(attacks(target.reached.slice(before)), [])
    })

    it('control: each variant the router routes reaches the transport for the victim, as the victim', async () => {
      const before = target.reached.length
      let routed = 0
      for (const path of VARIANTS) {
        const r = await raw(target.base, 'POST', path, mcpHeaders('alice-token', sessionId), PING)
        if (r.status === 404 && !r.body.includes('jsonrpc')) continue // the router itself does not route this spelling
        assert.equal(r.status, 200, `${target.name} ${path}: ${r.status} ${r.body}`)
        routed++
      }
      // The victim's client may open its own SSE stream meanwhile: count the pings.
      const reached = target.reached.slice(before).filter((r) => r.method === 'POST')
      assert.equal(reached.length, routed)
      assert.ok(routed >= 3, `${target.name}: only ${routed} variants routed — the test would prove little`)
      for (const r of reached) assert.deepEqual([r.subject, r.sessionId], ['alice', sessionId])
    })

    it("the victim's session survived: its tools and its elicitation still work", async () => {
      assert.deepEqual((await victim.listTools()).tools.map((t) => t.name).sort(), ['ask', 'whoami'])
      const result = await victim.callTool({ name: 'ask', arguments: { question: 'still you?' } })
      assert.deepEqual(result.content, [{ type: 'text', text: 'alice:accept' }])
    })
  })
}

describe('Express, application-wide (earlier versions): fails closed', () => {
  it('every request it sees is guarded, other routes included; metadata stays public', async () => {
    const target = targets[3] as Target
    assert.equal((await raw(target.base, 'GET', '/health')).status, 401)
    assert.equal((await raw(target.base, 'GET', '/health', { authorization: 'Bearer alice-token' })).status, 200)
    const metadata = await raw(target.base, 'GET', '/.well-known/oauth-protected-resource/mcp')
    assert.equal(metadata.status, 200)
    assert.equal(JSON.parse(metadata.body).resource, data.mcp_authz.resource)
  })
})
