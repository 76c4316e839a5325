// 11.10: the framework-neutral guard on its own (createMcpHttpGuard().authorize), with a real
// engine and bundle: every branch a caller can observe — options, refusals and their bodies, body
// bounds at the default and at custom limits, tool annotations reaching the policy, anonymous
// mode, session binding, and what an allowed request carries on.
import assert from 'node:assert/strict'
import { before, describe, it } from 'node:test'
import { createAuthz, type Authz, type CredentialVerifier, type DecisionEvent } from '../../src/authz.ts'
import type { Principal } from '../../src/contracts/principal.ts'
import { createMcpHttpGuard, SessionBindings, type HttpAnswer, type HttpPass, type McpHttpOptions } from '../../src/mcp/index.ts'
import { staticPrincipal } from '../../src/verify/index.ts'
import { buildTestBundle } from '../helpers/bundle.ts'
import { data as baseData, RESOURCE } from './helpers.ts'

const data = { mcp_authz: { ...baseData.mcp_authz, methods: { 'notifications/roots/list_changed': { allow: false } } } }
const alice = staticPrincipal({ subject: 'alice', clientId: 'agent', scopes: ['notes:read'] })
const bob: Principal = { ...staticPrincipal({ subject: 'bob', scopes: ['notes:read', 'notes:write'] }), expiresAt: 4_102_444_800 }
const signals: Array<AbortSignal | undefined> = []
const verifier: CredentialVerifier = {
  async verify(token, options) {
    signals.push(options?.signal)
    if (token === 'alice-token') return alice
    if (token === 'bob-token') return bob
    if (token === 'malformed') throw Object.assign(new Error('malformed request'), { code: 'ERR_REQUEST_MALFORMED', status: 400 })
    throw Object.assign(new Error('bad token'), { code: 'ERR_JWT_INVALID', status: 401 })
  },
}

let authz: Authz
const events: DecisionEvent[] = []

before(async () => {
  authz = await createAuthz({ bundle: await buildTestBundle(data), verifier, onDecision: (e) => events.push(e) })
})

const call = (name: string, args: Record<string, unknown> = {}, id: number | string = 7) => JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: args } })
const post = (body: unknown, token?: string, extra: Record<string, string> = {}) => ({ method: 'POST', url: '/mcp', headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...extra }, body })

function refused(v: HttpAnswer | HttpPass): HttpAnswer {
  assert.equal(v.pass, false, `expected a refusal, got a pass`)
  return v as HttpAnswer
}
function passed(v: HttpAnswer | HttpPass): HttpPass {
  assert.equal(v.pass, true, `expected a pass, got ${(v as HttpAnswer).status} ${(v as HttpAnswer).body}`)
  return v as HttpPass
}
const guardOf = (options: Partial<McpHttpOptions> = {}) => createMcpHttpGuard({ authz, ...options })

describe('createMcpHttpGuard options', () => {
  it('bad options fail fast with a TypeError naming the option', () => {
    assert.throws(() => createMcpHttpGuard(undefined as never), /options\.authz/)
    assert.throws(() => createMcpHttpGuard({} as never), /options\.authz/)
    for (const maxBodyBytes of [0, -1, 1.5, Number.NaN]) assert.throws(() => guardOf({ maxBodyBytes }), /options\.maxBodyBytes/)
    assert.throws(() => guardOf({ toolAnnotations: 'x' as never }), /options\.toolAnnotations/)
    assert.throws(() => guardOf({ sessionBinding: { maxSessions: 0 } }), /maxSessions/)
  })

  it('path: the resource URI’s path by default, or as given; metadata at the RFC 9728 paths (root form on request)', () => {
    assert.equal(guardOf().path, '/mcp')
    assert.equal(guardOf({ path: '/other' }).path, '/other')
    assert.deepEqual(guardOf().metadataPaths, ['/.well-known/oauth-protected-resource/mcp'])
    assert.deepEqual([...guardOf({ rootMetadata: true }).metadataPaths].sort(), ['/.well-known/oauth-protected-resource', '/.well-known/oauth-protected-resource/mcp'])
    assert.equal(guardOf().metadata().resource, RESOURCE)
  })

  it('sessionBinding: on by default with the default bounds; bounds, an instance, or false', () => {
    const byDefault = guardOf().sessions
    assert.ok(byDefault instanceof SessionBindings)
    assert.deepEqual([byDefault.maxSessions, byDefault.maxSessionsPerPrincipal, byDefault.idleTimeoutMs], [10_000, 32, 1_800_000])
    assert.ok(guardOf({ sessionBinding: true }).sessions instanceof SessionBindings)
    assert.equal(guardOf({ sessionBinding: { maxSessionsPerPrincipal: 3 } }).sessions?.maxSessionsPerPrincipal, 3)
    const mine = new SessionBindings()
    assert.equal(guardOf({ sessionBinding: mine }).sessions, mine)
    assert.equal(guardOf({ sessionBinding: false }).sessions, undefined)
  })
})

