// 11.4: the Authorization header is read in linear time, its length bounded first — in the parser
// itself and through every adapter, before any token check. Timing is compared within one run
// (a pathological header against a normal one of the same length), never against a clock.
import assert from 'node:assert/strict'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, describe, it } from 'node:test'
import express from 'express'
import Fastify, { type FastifyInstance } from 'fastify'
import { createAuthz, type Authz } from '../../src/authz.ts'
import { bearerToken, createMcpSessions, mcpAuthzExpress, mcpAuthzFastify, mcpAuthzHandler, MAX_AUTHORIZATION_LENGTH, type McpSessions } from '../../src/mcp/index.ts'
import { presentedApiKey } from '../../src/server/auth.ts'
import { buildTestBundle } from '../helpers/bundle.ts'
import { createTestServer, data, mcpHeaders, raw, verifier } from './helpers.ts'

/** Median of `runs` timings of `fn`, ms. */
async function median(runs: number, fn: () => unknown): Promise<number> {
  const times: number[] = []
  for (let i = 0; i < runs; i++) {
    const started = performance.now()
    await fn()
    times.push(performance.now() - started)
  }
  times.sort((a, b) => a - b)
  return times[Math.floor(runs / 2)] as number
}

// 15 000 characters keep the whole request under node's 16 KiB header limit.
const N = 15_000
const PATHOLOGICAL = [`Bearer x${' '.repeat(N)}y`, `Bearer ${' '.repeat(N)}`, `${' '.repeat(N)}Bearer`, `Bearer\t${'\t '.repeat(N / 2)}x`]
const NORMAL = `Bearer ${'a'.repeat(N + 2)}`

describe('bearerToken()', () => {
  it('reads the Bearer scheme (any case); another scheme, or none, is no bearer credential', () => {
    assert.equal(bearerToken('Bearer abc.def'), 'abc.def')
    assert.equal(bearerToken('bearer abc'), 'abc')
    assert.equal(bearerToken('BEARER abc'), 'abc')
    assert.equal(bearerToken('bEaReR abc'), 'abc')
    assert.equal(bearerToken('Bearer'), '')
    assert.equal(bearerToken('Bearer   '), '')
    assert.equal(bearerToken(undefined), undefined)
    assert.equal(bearerToken(''), undefined)
    assert.equal(bearerToken('Basic dXNlcjpwYXNz'), undefined)
    assert.equal(bearerToken('Bearerabc'), undefined)
    assert.equal(bearerToken('Bear abc'), undefined)
    assert.equal(bearerToken('Bearers abc'), undefined)
    assert.equal(bearerToken('XBearer abc'), undefined)
    // Schemes of the same length as "Bearer" are compared letter by letter.
    assert.equal(bearerToken('Digest abc'), undefined)
    assert.equal(bearerToken('Beaver abc'), undefined)
    assert.equal(bearerToken('Bearez abc'), undefined)
  })

  it('ignores spaces and tabs around the scheme and the token, and keeps what is inside the token', () => {
    assert.equal(bearerToken('  Bearer   abc  '), 'abc')
    assert.equal(bearerToken('\tBearer\tabc\t'), 'abc')
    assert.equal(bearerToken('Bearer a b'), 'a b', 'the verifier judges the syntax')
  })

  it(`bounds the length first: a header over ${MAX_AUTHORIZATION_LENGTH} characters is an empty (invalid) credential, whatever its scheme`, () => {
    const atLimit = `Bearer ${'a'.repeat(MAX_AUTHORIZATION_LENGTH - 7)}`
    assert.equal(atLimit.length, MAX_AUTHORIZATION_LENGTH)
    assert.equal(bearerToken(atLimit), 'a'.repeat(MAX_AUTHORIZATION_LENGTH - 7))
    assert.equal(bearerToken(`${atLimit}a`), '')
    assert.equal(bearerToken(`Basic ${'a'.repeat(MAX_AUTHORIZATION_LENGTH)}`), '')
  })

  it('takes time linear in the header: a pathological header costs no more than a few passes over it, like a normal one', async () => {
    // Linear work of reference: one pass over the characters of a header of the same length.
    let sink = 0
    const pass = (h: string) => { for (let i = 0; i < h.length; i++) sink += h.charCodeAt(i) }
    const normal = await median(21, () => { for (let i = 0; i < 20; i++) bearerToken(NORMAL) })
    for (const header of PATHOLOGICAL) {
      const linear = await median(21, () => { for (let i = 0; i < 20; i++) pass(header) })
      const bad = await median(21, () => { for (let i = 0; i < 20; i++) bearerToken(header) })
      // The backtracking regex took ~10 000 passes' worth here (1.9 s a header); a linear scan takes about one.
      assert.ok(bad < (linear + normal) * 10, `${JSON.stringify(header.slice(0, 10))}…: ${bad.toFixed(3)} ms vs one pass ${linear.toFixed(3)} ms, normal ${normal.toFixed(3)} ms`)
    }
    assert.ok(sink > 0)
  })
})

