/**
 * JWT verification options and behaviour (issuer keys inline, from a file, or remote), the
 * router in front of the verifiers, and remote JWKS failures (fail closed, bounded).
 */
import assert from 'node:assert/strict'
import { rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import type { JWTPayload } from 'jose'
import { createTokenVerifier, generateApiKey, hashApiKey, TokenVerificationError } from '../../src/verify/index.ts'
import type { JwtIssuerConfig, VerifierConfig, VerifierOverrides } from '../../src/verify/index.ts'
import { closedPortUrl, sendJson, startLoopback } from '../helpers/verify-loopback.ts'
import type { LoopbackHandler, LoopbackServer } from '../helpers/verify-loopback.ts'
import { accessClaims, jwksOf, makeKey, mint } from '../helpers/verify-tokens.ts'
import type { TestKey } from '../helpers/verify-tokens.ts'
import { tempDirSync } from '../helpers/temp.ts'

const ISSUER = 'https://as.example.test'
const AUD = 'https://mcp.example.test/mcp'

let rsa: TestKey
let ec: TestKey
let ed: TestKey

const claims = (overrides: JWTPayload = {}): JWTPayload => accessClaims(ISSUER, AUD, overrides)

function localVerifier(issuer: Partial<JwtIssuerConfig> = {}, extra: Partial<VerifierConfig> = {}, overrides: VerifierOverrides = {}) {
  return createTokenVerifier({ audience: AUD, issuers: [{ issuer: ISSUER, jwks: jwksOf(rsa, ec, ed), ...issuer }], ...extra }, overrides)
}

async function code(promise: Promise<unknown>): Promise<string> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  )
  assert.ok(err instanceof TokenVerificationError, `expected a TokenVerificationError, got ${String(err)}`)
  return err.code
}

