// normalizePrincipal, claim by claim (issue 11.10): every claim it reads, with every wrong JSON
// type, is refused with a PrincipalError naming that claim; null counts as absent; every optional
// output field is present exactly when its claim is; nested claims and the tenant by JSON Pointer.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { normalizePrincipal, PrincipalError, tokenFingerprint } from '../../src/verify/principal.ts'
import type { NormalizeOptions } from '../../src/verify/principal.ts'
import { parsePointer, valueAt } from '../../src/verify/json-pointer.ts'

const base = { iss: 'https://as.example', sub: 'alice', aud: 'https://mcp.example/mcp', exp: 2_000_000_000, iat: 1_700_000_000 }
const jwt: NormalizeOptions = { authMethod: 'jwt' }

/** JSON values of every type but the right one. */
const NOT_A_STRING: unknown[] = [0, 1.5, true, false, {}, { a: 'b' }, [], ['x']]
const NOT_A_NUMBER: unknown[] = ['1', '', true, {}, [], [1]]

function refusedOn(claim: string, claims: Record<string, unknown>, options: NormalizeOptions = jwt): void {
  assert.throws(
    () => normalizePrincipal(claims, options),
    (e: unknown) => e instanceof PrincipalError && e.code === 'ERR_PRINCIPAL_INVALID_CLAIM' && e.claim === claim,
    `${claim} = ${JSON.stringify(claims[claim])}`,
  )
}

describe('string claims: iss, sub, jti, client_id, azp and the tenant claim refuse every other type', () => {
  for (const claim of ['iss', 'sub', 'jti', 'client_id', 'azp']) {
    it(claim, () => {
      for (const wrong of [...NOT_A_STRING, '']) refusedOn(claim, { ...base, [claim]: wrong })
    })
  }
  it('the tenant claim, by name and by pointer', () => {
    for (const wrong of [...NOT_A_STRING, '']) {
      refusedOn('tid', { ...base, tid: wrong }, { ...jwt, tenantClaim: 'tid' })
      refusedOn('/org/id', { ...base, org: { id: wrong } }, { ...jwt, tenantClaim: '/org/id' })
    }
  })
})

describe('null is absent', () => {
  it('iss: falls back to the default issuer, else required', () => {
    assert.equal(normalizePrincipal({ ...base, iss: null }, { ...jwt, defaultIssuer: 'urn:x' }).issuer, 'urn:x')
    refusedOn('iss', { ...base, iss: null })
    refusedOn('iss', { sub: 'a' })
  })
  it('sub: required', () => {
    refusedOn('sub', { ...base, sub: null })
    refusedOn('sub', { iss: 'x' })
  })
  it('optional claims: no field in the principal', () => {
    const p = normalizePrincipal({ iss: 'i', sub: 's', aud: null, scope: null, jti: null, client_id: null, azp: null, exp: null, iat: null, tid: null }, { ...jwt, tenantClaim: 'tid', acceptScp: true })
    assert.deepEqual(p, { subject: 's', issuer: 'i', audience: [], scopes: [], authMethod: 'jwt', tokenId: 'jwt:s', claims: {} })
  })
})

describe('aud', () => {
  it('a string or an array of strings, canonicalised and unique', () => {
    assert.deepEqual(normalizePrincipal({ ...base, aud: 'HTTPS://MCP.example/mcp/' }, jwt).audience, ['https://mcp.example/mcp'])
    assert.deepEqual(normalizePrincipal({ ...base, aud: ['https://mcp.example/mcp', 'https://MCP.example/mcp', 'account'] }, jwt).audience, ['https://mcp.example/mcp', 'account'])
    assert.deepEqual(normalizePrincipal({ ...base, aud: [] }, jwt).audience, [])
    assert.deepEqual(normalizePrincipal({ iss: 'i', sub: 's' }, jwt).audience, [])
  })
  it('every other type is refused, and so is an array holding a non-string', () => {
    for (const wrong of [0, true, {}, [1], ['a', null], [['a']]]) refusedOn('aud', { ...base, aud: wrong })
  })
})

