/**
 * The attack corpus: each case is a token an attacker (or a broken issuer) could present, and
 * each must be refused with the expected typed 401 error — several without any network request.
 * A handful of controls prove the same verifier accepts the honest variants, so a refusal is
 * the rule under test and not a broken setup.
 */
import assert from 'node:assert/strict'
import { createPublicKey } from 'node:crypto'
import type { JsonWebKey } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import { inspect } from 'node:util'
import fc from 'fast-check'
import type { JWTPayload } from 'jose'
import { createTokenVerifier, TokenVerificationError } from '../../src/verify/index.ts'
import type { TokenVerificationErrorCode, VerifierConfig } from '../../src/verify/index.ts'
import { sendJson, startLoopback } from '../helpers/verify-loopback.ts'
import type { LoopbackServer } from '../helpers/verify-loopback.ts'
import {
  accessClaims,
  b64,
  compact,
  hs256,
  jwksOf,
  makeKey,
  makeRawRsaKey,
  mint,
  pkcs1Sha256Encoding,
  rs256,
  signWith,
} from '../helpers/verify-tokens.ts'
import type { TestKey } from '../helpers/verify-tokens.ts'

const ISSUER = 'https://as.example.test'
const AUD = 'https://mcp.example.test/mcp'

let rsa: TestKey
let rsaNoAlg: TestKey
let ec256: TestKey
let ec384: TestKey
let attacker: TestKey
let encKey: TestKey
let weak1024: ReturnType<typeof makeRawRsaKey>
let e1: ReturnType<typeof makeRawRsaKey>
let jwksServer: LoopbackServer
let ssrfServer: LoopbackServer

/** A fresh verifier per case (so "no network request" is meaningful) and a fetch spy. */
function freshVerifier(overrides: Partial<VerifierConfig> = {}) {
  const calls: string[] = []
  const verifier = createTokenVerifier(
    {
      audience: AUD,
      issuers: [{ issuer: ISSUER, jwksUri: `${jwksServer.url}/jwks`, algorithms: ['RS256', 'PS256', 'ES256', 'ES384', 'EdDSA'] }],
      ...overrides,
    },
    {
      fetch: (input, init) => {
        calls.push(String(input))
        return fetch(input, init)
      },
    },
  )
  return { verifier, calls }
}

const claims = (overrides: JWTPayload = {}): JWTPayload => accessClaims(ISSUER, AUD, overrides)
const nowSec = (): number => Math.floor(Date.now() / 1000)

interface AttackCase {
  name: string
  code: TokenVerificationErrorCode
  token: () => Promise<string> | string
  /** Refused before any JWKS / introspection / header-URL request. */
  noNetwork?: boolean
}

