import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { call, post, RESOURCE, startHarness, type Harness } from './helpers.ts'

describe('POST /v1/decide over HTTP', () => {
  let h: Harness
  before(async () => {
    h = await startHarness()
  })
  after(() => h.close())

  it('allows a call the token has the scope for', async () => {
    const r = await post(`${h.url}/v1/decide`, { token: await h.token('notes:read'), message: call('notes_read') })
    assert.equal(r.status, 200)
    assert.equal(r.json.allow, true)
    assert.equal(r.json.status, 200)
    assert.deepEqual(r.json.reasons, [])
    assert.match(r.json.decision_id, /^[0-9a-f-]{36}$/)
    assert.equal(r.json.revision, h.authz.bundle.revision)
  })

  it('answers a 403 step-up with required scopes and the WWW-Authenticate value', async () => {
    const r = await post(`${h.url}/v1/decide`, { token: await h.token('notes:read'), message: call('notes_write', { title: 'x' }) })
    assert.equal(r.json.allow, false)
    assert.equal(r.json.status, 403)
    assert.deepEqual(r.json.required_scopes, ['notes:write'])
    assert.equal(r.json.reasons[0].code, 'insufficient_scope')
    assert.match(r.json.www_authenticate, /^Bearer error="insufficient_scope".*scope="notes:write"/)
  })

  it('answers 401 with a challenge when the token is missing or forged', async () => {
    const missing = await post(`${h.url}/v1/decide`, { message: call('notes_read') })
    assert.equal(missing.json.status, 401)
    assert.match(missing.json.www_authenticate, /resource_metadata=/)
    const forged = await post(`${h.url}/v1/decide`, { token: 'eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJ4In0.c2ln', message: call('notes_read') })
    assert.equal(forged.json.status, 401)
    assert.equal(forged.json.allow, false)
  })

  it('accepts the message as JSON text and reports a malformed JSON-RPC message as status 400', async () => {
    const text = await post(`${h.url}/v1/decide`, { token: await h.token('notes:read'), message: JSON.stringify(call('notes_read')) })
    assert.equal(text.json.allow, true)
    const bad = await post(`${h.url}/v1/decide`, { token: await h.token('notes:read'), message: { jsonrpc: '1.0', id: 1 } })
    assert.equal(bad.json.status, 400)
    assert.equal(typeof bad.json.jsonrpc_error.code, 'number')
  })

  it('refuses bad input with HTTP 400 and a clear message', async () => {
    const noMessage = await post(`${h.url}/v1/decide`, { token: 'x' })
    assert.equal(noMessage.status, 400)
    assert.match(noMessage.json.message, /message/)
    const extra = await post(`${h.url}/v1/decide`, { message: {}, surprise: 1 })
    assert.equal(extra.status, 400)
    const notJson = await post(`${h.url}/v1/decide`, '{"message":')
    assert.equal(notJson.status, 400)
  })

  it('filters a list with POST /v1/visible', async () => {
    const r = await post(`${h.url}/v1/visible`, { token: await h.token('notes:read'), kind: 'tool', items: [{ name: 'notes_read' }, { name: 'notes_write' }] })
    assert.equal(r.status, 200)
    assert.deepEqual(r.json.items, ['notes_read'])
    const anon = await post(`${h.url}/v1/visible`, { kind: 'tool', items: [{ name: 'notes_read' }] })
    assert.equal(anon.json.status, 401)
    assert.deepEqual(anon.json.items, [])
  })

  it('serves the OPA Data API shape for raw policy input', async () => {
    const principal = { subject: 'u', issuer: 'http://127.0.0.1:8181/dev-issuer', tenant: 'acme', audience: [RESOURCE], scopes: ['notes:read'], authMethod: 'jwt', tokenId: 't', claims: {} }
    const input = { principal, action: { method: 'tools/call', kind: 'tool', name: 'notes_read' }, server: { resource: RESOURCE }, context: { time_ns: 0, transport: 'http' } }
    const r = await post(`${h.url}/v1/data/mcp/authz/decision`, { input })
    assert.equal(r.status, 200)
    assert.deepEqual(r.json.result, { allow: true, reasons: [], required_scopes: [] })
    const bad = await post(`${h.url}/v1/data/mcp/authz/decision`, { input: { principal: 1 } })
    assert.equal(bad.status, 400)
  })

  it('reports health, readiness with the revision, and Prometheus metrics', async () => {
    const health = await fetch(`${h.url}/health`)
    assert.deepEqual(await health.json(), { status: 'ok' })
    const ready = await fetch(`${h.url}/ready`)
    assert.equal(ready.status, 200)
    assert.equal(((await ready.json()) as { revision: string }).revision, h.authz.bundle.revision)
    const metrics = await (await fetch(`${h.url}/metrics`)).text()
    assert.match(metrics, /mcp_authz_decisions_total\{result="allow",reason="none"\} \d+/)
    assert.match(metrics, /mcp_authz_decisions_total\{result="deny",reason="insufficient_scope"\} \d+/)
    assert.match(metrics, /mcp_authz_decision_duration_seconds_bucket\{le="[^"]+",stage="eval"\}/)
    assert.match(metrics, /mcp_authz_verification_failures_total\{code="[A-Z_]+"\} \d+/)
    assert.ok(metrics.includes(`mcp_authz_bundle_info{revision="${h.authz.bundle.revision}"} 1`))
  })
})

describe('limits and caller authentication', () => {
  it('refuses a body over bodyLimit with 413', async () => {
    const h = await startHarness({ bodyLimit: 1024 })
    try {
      const r = await post(`${h.url}/v1/decide`, { message: call('notes_write', { title: 'x'.repeat(4096) }) })
      assert.equal(r.status, 413)
    } finally {
      await h.close()
    }
  })

  it('requires the API key when configured (Bearer or x-api-key), leaving probes open', async () => {
    const { hashApiKey } = await import('../../src/server/auth.ts')
    const h = await startHarness({ apiKeyHashes: [hashApiKey('s3cret-key')] })
    try {
      const body = { token: await h.token('notes:read'), message: call('notes_read') }
      assert.equal((await post(`${h.url}/v1/decide`, body)).status, 401)
      assert.equal((await post(`${h.url}/v1/decide`, body, { authorization: 'Bearer wrong' })).status, 401)
      assert.equal((await post(`${h.url}/v1/decide`, body, { authorization: 'Bearer s3cret-key' })).json.allow, true)
      assert.equal((await post(`${h.url}/v1/decide`, body, { 'x-api-key': 's3cret-key' })).json.allow, true)
      assert.equal((await fetch(`${h.url}/metrics`)).status, 401)
      assert.equal((await fetch(`${h.url}/health`)).status, 200)
    } finally {
      await h.close()
    }
  })

  it('refuses to build a server listening beyond loopback without an API key', async () => {
    const { buildServer } = await import('../../src/server/app.ts')
    const h = await startHarness()
    try {
      assert.throws(() => buildServer({ authz: h.authz, host: '0.0.0.0' }), /apiKeyHashes is required/)
    } finally {
      await h.close()
    }
  })
})

describe('timeouts and graceful shutdown', () => {
  const principal = { subject: 'u', issuer: 'http://127.0.0.1:8181/dev-issuer', tenant: 'acme', audience: [RESOURCE], scopes: ['notes:read'], authMethod: 'jwt' as const, tokenId: 't', claims: {} }
  /** A verifier that answers after `ms`, or fails when the request's time is up. */
  const slowVerifier = (ms: number) => ({
    verify: (_token: string, options?: { signal?: AbortSignal }) =>
      new Promise<typeof principal>((resolve, reject) => {
        const t = setTimeout(() => resolve(principal), ms)
        options?.signal?.addEventListener('abort', () => {
          clearTimeout(t)
          reject(Object.assign(new Error('verification aborted'), { code: 'ERR_VERIFICATION_ABORTED' }))
        })
      }),
  })

  async function serve(verifierMs: number, requestTimeoutMs: number) {
    const { createAuthz } = await import('../../src/authz.ts')
    const { buildServer } = await import('../../src/server/app.ts')
    const { buildTestBundle } = await import('../helpers/bundle.ts')
    const { quickData } = await import('./helpers.ts')
    const authz = await createAuthz({ bundle: await buildTestBundle(quickData), verifier: slowVerifier(verifierMs) })
    const app = buildServer({ authz, requestTimeoutMs })
    return { app, url: await app.listen({ host: '127.0.0.1', port: 0 }) }
  }

  it('a verification slower than requestTimeoutMs ends as a 401 decision, not a hang', async () => {
    const { app, url } = await serve(5_000, 100)
    try {
      const started = Date.now()
      const r = await post(`${url}/v1/decide`, { token: 't', message: call('notes_read') })
      assert.equal(r.json.status, 401)
      assert.ok(Date.now() - started < 2_000)
    } finally {
      await app.close()
    }
  })

  it('close() lets a decision in flight finish', async () => {
    const { app, url } = await serve(200, 5_000)
    const pending = post(`${url}/v1/decide`, { token: 't', message: call('notes_read') })
    await new Promise((r) => setTimeout(r, 50))
    await app.close()
    const r = await pending
    assert.equal(r.status, 200)
    assert.equal(r.json.allow, true)
  })
})