describe('scope and scp', () => {
  it('scope: a space-delimited string only', () => {
    for (const wrong of [0, true, {}, ['a'], []]) refusedOn('scope', { ...base, scope: wrong })
    assert.deepEqual(normalizePrincipal({ ...base, scope: '  b a   b ' }, jwt).scopes, ['a', 'b'])
    assert.deepEqual(normalizePrincipal({ ...base, scope: '' }, jwt).scopes, [], 'Keycloak sends "" for no scope')
  })
  it('scp: ignored unless accepted; then a string or an array of scope tokens', () => {
    assert.deepEqual(normalizePrincipal({ ...base, scp: 42 }, jwt).scopes, [], 'not read at all by default')
    const accept = { ...jwt, acceptScp: true }
    for (const wrong of [0, true, {}, [1], ['ok', {}], ['']]) refusedOn('scp', { ...base, scp: wrong }, accept)
    assert.deepEqual(normalizePrincipal({ ...base, scp: ['y', 'x', 'y'], scope: 'z x' }, accept).scopes, ['x', 'y', 'z'])
    assert.deepEqual(normalizePrincipal({ ...base, scp: 'y x' }, accept).scopes, ['x', 'y'])
  })
  it('scope tokens: RFC 6749 characters only, at most 256 characters each, at most 256 scopes', () => {
    for (const bad of ['a"b', 'a\\b', 'é', 'a\tb', '\u0000']) refusedOn('scope', { ...base, scope: bad })
    refusedOn('scope', { ...base, scope: 'x'.repeat(257) })
    assert.equal(normalizePrincipal({ ...base, scope: 'x'.repeat(256) }, jwt).scopes.length, 1)
    const many = (n: number) => Array.from({ length: n }, (_, i) => `s${i}`).join(' ')
    assert.equal(normalizePrincipal({ ...base, scope: many(256) }, jwt).scopes.length, 256)
    refusedOn('scope', { ...base, scope: many(257) })
    refusedOn('scp', { ...base, scope: many(200), scp: many(257).split(' ').slice(200) }, { ...jwt, acceptScp: true })
  })
})

describe('exp and iat', () => {
  for (const claim of ['exp', 'iat']) {
    it(`${claim}: a finite number, floored; every other type refused`, () => {
      for (const wrong of NOT_A_NUMBER) refusedOn(claim, { ...base, [claim]: wrong })
      const p = normalizePrincipal({ ...base, [claim]: 1_800_000_000.9 }, jwt)
      assert.equal(claim === 'exp' ? p.expiresAt : p.issuedAt, 1_800_000_000)
      const without = normalizePrincipal({ iss: 'i', sub: 's' }, jwt)
      assert.ok(!('expiresAt' in without) && !('issuedAt' in without))
    })
  }
  it('non-finite numbers are refused', () => {
    refusedOn('exp', { ...base, exp: Number.POSITIVE_INFINITY })
    refusedOn('iat', { ...base, iat: Number.NaN })
  })
})

describe('client id: client_id, else azp (Keycloak, Entra v1 appid aside)', () => {
  it('client_id wins; azp is used when client_id is absent; neither → no clientId', () => {
    assert.equal(normalizePrincipal({ ...base, client_id: 'c', azp: 'a' }, jwt).clientId, 'c')
    assert.equal(normalizePrincipal({ ...base, azp: 'a' }, jwt).clientId, 'a')
    assert.equal(normalizePrincipal({ ...base, client_id: null, azp: 'a' }, jwt).clientId, 'a')
    assert.ok(!('clientId' in normalizePrincipal(base, jwt)))
  })
  it('a mistyped azp is refused even when client_id is absent', () => {
    refusedOn('azp', { ...base, azp: 7 })
  })
})