describe('JWT verification', () => {
  before(async () => {
    ;[rsa, ec, ed] = await Promise.all([makeKey('RS256', 'rsa'), makeKey('ES256', 'ec'), makeKey('EdDSA', 'ed')])
  })

  it('accepts RS256, ES256 and EdDSA tokens from an inline JWKS', async () => {
    const verifier = localVerifier()
    for (const key of [rsa, ec, ed]) assert.equal((await verifier.verify(await mint(key, claims()))).subject, 'user-1')
  })

  it('reads the JWKS from a file', async () => {
    const dir = tempDirSync('mcp-authz-verify-')
    try {
      writeFileSync(join(dir, 'jwks.json'), JSON.stringify(jwksOf(ec)))
      const verifier = createTokenVerifier({ audience: AUD, issuers: [{ issuer: ISSUER, jwksFile: join(dir, 'jwks.json') }] })
      assert.equal((await verifier.verify(await mint(ec, claims()))).issuer, ISSUER)
      assert.throws(() => createTokenVerifier({ audience: AUD, issuers: [{ issuer: ISSUER, jwksFile: join(dir, 'missing.json') }] }), /"issuers\[0\]\.jwksFile"/)
    } finally {
      rmSync(dir, { recursive: true })
    }
  })

  it('fails fast when a local JWKS has no usable key, saying why', async () => {
    const priv = { kty: 'oct', k: 'c2VjcmV0', kid: 'hmac' }
    assert.throws(() => localVerifier({ jwks: { keys: [priv] } }), /"issuers\[0\]\.jwks" has no usable verification key \(hmac: symmetric keys are not accepted\)/)
  })

  it('only accepts the configured algorithms', async () => {
    const verifier = localVerifier({ algorithms: ['ES256'] })
    assert.equal(await code(verifier.verify(await mint(rsa, claims()))), 'ERR_ALG_NOT_ALLOWED')
    assert.equal((await verifier.verify(await mint(ec, claims()))).subject, 'user-1')
  })

  it('typ: at+jwt required by default; with requireTyp false, JWT or no typ pass but other types do not', async () => {
    assert.equal(await code(localVerifier().verify(await mint(rsa, claims(), { typ: 'JWT' }))), 'ERR_TYP_INVALID')
    const relaxed = localVerifier({ requireTyp: false })
    await relaxed.verify(await mint(rsa, claims(), { typ: 'JWT' }))
    await relaxed.verify(await mint(rsa, claims(), { typ: undefined }))
    await relaxed.verify(await mint(rsa, claims(), { typ: 'at+JWT' }))
    assert.equal(await code(relaxed.verify(await mint(rsa, claims(), { typ: 'logout+jwt' }))), 'ERR_TYP_INVALID')
  })

  it('requiredClaims adds client_id, iat and jti to the always-required iss, exp, aud, sub', async () => {
    const strict = localVerifier({ requiredClaims: ['client_id', 'iat', 'jti'] })
    await strict.verify(await mint(rsa, claims()))
    for (const missing of ['client_id', 'iat', 'jti']) {
      assert.equal(await code(strict.verify(await mint(rsa, claims({ [missing]: undefined })))), 'ERR_CLAIM_INVALID', missing)
    }
    assert.equal((await localVerifier().verify(await mint(rsa, claims({ client_id: undefined, jti: undefined })))).clientId, undefined)
  })

  it('maps tenants, copies only allowlisted claims, reads scp only when asked', async () => {
    const verifier = localVerifier({ tenant: 'acme', tenantClaim: 'tid', claims: ['roles'] })
    const p1 = await verifier.verify(await mint(rsa, claims({ roles: ['editor'], groups: ['g1'], tid: 'globex' })))
    assert.equal(p1.tenant, 'globex')
    assert.deepEqual(p1.claims, { roles: ['editor'] })
    assert.equal((await verifier.verify(await mint(rsa, claims()))).tenant, 'acme')

    const scp = claims({ scope: undefined, scp: ['b', 'a'] })
    assert.deepEqual((await localVerifier().verify(await mint(rsa, scp))).scopes, [])
    assert.deepEqual((await localVerifier({ acceptScp: true }).verify(await mint(rsa, scp))).scopes, ['a', 'b'])
  })

  it('maxTokenAge refuses old tokens and requires iat', async () => {
    const now = Math.floor(Date.now() / 1000)
    const verifier = localVerifier({}, { maxTokenAge: 60 })
    await verifier.verify(await mint(rsa, claims({ iat: now - 50 })))
    assert.equal(await code(verifier.verify(await mint(rsa, claims({ iat: now - 600, exp: now + 600 })))), 'ERR_TOKEN_TOO_OLD')
    assert.equal(await code(verifier.verify(await mint(rsa, claims({ iat: undefined })))), 'ERR_CLAIM_INVALID')
  })

  it('uses the injected clock for every time check', async () => {
    const yearAgo = Date.now() - 365 * 86400_000
    const token = await mint(rsa, claims())
    const past = localVerifier({}, {}, { now: () => yearAgo })
    assert.equal(await code(past.verify(token)), 'ERR_IAT_IN_FUTURE')
    const oldToken = await mint(rsa, accessClaims(ISSUER, AUD, {}, Math.floor(yearAgo / 1000)))
    assert.equal((await past.verify(oldToken)).subject, 'user-1')
    assert.equal(await code(localVerifier().verify(oldToken)), 'ERR_TOKEN_EXPIRED')
  })

  it('memoized principals respect maxTokenAge as well as exp', async () => {
    let offset = 0
    const verifier = localVerifier({}, { maxTokenAge: 60, clockTolerance: 0 }, { now: () => Date.now() + offset })
    const token = await mint(rsa, claims())
    await verifier.verify(token)
    offset = 61_000
    assert.equal(await code(verifier.verify(token)), 'ERR_TOKEN_TOO_OLD')
  })

  it('tries each key when a token without kid matches several', async () => {
    const [k1, k2] = await Promise.all([makeKey('ES256', 'k1'), makeKey('ES256', 'k2')])
    const verifier = createTokenVerifier({ audience: AUD, issuers: [{ issuer: ISSUER, jwks: jwksOf(k1, k2) }] })
    assert.equal((await verifier.verify(await mint(k2, claims(), { kid: undefined }))).subject, 'user-1')
    const stranger = await makeKey('ES256', 'k3')
    assert.equal(await code(verifier.verify(await mint(stranger, claims(), { kid: undefined }))), 'ERR_SIGNATURE_INVALID')
  })
})

describe('routing', () => {
  it('refuses a missing token with a bare challenge (no error code)', async () => {
    const verifier = localVerifier()
    for (const empty of ['', undefined, null, 42]) {
      const err = await verifier.verify(empty as unknown as string).then(
        () => undefined,
        (e: unknown) => e,
      )
      assert.ok(err instanceof TokenVerificationError)
      assert.deepEqual([err.code, err.status, err.oauthError], ['ERR_TOKEN_MISSING', 401, undefined])
    }
  })

  it('refuses what no configured verifier can take', async () => {
    const verifier = localVerifier()
    assert.equal(await code(verifier.verify('opaque-token-without-introspection')), 'ERR_TOKEN_MALFORMED')
    assert.equal(await code(verifier.verify('Bearer abc')), 'ERR_TOKEN_MALFORMED')
    assert.equal(await code(verifier.verify('a.b.c')), 'ERR_TOKEN_MALFORMED')
  })

  it('routes API keys by prefix, next to JWT issuers', async () => {
    const key = generateApiKey()
    const verifier = localVerifier({}, { apiKeys: { keys: [{ hash: hashApiKey(key), subject: 'ci-bot', scopes: ['notes:read'] }] } })
    assert.equal((await verifier.verify(key)).authMethod, 'api_key')
    assert.equal((await verifier.verify(await mint(rsa, claims()))).authMethod, 'jwt')
    assert.equal(await code(verifier.verify(generateApiKey())), 'ERR_API_KEY_UNKNOWN')
  })

  it('wraps anything unexpected into a typed error (fail closed)', async () => {
    const boom = localVerifier({}, {}, {
      now: () => {
        throw new RangeError('clock exploded')
      },
    })
    const err = await boom.verify(await mint(rsa, claims())).then(
      () => undefined,
      (e: unknown) => e,
    )
    assert.ok(err instanceof TokenVerificationError)
    assert.equal(err.code, 'ERR_VERIFICATION_FAILED')
    assert.ok(err.cause instanceof RangeError)
  })
})

