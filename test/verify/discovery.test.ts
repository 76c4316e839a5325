// Metadata discovery (issuer alone → jwks_uri) and the per-issuer options real identity providers
// need: typ JWT, nested claims and tenant by JSON Pointer. Fault cases use a loopback server that
// misbehaves on demand; every wait is bounded by the configured timeout.
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { createIssuerDiscovery, createTokenVerifier, discoverIssuerMetadata, metadataUrls } from '../../src/verify/index.ts'
import type { JwtIssuerConfig } from '../../src/verify/index.ts'
import { sendJson, startLoopback, type LoopbackServer } from '../helpers/verify-loopback.ts'
import { accessClaims, jwksOf, makeKey, mint, type TestKey } from '../helpers/verify-tokens.ts'

const AUD = 'https://mcp.example.test/mcp'
let server: LoopbackServer
let key: TestKey
let issuer: string

before(async () => {
  key = await makeKey('RS256', 'k1')
  server = await startLoopback()
  issuer = `${server.url}/realms/x`
})
after(() => server.close())

/** Serves the well-known documents under `issuer` as given. */
function serve(documents: Record<string, unknown | ((res: import('node:http').ServerResponse) => void)>): void {
  server.handle((req, res) => {
    const path = (req.url ?? '').split('?')[0] as string
    const doc = documents[path]
    if (doc === undefined) return sendJson(res, { error: 'not found' }, 404)
    if (typeof doc === 'function') return (doc as (r: import('node:http').ServerResponse) => void)(res)
    sendJson(res, doc)
  })
}

const OIDC = '/realms/x/.well-known/openid-configuration'
const RFC8414 = '/.well-known/oauth-authorization-server/realms/x'
const OIDC_INSERTED = '/.well-known/openid-configuration/realms/x'

describe('metadataUrls', () => {
  it('OpenID Connect appended, then RFC 8414 inserted, then OpenID Connect inserted (path issuers)', () => {
    assert.deepEqual(metadataUrls('https://kc.example/realms/mcp/').map(String), [
      'https://kc.example/realms/mcp/.well-known/openid-configuration',
      'https://kc.example/.well-known/oauth-authorization-server/realms/mcp',
      'https://kc.example/.well-known/openid-configuration/realms/mcp',
    ])
    assert.deepEqual(metadataUrls('https://as.example').map(String), ['https://as.example/.well-known/openid-configuration', 'https://as.example/.well-known/oauth-authorization-server'])
  })
  it('refuses issuers that are not https (plain http on loopback only), or carry a query, credentials or a fragment', () => {
    assert.equal(metadataUrls('http://127.0.0.1:8080/realms/a').length, 3)
    assert.equal(metadataUrls('http://as.internal', true).length, 2, 'allowInsecureHttp')
    for (const bad of ['http://as.example', 'urn:x', 'https://as.example/?a=1', 'https://as.example/#f', 'https://u:p@as.example', 'not a url']) {
      assert.throws(() => metadataUrls(bad), TypeError, bad)
    }
  })
})

