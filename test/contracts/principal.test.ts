import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { normalizePrincipal, PrincipalError, tokenFingerprint } from '../../src/verify/principal.ts'
import { canonicalResourceUri, sameResource } from '../../src/verify/resource-uri.ts'
import { schemaProblems } from '../../src/schemas.ts'

const base = { iss: 'https://as.example.com', sub: 'alice', aud: 'https://MCP.example.com/mcp/', client_id: 'app', exp: 2000000000, iat: 1700000000 }

describe('normalizePrincipal', () => {
  test('scope string: sorted, unique; aud → canonical array; schema-valid', () => {
    const p = normalizePrincipal({ ...base, scope: 'b a  b', jti: 'j1' }, { authMethod: 'jwt' })
    assert.deepEqual(p.scopes, ['a', 'b'])
    assert.deepEqual(p.audience, ['https://mcp.example.com/mcp'])
    assert.equal(p.clientId, 'app')
    assert.equal(p.tokenId, 'j1')
    assert.equal(p.expiresAt, 2000000000)
    assert.deepEqual(schemaProblems('principal', p), [])
  })
  test('scp as array or string only when accepted', () => {
    assert.deepEqual(normalizePrincipal({ ...base, scp: ['y', 'x'] }, { authMethod: 'jwt', acceptScp: true }).scopes, ['x', 'y'])
    assert.deepEqual(normalizePrincipal({ ...base, scp: 'x y', scope: 'z' }, { authMethod: 'jwt', acceptScp: true }).scopes, ['x', 'y', 'z'])
    assert.deepEqual(normalizePrincipal({ ...base, scp: ['x'] }, { authMethod: 'jwt' }).scopes, [])
  })
  test('scope as an array is refused (RFC 9068: a string)', () => {
    assert.throws(() => normalizePrincipal({ ...base, scope: ['a'] }, { authMethod: 'jwt' }), (e: unknown) => e instanceof PrincipalError && e.code === 'ERR_PRINCIPAL_INVALID_CLAIM' && e.claim === 'scope')
    assert.throws(() => normalizePrincipal({ ...base, scope: 'a "b' }, { authMethod: 'jwt' }), PrincipalError)
  })
  test('tenant from the configured claim, else from the issuer configuration', () => {
    assert.equal(normalizePrincipal({ ...base, tid: 't-1' }, { authMethod: 'jwt', tenantClaim: 'tid', issuerTenant: 'acme' }).tenant, 't-1')
    assert.equal(normalizePrincipal(base, { authMethod: 'jwt', tenantClaim: 'tid', issuerTenant: 'acme' }).tenant, 'acme')
    assert.equal(normalizePrincipal(base, { authMethod: 'jwt' }).tenant, undefined)
  })
  test('only allowlisted claims are copied, never the token', () => {
    const token = 'eyJhbGciOiJFUzI1NiJ9.e30.sig'
    const p = normalizePrincipal({ ...base, roles: ['admin'], email: 'a@example.com' }, { authMethod: 'jwt', claimAllowlist: ['roles'], token })
    assert.deepEqual(p.claims, { roles: ['admin'] })
    assert.equal(p.tokenId, tokenFingerprint(token))
    assert.ok(!JSON.stringify(p).includes(token))
  })
  test('missing sub or iss, or mistyped claims, are refused', () => {
    assert.throws(() => normalizePrincipal({ iss: 'x' }, { authMethod: 'jwt' }), /sub/)
    assert.throws(() => normalizePrincipal({ sub: 'x' }, { authMethod: 'jwt' }), /iss/)
    assert.throws(() => normalizePrincipal({ ...base, aud: 3 }, { authMethod: 'jwt' }), /aud/)
    assert.throws(() => normalizePrincipal({ ...base, exp: '1' }, { authMethod: 'jwt' }), /exp/)
    assert.equal(normalizePrincipal({ sub: 'svc' }, { authMethod: 'api_key', defaultIssuer: 'urn:mcp-authz:api-key' }).issuer, 'urn:mcp-authz:api-key')
  })
})

describe('canonical resource URIs (RFC 8707)', () => {
  test('scheme and host case-insensitive, default port and trailing slash dropped', () => {
    assert.equal(canonicalResourceUri('HTTPS://MCP.Example.COM:443/mcp/'), 'https://mcp.example.com/mcp')
    assert.equal(canonicalResourceUri('https://mcp.example.com/'), 'https://mcp.example.com')
    assert.equal(canonicalResourceUri('http://127.0.0.1:8181/mcp'), 'http://127.0.0.1:8181/mcp')
    assert.ok(sameResource('https://a.example/mcp', 'https://A.EXAMPLE/mcp/'))
    assert.ok(!sameResource('https://a.example/mcp', 'https://a.example/MCP'), 'the path stays case-sensitive')
  })
  test('fragments, credentials, relative and non-http URIs are not resources', () => {
    for (const v of ['https://a.example/mcp#x', 'https://u:p@a.example/mcp', '/mcp', 'urn:x', 'ftp://a.example', '']) assert.equal(canonicalResourceUri(v), undefined, v)
  })
})
