// What the mutation run of src/mcp/http.ts (npm run mutate -- mcp --files src/mcp/http.ts, with the
// guard's own test files) left unasserted: the exact answers a client receives (status, headers,
// JSON body), tool annotations only for a named tools/call, bytes bodies with an annotation lookup,
// and what an anonymous request hands to the SDK.
import assert from 'node:assert/strict'
import { before, describe, it } from 'node:test'
import { createAuthz, type Authz, type CredentialVerifier } from '../../src/authz.ts'
import { createMcpHttpGuard, SessionBindings, type HttpAnswer, type HttpPass, type McpHttpOptions } from '../../src/mcp/index.ts'
import { staticPrincipal } from '../../src/verify/index.ts'
import { buildTestBundle } from '../helpers/bundle.ts'
import { data } from './helpers.ts'

const alice = staticPrincipal({ subject: 'alice', clientId: 'agent', scopes: ['notes:read'] })
const bob = staticPrincipal({ subject: 'bob', scopes: ['notes:read', 'notes:write'] })
const verifier: CredentialVerifier = {
  async verify(token) {
    if (token === 'alice-token') return alice
    if (token === 'bob-token') return bob
    throw Object.assign(new Error('bad token'), { code: 'ERR_JWT_INVALID', status: 401 })
  },
}
let authz: Authz
before(async () => {
  authz = await createAuthz({ bundle: await buildTestBundle(data), verifier })
})
const guardOf = (options: Partial<McpHttpOptions> = {}) => createMcpHttpGuard({ authz, ...options })
const call = (name: string, id = 7) => JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: {} } })
const post = (body: unknown, token?: string) => ({ method: 'POST', url: '/mcp', headers: token ? { authorization: `Bearer ${token}` } : {}, body })
function refused(v: HttpAnswer | HttpPass): HttpAnswer {
  assert.equal(v.pass, false, 'expected a refusal')
  return v as HttpAnswer
}
function passed(v: HttpAnswer | HttpPass): HttpPass {
  assert.equal(v.pass, true, `expected a pass, got ${(v as HttpAnswer).status} ${(v as HttpAnswer).body}`)
  return v as HttpPass
}