describe('remote JWKS failures (fail closed)', () => {
  let jwksServer: LoopbackServer
  let elsewhere: LoopbackServer
  before(async () => {
    rsa ??= await makeKey('RS256', 'rsa')
    jwksServer = await startLoopback()
    elsewhere = await startLoopback((_req, res) => sendJson(res, jwksOf(rsa)))
  })
  after(async () => {
    await jwksServer.close()
    await elsewhere.close()
  })

  function remoteVerifier(handler: LoopbackHandler, issuer: Partial<JwtIssuerConfig> = {}) {
    jwksServer.handle(handler)
    return createTokenVerifier({ audience: AUD, issuers: [{ issuer: ISSUER, jwksUri: `${jwksServer.url}/jwks`, jwksTimeout: 0.3, jwksMaxBytes: 4096, ...issuer }] })
  }

  it('when the JWKS server is down', async () => {
    const verifier = createTokenVerifier({ audience: AUD, issuers: [{ issuer: ISSUER, jwksUri: `${await closedPortUrl()}/jwks` }] })
    assert.equal(await code(verifier.verify(await mint(rsa, claims()))), 'ERR_JWKS_UNAVAILABLE')
  })

  it('when it does not answer within the timeout', async () => {
    const started = Date.now()
    assert.equal(await code(remoteVerifier(() => new Promise(() => {})).verify(await mint(rsa, claims()))), 'ERR_JWKS_UNAVAILABLE')
    assert.ok(Date.now() - started < 2000)
  })

  const garbage: Array<[string, LoopbackHandler]> = [
    ['HTTP 500', (_req, res) => sendJson(res, jwksOf(rsa), 500)],
    ['a redirect (not followed)', (_req, res) => res.writeHead(302, { location: `${elsewhere.url}/jwks` }).end()],
    ['not JSON', (_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('<html/>')],
    ['JSON that is not a JWKS', (_req, res) => sendJson(res, { keys: 'none' })],
    ['an oversize body (Content-Length)', (_req, res) => sendJson(res, { ...jwksOf(rsa), padding: 'x'.repeat(5000) })],
    [
      'an oversize body (streamed)',
      (_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json' })
        res.write('{"keys":[],"padding":"')
        for (let i = 0; i < 10; i++) res.write('x'.repeat(1000))
        res.end('"}')
      },
    ],
  ]
  for (const [name, handler] of garbage) {
    it(`when it answers ${name}`, async () => {
      const before = elsewhere.requests.length
      assert.equal(await code(remoteVerifier(handler).verify(await mint(rsa, claims()))), 'ERR_JWKS_UNAVAILABLE')
      assert.equal(elsewhere.requests.length, before)
    })
  }

  it('recovers once the JWKS server answers again', async () => {
    let up = false
    // jwksCooldown 0: a failed fetch is not held (by default it is repeated for one second).
    const verifier = remoteVerifier((_req, res) => (up ? sendJson(res, jwksOf(rsa)) : sendJson(res, {}, 503)), { jwksCooldown: 0 })
    const token = await mint(rsa, claims())
    assert.equal(await code(verifier.verify(token)), 'ERR_JWKS_UNAVAILABLE')
    up = true
    assert.equal((await verifier.verify(token)).subject, 'user-1')
  })

  it('lets the caller stop waiting with an AbortSignal', async () => {
    const verifier = remoteVerifier(() => new Promise(() => {}), { jwksTimeout: 5 })
    const started = Date.now()
    assert.equal(await code(verifier.verify(await mint(rsa, claims()), { signal: AbortSignal.timeout(50) })), 'ERR_VERIFICATION_ABORTED')
    assert.ok(Date.now() - started < 1000)
    const aborted = new AbortController()
    aborted.abort()
    assert.equal(await code(verifier.verify(await mint(rsa, claims()), { signal: aborted.signal })), 'ERR_VERIFICATION_ABORTED')
  })

  it('vets every fetched key: a weak key published remotely is refused, the good one used', async () => {
    const weak = { ...rsa.publicJwk, kid: 'weak', e: 'Aw' } // e = 3
    const verifier = remoteVerifier((_req, res) => sendJson(res, { keys: [rsa.publicJwk, weak] }))
    assert.equal((await verifier.verify(await mint(rsa, claims()))).subject, 'user-1')
    assert.equal(await code(verifier.verify(await mint(rsa, claims(), { kid: 'weak' }))), 'ERR_KEY_REJECTED')
  })
})
