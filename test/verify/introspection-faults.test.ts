/**
 * Introspection when the authorization server misbehaves: down, slow, garbage, oversize,
 * redirecting, or answering things a resource server must not accept. A tiny loopback server
 * plays the broken server (the behaviour of a correct one is covered in real-as.test.ts).
 * Every case fails closed.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { createTokenVerifier, TokenVerificationError } from '../../src/verify/index.ts'
import type { IntrospectionConfig, VerifierOverrides } from '../../src/verify/index.ts'
import { closedPortUrl, sendJson, startLoopback } from '../helpers/verify-loopback.ts'
import type { LoopbackHandler, LoopbackServer } from '../helpers/verify-loopback.ts'

const AUD = 'https://mcp.example.test/mcp'
const ISS = 'https://as.example.test'
const TOKEN = 'opaque-token-0123456789abcdef'

let server: LoopbackServer
let elsewhere: LoopbackServer

const active = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  active: true,
  iss: ISS,
  aud: AUD,
  client_id: 'agent',
  scope: 'notes:read',
  exp: Math.floor(Date.now() / 1000) + 300,
  token_type: 'Bearer',
  ...extra,
})

function verifierWith(handler: LoopbackHandler, extra: Partial<IntrospectionConfig> = {}, overrides: VerifierOverrides = {}) {
  server.handle(handler)
  return createTokenVerifier(
    {
      audience: AUD,
      introspection: { endpoint: `${server.url}/introspect`, issuer: ISS, clientId: 'rs', clientSecret: 'p@ss word:1', timeout: 10, maxResponseBytes: 1024, ...extra },
    },
    overrides,
  )
}

async function refusal(promise: Promise<unknown>): Promise<TokenVerificationError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  )
  assert.ok(err instanceof TokenVerificationError, `expected a TokenVerificationError, got ${String(err)}`)
  assert.equal(err.status, 401)
  assert.ok(!err.message.includes(TOKEN))
  return err
}

describe('introspection fails closed', () => {
  before(async () => {
    server = await startLoopback()
    elsewhere = await startLoopback((_req, res) => sendJson(res, active()))
  })
  after(async () => {
    await server.close()
    await elsewhere.close()
  })

  it('authenticates with client_secret_basic (form-encoded credentials) and posts only the token', async () => {
    const requestsBefore = server.requests.length
    const principal = await verifierWith((_req, res) => sendJson(res, active())).verify(TOKEN)
    assert.equal(principal.authMethod, 'introspection')
    const req = server.requests[requestsBefore]
    assert.ok(req !== undefined)
    assert.equal(req.method, 'POST')
    assert.equal(req.url, '/introspect')
    assert.match(String(req.headers['content-type']), /^application\/x-www-form-urlencoded/)
    assert.equal(Buffer.from(String(req.headers.authorization).replace(/^Basic /, ''), 'base64').toString(), 'rs:p%40ss+word%3A1')
    assert.deepEqual(Object.fromEntries(new URLSearchParams(req.body)), { token: TOKEN, token_type_hint: 'access_token' })
  })

  it('when the server is down', async () => {
    const verifier = createTokenVerifier({ audience: AUD, introspection: { endpoint: `${await closedPortUrl()}/introspect`, clientId: 'rs', clientSecret: 's' } })
    assert.equal((await refusal(verifier.verify(TOKEN))).code, 'ERR_INTROSPECTION_UNAVAILABLE')
  })

  it('when the server is slow to answer (bounded by the timeout)', async () => {
    const started = Date.now()
    const err = await refusal(verifierWith(() => new Promise(() => {}), { timeout: 0.3 }).verify(TOKEN))
    assert.equal(err.code, 'ERR_INTROSPECTION_UNAVAILABLE')
    assert.ok(Date.now() - started < 9000, 'gave up after the 0.3 s timeout, not the 10 s default of these tests')
  })

  it('when the body trickles in slower than the timeout', async () => {
    const verifier = verifierWith((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.write('{"active":')
    }, { timeout: 0.3 })
    assert.equal((await refusal(verifier.verify(TOKEN))).code, 'ERR_INTROSPECTION_UNAVAILABLE')
  })

  const garbage: Array<[string, LoopbackHandler]> = [
    ['HTTP 500', (_req, res) => sendJson(res, active(), 500)],
    ['HTTP 401', (_req, res) => sendJson(res, { error: 'invalid_client' }, 401)],
    ['HTTP 302 (not followed)', (_req, res) => res.writeHead(302, { location: `${elsewhere.url}/introspect` }).end()],
    ['HTTP 307 (not followed)', (_req, res) => res.writeHead(307, { location: `${elsewhere.url}/introspect` }).end()],
    ['not JSON', (_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('<html>oops</html>')],
    ['HTML content type', (_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end(JSON.stringify(active()))],
    ['a signed JWT response', (_req, res) => res.writeHead(200, { 'content-type': 'application/token-introspection+jwt' }).end('eyJ.eyJ.sig')],
    ['oversize (Content-Length)', (_req, res) => sendJson(res, active({ padding: 'x'.repeat(2000) }))],
    [
      'oversize (streamed, no Content-Length)',
      (_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json' })
        res.write(`{"active":true,"padding":"`)
        for (let i = 0; i < 10; i++) res.write('x'.repeat(500))
        res.end('"}')
      },
    ],
    ['"active" missing', (_req, res) => sendJson(res, { ...active(), active: undefined })],
    ['"active" is the string "true"', (_req, res) => sendJson(res, active({ active: 'true' }))],
    ['"active" is 1', (_req, res) => sendJson(res, active({ active: 1 }))],
    ['a JSON array', (_req, res) => sendJson(res, [active()])],
    ['JSON null', (_req, res) => sendJson(res, null)],
  ]
  for (const [name, handler] of garbage) {
    it(`when the server answers ${name}`, async () => {
      const elsewhereBefore = elsewhere.requests.length
      assert.equal((await refusal(verifierWith(handler).verify(TOKEN))).code, 'ERR_INTROSPECTION_UNAVAILABLE')
      assert.equal(elsewhere.requests.length, elsewhereBefore, 'the token is never sent anywhere but the configured endpoint')
    })
  }

  const refusals: Array<[string, Record<string, unknown>, string]> = [
    ['active: false', { active: false }, 'ERR_TOKEN_INACTIVE'],
    ['a refresh token', active({ token_type: 'refresh_token' }), 'ERR_CLAIM_INVALID'],
    ['a DPoP-bound token', active({ token_type: 'DPoP' }), 'ERR_CLAIM_INVALID'],
    ['a sender-constrained token (cnf)', active({ cnf: { 'x5t#S256': 'abc' } }), 'ERR_CLAIM_INVALID'],
    ['another issuer', active({ iss: 'https://evil.example' }), 'ERR_ISSUER_MISMATCH'],
    ['another audience', active({ aud: 'https://other.example.test/api' }), 'ERR_AUDIENCE_MISMATCH'],
    ['no audience (required by default)', active({ aud: undefined }), 'ERR_AUDIENCE_MISMATCH'],
    ['an expired token', active({ exp: Math.floor(Date.now() / 1000) - 60 }), 'ERR_TOKEN_EXPIRED'],
    ['a token not yet valid', active({ nbf: Math.floor(Date.now() / 1000) + 600 }), 'ERR_TOKEN_NOT_YET_VALID'],
    ['exp as a string', active({ exp: 'tomorrow' }), 'ERR_CLAIM_INVALID'],
    ['scope as an array', active({ scope: ['notes:read'] }), 'ERR_CLAIM_INVALID'],
  ]
  for (const [name, body, code] of refusals) {
    it(`refuses ${name} → ${code}`, async () => {
      assert.equal((await refusal(verifierWith((_req, res) => sendJson(res, body)).verify(TOKEN))).code, code)
    })
  }

  it('accepts an answer without aud only when requireAudience is false', async () => {
    const principal = await verifierWith((_req, res) => sendJson(res, active({ aud: undefined })), { requireAudience: false }).verify(TOKEN)
    assert.deepEqual(principal.audience, [])
  })

  it('never turns a jti equal to the token into principal.tokenId', async () => {
    const principal = await verifierWith((_req, res) => sendJson(res, active({ jti: TOKEN }))).verify(TOKEN)
    assert.match(principal.tokenId, /^fp:/)
    assert.ok(!JSON.stringify(principal).includes(TOKEN))
  })

  it('does not cache outages: each attempt asks again', async () => {
    const verifier = verifierWith((_req, res) => sendJson(res, {}, 503))
    const before = server.requests.length
    await refusal(verifier.verify(TOKEN))
    await refusal(verifier.verify(TOKEN))
    assert.equal(server.requests.length, before + 2)
  })

  it('caches a positive answer no longer than the token’s exp', async () => {
    let offset = 0
    const exp = Math.floor(Date.now() / 1000) + 5
    const verifier = verifierWith((_req, res) => sendJson(res, active({ exp })), { cacheTtl: 60 }, { now: () => Date.now() + offset })
    const before = server.requests.length
    await verifier.verify(TOKEN)
    await verifier.verify(TOKEN)
    assert.equal(server.requests.length, before + 1, 'cached')
    offset = 6000 // past exp, within the 30 s clock tolerance: the cache expired, the server is asked again
    await verifier.verify(TOKEN)
    assert.equal(server.requests.length, before + 2, 'asked again after exp')
    offset = 40_000 // past exp + tolerance: refused whatever the server says
    assert.equal((await refusal(verifier.verify(TOKEN))).code, 'ERR_TOKEN_EXPIRED')
  })

  it('shares one request between concurrent verifications of the same token', async () => {
    const verifier = verifierWith(async (_req, res) => {
      await new Promise((r) => setTimeout(r, 50))
      sendJson(res, active())
    })
    const before = server.requests.length
    const principals = await Promise.all(Array.from({ length: 5 }, () => verifier.verify(TOKEN)))
    assert.equal(server.requests.length, before + 1)
    assert.equal(new Set(principals.map((p) => p.subject)).size, 1)
  })

  it('lets the caller stop waiting with an AbortSignal', async () => {
    const verifier = verifierWith(() => new Promise(() => {}), { timeout: 5 })
    const started = Date.now()
    const err = await refusal(verifier.verify(TOKEN, { signal: AbortSignal.timeout(50) }))
    assert.equal(err.code, 'ERR_VERIFICATION_ABORTED')
    assert.ok(Date.now() - started < 1000)
  })
})
