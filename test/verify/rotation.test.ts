// Key rotation without outage, against a real authorization server (oidc-provider on 127.0.0.1)
// that rotates its signing keys: a new kid, a kid reused for a new key, a withdrawn key, and a
// storm of unknown kids and bad signatures — counting the JWKS requests the server receives.
// Time is the verifier's injected clock (no sleeps): the cooldown is crossed by moving it forward.
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { decodeProtectedHeader } from 'jose'
import { createTokenVerifier } from '../../src/verify/index.ts'
import type { JwtIssuerConfig, VerifierConfig } from '../../src/verify/index.ts'
import { startAuthorizationServer, type AuthorizationServer, type Realm } from '../helpers/authorization-server.ts'
import { accessClaims, jwksOf, makeKey, mint, type TestKey } from '../helpers/verify-tokens.ts'
import { sendJson, startLoopback } from '../helpers/verify-loopback.ts'

const MCP = 'https://mcp.example.test/mcp'
let as: AuthorizationServer
let attacker: TestKey

before(async () => {
  as = await startAuthorizationServer({
    resources: { [MCP]: { scopes: ['notes:read'] } },
    clients: [{ clientId: 'agent', clientSecret: 'agent-secret' }],
  })
  attacker = await makeKey('RS256', 'attacker')
})
after(() => as.close())

/**
 * A verifier on a clock that only the test moves (frozen at creation, so a slow machine cannot
 * carry a step past the cooldown); `cacheMax: 0` so every call really verifies. Tokens issued a
 * few seconds later are within the default 30 s clock tolerance.
 */
function clockedVerifier(realm: Realm, issuer: Partial<JwtIssuerConfig> = {}, extra: Partial<VerifierConfig> = {}) {
  const clock = { offset: 0 }
  const base = Date.now()
  const verifier = createTokenVerifier(
    { audience: MCP, cacheMax: 0, issuers: [{ issuer: realm.issuer, jwksUri: realm.jwksUri, ...issuer }], ...extra },
    { now: () => base + clock.offset },
  )
  return { verifier, clock }
}

const token = (realm: Realm = as) => realm.token('agent', { resource: MCP, scope: 'notes:read' })

