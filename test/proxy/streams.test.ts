// Streaming and failure behaviour of the proxy: the SSE rewriter (framing, ids, filtering, bounds,
// backpressure) and a scripted upstream that misbehaves (dies mid-stream, hangs, refuses the proxy,
// answers too much), plus what never reaches the upstream (other hosts, oversized bodies, other paths).
import assert from 'node:assert/strict'
import { Readable, Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { after, before, describe, it } from 'node:test'
import { SseEventTooLarge, SseRewriter } from '../../src/proxy/index.ts'
import { createServerMetrics } from '../../src/observability/prometheus.ts'
import { staticPrincipal } from '../../src/verify/index.ts'
import { startLoopback, type LoopbackServer } from '../helpers/verify-loopback.ts'
import { startTestProxy, type RunningProxy } from './helpers.ts'

async function rewrite(chunks: string[], map: (m: unknown) => unknown = (m) => m, maxEventBytes?: number): Promise<string> {
  let out = ''
  await pipeline(Readable.from(chunks.map((c) => Buffer.from(c))), new SseRewriter({ map, ...(maxEventBytes ? { maxEventBytes } : {}) }), new Writable({ write(chunk, _e, cb) { out += chunk.toString(); cb() } }))
  return out
}

describe('SseRewriter', () => {
  it('passes events unchanged (ids, event types, retry, comments), whatever the line endings and chunking', async () => {
    const msg = '{"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":"é ✓"}}'
    const source = `: keep-alive\r\nretry: 1000\r\n\r\nid: s1_1\r\nevent: message\r\ndata: ${msg}\r\n\r\nid: s1_2\rdata: ${msg}\r\r`
    const expected = `: keep-alive\nretry: 1000\n\nid: s1_1\nevent: message\ndata: ${msg}\n\nid: s1_2\ndata: ${msg}\n\n`
    assert.equal(await rewrite([source]), expected)
    // Every split point, CRLF and multi-byte characters cut in two included.
    const bytes = Buffer.from(source)
    for (let cut = 1; cut < bytes.length; cut += 7) {
      let out = ''
      await pipeline(Readable.from([bytes.subarray(0, cut), bytes.subarray(cut)]), new SseRewriter({ map: (m) => m }), new Writable({ write(c, _e, cb) { out += c.toString(); cb() } }))
      assert.equal(out, expected, `split at byte ${cut}`)
    }
  })

  it('replaces the data of a message the map changes, keeping the event id and type', async () => {
    const list = { jsonrpc: '2.0', id: 3, result: { tools: [{ name: 'a' }, { name: 'b' }] } }
    const json = JSON.stringify(list)
    const cut = json.indexOf('"id"') // multi-line data: lines are joined with LF, JSON whitespace here
    const out = await rewrite([`id: 7\nevent: message\ndata: ${json.slice(0, cut)}\ndata: ${json.slice(cut)}\n\n`], (m) => ({ ...(m as object), result: { tools: [{ name: 'a' }] } }))
    assert.equal(out, `id: 7\nevent: message\ndata: {"jsonrpc":"2.0","id":3,"result":{"tools":[{"name":"a"}]}}\n\n`)
  })

  it('drops data that is not JSON (a laxer client parser could read an unfiltered list) but keeps the event id; keeps empty priming events', async () => {
    const out = await rewrite(['id: 1\ndata: \n\n', 'id: 2\nevent: message\ndata: {"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"secret"}]},"x":NaN}\n\n'], () => {
      throw new Error('never called for non-JSON data')
    })
    assert.equal(out, 'id: 1\ndata: \n\nid: 2\nevent: message\n\n')
  })

  it('drops an event cut short by the end of the stream (never passes half a message)', async () => {
    assert.equal(await rewrite(['id: 1\ndata: {"a":1}\n\nid: 2\ndata: {"tru']), 'id: 1\ndata: {"a":1}\n\n')
  })

  it('fails on an event larger than the bound, and on a line that never ends', async () => {
    await assert.rejects(rewrite([`data: ${'x'.repeat(100)}\n`, `data: ${'y'.repeat(100)}\n\n`], (m) => m, 150), SseEventTooLarge)
    await assert.rejects(rewrite([`data: ${'x'.repeat(400)}`], (m) => m, 150), SseEventTooLarge)
    const fits = [`data: "${'x'.repeat(100)}"\n\n`, `data: "${'y'.repeat(100)}"\n\n`]
    assert.equal(await rewrite(fits, (m) => m, 150), fits.join(''), 'events under the bound pass')
  })

  it('applies backpressure: a stalled client stops the reading of the upstream', async () => {
    let produced = 0
    const source = new Readable({
      read() {
        if (produced > 50_000) return this.push(null)
        produced++
        this.push(`id: ${produced}\ndata: {"jsonrpc":"2.0","method":"notifications/message","params":{"data":"${'z'.repeat(200)}"}}\n\n`)
      },
    })
    const stalled = new Writable({ highWaterMark: 1024, write(_c, _e, _cb) { /* never calls back: a client that does not read */ } })
    void pipeline(source, new SseRewriter({ map: (m) => m }), stalled).catch(() => undefined)
    await new Promise((r) => setTimeout(r, 200))
    const whileStalled = produced
    await new Promise((r) => setTimeout(r, 200))
    assert.equal(produced, whileStalled, 'nothing more is read while the client is stalled')
    assert.ok(produced < 1000, `only a few buffers' worth was read (${produced} events)`)
    source.destroy()
    stalled.destroy()
  })
})

describe('proxy in front of a misbehaving upstream', { timeout: 120_000 }, () => {
  let upstream: LoopbackServer
  let proxy: RunningProxy
  const anonymous = staticPrincipal({ subject: 'tester', scopes: ['mcp:read'] })

  before(async () => {
    upstream = await startLoopback()
    proxy = await startTestProxy(undefined, { url: `${upstream.url}/mcp`, timeoutMs: 1500, maxMessageBytes: 64 * 1024 }, {
      data: (resource) => ({ mcp_authz: { resource, issuers: {}, defaults: { read_scope: 'mcp:read', unlisted_tools: 'deny', unlisted_resources: 'deny', unlisted_prompts: 'deny' }, tools: { slow: { scopes: ['mcp:read'] } } } }),
      dangerouslyAllowAnonymous: anonymous,
      maxBodyBytes: 4096,
    })
  })
  after(async () => {
    await proxy?.close()
    await upstream?.close()
  })

  const call = (id: number, headers: Record<string, string> = {}, url = proxy.url, body?: string) =>
    fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers }, body: body ?? JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'slow', arguments: {} } }) })

  async function healthy(): Promise<void> {
    assert.equal((await fetch(`${new URL(proxy.url).origin}/health`)).status, 200)
    const active = (proxy.proxy.upstream as unknown as { active: number }).active
    assert.equal(active, 0, 'no upstream request left open')
  }

  it('upstream dies mid-stream without event ids: the client gets what came, then a JSON-RPC error for its request', async () => {
    upstream.handle((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' })
      res.write('event: message\ndata: {"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":"working"}}\n\n')
      res.write('event: message\ndata: {"jsonrpc":"2.0","id":1,"res')
      setTimeout(() => res.socket?.destroy(), 50)
    })
    const res = await call(1)
    assert.equal(res.status, 200)
    assert.ok(res.headers.get('mcp-authz-decision-id'))
    const body = await res.text()
    const events = body.trim().split('\n\n').map((e) => JSON.parse(e.split('\n').find((l) => l.startsWith('data: '))?.slice(6) ?? 'null'))
    assert.equal(events.length, 2)
    assert.equal(events[0].method, 'notifications/message')
    assert.equal(events[1].id, 1)
    assert.equal(events[1].error.code, -32000)
    assert.equal(events[1].error.data.decision_id, res.headers.get('mcp-authz-decision-id'))
    await healthy()
  })

  it('upstream dies mid-stream after event ids: the stream closes so the client resumes with Last-Event-ID', async () => {
    upstream.handle((req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' })
      if (req.headers['last-event-id'] === 'e1') return void res.end('id: e2\ndata: {"jsonrpc":"2.0","id":2,"result":{"content":[]}}\n\n')
      res.write('id: e1\ndata: {"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":"working"}}\n\n')
      setTimeout(() => res.socket?.destroy(), 50)
    })
    const first = await (await call(2)).text()
    assert.equal(first, 'id: e1\ndata: {"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":"working"}}\n\n')
    const resumed = await fetch(proxy.url, { headers: { accept: 'text/event-stream', 'last-event-id': 'e1' } })
    assert.equal(await resumed.text(), 'id: e2\ndata: {"jsonrpc":"2.0","id":2,"result":{"content":[]}}\n\n')
    assert.equal(upstream.requests.at(-1)?.headers['last-event-id'], 'e1', 'Last-Event-ID reached the upstream')
    await healthy()
  })

  it('upstream that does not answer in time: 504 with a JSON-RPC error on the request id', async () => {
    upstream.handle(() => new Promise(() => undefined))
    const res = await call(3)
    assert.equal(res.status, 504)
    const body = (await res.json()) as { id: number; error: { code: number; data: { decision_id: string } } }
    assert.equal(body.id, 3)
    assert.equal(body.error.data.decision_id, res.headers.get('mcp-authz-decision-id'))
    await healthy()
  })

  it('upstream that refuses the proxy (401 + WWW-Authenticate): 502, and its challenge never reaches the client', async () => {
    upstream.handle((_req, res) => void res.writeHead(401, { 'www-authenticate': 'Bearer resource_metadata="http://evil.example/.well-known/oauth-protected-resource"', 'content-type': 'application/json' }).end('{}'))
    const res = await call(4)
    assert.equal(res.status, 502)
    assert.equal(res.headers.get('www-authenticate'), null)
    await res.text()
    await healthy()
  })

  it('strips Set-Cookie and WWW-Authenticate from answers, and refuses a JSON answer larger than the bound', async () => {
    upstream.handle((_req, res) => void res.writeHead(200, { 'content-type': 'application/json', 'set-cookie': 'a=b', 'www-authenticate': 'Bearer', 'x-internal': 'secret' }).end('{"jsonrpc":"2.0","id":5,"result":{"content":[]}}'))
    const res = await call(5)
    assert.equal(res.status, 200)
    for (const h of ['set-cookie', 'www-authenticate', 'x-internal']) assert.equal(res.headers.get(h), null, h)
    assert.deepEqual(await res.json(), { jsonrpc: '2.0', id: 5, result: { content: [] } })
    upstream.handle((_req, res) => void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ jsonrpc: '2.0', id: 6, result: { big: 'x'.repeat(70 * 1024) } })))
    const big = await call(6)
    assert.equal(big.status, 502)
    await big.text()
    await healthy()
  })

  it('upstream unreachable: 502 with a JSON-RPC error', async () => {
    const gone = await startTestProxy(undefined, { url: 'http://127.0.0.1:9/mcp' }, {
      data: (resource) => ({ mcp_authz: { resource, issuers: {}, defaults: { read_scope: 'mcp:read', unlisted_tools: 'deny' }, tools: { slow: { scopes: ['mcp:read'] } } } }),
      dangerouslyAllowAnonymous: anonymous,
    })
    try {
      const res = await call(7, {}, gone.url)
      assert.equal(res.status, 502)
      assert.equal(((await res.json()) as { id: number }).id, 7)
    } finally {
      await gone.close()
    }
  })

  it('never forwards a request for another host or origin (DNS rebinding), an oversized body, another path, or a token in the URL', async () => {
    upstream.requests.length = 0
    const decided = proxy.events.length
    const port = new URL(proxy.url).port
    // fetch() will not send a forged Host; node:http will.
    const { request } = await import('node:http')
    const status = (headers: Record<string, string>) =>
      new Promise<number>((resolve, reject) => {
        const r = request(proxy.url, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers } }, (res) => {
          res.resume()
          resolve(res.statusCode ?? 0)
        })
        r.on('error', reject)
        r.end(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }))
      })
    assert.equal(await status({ host: `evil.example:${port}` }), 403)
    assert.equal(await status({ origin: 'http://evil.example' }), 403)
    assert.equal(proxy.events.length, decided, 'refused before any decision')
    assert.equal((await call(8, {}, proxy.url, JSON.stringify({ jsonrpc: '2.0', id: 8, method: 'ping', params: { pad: 'x'.repeat(5000) } }))).status, 413)
    for (const path of ['/MCP', '/mcp/', '/mcp/x', '//mcp']) assert.equal((await call(9, {}, `${new URL(proxy.url).origin}${path}`)).status, 404, path)
    assert.equal((await call(10, {}, `${proxy.url}?access_token=abc`)).status, 400)
    assert.equal(upstream.requests.length, 0, 'none of these reached the upstream')
  })
})