describe('discovery', () => {
  it('uses the first usable document; later candidates are not fetched', async () => {
    serve({ [OIDC]: { issuer, jwks_uri: `${server.url}/certs` } })
    const before = server.requests.length
    assert.equal((await discoverIssuerMetadata(issuer)).jwks_uri, `${server.url}/certs`)
    assert.equal(server.requests.length - before, 1)
  })

  it('falls back to RFC 8414 (path insertion), then to OpenID Connect with path insertion', async () => {
    serve({ [RFC8414]: { issuer, jwks_uri: `${server.url}/a` } })
    assert.equal((await discoverIssuerMetadata(issuer)).jwks_uri, `${server.url}/a`)
    serve({ [OIDC_INSERTED]: { issuer, jwks_uri: `${server.url}/b` } })
    assert.equal((await discoverIssuerMetadata(issuer)).jwks_uri, `${server.url}/b`)
  })

  it('a document naming another issuer is never used, whatever the difference (RFC 8414 § 3.3)', async () => {
    for (const other of [`${issuer}/`, issuer.toUpperCase(), `${server.url}/realms/y`, undefined, 7]) {
      serve({ [OIDC]: { issuer: other, jwks_uri: `${server.url}/certs` } })
      await assert.rejects(discoverIssuerMetadata(issuer), (e: Error & { code?: string }) => e.code === 'ERR_JWKS_UNAVAILABLE' && /not the configured one/.test(e.message))
    }
  })

  const faults: Array<[string, () => Record<string, unknown>, RegExp]> = [
    ['no jwks_uri', () => ({ [OIDC]: { issuer } }), /no https jwks_uri/],
    ['a plain-http jwks_uri off loopback', () => ({ [OIDC]: { issuer, jwks_uri: 'http://as.example/certs' } }), /no https jwks_uri/],
    ['a jwks_uri with credentials', () => ({ [OIDC]: { issuer, jwks_uri: 'https://u:p@as.example/certs' } }), /no https jwks_uri/],
    ['an array', () => ({ [OIDC]: [] }), /not a JSON object/],
    ['not JSON', () => ({ [OIDC]: (res: import('node:http').ServerResponse) => res.writeHead(200, { 'content-type': 'application/json' }).end('<html>') }), /not JSON/],
    ['HTTP 500', () => ({ [OIDC]: (res: import('node:http').ServerResponse) => sendJson(res, { issuer }, 500) }), /HTTP 500/],
    ['a redirect (not followed)', () => ({ [OIDC]: (res: import('node:http').ServerResponse) => res.writeHead(302, { location: `${server.url}${RFC8414}` }).end() }), /HTTP 302/],
    ['an oversize document', () => ({ [OIDC]: { issuer, jwks_uri: `${server.url}/certs`, padding: 'x'.repeat(5000) } }), /larger than 4096 bytes/],
    ['silence (timeout)', () => ({ [OIDC]: () => {} }), /timed out/],
  ]
  for (const [name, docs, reason] of faults) {
    it(`fails closed on ${name}`, async () => {
      serve(docs())
      const started = performance.now()
      await assert.rejects(discoverIssuerMetadata(issuer, { timeoutMs: 300, maxBytes: 4096 }), (e: Error & { code?: string }) => e.code === 'ERR_JWKS_UNAVAILABLE' && reason.test(e.message))
      assert.ok(performance.now() - started < 5000, 'bounded by the timeout per candidate')
    })
  }

  it('cached, shared by concurrent callers, refreshed after maxAge; a failed refresh keeps the last good document', async () => {
    let clock = 0
    serve({ [OIDC]: { issuer, jwks_uri: `${server.url}/one` } })
    const discovery = createIssuerDiscovery(issuer, { maxAgeMs: 1000, now: () => clock })
    const before = server.requests.length
    const docs = await Promise.all([discovery.metadata(), discovery.metadata(), discovery.metadata()])
    assert.ok(docs.every((d) => d.jwks_uri === `${server.url}/one`))
    assert.equal(server.requests.length - before, 1, 'one request for three callers')
    await discovery.metadata()
    assert.equal(server.requests.length - before, 1, 'cached')
    clock = 1000
    serve({})
    assert.equal((await discovery.metadata()).jwks_uri, `${server.url}/one`, 'last good document kept')
    serve({ [OIDC]: { issuer, jwks_uri: `${server.url}/two` } })
    assert.equal((await discovery.metadata()).jwks_uri, `${server.url}/one`, 'a failure is held for a second')
    clock = 2100
    assert.equal((await discovery.metadata()).jwks_uri, `${server.url}/two`)
  })

  it('a failure with nothing cached is repeated for a second, not retried per request', async () => {
    let clock = 0
    serve({})
    const discovery = createIssuerDiscovery(issuer, { now: () => clock })
    await assert.rejects(discovery.metadata())
    const after = server.requests.length
    await assert.rejects(discovery.metadata())
    assert.equal(server.requests.length, after, 'held')
    serve({ [OIDC]: { issuer, jwks_uri: `${server.url}/certs` } })
    clock = 1000
    assert.equal((await discovery.metadata()).issuer, issuer)
  })

  it('the verifier discovers, fetches the keys it names, and verifies; a token from another issuer triggers nothing', async () => {
    serve({ [OIDC]: { issuer, jwks_uri: `${server.url}/certs` }, '/certs': jwksOf(key) })
    const verifier = createTokenVerifier({ audience: AUD, issuers: [{ issuer, typ: ['JWT'] }] })
    const before = server.requests.length
    const principal = await verifier.verify(await mint(key, accessClaims(issuer, AUD, { scope: 'a' }), { typ: 'JWT' }))
    assert.equal(principal.issuer, issuer)
    assert.deepEqual(server.requests.slice(before).map((r) => r.url), [OIDC, '/certs'])
    const elsewhere = await mint(key, accessClaims(`${server.url}/realms/evil`, AUD), { typ: 'JWT' })
    await assert.rejects(verifier.verify(elsewhere), { code: 'ERR_ISSUER_UNKNOWN' })
    assert.equal(server.requests.length, before + 2)
  })
})