describe('key rotation causes no outage (issue 11.8)', () => {
  it('a token signed with a new key verifies as soon as the last fetch is a second old, with one refetch', async () => {
    const { verifier, clock } = clockedVerifier(as) // defaults: jwksCooldown 1 s
    const oldToken = await token()
    await verifier.verify(oldToken)
    const fetches = as.counts.jwks

    const { kid } = await as.rotateKeys()
    const newToken = await token()
    assert.equal(decodeProtectedHeader(newToken).kid, kid)
    clock.offset += 1100
    assert.equal((await verifier.verify(newToken)).subject, 'agent')
    assert.equal(as.counts.jwks, fetches + 1, 'exactly one refetch')
    assert.equal((await verifier.verify(oldToken)).subject, 'agent', 'the old key is still published')
    assert.equal(as.counts.jwks, fetches + 1)
  })

  it('within the cooldown an unknown kid is refused without a fetch; right after it, accepted', async () => {
    const { verifier, clock } = clockedVerifier(as)
    await verifier.verify(await token())
    await as.rotateKeys()
    const newToken = await token()
    const fetches = as.counts.jwks
    await assert.rejects(verifier.verify(newToken), { code: 'ERR_KEY_NOT_FOUND' })
    assert.equal(as.counts.jwks, fetches, 'no fetch within a second of the last one')
    clock.offset += 1000
    assert.equal((await verifier.verify(newToken)).subject, 'agent')
    assert.equal(as.counts.jwks, fetches + 1)
  })

  it('concurrent requests with the new kid share a single fetch', async () => {
    const { verifier, clock } = clockedVerifier(as)
    await verifier.verify(await token())
    await as.rotateKeys()
    const tokens = await Promise.all(Array.from({ length: 20 }, () => token()))
    clock.offset += 1100
    const fetches = as.counts.jwks
    const principals = await Promise.all(tokens.map((t) => verifier.verify(t)))
    assert.equal(principals.length, 20)
    assert.equal(as.counts.jwks, fetches + 1, 'one fetch for twenty requests')
  })

  it('a kid reused for a new key: the signature failure triggers one refetch and the new token verifies', async () => {
    const realm = await as.addRealm('reuse', { resources: { [MCP]: { scopes: ['notes:read'] } }, clients: [{ clientId: 'agent', clientSecret: 'agent-secret' }] })
    const { verifier, clock } = clockedVerifier(realm)
    const before = await token(realm)
    await verifier.verify(before)
    const kid = decodeProtectedHeader(before).kid as string
    await realm.replaceKey(kid)
    const after = await token(realm)
    assert.equal(decodeProtectedHeader(after).kid, kid, 'same kid, new key')
    const fetches = realm.counts.jwks

    await assert.rejects(verifier.verify(after), { code: 'ERR_SIGNATURE_INVALID' }, 'within the cooldown the cached key stands')
    assert.equal(realm.counts.jwks, fetches)
    clock.offset += 1100
    assert.equal((await verifier.verify(after)).subject, 'agent')
    assert.equal(realm.counts.jwks, fetches + 1, 'one refetch')
    await assert.rejects(verifier.verify(before), { code: 'ERR_SIGNATURE_INVALID' }, 'the replaced key no longer verifies')
  })

  it('a withdrawn key stops verifying once the set is refetched', async () => {
    const realm = await as.addRealm('withdraw', { resources: { [MCP]: { scopes: ['notes:read'] } }, clients: [{ clientId: 'agent', clientSecret: 'agent-secret' }] })
    const { verifier, clock } = clockedVerifier(realm, { jwksCacheMaxAge: 60 })
    const old = await token(realm)
    await verifier.verify(old)
    await realm.rotateKeys()
    await realm.removeKey(decodeProtectedHeader(old).kid as string)
    clock.offset += 61_000
    await assert.rejects(verifier.verify(old), { code: 'ERR_KEY_NOT_FOUND' })
  })
})

describe('a storm of unknown kids or bad signatures costs at most one fetch per cooldown window', () => {
  it('200 random kids and 200 forged signatures under the real kid: one fetch per window, all refused', async () => {
    const { verifier, clock } = clockedVerifier(as)
    const good = await token()
    await verifier.verify(good)
    const realKid = decodeProtectedHeader(good).kid as string
    const forged = (kid: string) => mint(attacker, accessClaims(as.issuer, MCP, { scope: 'notes:read' }), { kid })
    const randomKids = await Promise.all(Array.from({ length: 200 }, (_, i) => forged(`random-${i}`)))
    const badSignatures = await Promise.all(Array.from({ length: 200 }, () => forged(realKid)))

    for (const window of [1, 2, 3]) {
      clock.offset += 1100
      const fetches = as.counts.jwks
      const results = await Promise.allSettled([...randomKids, ...badSignatures].map((t) => verifier.verify(t)))
      assert.ok(results.every((r) => r.status === 'rejected'), 'every forged token refused')
      assert.ok(as.counts.jwks - fetches <= 1, `window ${window}: ${as.counts.jwks - fetches} fetches`)
      // Sequentially within the same window: no fetch at all.
      const during = as.counts.jwks
      for (const t of randomKids.slice(0, 50)) await assert.rejects(verifier.verify(t), { code: 'ERR_KEY_NOT_FOUND' })
      for (const t of badSignatures.slice(0, 50)) await assert.rejects(verifier.verify(t), { code: 'ERR_SIGNATURE_INVALID' })
      assert.equal(as.counts.jwks, during)
    }
    assert.equal((await verifier.verify(good)).subject, 'agent', 'real tokens still verify')
  })

  it('jwksCooldown is configurable: 5 s holds refetches for five seconds', async () => {
    const { verifier, clock } = clockedVerifier(as, { jwksCooldown: 5 })
    await verifier.verify(await token())
    await as.rotateKeys()
    const newToken = await token()
    clock.offset += 1100
    await assert.rejects(verifier.verify(newToken), { code: 'ERR_KEY_NOT_FOUND' })
    clock.offset += 4000
    assert.equal((await verifier.verify(newToken)).subject, 'agent')
  })
})

