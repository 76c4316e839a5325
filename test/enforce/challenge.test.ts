/** RFC 6750 § 3 challenges and the decision → HTTP outcome mapping (MCP authorization 2025-11-25). */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { bearerChallenge, protectedResourceMetadataUrl } from '../../src/enforce/challenge.ts'
import { decisionOutcome, stepUpScope, unauthorizedOutcome } from '../../src/enforce/outcome.ts'

/** Parses `Bearer a="b", c="d"` into its attributes, failing on a repeated one. */
function attributes(header: string): Record<string, string> {
  assert.match(header, /^Bearer( |$)/)
  const out: Record<string, string> = {}
  for (const m of header.slice(6).matchAll(/\s*([a-z_]+)="([^"\\]*)"\s*(,|$)/g)) {
    assert.ok(!(m[1]! in out), `attribute ${m[1]} appears twice`)
    out[m[1]!] = m[2]!
  }
  return out
}

const rm = 'https://mcp.example.com/.well-known/oauth-protected-resource/mcp'

describe('Bearer challenges', () => {
  test('no credential: a bare challenge without an error code (RFC 6750 § 3.1)', () => {
    const o = unauthorizedOutcome({ resourceMetadataUrl: rm, defaultScopes: ['notes:read'] }, false)
    assert.equal(o.status, 401)
    assert.deepEqual(attributes(o.wwwAuthenticate!), { scope: 'notes:read', resource_metadata: rm })
  })
  test('invalid credential: invalid_token, scope and resource_metadata, each once', () => {
    const o = unauthorizedOutcome({ resourceMetadataUrl: rm, defaultScopes: ['notes:read'] }, true)
    const a = attributes(o.wwwAuthenticate!)
    assert.equal(a.error, 'invalid_token')
    assert.equal(a.scope, 'notes:read')
    assert.equal(a.resource_metadata, rm)
  })
  test('scope-only denial: 403 insufficient_scope naming every scope the call needs', () => {
    const o = decisionOutcome({ allow: false, reasons: [{ code: 'insufficient_scope', message: 'x' }], required_scopes: ['notes:admin', 'notes:write'] }, { decisionId: 'd', resourceMetadataUrl: rm, isRequest: true })
    assert.equal(o.status, 403)
    const a = attributes(o.wwwAuthenticate!)
    assert.equal(a.error, 'insufficient_scope')
    assert.equal(a.scope, 'notes:admin notes:write')
    assert.equal(a.resource_metadata, rm)
  })
  test('token not issued for this server (issuer, audience): 401 invalid_token', () => {
    for (const code of ['issuer_not_trusted', 'audience_mismatch']) {
      const o = decisionOutcome({ allow: false, reasons: [{ code, message: 'x' }], required_scopes: [] }, { decisionId: 'd', resourceMetadataUrl: rm, isRequest: true })
      assert.equal(o.status, 401)
      assert.equal(attributes(o.wwwAuthenticate!).error, 'invalid_token')
    }
  })
  test('any other denial: a JSON-RPC error with a generic message and the decision id; notifications 403', () => {
    const d = { allow: false, reasons: [{ code: 'argument_denied', message: 'argument "path" …' }, { code: 'insufficient_scope', message: 'x' }], required_scopes: ['a'] }
    const o = decisionOutcome(d, { decisionId: 'dec-1', resourceMetadataUrl: rm, isRequest: true })
    assert.deepEqual(o, { status: 200, jsonRpcError: { code: -32003, message: 'Forbidden', data: { decision_id: 'dec-1' } } })
    assert.equal(decisionOutcome(d, { decisionId: 'dec-1', isRequest: false }).status, 403)
  })
  test('values with a quote, backslash or control character are refused, never emitted', () => {
    assert.throws(() => bearerChallenge({ scope: ['a"b'] }), TypeError)
    assert.throws(() => bearerChallenge({ resourceMetadata: 'https://x/\\' }), TypeError)
    assert.throws(() => bearerChallenge({ errorDescription: 'line\nbreak' }), TypeError)
    assert.equal(bearerChallenge({}), 'Bearer')
  })
  test('metadata URL: the well-known segment between host and path (RFC 9728 § 3.1)', () => {
    assert.equal(protectedResourceMetadataUrl('https://mcp.example.com/mcp'), rm)
    assert.equal(protectedResourceMetadataUrl('https://mcp.example.com'), 'https://mcp.example.com/.well-known/oauth-protected-resource')
    assert.equal(protectedResourceMetadataUrl('http://127.0.0.1:8181/a/b'), 'http://127.0.0.1:8181/.well-known/oauth-protected-resource/a/b')
  })
})