describe('typ per issuer', () => {
  const verifierWith = (options: Partial<JwtIssuerConfig>) => createTokenVerifier({ audience: AUD, issuers: [{ issuer: 'https://as.example', jwks: jwksOf(key), ...options }] })
  const tokenWith = (typ: string | undefined) => mint(key, accessClaims('https://as.example', AUD), { typ })
  const cases: Array<[string, Partial<JwtIssuerConfig>, Record<string, boolean>]> = [
    ['default (RFC 9068)', {}, { 'at+jwt': true, 'application/at+jwt': true, JWT: false, none: false }],
    ["typ: ['at+jwt', 'JWT'] (Keycloak, Auth0, Entra)", { typ: ['at+jwt', 'JWT'] }, { 'at+jwt': true, JWT: true, jwt: true, 'application/jwt': true, none: false, 'dpop+jwt': false }],
    ["typ: ['JWT']", { typ: ['JWT'] }, { 'at+jwt': false, JWT: true, none: false }],
    ['requireTyp: false (Okta, Cognito: no typ)', { requireTyp: false }, { 'at+jwt': true, JWT: true, none: true, 'logout+jwt': false }],
    ["typ: ['at+jwt'] with requireTyp: false", { typ: ['at+jwt'], requireTyp: false }, { 'at+jwt': true, JWT: false, none: true }],
  ]
  for (const [name, options, expected] of cases) {
    it(name, async () => {
      const verifier = verifierWith(options)
      for (const [typ, ok] of Object.entries(expected)) {
        const result = verifier.verify(await tokenWith(typ === 'none' ? undefined : typ))
        if (ok) await result
        else await assert.rejects(result, { code: 'ERR_TYP_INVALID' }, `typ ${typ}`)
      }
    })
  }
  it('typ values other than at+jwt and JWT cannot be configured', () => {
    for (const typ of [['dpop+jwt'], ['logout+jwt'], [], ['']]) {
      assert.throws(() => verifierWith({ typ } as unknown as Partial<JwtIssuerConfig>), /"issuers\[0\]\.typ"/)
    }
  })
})

describe('claims and tenant by JSON Pointer, through the verifier', () => {
  it('maps Keycloak realm roles and a nested tenant into the principal', async () => {
    const verifier = createTokenVerifier({
      audience: AUD,
      issuers: [{ issuer: 'https://as.example', jwks: jwksOf(key), claims: { roles: '/realm_access/roles' }, tenantClaim: '/org/id' }],
    })
    const p = await verifier.verify(await mint(key, accessClaims('https://as.example', AUD, { realm_access: { roles: ['notes-admin'] }, org: { id: 'acme' } })))
    assert.deepEqual(p.claims, { roles: ['notes-admin'] })
    assert.equal(p.tenant, 'acme')
  })
  it('bad selections fail fast naming the option', () => {
    const bad: Array<[unknown, RegExp]> = [
      [{ claims: { roles: '/a~2' } }, /"issuers\[0\]\.claims\.roles" is not a valid RFC 6901 JSON Pointer/],
      [{ claims: { roles: 3 } }, /"issuers\[0\]\.claims\.roles" must be a non-empty string/],
      [{ claims: { '': '/a' } }, /"issuers\[0\]\.claims" has an invalid name/],
      [{ claims: 'roles' }, /"issuers\[0\]\.claims" must be an array of claim names or an object/],
      [{ tenantClaim: '/a~' }, /"issuers\[0\]\.tenantClaim" is not a valid RFC 6901 JSON Pointer/],
    ]
    for (const [options, message] of bad) {
      assert.throws(() => createTokenVerifier({ audience: AUD, issuers: [{ issuer: 'https://as.example', jwks: jwksOf(key), ...(options as object) }] }), message)
    }
    assert.throws(
      () => createTokenVerifier({ audience: AUD, introspection: { endpoint: 'https://as.example/introspect', clientId: 'rs', clientSecret: 's', claims: { r: '/~' } } }),
      /"introspection\.claims\.r" is not a valid RFC 6901 JSON Pointer/,
    )
  })
})