describe('JWKS by discovery: configuring the issuer alone', () => {
  it('finds jwks_uri through OpenID Connect discovery, once, and verifies', async () => {
    const realm = await as.addRealm('discover', { resources: { [MCP]: { scopes: ['notes:read'] } }, clients: [{ clientId: 'agent', clientSecret: 'agent-secret' }] })
    const verifier = createTokenVerifier({ audience: MCP, cacheMax: 0, issuers: [realm.issuer] })
    assert.equal(realm.counts.discovery, 0, 'nothing fetched before the first token')
    assert.equal((await verifier.verify(await token(realm))).issuer, realm.issuer)
    assert.equal((await verifier.verify(await token(realm))).subject, 'agent')
    assert.equal(realm.counts.discovery, 1, 'metadata fetched once')
    assert.equal(realm.counts.jwks, 1, 'keys fetched once')
  })

  it('rotation works the same way behind discovery', async () => {
    const realm = await as.addRealm('discover-rotate', { resources: { [MCP]: { scopes: ['notes:read'] } }, clients: [{ clientId: 'agent', clientSecret: 'agent-secret' }] })
    const clock = { offset: 0 }
    const verifier = createTokenVerifier({ audience: MCP, cacheMax: 0, issuers: [{ issuer: realm.issuer }] }, { now: () => Date.now() + clock.offset })
    await verifier.verify(await token(realm))
    await realm.rotateKeys()
    clock.offset += 1100
    assert.equal((await verifier.verify(await token(realm))).subject, 'agent')
    assert.equal(realm.counts.discovery, 1, 'the metadata is not refetched for a rotation')
    assert.equal(realm.counts.jwks, 2)
  })

  it("a token naming a configured issuer whose metadata names another issuer is refused (RFC 8414 § 3.3)", async () => {
    // The root realm's metadata says issuer = origin; configuring the origin with a trailing slash must not match it.
    const verifier = createTokenVerifier({ audience: MCP, cacheMax: 0, issuers: [`${as.issuer}/`] })
    const forged = await mint(attacker, accessClaims(`${as.issuer}/`, MCP, { scope: 'notes:read' }), { kid: 'x' })
    await assert.rejects(verifier.verify(forged), { code: 'ERR_JWKS_UNAVAILABLE' })
  })
})

describe('a refetch in flight never holds up tokens of cached keys', () => {
  it('while an unknown kid waits on a hanging JWKS refetch, a token of a cached key verifies at once', async () => {
    const key = await makeKey('ES256', 'cached')
    let served = 0
    const jwks = await startLoopback((_req, res) => {
      if (served++ === 0) sendJson(res, jwksOf(key)) // later requests hang until the timeout
    })
    try {
      const issuer = 'https://hang.example.test'
      const verifier = createTokenVerifier({ audience: MCP, cacheMax: 0, issuers: [{ issuer, jwksUri: `${jwks.url}/jwks`, jwksTimeout: 5, jwksCooldown: 0 }] })
      const good = () => mint(key, accessClaims(issuer, MCP, { scope: 'notes:read' }))
      await verifier.verify(await good())
      let unknownSettled = false
      const unknown = verifier.verify(await mint(attacker, accessClaims(issuer, MCP), { kid: 'unknown' })).finally(() => {
        unknownSettled = true
      })
      unknown.catch(() => {})
      while (jwks.requests.length < 2) await new Promise((r) => setTimeout(r, 5)) // the refetch is in flight
      assert.equal((await verifier.verify(await good())).issuer, issuer)
      assert.equal(unknownSettled, false, 'the cached key answered while the refetch still hangs')
      await assert.rejects(unknown, { code: 'ERR_JWKS_UNAVAILABLE' })
    } finally {
      await jwks.close()
    }
  })
})