describe('refusals', () => {
  it('a token in the query string: 400 invalid_request, before anything is decided (even with a good header, even percent-encoded)', async () => {
    for (const url of ['/mcp?access_token=x', '/mcp?a=1&access%5Ftoken=x']) {
      const before = events.length
      const v = refused(await guardOf().authorize({ ...post(call('whoami'), 'alice-token'), url }))
      assert.equal(v.status, 400)
      assert.match(v.headers['www-authenticate'] ?? '', /^Bearer error="invalid_request"/)
      assert.equal(JSON.parse(v.body ?? '').error, 'invalid_request')
      assert.equal(events.length, before)
    }
  })

  it('methods the transport does not serve (HEAD, OPTIONS, PUT, …): 405, never decided, never passed', async () => {
    for (const method of ['HEAD', 'OPTIONS', 'PUT', 'PATCH', 'head']) {
      const v = refused(await guardOf().authorize({ method, url: '/mcp', headers: { authorization: 'Bearer alice-token' } }))
      assert.equal(v.status, 405, method)
      assert.equal(v.headers.allow, 'GET, POST, DELETE')
    }
  })

  it('no credentials: 401 with a bare challenge, and a body that claims no error code (RFC 6750 § 3.1)', async () => {
    for (const authorization of [undefined, 'Basic dXNlcjpwYXNz']) {
      const v = refused(await guardOf().authorize(post(call('whoami'), undefined, authorization ? { authorization } : {})))
      assert.equal(v.status, 401)
      assert.doesNotMatch(v.headers['www-authenticate'] ?? '', /error=/)
      assert.match(v.headers['www-authenticate'] ?? '', /resource_metadata=/)
      assert.deepEqual(JSON.parse(v.body ?? ''), { error_description: 'Authentication required' })
      assert.match(v.headers['mcp-authz-decision-id'] ?? '', /^[0-9a-f-]{36}$/)
    }
  })

  it('a bad bearer credential: 401 invalid_token, in the header and the body', async () => {
    const v = refused(await guardOf().authorize(post(call('whoami'), undefined, { authorization: 'Bearer forged' })))
    assert.equal(v.status, 401)
    assert.match(v.headers['www-authenticate'] ?? '', /^Bearer error="invalid_token"/)
    assert.equal(JSON.parse(v.body ?? '').error, 'invalid_token')
  })

  it('an empty bearer credential, or a header over 16 KiB: 401 invalid_token (a credential was sent) — header and body agree', async () => {
    for (const authorization of ['Bearer ', `Bearer ${'x'.repeat(20_000)}`]) {
      const v = refused(await guardOf().authorize(post(call('whoami'), undefined, { authorization })))
      assert.equal(v.status, 401)
      assert.match(v.headers['www-authenticate'] ?? '', /^Bearer error="invalid_token"/)
      assert.equal(JSON.parse(v.body ?? '').error, 'invalid_token')
      assert.match(v.headers['mcp-authz-decision-id'] ?? '', /^[0-9a-f-]{36}$/, 'decided and recorded')
    }
  })

  it('a credential the verifier calls malformed (status 400): 400 invalid_request', async () => {
    const v = refused(await guardOf().authorize(post(call('whoami'), 'malformed')))
    assert.equal(v.status, 400)
    assert.match(v.headers['www-authenticate'] ?? '', /error="invalid_request"/)
    assert.deepEqual(JSON.parse(v.body ?? ''), { error: 'invalid_request', error_description: 'The request is malformed' })
  })

  it('a repeated header (an array in the facts): the first value is used', async () => {
    const v = passed(await guardOf().authorize({ method: 'POST', url: '/mcp', headers: { authorization: ['Bearer alice-token', 'Bearer bob-token'] as never }, body: call('whoami') }))
    assert.equal(v.principal.subject, 'alice')
  })

  it('missing scope: 403 insufficient_scope (header and body)', async () => {
    const v = refused(await guardOf().authorize(post(call('notes_write', { folder: 'work' }), 'alice-token')))
    assert.equal(v.status, 403)
    assert.match(v.headers['www-authenticate'] ?? '', /error="insufficient_scope".*scope="notes:write"/)
    assert.equal(JSON.parse(v.body ?? '').error, 'insufficient_scope')
  })

  it('denied otherwise: HTTP 200 with a JSON-RPC error on the request id; a denied notification: 403 forbidden', async () => {
    const v = refused(await guardOf().authorize(post(call('notes_write', { folder: 'secret' }, 'r-1'), 'bob-token')))
    assert.equal(v.status, 200)
    const body = JSON.parse(v.body ?? '')
    assert.equal(body.id, 'r-1')
    assert.equal(body.error.code, -32003)
    assert.equal(body.error.data.decision_id, v.headers['mcp-authz-decision-id'])
    const n = refused(await guardOf().authorize(post({ jsonrpc: '2.0', method: 'notifications/roots/list_changed' }, 'bob-token')))
    assert.equal(n.status, 403)
    assert.equal(JSON.parse(n.body ?? '').error, 'forbidden')
  })

  it('malformed JSON-RPC: 400 with the JSON-RPC error', async () => {
    const v = refused(await guardOf().authorize(post('{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{}}', 'alice-token')))
    assert.equal(v.status, 400)
    assert.equal(JSON.parse(v.body ?? '').error.code, -32602)
    assert.equal(refused(await guardOf().authorize(post('{not json', 'alice-token'))).status, 400)
  })
})