describe('step-up scope naming (stepUpScopes)', () => {
  const denial = { allow: false, reasons: [{ code: 'insufficient_scope', message: 'x' }], required_scopes: ['notes:write'] }
  const granted = { grantedScopes: ['openid', 'notes:read', 'other:thing', 'offline_access'], knownScopes: ['notes:read', 'notes:write', 'notes:admin'] }
  test("'required' (default): only what the call needs, whatever the token holds", () => {
    const o = decisionOutcome(denial, { decisionId: 'd', resourceMetadataUrl: rm, isRequest: true, ...granted })
    assert.equal(attributes(o.wwwAuthenticate!).scope, 'notes:write')
    assert.equal(attributes(decisionOutcome(denial, { decisionId: 'd', isRequest: true, stepUpScopes: 'required', ...granted }).wwwAuthenticate!).scope, 'notes:write')
  })
  test("'granted-and-required': the granted scopes this server knows, then the missing ones; never foreign or OpenID scopes", () => {
    const o = decisionOutcome(denial, { decisionId: 'd', resourceMetadataUrl: rm, isRequest: true, stepUpScopes: 'granted-and-required', ...granted })
    assert.equal(o.status, 403)
    assert.equal(attributes(o.wwwAuthenticate!).scope, 'notes:read notes:write')
  })
  test("'granted-and-required' without known scopes echoes nothing granted; duplicates collapse", () => {
    assert.deepEqual(stepUpScope(['b', 'a', 'b'], { stepUpScopes: 'granted-and-required', grantedScopes: ['x'] }), ['b', 'a'])
    assert.deepEqual(stepUpScope(['a'], { stepUpScopes: 'granted-and-required', grantedScopes: ['a', 'k'], knownScopes: ['a', 'k'] }), ['a', 'k'])
    assert.deepEqual(stepUpScope(['a', 'a'], {}), ['a'])
  })
})

// Mutation-testing additions (npm run mutate -- enforce): every parameter of the public
// bearerChallenge() and every resource shape protectedResourceMetadataUrl() accepts.
describe('Bearer challenge parameters and metadata URLs (mutation survivors)', () => {
  test('realm, error, error_description, scope and resource_metadata are emitted, in that order, each once', () => {
    const header = bearerChallenge({ realm: 'mcp', error: 'invalid_token', errorDescription: 'The token is not valid', scope: ['a', 'b', 'a'], resourceMetadata: rm })
    assert.equal(header, `Bearer realm="mcp", error="invalid_token", error_description="The token is not valid", scope="a b", resource_metadata="${rm}"`)
    assert.deepEqual(attributes(header), { realm: 'mcp', error: 'invalid_token', error_description: 'The token is not valid', scope: 'a b', resource_metadata: rm })
  })
  test('an empty scope list names no scope at all (never scope="")', () => {
    assert.equal(bearerChallenge({ error: 'insufficient_scope', scope: [] }), 'Bearer error="insufficient_scope"')
    assert.equal(bearerChallenge({ scope: ['notes:read'] }), 'Bearer scope="notes:read"')
  })
  test('a refused value names the parameter that holds it', () => {
    assert.throws(() => bearerChallenge({ realm: 'a"b' }), { name: 'TypeError', message: /WWW-Authenticate realm holds/ })
    assert.throws(() => bearerChallenge({ errorDescription: 'x\\y' }), { name: 'TypeError', message: /WWW-Authenticate error_description holds/ })
  })
  test('metadata URL: trailing slashes of the resource path are dropped, the root resource has no path', () => {
    assert.equal(protectedResourceMetadataUrl('https://mcp.example.com/mcp/'), rm)
    assert.equal(protectedResourceMetadataUrl('https://mcp.example.com/mcp//'), rm)
    assert.equal(protectedResourceMetadataUrl('https://mcp.example.com/'), 'https://mcp.example.com/.well-known/oauth-protected-resource')
    assert.equal(protectedResourceMetadataUrl('https://mcp.example.com:8443/a/b/?q=1#f'), 'https://mcp.example.com:8443/.well-known/oauth-protected-resource/a/b')
  })
})
