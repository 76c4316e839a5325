// 11.7 / 13.6: the decision endpoint decides on any string token (recorded 401 invalid_token with
// its challenge), answers malformed requests in the documented { error, message } shape, and ends
// every text body with a newline.
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { hashApiKey } from '../../src/server/auth.ts'
import { call, post, startHarness, type Harness } from './helpers.ts'

let h: Harness

before(async () => {
  h = await startHarness()
})
after(() => h.close())

async function metric(name: string): Promise<number> {
  const text = await h.metrics.registry.metrics()
  const line = text.split('\n').find((l) => l.startsWith(name))
  return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1))
}

describe('POST /v1/decide: any string token gets a decision', () => {
  it('an empty token: HTTP 200, status 401 invalid_token with the challenge, recorded', async () => {
    const before = await metric('mcp_authz_verification_failures_total{code="ERR_TOKEN_MISSING"}')
    const r = await post(`${h.url}/v1/decide`, { token: '', message: call('notes_read') })
    assert.equal(r.status, 200, JSON.stringify(r.json))
    assert.equal(r.json.status, 401)
    assert.match(r.json.decision_id, /^[0-9a-f-]{36}$/)
    assert.match(r.json.www_authenticate, /^Bearer error="invalid_token".*resource_metadata="/)
    assert.equal(await metric('mcp_authz_verification_failures_total{code="ERR_TOKEN_MISSING"}'), before + 1)
    const none = await post(`${h.url}/v1/decide`, { message: call('notes_read') })
    assert.doesNotMatch(none.json.www_authenticate, /error=/, 'no token at all: a bare challenge (RFC 6750 § 3.1)')
  })

  for (const [what, token, code] of [
    ['an over-long token', 'x'.repeat(20_000), 'ERR_TOKEN_TOO_LARGE'],
    ['a token of spaces', ' '.repeat(5000), 'ERR_TOKEN_MALFORMED'],
  ] as const) {
    it(`${what}: HTTP 200, status 401 invalid_token with the challenge, recorded`, async () => {
      const before = await metric(`mcp_authz_verification_failures_total{code="${code}"}`)
      const r = await post(`${h.url}/v1/decide`, { token, message: call('notes_read') })
      assert.equal(r.status, 200, JSON.stringify(r.json))
      assert.equal(r.json.allow, false)
      assert.equal(r.json.status, 401)
      assert.match(r.json.decision_id, /^[0-9a-f-]{36}$/)
      assert.match(r.json.www_authenticate, /^Bearer error="invalid_token".*resource_metadata="/)
      assert.equal(await metric(`mcp_authz_verification_failures_total{code="${code}"}`), before + 1)
    })
  }

  it('no token at all: status 401 with a bare challenge (no error code, RFC 6750 § 3.1)', async () => {
    const r = await post(`${h.url}/v1/decide`, { message: call('notes_read') })
    assert.equal(r.json.status, 401)
    assert.doesNotMatch(r.json.www_authenticate, /error=/)
  })

  it('POST /v1/visible: an empty token is a 401 decision with no items, not a 400', async () => {
    const r = await post(`${h.url}/v1/visible`, { token: '', kind: 'tool', items: [{ name: 'notes_read' }] })
    assert.equal(r.status, 200)
    assert.equal(r.json.status, 401)
    assert.deepEqual(r.json.items, [])
  })
})

describe('malformed requests: 4xx in the documented { error, message } shape', () => {
  const cases: Array<[string, () => Promise<{ status: number; json: any }>, number, string]> = [
    ['a message that is not an object or text', () => post(`${h.url}/v1/decide`, { message: 5 }), 400, 'bad_request'],
    ['a token that is not a string', () => post(`${h.url}/v1/decide`, { token: 5, message: call('notes_read') }), 400, 'bad_request'],
    ['no message', () => post(`${h.url}/v1/decide`, { token: 'x' }), 400, 'bad_request'],
    ['invalid JSON', () => post(`${h.url}/v1/decide`, '{"message":'), 400, 'bad_request'],
    ['an empty JSON body', () => post(`${h.url}/v1/decide`, ''), 400, 'bad_request'],
    ['another media type', () => post(`${h.url}/v1/decide`, 'message=x', { 'content-type': 'application/x-www-form-urlencoded' }), 415, 'unsupported_media_type'],
    ['an unknown route', () => post(`${h.url}/v1/nope`, {}), 404, 'not_found'],
  ]
  for (const [what, send, status, error] of cases) {
    it(`${what}: ${status} ${error}`, async () => {
      const r = await send()
      assert.equal(r.status, status)
      assert.equal(r.json.error, error)
      assert.equal(typeof r.json.message, 'string')
      assert.deepEqual(Object.keys(r.json).sort(), ['error', 'message'])
    })
  }

  it('a body over bodyLimit: 413 payload_too_large', async () => {
    const small = await startHarness({ bodyLimit: 1024 })
    try {
      const r = await post(`${small.url}/v1/decide`, { message: call('notes_write', { title: 'x'.repeat(4096) }) })
      assert.equal(r.status, 413)
      assert.equal(r.json.error, 'payload_too_large')
    } finally {
      await small.close()
    }
  })
})

describe('text bodies end with a newline', () => {
  it('every route, answers and errors alike', async () => {
    const token = await h.token('notes:read')
    const answers = [
      await fetch(`${h.url}/health`),
      await fetch(`${h.url}/ready`),
      await fetch(`${h.url}/metrics`),
      await fetch(`${h.url}/nope`),
      await fetch(`${h.url}/v1/decide`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token, message: call('notes_read') }) }),
      await fetch(`${h.url}/v1/decide`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{' }),
      await fetch(`${h.url}/v1/decide?access_token=x`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' }),
    ]
    for (const res of answers) {
      const text = await res.text()
      assert.ok(text.endsWith('\n'), `${res.url} ${res.status}: ${JSON.stringify(text.slice(-20))}`)
      assert.equal(text.endsWith('\n\n'), false, `${res.url}: one newline`)
    }
  })
})

describe('caller API keys', () => {
  it('an over-long key header is refused (401) before it is hashed', async () => {
    const keyed = await startHarness({ apiKeyHashes: [hashApiKey('k')] })
    try {
      const body = { message: call('notes_read') }
      assert.equal((await post(`${keyed.url}/v1/decide`, body, { authorization: `Bearer ${'k'.repeat(5000)}` })).status, 401)
      assert.equal((await post(`${keyed.url}/v1/decide`, body, { 'x-api-key': 'k' })).status, 200)
    } finally {
      await keyed.close()
    }
  })
})