describe('body bounds', () => {
  const sized = (bytes: number) => {
    const head = '{"jsonrpc":"2.0","id":1,"method":"ping","params":{"_meta":{"pad":"'
    const tail = '"}}}'
    return head + 'x'.repeat(bytes - head.length - tail.length) + tail
  }

  it('maxBodyBytes: a body of exactly the limit is decided, one byte more is 413 (text and bytes, counted in UTF-8 bytes)', async () => {
    const guard = guardOf({ maxBodyBytes: 200 })
    assert.equal(passed(await guard.authorize(post(sized(200), 'alice-token'))).pass, true)
    assert.equal(refused(await guard.authorize(post(sized(201), 'alice-token'))).status, 413)
    assert.equal(passed(await guard.authorize(post(new TextEncoder().encode(sized(200)), 'alice-token'))).pass, true)
    assert.equal(refused(await guard.authorize(post(new TextEncoder().encode(sized(201)), 'alice-token'))).status, 413)
    // 100 characters, 200 bytes.
    const wide = sized(200).replace('x'.repeat(100), 'é'.repeat(50))
    assert.equal(Buffer.byteLength(wide), 150 + 50)
    assert.equal(passed(await guard.authorize(post(wide, 'alice-token'))).pass, true)
    assert.equal(refused(await guard.authorize(post(wide.replace('x', 'é'), 'alice-token'))).status, 413)
  })

  it('default: 1 MiB exactly is decided, 1 MiB + 1 is 413', async () => {
    const guard = guardOf()
    const r = await guard.authorize(post(sized(1_048_576), 'alice-token'))
    assert.notEqual(r.pass === false ? r.status : 200, 413)
    assert.equal(refused(await guard.authorize(post(sized(1_048_577), 'alice-token'))).status, 413)
  })
})