describe('stdio bridge bounds', { timeout: 120_000 }, () => {
  it('refuses a request beyond maxPendingRequests of a session (at the limit: accepted)', async () => {
    // A stdio server that answers initialize, then never answers anything.
    const silent = `const rl = require('node:readline').createInterface({ input: process.stdin });
rl.on('line', (l) => { const m = JSON.parse(l); if (m.method === 'initialize') process.stdout.write(JSON.stringify({ jsonrpc: '2.0', id: m.id, result: { protocolVersion: '2025-11-25', capabilities: { tools: {} }, serverInfo: { name: 'silent', version: '1' } } }) + '\\n') });
rl.on('close', () => process.exit(0))`
    const proxy = await startTestProxy(undefined, { command: process.execPath, args: ['-e', silent], env: { PATH: process.env.PATH ?? '' }, maxPendingRequests: 2, stopGraceMs: 200 }, {
      data: (resource) => ({ mcp_authz: { resource, issuers: {}, defaults: { read_scope: 'mcp:read', unlisted_tools: 'deny' }, tools: { slow: { scopes: ['mcp:read'] } } } }),
      dangerouslyAllowAnonymous: staticPrincipal({ subject: 'tester', scopes: ['mcp:read'] }),
    })
    try {
      const headers = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' }
      const init = await fetch(proxy.url, { method: 'POST', headers, signal: AbortSignal.timeout(60_000), body: JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 't', version: '1' } } }) })
      assert.equal(init.status, 200)
      // Wait for the initialize result itself (a priming event may come first): until then it is pending too.
      const reader = init.body?.getReader() as ReadableStreamDefaultReader<Uint8Array>
      let got = ''
      while (!got.includes('"result"')) {
        const { value, done } = await reader.read()
        if (done) break
        got += Buffer.from(value).toString()
      }
      await reader.cancel()
      const session = { ...headers, 'mcp-session-id': init.headers.get('mcp-session-id') as string, 'mcp-protocol-version': '2025-11-25' }
      // Bounded waits: a failure fails the test instead of hanging it (and the proxy is closed in finally).
      const call = (id: number) => fetch(proxy.url, { method: 'POST', headers: session, signal: AbortSignal.timeout(60_000), body: JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'slow', arguments: {} } }) })
      const open = [await call(1), await call(2)] // at the limit: both accepted, waiting
      for (const r of open) assert.equal(r.status, 200)
      const third = await call(3)
      assert.equal(third.status, 200)
      const text = await third.text()
      assert.match(text, /"id":3,"error":\{"code":-32000,"message":"Too many requests in flight"/)
      for (const r of open) await r.body?.cancel()
    } finally {
      await proxy.close()
    }
  })
})