describe('presentedApiKey() (decision endpoint callers)', () => {
  it('reads Bearer or x-api-key, bounded before hashing', () => {
    assert.equal(presentedApiKey('Bearer k1', undefined), 'k1')
    assert.equal(presentedApiKey('bearer  k1 ', undefined), 'k1')
    assert.equal(presentedApiKey(undefined, 'k2'), 'k2')
    assert.equal(presentedApiKey('Basic x', 'k2'), 'k2')
    assert.equal(presentedApiKey(`Bearer ${'k'.repeat(5000)}`, undefined), undefined)
    assert.equal(presentedApiKey(undefined, 'k'.repeat(5000)), undefined)
    assert.equal(presentedApiKey(undefined, undefined), undefined)
  })
})

describe('through every adapter, before any token check', () => {
  let authz: Authz
  const bases: Record<string, string> = {}
  const sessions: McpSessions[] = []
  let nodeServer: Server
  let expressServer: Server
  let fastify: FastifyInstance

  before(async () => {
    authz = await createAuthz({ bundle: await buildTestBundle(data), verifier })
    const s = () => {
      const made = createMcpSessions({ authz, createServer: createTestServer })
      sessions.push(made)
      return made
    }
    nodeServer = createServer(mcpAuthzHandler({ authz, sessions: s() }))
    await new Promise<void>((r) => nodeServer.listen(0, '127.0.0.1', r))
    bases.node = `http://127.0.0.1:${(nodeServer.address() as AddressInfo).port}`
    const app = express()
    app.all('/mcp', mcpAuthzExpress({ authz, sessions: s() }))
    expressServer = createServer(app)
    await new Promise<void>((r) => expressServer.listen(0, '127.0.0.1', r))
    bases.express = `http://127.0.0.1:${(expressServer.address() as AddressInfo).port}`
    fastify = Fastify()
    await fastify.register(mcpAuthzFastify, { authz, sessions: s() })
    await fastify.listen({ port: 0, host: '127.0.0.1' })
    bases.fastify = `http://127.0.0.1:${(fastify.server.address() as AddressInfo).port}`
  })

  after(async () => {
    for (const s of sessions) await s.close()
    for (const s of [nodeServer, expressServer]) {
      s.closeAllConnections()
      await new Promise((r) => s.close(r))
    }
    await fastify.close()
  })

  for (const adapter of ['node', 'express', 'fastify']) {
    it(`${adapter}: a pathological Authorization header is answered 401 about as fast as a normal one`, async () => {
      const ping = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' })
      const send = async (authorization: string) => {
        const r = await raw(bases[adapter] as string, 'POST', '/mcp', { ...mcpHeaders(), authorization }, ping)
        assert.equal(r.status, 401)
        assert.match(String(r.headers['www-authenticate']), /error="invalid_token"/)
      }
      const normal = await median(7, () => send(NORMAL))
      const bad = await median(7, () => send(PATHOLOGICAL[0] as string))
      // Before: ~1.6 s against a few ms. A generous ratio, so a loaded machine cannot fail it.
      assert.ok(bad < Math.max(normal, 1) * 10, `${adapter}: ${bad.toFixed(1)} ms vs ${normal.toFixed(1)} ms`)
    })
  }
})