describe('what reaches the policy', () => {
  it("tools/call: the tool's annotations (options.toolAnnotations) are in the policy input, looked up by the called name only", async () => {
    const asked: string[] = []
    const guard = guardOf({ toolAnnotations: (name) => (asked.push(name), name === 'whoami' ? { readOnlyHint: true } : undefined) })
    const before = events.length
    passed(await guard.authorize(post(call('whoami'), 'alice-token')))
    passed(await guard.authorize(post(JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list' }), 'alice-token')))
    passed(await guard.authorize(post({ jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'whoami' } }, 'alice-token')))
    await guard.authorize(post({ jsonrpc: '2.0', id: 4, method: 'prompts/get', params: { name: 'whoami' } }, 'alice-token'))
    assert.deepEqual(asked, ['whoami', 'whoami'])
    const [first, second, third] = events.slice(before)
    assert.deepEqual(first?.input?.action.annotations, { readOnlyHint: true })
    assert.equal(second?.input?.action.annotations, undefined)
    assert.deepEqual(third?.input?.action.annotations, { readOnlyHint: true })
  })

  it('with a tool-annotation lookup the guard parses the body itself: bad JSON is still a -32700 parse error, invalid UTF-8 too', async () => {
    const guard = guardOf({ toolAnnotations: () => undefined })
    const text = refused(await guard.authorize(post('{not json', 'alice-token')))
    assert.equal(text.status, 400)
    assert.equal(JSON.parse(text.body ?? '').error.code, -32700)
    const bytes = Buffer.concat([Buffer.from('{"jsonrpc":"2.0","id":1,"method":"ping","params":{"_meta":{"x":"'), Buffer.from([0xff, 0xfe]), Buffer.from('"}}}')])
    const invalid = refused(await guard.authorize(post(new Uint8Array(bytes), 'alice-token')))
    assert.equal(invalid.status, 400)
    assert.equal(JSON.parse(invalid.body ?? '').error.code, -32700)
  })

  it('GET and DELETE are decided as the stream-open / session-end notifications, with the HTTP transport', async () => {
    const before = events.length
    passed(await guardOf().authorize({ method: 'GET', url: '/mcp', headers: { authorization: 'Bearer alice-token' } }))
    passed(await guardOf().authorize({ method: 'DELETE', url: '/mcp', headers: { authorization: 'Bearer alice-token' } }))
    assert.deepEqual(events.slice(before).map((e) => [e.input?.action.method, e.input?.context.transport]), [
      ['notifications/mcp-authz/stream-open', 'http'],
      ['notifications/mcp-authz/session-end', 'http'],
    ])
  })

  it("the request's abort signal reaches the verifier", async () => {
    const controller = new AbortController()
    signals.length = 0
    await guardOf().authorize({ ...post(call('whoami'), 'alice-token'), signal: controller.signal })
    assert.equal(signals[0], controller.signal)
  })

  it('dangerouslyAllowAnonymous: the principal of requests with no Authorization header — never of a bad one', async () => {
    const anonymous = staticPrincipal({ subject: 'anon', scopes: ['notes:read'] })
    const guard = guardOf({ dangerouslyAllowAnonymous: anonymous })
    assert.equal(passed(await guard.authorize(post(call('whoami')))).principal.subject, 'anon')
    assert.equal(refused(await guard.authorize(post(call('whoami'), 'forged'))).status, 401)
    assert.equal(refused(await guardOf().authorize(post(call('whoami')))).status, 401)
  })
})

describe('an allowed request', () => {
  it("carries the SDK's AuthInfo, the parsed message, the principal and the decision id", async () => {
    const v = passed(await guardOf().authorize(post(call('whoami', {}, 'x-1'), 'alice-token')))
    assert.deepEqual(v.message, JSON.parse(call('whoami', {}, 'x-1')))
    assert.equal(v.principal.subject, 'alice')
    assert.equal(v.headers['mcp-authz-decision-id'], v.decisionId)
    assert.equal(v.authInfo.token, 'alice-token')
    assert.equal(v.authInfo.clientId, 'agent')
    assert.deepEqual(v.authInfo.scopes, ['notes:read'])
    assert.notEqual(v.authInfo.scopes, alice.scopes, 'a copy')
    assert.equal(v.authInfo.resource?.href, RESOURCE)
    assert.deepEqual(v.authInfo.extra, { principal: alice, decisionId: v.decisionId, requestId: 'x-1' })
    assert.equal('expiresAt' in v.authInfo, false)
    assert.equal(v.sessionId, undefined)
    const withExpiry = passed(await guardOf().authorize(post(call('whoami'), 'bob-token')))
    assert.equal(withExpiry.authInfo.clientId, 'bob', 'no client id: the subject')
    assert.equal(withExpiry.authInfo.expiresAt, bob.expiresAt)
    const get = passed(await guardOf().authorize({ method: 'GET', url: '/mcp', headers: { authorization: 'Bearer alice-token' } }))
    assert.equal(get.message, undefined)
  })

  it('never throws, whatever the request target', async () => {
    for (const url of ['//[', '%', '?access_token', 'http://[::1']) {
      const v = await guardOf().authorize({ method: 'GET', url, headers: { authorization: 'Bearer alice-token' } })
      assert.ok(v.pass === true || v.status === 400)
    }
  })
})

describe('session binding', () => {
  const withSession = (id: string, token: string, method = 'POST') => ({ method, url: '/mcp', headers: { authorization: `Bearer ${token}`, 'mcp-session-id': id }, body: method === 'POST' ? JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }) : undefined })

  it('a session id is bound by bindSession() to the principal; its owner passes, anyone else and unknown ids get 404 (same answer)', async () => {
    const guard = guardOf()
    const init = passed(await guard.authorize(post(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'x', version: '1' } } }), 'alice-token')))
    assert.equal(init.bindSession('s-1'), true)
    const owner = passed(await guard.authorize(withSession('s-1', 'alice-token')))
    assert.equal(owner.sessionId, 's-1')
    const other = refused(await guard.authorize(withSession('s-1', 'bob-token')))
    const unknown = refused(await guard.authorize(withSession('s-2', 'bob-token')))
    for (const v of [other, unknown]) {
      assert.equal(v.status, 404)
      assert.deepEqual(JSON.parse(v.body ?? '').error, { code: -32001, message: 'Session not found' })
    }
    assert.equal(passed(await guard.authorize(post(call('whoami'), 'bob-token'))).bindSession('s-1'), false, 'never rebound to another principal')
  })

  it('DELETE by the owner forgets the session once answered (done()), not before the transport saw it', async () => {
    const guard = guardOf()
    passed(await guard.authorize(post(call('whoami'), 'alice-token'))).bindSession('s-1')
    const del = passed(await guard.authorize(withSession('s-1', 'alice-token', 'DELETE')))
    assert.equal(guard.sessions?.has('s-1'), true)
    del.done()
    assert.equal(guard.sessions?.has('s-1'), false)
    assert.equal(refused(await guard.authorize(withSession('s-1', 'alice-token'))).status, 404)
  })

  it('a request in flight keeps its session from expiring until done() (called once)', async () => {
    let now = 0
    const sessions = new SessionBindings({ idleTimeoutMs: 100, now: () => now })
    const guard = guardOf({ sessionBinding: sessions })
    passed(await guard.authorize(post(call('whoami'), 'alice-token'))).bindSession('s-1')
    const stream = passed(await guard.authorize(withSession('s-1', 'alice-token', 'GET')))
    const second = passed(await guard.authorize(withSession('s-1', 'alice-token')))
    second.done()
    second.done()
    now += 1000
    assert.equal(sessions.sweep(), 0, 'the stream is still open')
    stream.done()
    now += 100
    assert.equal(sessions.sweep(), 1)
  })

  it('initialize when the table is full: 503 with Retry-After for a principal holding no session; one holding some may go on', async () => {
    const sessions = new SessionBindings({ maxSessions: 1 })
    const guard = guardOf({ sessionBinding: sessions })
    const initialize = JSON.stringify({ jsonrpc: '2.0', id: 5, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'x', version: '1' } } })
    passed(await guard.authorize(post(initialize, 'alice-token'))).bindSession('s-1')
    const full = refused(await guard.authorize(post(initialize, 'bob-token')))
    assert.equal(full.status, 503)
    assert.equal(full.headers['retry-after'], '60')
    assert.equal(JSON.parse(full.body ?? '').id, 5)
    passed(await guard.authorize(post(initialize, 'alice-token')))
    passed(await guard.authorize(post(call('whoami'), 'bob-token')))
  })

  it('binding off: session ids are left to the transport', async () => {
    const v = passed(await guardOf({ sessionBinding: false }).authorize(withSession('anything', 'alice-token')))
    assert.equal(v.sessionId, 'anything')
    assert.equal(v.bindSession('anything'), true)
    v.done()
  })
})