describe('proxy operations routes', () => {
  it('serves /metrics to loopback callers only (unless publicMetrics), /health and /ready to anyone', async () => {
    const data = (resource: string) => ({ mcp_authz: { resource, issuers: {}, defaults: { read_scope: 'mcp:read' } } })
    const proxy = await startTestProxy(undefined, { url: 'http://127.0.0.1:9/mcp' }, { data, metrics: createServerMetrics({ processMetrics: false }) })
    const open = await startTestProxy(undefined, { url: 'http://127.0.0.1:9/mcp' }, { data, metrics: createServerMetrics({ processMetrics: false }), publicMetrics: true })
    try {
      const app = proxy.proxy.app
      assert.equal((await app.inject({ method: 'GET', url: '/metrics', remoteAddress: '127.0.0.1' })).statusCode, 200)
      assert.equal((await app.inject({ method: 'GET', url: '/metrics', remoteAddress: '10.1.2.3' })).statusCode, 404)
      assert.equal((await open.proxy.app.inject({ method: 'GET', url: '/metrics', remoteAddress: '10.1.2.3' })).statusCode, 200)
      assert.equal((await app.inject({ method: 'GET', url: '/health', remoteAddress: '10.1.2.3' })).statusCode, 200)
      const ready = await app.inject({ method: 'GET', url: '/ready', remoteAddress: '10.1.2.3' })
      assert.equal(ready.statusCode, 200)
      assert.equal(ready.json().revision, proxy.authz.bundle.revision)
    } finally {
      await proxy.close()
      await open.close()
    }
  })
})