describe('tokenId: jti, else a fingerprint of the token, else method:subject', () => {
  it('in that order, never the token', () => {
    const token = 'eyJhbGciOiJSUzI1NiJ9.e30.c2ln'
    assert.equal(normalizePrincipal({ ...base, jti: 'j' }, { ...jwt, token }).tokenId, 'j')
    assert.equal(normalizePrincipal(base, { ...jwt, token }).tokenId, tokenFingerprint(token))
    assert.match(tokenFingerprint(token), /^fp:[0-9a-f]{24}$/)
    assert.equal(normalizePrincipal(base, { authMethod: 'introspection' }).tokenId, 'introspection:alice')
  })
})

describe('tenant', () => {
  it('from a top-level claim, else the issuer tenant', () => {
    assert.equal(normalizePrincipal({ ...base, tid: 't1' }, { ...jwt, tenantClaim: 'tid', issuerTenant: 'acme' }).tenant, 't1')
    assert.equal(normalizePrincipal(base, { ...jwt, tenantClaim: 'tid', issuerTenant: 'acme' }).tenant, 'acme')
    assert.equal(normalizePrincipal({ ...base, tid: 't1' }, { ...jwt, issuerTenant: 'acme' }).tenant, 'acme', 'the claim is read only when configured')
    assert.ok(!('tenant' in normalizePrincipal(base, jwt)))
  })
  it('from a JSON Pointer into a nested claim', () => {
    const claims = { ...base, organization: { 'acme/eu': { id: 'org-7' } } }
    assert.equal(normalizePrincipal(claims, { ...jwt, tenantClaim: '/organization/acme~1eu/id' }).tenant, 'org-7')
    assert.equal(normalizePrincipal(claims, { ...jwt, tenantClaim: '/organization/none/id', issuerTenant: 'acme' }).tenant, 'acme')
    assert.throws(() => normalizePrincipal(claims, { ...jwt, tenantClaim: '/bad~2escape' }), TypeError)
  })
  it('a top-level claim name is not a pointer: "a/b" is one name', () => {
    assert.equal(normalizePrincipal({ ...base, 'a/b': 'x' }, { ...jwt, tenantClaim: 'a/b' }).tenant, 'x')
  })
})

describe('principal.claims', () => {
  it('allowlisted top-level claims are deep copies; absent or inherited ones are not copied', () => {
    const roles = ['admin']
    const claims: Record<string, unknown> = { ...base, roles, undef: undefined }
    const p = normalizePrincipal(claims, { ...jwt, claimAllowlist: ['roles', 'groups', 'undef', 'toString', '__proto__'] })
    assert.deepEqual(p.claims, { roles: ['admin'] })
    roles.push('changed')
    assert.deepEqual(p.claims.roles, ['admin'], 'a copy')
    assert.equal(Object.getPrototypeOf(p.claims), Object.prototype)
  })
  it('nested claims by pointer (Keycloak realm and client roles, Entra roles, Auth0 namespaced claims)', () => {
    const claims = {
      ...base,
      realm_access: { roles: ['notes-admin'] },
      resource_access: { 'notes-app': { roles: ['editor'] } },
      'https://example.com/groups': ['g1'],
      list: ['a', 'b'],
    }
    const p = normalizePrincipal(claims, {
      ...jwt,
      claimPointers: {
        roles: '/realm_access/roles',
        clientRoles: '/resource_access/notes-app/roles',
        groups: '/https:~1~1example.com~1groups',
        second: '/list/1',
        missing: '/realm_access/none',
        outOfRange: '/list/2',
        notIndex: '/list/01',
        renamed: 'sub',
      },
    })
    assert.deepEqual(p.claims, { roles: ['notes-admin'], clientRoles: ['editor'], groups: ['g1'], second: 'b', renamed: 'alice' })
  })
  it('pointers never reach inherited members, and __proto__ is never a target name', () => {
    const p = normalizePrincipal({ ...base, o: {} }, { ...jwt, claimPointers: { a: '/o/constructor', b: '/o/__proto__', __proto__: '/sub' } as Record<string, string> })
    assert.deepEqual(p.claims, {})
    assert.equal(Object.getPrototypeOf(p.claims), Object.prototype)
  })
})