const cases: AttackCase[] = [
  ...['none', 'None', 'NONE', 'nOnE'].map(
    (alg): AttackCase => ({ name: `alg ${alg}, no signature`, code: 'ERR_ALG_NOT_ALLOWED', noNetwork: true, token: () => compact({ alg, typ: 'at+jwt' }, claims(), '') }),
  ),
  {
    name: 'alg none with a signature and a real kid',
    code: 'ERR_ALG_NOT_ALLOWED',
    noNetwork: true,
    token: () => compact({ alg: 'none', kid: 'rsa-1', typ: 'at+jwt' }, claims(), 'c2lnbmF0dXJl'),
  },
  {
    name: 'HS256 signed with the RSA public key (PEM) as HMAC secret (algorithm confusion)',
    code: 'ERR_ALG_NOT_ALLOWED',
    noNetwork: true,
    token: async () => {
      const pem = createPublicKey({ key: rsa.publicJwk as JsonWebKey, format: 'jwk' }).export({ type: 'spki', format: 'pem' })
      const header = { alg: 'HS256', kid: 'rsa-1', typ: 'at+jwt' }
      const input = `${b64(header)}.${b64(claims())}`
      return `${input}.${(await hs256(input, Buffer.from(pem))).toString('base64url')}`
    },
  },
  {
    name: 'HS256 signed with the RSA modulus bytes as HMAC secret',
    code: 'ERR_ALG_NOT_ALLOWED',
    noNetwork: true,
    token: async () => {
      const header = { alg: 'HS256', kid: 'rsa-1', typ: 'at+jwt' }
      const input = `${b64(header)}.${b64(claims())}`
      return `${input}.${(await hs256(input, Buffer.from(rsa.publicJwk.n as string, 'base64url'))).toString('base64url')}`
    },
  },
  ...['../../dev/null', "' OR 1=1 --", '|ls', '../../../../etc/passwd%00', '__proto__'].map(
    (kid): AttackCase => ({ name: `kid ${JSON.stringify(kid)} (attacker-signed)`, code: 'ERR_KEY_NOT_FOUND', token: () => mint(attacker, claims(), { kid }) }),
  ),
  {
    name: 'embedded jwk header carrying the attacker key',
    code: 'ERR_HEADER_INVALID',
    noNetwork: true,
    token: () => mint(attacker, claims(), { kid: 'ec-256', jwk: attacker.publicJwk }),
  },
  ...(['jku', 'x5u'] as const).flatMap((param): AttackCase[] => [
    {
      name: `${param} pointing at the cloud metadata address`,
      code: 'ERR_HEADER_INVALID',
      noNetwork: true,
      token: () => mint(attacker, claims(), { kid: 'attacker', [param]: 'http://169.254.169.254/latest/meta-data/jwks.json' }),
    },
    {
      name: `${param} pointing at a loopback server (counted)`,
      code: 'ERR_HEADER_INVALID',
      noNetwork: true,
      token: () => mint(attacker, claims(), { kid: 'attacker', [param]: `${ssrfServer.url}/jwks` }),
    },
  ]),
  {
    name: 'unknown crit extension (validly signed)',
    code: 'ERR_HEADER_INVALID',
    noNetwork: true,
    token: () => signWith(rsa, { alg: 'RS256', kid: 'rsa-1', typ: 'at+jwt', crit: ['urn:example:ext'], 'urn:example:ext': true }, claims()),
  },
  {
    name: 'b64: false unencoded payload (validly signed)',
    code: 'ERR_HEADER_INVALID',
    noNetwork: true,
    token: () => signWith(rsa, { alg: 'RS256', kid: 'rsa-1', typ: 'at+jwt', b64: false, crit: ['b64'] }, b64(claims())),
  },
  {
    name: 'nested JWT (cty: JWT, validly signed)',
    code: 'ERR_HEADER_INVALID',
    noNetwork: true,
    token: () => mint(rsa, claims(), { cty: 'JWT' }),
  },
  { name: 'kid that is not a string', code: 'ERR_HEADER_INVALID', noNetwork: true, token: () => signWith(rsa, { alg: 'RS256', kid: 42, typ: 'at+jwt' }, claims()) },
  { name: 'expired beyond the clock skew', code: 'ERR_TOKEN_EXPIRED', token: () => mint(rsa, claims({ iat: nowSec() - 400, exp: nowSec() - 31 })) },
  { name: 'nbf in the future', code: 'ERR_TOKEN_NOT_YET_VALID', token: () => mint(rsa, claims({ nbf: nowSec() + 120 })) },
  { name: 'iat in the future', code: 'ERR_IAT_IN_FUTURE', token: () => mint(rsa, claims({ iat: nowSec() + 120, exp: nowSec() + 600 })) },
  { name: 'wrong iss', code: 'ERR_ISSUER_UNKNOWN', noNetwork: true, token: () => mint(attacker, claims({ iss: 'https://evil.example' })) },
  { name: 'iss with a trailing slash', code: 'ERR_ISSUER_UNKNOWN', noNetwork: true, token: () => mint(rsa, claims({ iss: `${ISSUER}/` })) },
  { name: 'iss with different case', code: 'ERR_ISSUER_UNKNOWN', noNetwork: true, token: () => mint(rsa, claims({ iss: ISSUER.toUpperCase() })) },
  { name: 'iss missing', code: 'ERR_ISSUER_UNKNOWN', noNetwork: true, token: () => mint(rsa, claims({ iss: undefined })) },
  {
    name: 'token from a second realm of the same server',
    code: 'ERR_ISSUER_UNKNOWN',
    noNetwork: true,
    token: () => mint(attacker, claims({ iss: `${ISSUER}/realms/other` })),
  },
  { name: 'aud missing', code: 'ERR_AUDIENCE_MISMATCH', token: () => mint(rsa, claims({ aud: undefined })) },
  { name: 'aud of another server', code: 'ERR_AUDIENCE_MISMATCH', token: () => mint(rsa, claims({ aud: 'https://evil.example/mcp' })) },
  { name: 'token for another resource of the same AS', code: 'ERR_AUDIENCE_MISMATCH', token: () => mint(rsa, claims({ aud: 'https://other.example.test/api' })) },
  {
    name: 'aud array without ours',
    code: 'ERR_AUDIENCE_MISMATCH',
    token: () => mint(rsa, claims({ aud: ['https://a.example.test/mcp', 'https://b.example.test/mcp'] })),
  },
  { name: 'aud with ours as a path prefix', code: 'ERR_AUDIENCE_MISMATCH', token: () => mint(rsa, claims({ aud: `${AUD}/../admin` })) },
  { name: 'aud with ours as a host prefix', code: 'ERR_AUDIENCE_MISMATCH', token: () => mint(rsa, claims({ aud: 'https://mcp.example.test.evil.com/mcp' })) },
  { name: 'typ JWT where at+jwt is required', code: 'ERR_TYP_INVALID', noNetwork: true, token: () => mint(rsa, claims(), { typ: 'JWT' }) },
  { name: 'typ missing where at+jwt is required', code: 'ERR_TYP_INVALID', noNetwork: true, token: () => mint(rsa, claims(), { typ: undefined }) },
  { name: 'typ dpop+jwt', code: 'ERR_TYP_INVALID', noNetwork: true, token: () => mint(rsa, claims(), { typ: 'dpop+jwt' }) },
  {
    name: 'garbled base64url header (truncated JSON)',
    code: 'ERR_TOKEN_MALFORMED',
    noNetwork: true,
    token: async () => {
      const [, p, s] = (await mint(rsa, claims())).split('.')
      return `${Buffer.from('{"alg":"RS256","typ":').toString('base64url')}.${p}.${s}`
    },
  },
  {
    name: 'garbled base64url with invalid characters',
    code: 'ERR_TOKEN_MALFORMED',
    noNetwork: true,
    token: async () => (await mint(rsa, claims())).replace(/^(.{10})/, '$1!*$'),
  },
  {
    name: 'JWS JSON serialization',
    code: 'ERR_TOKEN_MALFORMED',
    noNetwork: true,
    token: async () => {
      const [h, p, s] = (await mint(rsa, claims())).split('.')
      return JSON.stringify({ payload: p, protected: h, signature: s })
    },
  },
  {
    name: 'JWE compact serialization (5 segments)',
    code: 'ERR_TOKEN_MALFORMED',
    noNetwork: true,
    token: () => `${b64({ alg: 'dir', enc: 'A256GCM' })}..${b64('iv')}.${b64('ciphertext')}.${b64('tag')}`,
  },
  {
    name: 'oversize token (> 8 KiB), otherwise valid',
    code: 'ERR_TOKEN_TOO_LARGE',
    noNetwork: true,
    token: () => mint(rsa, claims({ padding: 'x'.repeat(9000) })),
  },
  { name: 'scope as an array', code: 'ERR_CLAIM_INVALID', token: () => mint(rsa, claims({ scope: ['notes:read', 'notes:write'] })) },
  { name: 'exp missing', code: 'ERR_CLAIM_INVALID', token: () => mint(rsa, claims({ exp: undefined })) },
  { name: 'exp not a number', code: 'ERR_CLAIM_INVALID', token: () => mint(rsa, claims({ exp: `${nowSec() + 300}` as unknown as number })) },
  { name: 'sub missing', code: 'ERR_CLAIM_INVALID', token: () => mint(rsa, claims({ sub: undefined })) },
  { name: 'sender-constrained (cnf) token used as bearer', code: 'ERR_CLAIM_INVALID', token: () => mint(rsa, claims({ cnf: { jkt: 'abc' } })) },
  ...(
    [
      ['ES256', 'ec-256', 64],
      ['ES384', 'ec-384', 96],
    ] as const
  ).map(
    ([alg, kid, size]): AttackCase => ({
      name: `${alg} psychic signature r = s = 0 (CVE-2022-21449)`,
      code: 'ERR_SIGNATURE_INVALID',
      token: () => compact({ alg, kid, typ: 'at+jwt' }, claims(), new Uint8Array(size)),
    }),
  ),
  {
    name: 'RSA key with e = 1 in the JWKS (forged signature = padded digest)',
    code: 'ERR_KEY_REJECTED',
    token: () => {
      const header = { alg: 'RS256', kid: 'rsa-e1', typ: 'at+jwt' }
      const input = `${b64(header)}.${b64(claims())}`
      const k = Buffer.from(e1.publicJwk.n as string, 'base64url').length
      return `${input}.${pkcs1Sha256Encoding(input, k).toString('base64url')}`
    },
  },
  {
    name: '1024-bit RSA key in the JWKS',
    code: 'ERR_KEY_REJECTED',
    token: () => {
      const input = `${b64({ alg: 'RS256', kid: 'rsa-1024', typ: 'at+jwt' })}.${b64(claims())}`
      return `${input}.${rs256(input, weak1024.privateKey).toString('base64url')}`
    },
  },
  { name: 'key with use: enc', code: 'ERR_KEY_REJECTED', token: () => mint(encKey, claims()) },
  { name: 'ES384 token naming an ES256-pinned key', code: 'ERR_KEY_REJECTED', token: () => mint(ec384, claims(), { kid: 'ec-256' }) },
  {
    name: 'signature stripped',
    code: 'ERR_SIGNATURE_INVALID',
    token: async () => `${(await mint(rsa, claims())).split('.').slice(0, 2).join('.')}.`,
  },
  {
    name: 'RS256 signature relabelled PS256 (key pinned to RS256)',
    code: 'ERR_KEY_REJECTED',
    token: async () => {
      const [, p, s] = (await mint(rsa, claims())).split('.')
      return `${b64({ alg: 'PS256', kid: 'rsa-1', typ: 'at+jwt' })}.${p}.${s}`
    },
  },
  {
    name: 'RS256 signature relabelled PS256 (key without alg)',
    code: 'ERR_SIGNATURE_INVALID',
    token: async () => {
      const [, p, s] = (await mint(rsaNoAlg, claims())).split('.')
      return `${b64({ alg: 'PS256', kid: 'rsa-noalg', typ: 'at+jwt' })}.${p}.${s}`
    },
  },
  {
    name: 'payload tampered (scope elevated) under the original signature',
    code: 'ERR_SIGNATURE_INVALID',
    token: async () => {
      const [h, , s] = (await mint(rsa, claims({ scope: 'notes:read' }))).split('.')
      return `${h}.${b64(claims({ scope: 'notes:read admin' }))}.${s}`
    },
  },
  {
    name: 'token signed by an unknown key reusing a real kid',
    code: 'ERR_SIGNATURE_INVALID',
    token: () => mint(attacker, claims(), { kid: 'ec-256' }),
  },
]