describe('guard answers, exactly as a client receives them', () => {
  it('createMcpHttpGuard(null) names the missing option', () => {
    assert.throws(() => createMcpHttpGuard(null as never), { name: 'TypeError', message: 'options.authz is required' })
  })
  it('405: JSON content type, Allow header and a JSON-RPC error body', async () => {
    const v = refused(await guardOf().authorize({ method: 'PUT', url: '/mcp', headers: {} }))
    assert.deepEqual(v, { pass: false, status: 405, headers: { 'content-type': 'application/json', allow: 'GET, POST, DELETE' }, body: JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: -32000, message: 'Method not allowed' } }) })
  })
  it('413: JSON content type and a -32700 JSON-RPC error body, no decision made', async () => {
    const v = refused(await guardOf({ maxBodyBytes: 10 }).authorize(post(call('whoami'), 'alice-token')))
    assert.deepEqual(v, { pass: false, status: 413, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: -32700, message: 'Parse error: request body too large' } }) })
  })
  it('a token in the query string: 400 with an invalid_request challenge and body, no decision id', async () => {
    const v = refused(await guardOf().authorize({ method: 'POST', url: '/mcp?access_token=x', headers: {}, body: call('whoami') }))
    assert.equal(v.status, 400)
    assert.equal(v.headers['content-type'], 'application/json')
    assert.equal(v.headers['mcp-authz-decision-id'], undefined)
    assert.match(v.headers['www-authenticate'] ?? '', /^Bearer error="invalid_request", resource_metadata="/)
    assert.deepEqual(JSON.parse(v.body ?? ''), { error: 'invalid_request', error_description: 'Access tokens are accepted in the Authorization header only' })
  })
  it('401 and 403 answers: JSON content type, the decision id, the challenge, and a body that says the same', async () => {
    const unauth = refused(await guardOf().authorize(post(call('whoami'), 'forged')))
    assert.equal(unauth.headers['content-type'], 'application/json')
    assert.match(unauth.headers['mcp-authz-decision-id'] ?? '', /^[0-9a-f-]{36}$/)
    assert.deepEqual(JSON.parse(unauth.body ?? ''), { error: 'invalid_token', error_description: 'Authentication required' })
    const scope = refused(await guardOf().authorize(post(call('notes_write'), 'alice-token')))
    assert.equal(scope.status, 403)
    assert.equal(scope.headers['content-type'], 'application/json')
    assert.match(scope.headers['www-authenticate'] ?? '', /error="insufficient_scope"/)
    assert.deepEqual(JSON.parse(scope.body ?? ''), { error: 'insufficient_scope', error_description: 'Additional scope is required for this request' })
  })
  it('JSON-RPC refusals carry the JSON content type and the decision id', async () => {
    const v = refused(await guardOf().authorize(post('{"jsonrpc":"2.0","id":1', 'alice-token')))
    assert.equal(v.status, 400)
    assert.equal(v.headers['content-type'], 'application/json')
    assert.match(v.headers['mcp-authz-decision-id'] ?? '', /^[0-9a-f-]{36}$/)
  })
  it('503 when the session table is full: a -32000 JSON-RPC error on the request id, with the decision id in data', async () => {
    const guard = guardOf({ sessionBinding: new SessionBindings({ maxSessions: 1 }) })
    const initialize = (id: number) => JSON.stringify({ jsonrpc: '2.0', id, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'x', version: '1' } } })
    passed(await guard.authorize(post(initialize(1), 'alice-token'))).bindSession('s-1')
    const full = refused(await guard.authorize(post(initialize(5), 'bob-token')))
    const decisionId = full.headers['mcp-authz-decision-id']
    assert.match(decisionId ?? '', /^[0-9a-f-]{36}$/)
    assert.equal(full.headers['content-type'], 'application/json')
    assert.deepEqual(JSON.parse(full.body ?? ''), { jsonrpc: '2.0', id: 5, error: { code: -32000, message: 'Too many sessions; try again later', data: { decision_id: decisionId } } })
  })
})

describe('tool annotations and bodies', () => {
  it('the lookup is asked only for tools/call with a string name', async () => {
    const asked: unknown[] = []
    const guard = guardOf({ toolAnnotations: (name) => (asked.push(name), undefined) })
    await guard.authorize(post(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 5 } }), 'alice-token'))
    await guard.authorize(post(JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/call' }), 'alice-token'))
    await guard.authorize(post(JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'prompts/get', params: { name: 'whoami' } }), 'alice-token'))
    await guard.authorize(post('"just a string"', 'alice-token'))
    await guard.authorize(post('null', 'alice-token'))
    await guard.authorize({ method: 'GET', url: '/mcp', headers: { authorization: 'Bearer alice-token' } })
    assert.deepEqual(asked, [])
    await guard.authorize(post(new TextEncoder().encode(call('whoami')), 'alice-token'))
    assert.deepEqual(asked, ['whoami'], 'a bytes body is parsed for the lookup too')
  })
  it('a bytes body with an annotation lookup passes on the parsed message', async () => {
    const v = passed(await guardOf({ toolAnnotations: () => undefined }).authorize(post(new TextEncoder().encode(call('whoami', 9)), 'alice-token')))
    assert.deepEqual(v.message, { jsonrpc: '2.0', id: 9, method: 'tools/call', params: { name: 'whoami', arguments: {} } })
  })
  it('an anonymous request hands the SDK an empty token, never a made-up one', async () => {
    const anonymous = staticPrincipal({ subject: 'anon', scopes: ['notes:read'] })
    const v = passed(await guardOf({ dangerouslyAllowAnonymous: anonymous }).authorize(post(call('whoami'))))
    assert.equal(v.authInfo.token, '')
    assert.equal(v.authInfo.clientId, 'anon')
  })
})