describe('JSON Pointer (RFC 6901)', () => {
  it('parses escapes and refuses non-pointers, bad escapes, and oversize pointers', () => {
    assert.deepEqual(parsePointer('/a~1b/c~0d/~01'), ['a/b', 'c~d', '~1'])
    assert.deepEqual(parsePointer('/'), [''])
    for (const bad of ['', 'a', '/a~', '/a~2', `/${'a'.repeat(512)}`, '/a'.repeat(17)]) assert.equal(parsePointer(bad), undefined, bad)
    assert.deepEqual(parsePointer('/a'.repeat(16))?.length, 16)
  })
  it('follows own members and canonical array indexes only', () => {
    const doc = { a: [{ b: 1 }], n: null, s: 'str' }
    assert.equal(valueAt(doc, ['a', '0', 'b']), 1)
    for (const path of [['a', '-'], ['a', '00'], ['a', '1'], ['n', 'x'], ['s', 'length'], ['toString'], ['a', 'length']]) assert.equal(valueAt(doc, path), undefined, path.join('/'))
  })
})

describe('what the refusals say (for operators; never sent to clients)', () => {
  const message = (claims: Record<string, unknown>, options: NormalizeOptions = jwt): string => {
    try {
      normalizePrincipal(claims, options)
    } catch (e) {
      return (e as Error).message
    }
    return 'accepted'
  }
  it('names the claim and the expected type', () => {
    assert.equal(message({ ...base, scope: ['a'] }), '"scope" claim must be a space-delimited string')
    assert.equal(message({ ...base, scp: 1 }, { ...jwt, acceptScp: true }), '"scp" claim must be a string or array of strings')
    assert.equal(message({ ...base, scope: 'a"b' }), '"scope" claim holds an invalid scope token')
    assert.equal(message({ ...base, scope: Array.from({ length: 257 }, (_, i) => `s${i}`).join(' ') }), 'more than 256 scopes')
    assert.equal(message({ ...base, sub: 1 }), '"sub" claim must be a non-empty string')
    assert.equal(message({ ...base, exp: '1' }), '"exp" claim must be a NumericDate')
  })
  it('a bad pointer names the option it came from', () => {
    assert.throws(() => normalizePrincipal(base, { ...jwt, tenantClaim: '/a~2' }), /^TypeError: "tenantClaim" is not a valid JSON Pointer: "\/a~2"$/)
    assert.throws(() => normalizePrincipal(base, { ...jwt, claimPointers: { roles: '/a~' } }), /^TypeError: "claims\.roles" is not a valid JSON Pointer/)
  })
  it('an own "__proto__" member of the claims is never copied, by name or by pointer (no prototype pollution)', () => {
    const claims = JSON.parse('{"iss":"i","sub":"s","__proto__":{"polluted":true},"x":{"__proto__":{"polluted":true}}}') as Record<string, unknown>
    const pointers = JSON.parse('{"__proto__":"/x","y":"/x/__proto__"}') as Record<string, string>
    const p = normalizePrincipal(claims, { ...jwt, claimAllowlist: ['__proto__'], claimPointers: pointers })
    assert.equal(Object.getPrototypeOf(p.claims), Object.prototype)
    assert.equal((p.claims as { polluted?: unknown }).polluted, undefined)
    assert.deepEqual(Object.keys(p.claims), ['y'], 'only the pointer into an own member named __proto__, under a safe name')
  })
  it('JSON Pointer edges: multi-digit indexes, non-string input, the length limit itself', () => {
    assert.equal(valueAt({ list: Array.from({ length: 12 }, (_, i) => i) }, ['list', '10']), 10)
    assert.equal(parsePointer(42 as unknown as string), undefined)
    const longest = `/${'a'.repeat(511)}`
    assert.equal(longest.length, 512)
    assert.deepEqual(parsePointer(longest), ['a'.repeat(511)])
  })
})