/** The honest variants, accepted by the same verifier. */
const controls: Array<{ name: string; token: () => Promise<string> }> = [
  { name: 'a valid RS256 access token', token: () => mint(rsa, claims()) },
  { name: 'a valid ES256 access token', token: () => mint(ec256, claims()) },
  { name: 'a valid ES384 access token', token: () => mint(ec384, claims()) },
  { name: 'expired, but within the 30 s skew', token: () => mint(rsa, claims({ iat: nowSec() - 400, exp: nowSec() - 10 })) },
  { name: 'nbf slightly ahead, within skew', token: () => mint(rsa, claims({ nbf: nowSec() + 10 })) },
  { name: 'aud in another canonical spelling', token: () => mint(rsa, claims({ aud: 'HTTPS://MCP.Example.Test:443/mcp/' })) },
  { name: 'aud array containing ours', token: () => mint(rsa, claims({ aud: ['https://other.example.test/api', AUD] })) },
  { name: 'typ application/at+jwt', token: () => mint(rsa, claims(), { typ: 'application/at+jwt' }) },
  { name: 'x5c header is ignored, not trusted', token: () => mint(rsa, claims(), { x5c: ['MIIB'] }) },
]

function assertRefusal(err: unknown, code: TokenVerificationErrorCode, token: string): void {
  assert.ok(err instanceof TokenVerificationError, `expected TokenVerificationError, got ${inspect(err)}`)
  assert.equal(err.code, code, `expected ${code}, got ${err.code} (${err.message})`)
  assert.equal(err.status, 401)
  assert.equal(err.oauthError, 'invalid_token')
  assert.ok(!err.message.includes(token), 'the message must not contain the token')
  assert.ok(!inspect(err, { depth: 6 }).includes(token), 'the error must not carry the token')
}

