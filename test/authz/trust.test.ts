/**
 * One place for trust: the policy data says which resource, issuers and tenants are trusted; the
 * verifier's configuration says only how tokens are checked. createAuthz derives the audience, the
 * trusted issuers and their tenants from the data, and refuses — at start and on reload — a
 * verifier whose trust disagrees, with a message that names both places.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { createAuthz, TrustError } from '../../src/authz.ts'
import { derivedVerifierConfig, trustProblems } from '../../src/authz/trust.ts'
import { createTokenVerifier } from '../../src/verify/index.ts'
import { buildTestBundle, testData } from '../helpers/bundle.ts'
import { accessClaims, jwksOf, makeKey, mint } from '../helpers/verify-tokens.ts'

const ISSUER = 'https://as.example.com'
const RESOURCE = testData.mcp_authz.resource
const data = { mcp_authz: { ...testData.mcp_authz, issuers: { [ISSUER]: { tenant: 'acme' } } } }
const readCall = { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'notes_read' } }

describe('trust problems name both places', () => {
  const facts = { resource: RESOURCE, issuers: { [ISSUER]: { tenant: 'acme' }, 'https://b.example': {} } }
  test('agreement: no problem', () => {
    assert.deepEqual(trustProblems(facts, { audience: `${RESOURCE}/`, issuers: [{ issuer: ISSUER, tenant: 'acme' }, { issuer: 'https://b.example' }] }), [])
  })
  test('another audience', () => {
    const [p] = trustProblems(facts, { audience: 'https://other.example/mcp', issuers: [] })
    assert.equal(p?.path, 'verifier.audience')
    assert.match(p?.message ?? '', /data\.mcp_authz\.resource/)
  })
  test('an issuer the data does not trust', () => {
    const [p] = trustProblems(facts, { issuers: [{ issuer: 'https://evil.example' }] })
    assert.equal(p?.path, 'verifier.issuers[0].issuer')
    assert.match(p?.message ?? '', /data\.mcp_authz\.issuers/)
  })
  test('another tenant, and no tenant at all where the data pins one', () => {
    const [other] = trustProblems(facts, { issuers: [{ issuer: ISSUER, tenant: 'globex' }] })
    assert.equal(other?.path, 'verifier.issuers[0].tenant')
    assert.match(other?.message ?? '', /data\.mcp_authz\.issuers\["https:\/\/as\.example\.com"\]\.tenant/)
    const [none] = trustProblems(facts, { issuers: [{ issuer: ISSUER }] })
    assert.match(none?.message ?? '', /is not set/)
    assert.deepEqual(trustProblems(facts, { issuers: [{ issuer: ISSUER, tenantClaim: 'tid' }] }), [], 'a tenant claim is the verifier’s business')
  })
  test('introspection naming an untrusted issuer, or another tenant', () => {
    assert.equal(trustProblems(facts, { issuers: [], introspection: { issuer: 'https://evil.example' } })[0]?.path, 'verifier.introspection.issuer')
    assert.equal(trustProblems(facts, { issuers: [], introspection: { issuer: ISSUER, tenant: 'globex' } })[0]?.path, 'verifier.introspection.tenant')
  })
  test('completeness: a trusted issuer the verifier cannot verify is reported when asked', () => {
    const problems = trustProblems(facts, { issuers: [{ issuer: ISSUER, tenant: 'acme' }] }, { verifier: 'config.verifier', completeness: true })
    assert.deepEqual(problems.map((p) => p.path), ['data.mcp_authz.issuers["https://b.example"]'])
    assert.match(problems[0]?.message ?? '', /config\.verifier/)
    assert.deepEqual(trustProblems(facts, { issuers: [], introspection: {} }, { verifier: 'v', completeness: true }), [], 'introspection without an issuer covers every issuer')
  })
})

describe('the verifier configuration derived from the data', () => {
  test('audience, tenants and every trusted issuer come from the data', () => {
    const derived = derivedVerifierConfig({ resource: RESOURCE, issuers: { [ISSUER]: { tenant: 'acme' }, 'https://b.example': {} } }, { issuers: [{ issuer: ISSUER, jwksUri: 'https://as.example.com/jwks' }], clockTolerance: 10 })
    assert.equal(derived.audience, RESOURCE)
    assert.equal(derived.clockTolerance, 10)
    assert.deepEqual(derived.issuers, [{ issuer: ISSUER, jwksUri: 'https://as.example.com/jwks', tenant: 'acme' }, { issuer: 'https://b.example' }])
  })
  test('contradictions are refused, each naming both places', () => {
    assert.throws(
      () => derivedVerifierConfig({ resource: RESOURCE, issuers: { [ISSUER]: { tenant: 'acme' } } }, { audience: 'https://x.example/mcp', issuers: [{ issuer: 'https://evil.example', jwksUri: 'https://evil.example/j' }, { issuer: ISSUER, jwksUri: 'https://as.example.com/j', tenant: 'globex' }] }),
      (e: unknown) => e instanceof TrustError && e.code === 'ERR_TRUST_MISMATCH' && e.problems.length === 3 && /verifier\.audience/.test(e.message) && /data\.mcp_authz\.resource/.test(e.message) && /verifier\.issuers\[0\]\.issuer/.test(e.message) && /verifier\.issuers\[1\]\.tenant/.test(e.message),
    )
  })
})

describe('createAuthz holds the verifier to the data', () => {
  test('a verifier configuration: the issuer and tenant written once, in the data', async () => {
    const key = await makeKey('ES256', 'k1')
    const authz = await createAuthz({ bundle: await buildTestBundle(data), verifier: { issuers: [{ issuer: ISSUER, jwks: jwksOf(key) as never, algorithms: ['ES256'] }] } })
    const token = await mint(key, accessClaims(ISSUER, RESOURCE, { scope: 'notes:read' }))
    const r = await authz.check(token, readCall)
    assert.equal(r.allow, true, JSON.stringify(r.reasons))
    assert.equal(r.principal?.tenant, 'acme', 'the tenant came from the data')
    assert.equal(authz.verifier?.trust?.audience, RESOURCE, 'the audience came from the data')
  })

  test('a verifier instance that disagrees is refused at start, naming both places', async () => {
    const bundle = await buildTestBundle(data)
    const key = await makeKey('ES256', 'k1')
    const jwks = jwksOf(key) as never
    const cases = [
      [createTokenVerifier({ audience: 'https://other.example.com/mcp', issuers: [{ issuer: ISSUER, jwks, tenant: 'acme' }] }), /verifier\.audience.*data\.mcp_authz\.resource/s],
      [createTokenVerifier({ audience: RESOURCE, issuers: [{ issuer: ISSUER, jwks }] }), /verifier\.issuers\[0\]\.tenant.*data\.mcp_authz\.issuers/s],
      [createTokenVerifier({ audience: RESOURCE, issuers: [{ issuer: ISSUER, jwks, tenant: 'acme' }, { issuer: 'https://evil.example', jwks }] }), /verifier\.issuers\[1\]\.issuer.*issuer_not_trusted/s],
    ] as const
    for (const [verifier, message] of cases) {
      await assert.rejects(createAuthz({ bundle, verifier }), (e: unknown) => e instanceof TrustError && message.test(e.message))
    }
    await createAuthz({ bundle, verifier: createTokenVerifier({ audience: RESOURCE, issuers: [{ issuer: ISSUER, jwks, tenant: 'acme' }] }) })
  })

  test('a reload whose data disagrees with the verifier is refused; the serving bundle stays', async () => {
    const key = await makeKey('ES256', 'k1')
    const authz = await createAuthz({ bundle: await buildTestBundle(data, { revision: 'r1' }), verifier: { issuers: [{ issuer: ISSUER, jwks: jwksOf(key) as never, algorithms: ['ES256'] }] } })
    const moved = { mcp_authz: { ...data.mcp_authz, issuers: { 'https://new.example.com': {} } } }
    await assert.rejects(authz.load(await buildTestBundle(moved, { revision: 'r2' })), (e: unknown) => e instanceof TrustError && /verifier\.issuers\[0\]\.issuer/.test(e.message))
    assert.equal(authz.bundle.revision, 'r1')
    const token = await mint(key, accessClaims(ISSUER, RESOURCE, { scope: 'notes:read' }))
    assert.equal((await authz.check(token, readCall)).allow, true)
  })

  test('a reload that keeps the trust facts keeps the verifier (and its caches)', async () => {
    const key = await makeKey('ES256', 'k1')
    const authz = await createAuthz({ bundle: await buildTestBundle(data, { revision: 'r1' }), verifier: { issuers: [{ issuer: ISSUER, jwks: jwksOf(key) as never, algorithms: ['ES256'] }] } })
    const before = authz.verifier
    await authz.load(await buildTestBundle({ mcp_authz: { ...data.mcp_authz, server_name: 'renamed' } }, { revision: 'r2' }))
    assert.equal(authz.verifier, before)
    await authz.load(await buildTestBundle({ mcp_authz: { ...data.mcp_authz, issuers: { [ISSUER]: { tenant: 'globex' } } } }, { revision: 'r3' }))
    assert.notEqual(authz.verifier, before, 'a changed tenant pin rebuilds the verifier')
    const token = await mint(key, accessClaims(ISSUER, RESOURCE, { scope: 'notes:read' }))
    assert.equal((await authz.check(token, readCall)).principal?.tenant, 'globex')
  })
})