describe('attack corpus', () => {
  before(async () => {
    ;[rsa, rsaNoAlg, ec256, ec384, attacker, encKey] = await Promise.all([
      makeKey('RS256', 'rsa-1'),
      makeKey('RS256', 'rsa-noalg', { withAlg: false }),
      makeKey('ES256', 'ec-256'),
      makeKey('ES384', 'ec-384'),
      makeKey('ES256', 'attacker'),
      makeKey('ES256', 'ec-enc'),
    ])
    encKey.publicJwk.use = 'enc'
    delete encKey.publicJwk.alg
    weak1024 = makeRawRsaKey(1024, 'rsa-1024')
    e1 = makeRawRsaKey(2048, 'rsa-e1')
    e1.publicJwk.e = 'AQ'
    const jwks = jwksOf(rsa, rsaNoAlg, ec256, ec384, encKey, weak1024, e1)
    jwksServer = await startLoopback((_req, res) => sendJson(res, jwks))
    ssrfServer = await startLoopback((_req, res) => sendJson(res, jwksOf(attacker)))
  })
  after(async () => {
    await jwksServer.close()
    await ssrfServer.close()
    console.log(
      `attack corpus: ${cases.length} attacks refused with the expected code (${cases.filter((c) => c.noNetwork).length} without any network request), ${controls.length} controls accepted`,
    )
  })

  for (const c of cases) {
    it(`refuses: ${c.name} → ${c.code}`, async () => {
      const token = await c.token()
      const { verifier, calls } = freshVerifier()
      const jwksHitsBefore = jwksServer.requests.length
      const err = await verifier.verify(token).then(
        () => undefined,
        (e: unknown) => e,
      )
      assertRefusal(err, c.code, token)
      if (c.noNetwork) {
        assert.deepEqual(calls, [], 'no request may be made')
        assert.equal(jwksServer.requests.length, jwksHitsBefore)
      }
      assert.equal(ssrfServer.requests.length, 0, 'header URLs are never fetched')
    })
  }

  for (const c of controls) {
    it(`accepts (control): ${c.name}`, async () => {
      const principal = await freshVerifier().verifier.verify(await c.token())
      assert.equal(principal.issuer, ISSUER)
      assert.deepEqual(principal.audience.includes(AUD), true)
    })
  }

  it('the oversize token is refused by length only: a larger limit accepts it', async () => {
    const token = await mint(rsa, claims({ padding: 'x'.repeat(9000) }))
    assert.ok(Buffer.byteLength(token) > 8192)
    const principal = await freshVerifier({ maxTokenLength: 65536 }).verifier.verify(token)
    assert.equal(principal.subject, 'user-1')
  })

  it('unknown kids cannot force a JWKS fetch storm (cooldown)', async () => {
    const { verifier, calls } = freshVerifier()
    const tokens = await Promise.all(Array.from({ length: 25 }, (_, i) => mint(attacker, claims(), { kid: `random-${i}` })))
    for (const t of tokens) await assert.rejects(verifier.verify(t), { code: 'ERR_KEY_NOT_FOUND' })
    assert.equal(calls.length, 1, 'one fetch for the first token, none afterwards within the cooldown')
  })

  it('arbitrary strings are always refused with a typed error that never echoes them (property)', async () => {
    const { verifier } = freshVerifier({ issuers: [{ issuer: ISSUER, jwks: jwksOf(rsa) }] })
    const segment = fc.string({ unit: fc.constantFrom(...'ABCDEFabcdef0123456789-_eyJ'.split('')), maxLength: 40 })
    const arbitraryToken = fc.oneof(
      fc.string({ maxLength: 200 }),
      fc.string({ unit: 'binary', maxLength: 100 }),
      fc.tuple(segment, segment, segment).map((p) => p.join('.')),
      fc.tuple(fc.json(), fc.json()).map(([h, p]) => `${Buffer.from(h).toString('base64url')}.${Buffer.from(p).toString('base64url')}.`),
    )
    await fc.assert(
      fc.asyncProperty(arbitraryToken, async (token) => {
        const err = await verifier.verify(token).then(
          () => undefined,
          (e: unknown) => e,
        )
        assert.ok(err instanceof TokenVerificationError)
        assert.equal(err.status, 401)
        if (token.length >= 8) assert.ok(!err.message.includes(token))
      }),
      { numRuns: 300 },
    )
  })
})
