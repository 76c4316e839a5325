/**
 * Fault injection on the key and introspection endpoints, end to end through `authz.check`
 * (127.0.0.1 only, every wait bounded by the configured timeouts):
 *
 * - JWKS down (closed port), slow headers, slow body, 500, oversize, garbage, reset connection —
 *   before any key is cached: 401 with a typed `ERR_JWKS_UNAVAILABLE` in the decision event, no hang;
 * - the same faults after a successful fetch: tokens signed with a cached key keep verifying
 *   (jose's key-set cache), memoized tokens keep verifying, a token naming an unknown `kid` is
 *   refused (401) without hanging; once the cached set is older than `jwksCacheMaxAge` an outage
 *   fails closed for tokens not yet memoized;
 * - keys rotating while requests are in flight: every answer is an allow or a typed 401, tokens of
 *   the new key are accepted once it is published, memoized tokens of the old key stay valid;
 * - introspection down / slow / garbage / `active` missing / `active: "true"` / 500 → 401 fail closed.
 */
import assert from 'node:assert/strict'
import type { ServerResponse } from 'node:http'
import { after, before, describe, it } from 'node:test'
import { createAuthz, type Authz, type DecisionEvent } from '../../src/authz.ts'
import { createTokenVerifier, type JwtIssuerConfig } from '../../src/verify/index.ts'
import { buildTestBundle, testData } from '../helpers/bundle.ts'
import { closedPortUrl, sendJson, startLoopback, type LoopbackHandler, type LoopbackServer } from '../helpers/verify-loopback.ts'
import { accessClaims, jwksOf, makeKey, mint, type TestKey } from '../helpers/verify-tokens.ts'
import { noHang, summaryAtExit } from './helpers.ts'

const ISSUER = 'https://as.example.com' // trusted by testData, tenant acme
const AUD = 'https://mcp.example.com/mcp'
const CALL = { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'notes_read', arguments: {} } }
const TIMEOUT_S = 0.3
const NO_HANG_MS = 5_000

let bundle: string
let k1: TestKey
let k2: TestKey
let unpublished: TestKey
let jwks: LoopbackServer
const faults: string[] = []
summaryAtExit('verifier-faults', () => ({ faults: faults.length }))

const token = (key: TestKey, extra: Record<string, unknown> = {}) => mint(key, accessClaims(ISSUER, AUD, { scope: 'notes:read', ...extra }))

const JWKS_FAULTS: Array<[string, LoopbackHandler]> = [
  ['slow headers (beyond the timeout)', () => new Promise(() => {})],
  [
    'slow body (headers, then nothing)',
    (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.write('{"keys":[')
    },
  ],
  ['HTTP 500', (_req, res) => sendJson(res, jwksOf(k1), 500)],
  ['HTTP 404', (_req, res) => sendJson(res, {}, 404)],
  ['oversize body (declared)', (_req, res) => sendJson(res, { ...jwksOf(k1), pad: 'x'.repeat(20_000) })],
  [
    'oversize body (streamed)',
    (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.write('{"keys":[],"pad":"')
      for (let i = 0; i < 20; i++) res.write('x'.repeat(1024))
      res.end('"}')
    },
  ],
  ['garbage (not JSON)', (_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('\u0000\u00ff<html>')],
  ['garbage (JSON, not a JWKS)', (_req, res) => sendJson(res, { keys: 'none' })],
  ['connection reset', (_req, res: ServerResponse) => res.socket?.destroy()],
]

/** Well-formed answers that publish no usable key: authoritative (the issuer withdrew its keys), so they fail closed. */
const JWKS_UNUSABLE: Array<[string, LoopbackHandler]> = [
  ['a set of broken keys', (_req, res) => sendJson(res, { keys: [{ kty: 'RSA' }, 'x', null] })],
  ['a symmetric key only (same kid)', (_req, res) => sendJson(res, { keys: [{ kty: 'oct', k: 'c2VjcmV0', kid: 'k1' }] })],
  ['an empty set', (_req, res) => sendJson(res, { keys: [] })],
]

function makeAuthz(jwksUri: string, issuer: Partial<JwtIssuerConfig> = {}, events: DecisionEvent[] = []): Promise<Authz> {
  const verifier = createTokenVerifier({
    audience: AUD,
    issuers: [{ issuer: ISSUER, jwksUri, jwksTimeout: TIMEOUT_S, jwksCooldown: 0, jwksMaxBytes: 8192, tenant: 'acme', ...issuer }],
  })
  return createAuthz({ bundle, verifier, onDecision: (e) => events.push(e) })
}

async function refused(authz: Authz, events: DecisionEvent[], tok: string, what: string): Promise<string> {
  const r = await noHang(authz.check(tok, CALL), NO_HANG_MS, what)
  assert.equal(r.allow, false, `${what}: allowed`)
  assert.equal(r.status, 401, `${what}: status ${r.status}`)
  assert.match(r.wwwAuthenticate ?? '', /^Bearer error="invalid_token"/)
  const e = events.find((x) => x.decisionId === r.decisionId)
  assert.ok(e?.error !== undefined, `${what}: the decision event names the error`)
  return e.error.code
}

async function allowed(authz: Authz, tok: string, what: string): Promise<void> {
  const r = await noHang(authz.check(tok, CALL), NO_HANG_MS, what)
  assert.equal(r.allow, true, `${what}: ${r.status} ${JSON.stringify(r.reasons)}`)
}

before(async () => {
  bundle = await buildTestBundle(testData)
  ;[k1, k2, unpublished] = await Promise.all([makeKey('RS256', 'k1'), makeKey('ES256', 'k2'), makeKey('ES256', 'k3')])
  jwks = await startLoopback()
})
after(async () => {
  await jwks.close()
})

describe('JWKS faults before any key is cached: 401, typed, bounded', () => {
  it('JWKS down (closed port)', async () => {
    const events: DecisionEvent[] = []
    const authz = await makeAuthz(`${await closedPortUrl()}/jwks`, {}, events)
    assert.equal(await refused(authz, events, await token(k1), 'closed port'), 'ERR_JWKS_UNAVAILABLE')
    faults.push('jwks-down/cold')
  })

  for (const [name, handler] of JWKS_FAULTS) {
    it(`JWKS ${name}`, async () => {
      jwks.handle(handler)
      const events: DecisionEvent[] = []
      const authz = await makeAuthz(`${jwks.url}/jwks`, {}, events)
      assert.equal(await refused(authz, events, await token(k1), name), 'ERR_JWKS_UNAVAILABLE')
      faults.push(`jwks-${name}/cold`)
    })
  }

  for (const [name, handler] of JWKS_UNUSABLE) {
    it(`JWKS answering ${name}`, async () => {
      jwks.handle(handler)
      const events: DecisionEvent[] = []
      const authz = await makeAuthz(`${jwks.url}/jwks`, {}, events)
      const code = await refused(authz, events, await token(k1), name)
      assert.ok(['ERR_KEY_NOT_FOUND', 'ERR_KEY_REJECTED'].includes(code), code)
      faults.push(`jwks-${name}/cold`)
    })
  }
})

describe('JWKS faults after a successful fetch: cached keys keep working, the rest fails closed', () => {
  const cases: Array<[string, LoopbackHandler | 'closed']> = [['down (server closed)', 'closed'], ...JWKS_FAULTS]
  for (const [name, fault] of cases) {
    it(`JWKS ${name}`, async () => {
      const server = await startLoopback((_req, res) => sendJson(res, jwksOf(k1, k2)))
      try {
        const events: DecisionEvent[] = []
        const authz = await makeAuthz(`${server.url}/jwks`, {}, events)
        const first = await token(k1)
        await allowed(authz, first, 'warm-up')
        assert.equal(server.requests.length, 1)

        if (fault === 'closed') await server.close()
        else server.handle(fault)

        await allowed(authz, first, 'memoized token during the outage')
        await allowed(authz, await token(k1), 'new token, cached key (k1)')
        await allowed(authz, await token(k2), 'new token, cached key (k2)')
        // An unknown kid makes jose refetch (cooldown 0): the fetch fails, the answer is a typed 401.
        const code = await refused(authz, events, await token(unpublished), `unknown kid during ${name}`)
        assert.ok(['ERR_JWKS_UNAVAILABLE', 'ERR_KEY_NOT_FOUND'].includes(code), code)
        // And the cached keys still work after that failed refresh.
        await allowed(authz, await token(k1), 'cached key after a failed refresh')
        faults.push(`jwks-${name}/warm`)
      } finally {
        await server.close()
      }
    })
  }

  for (const [name, handler] of JWKS_UNUSABLE) {
    it(`JWKS answering ${name} on refresh: the published set is authoritative (fail closed), memoized tokens pass`, async () => {
      const server = await startLoopback((_req, res) => sendJson(res, jwksOf(k1, k2)))
      try {
        const events: DecisionEvent[] = []
        const authz = await makeAuthz(`${server.url}/jwks`, {}, events)
        const first = await token(k1)
        await allowed(authz, first, 'warm-up')
        server.handle(handler)
        await allowed(authz, await token(k1), 'cached key before any refresh')
        await refused(authz, events, await token(unpublished), 'unknown kid triggers the refresh')
        const code = await refused(authz, events, await token(k1), 'k1 after its withdrawal')
        assert.ok(['ERR_KEY_NOT_FOUND', 'ERR_KEY_REJECTED'].includes(code), code)
        await allowed(authz, first, 'memoized token (valid until exp, documented)')
        faults.push(`jwks-${name}/warm`)
      } finally {
        await server.close()
      }
    })
  }

  it('once the cached set is older than jwksCacheMaxAge, an outage fails closed (memoized tokens still pass)', async () => {
    const server = await startLoopback((_req, res) => sendJson(res, jwksOf(k1)))
    try {
      const events: DecisionEvent[] = []
      const authz = await makeAuthz(`${server.url}/jwks`, { jwksCacheMaxAge: 0.2 }, events)
      const first = await token(k1)
      await allowed(authz, first, 'warm-up')
      server.handle((_req, res) => sendJson(res, {}, 503))
      await new Promise((r) => setTimeout(r, 350))
      assert.equal(await refused(authz, events, await token(k1), 'stale key set, JWKS down'), 'ERR_JWKS_UNAVAILABLE')
      await allowed(authz, first, 'memoized token')
      server.handle((_req, res) => sendJson(res, jwksOf(k1)))
      await allowed(authz, await token(k1), 'after recovery')
      faults.push('jwks-stale+down')
    } finally {
      await server.close()
    }
  })
})

describe('keys rotating mid-load', () => {
  it('every answer is an allow or a typed 401; the new key works once published; memoized old tokens stay valid', async () => {
    let published = jwksOf(k1)
    const server = await startLoopback(async (_req, res) => {
      await new Promise((r) => setTimeout(r, 20)) // a slow-ish JWKS, so fetches overlap requests
      sendJson(res, published)
    })
    try {
      const events: DecisionEvent[] = []
      const authz = await makeAuthz(`${server.url}/jwks`, {}, events)
      const oldMemoized = await Promise.all(Array.from({ length: 5 }, () => token(k1)))
      for (const t of oldMemoized) await allowed(authz, t, 'old key before rotation')

      const statuses = new Map<string, number>()
      const note = (s: string) => statuses.set(s, (statuses.get(s) ?? 0) + 1)
      const inFlight: Array<Promise<void>> = []
      for (let round = 0; round < 6; round++) {
        if (round === 2) published = jwksOf(k1, k2) // new key published next to the old one
        if (round === 4) published = jwksOf(k2) // old key withdrawn
        const batch = await Promise.all([token(k1), token(k2), token(k1), token(k2)])
        for (const t of [...batch, ...oldMemoized]) {
          inFlight.push(
            noHang(authz.check(t, CALL), NO_HANG_MS, 'rotation').then((r) => {
              if (r.allow) return void note('allow')
              assert.equal(r.status, 401)
              const code = events.find((e) => e.decisionId === r.decisionId)?.error?.code
              assert.ok(code === 'ERR_KEY_NOT_FOUND' || code === 'ERR_JWKS_UNAVAILABLE', `unexpected ${code}`)
              void note(code)
            }),
          )
        }
        await new Promise((r) => setTimeout(r, 30))
      }
      await Promise.all(inFlight)
      for (const t of oldMemoized) await allowed(authz, t, 'memoized old-key token after rotation')
      await allowed(authz, await token(k2), 'new key after rotation')
      assert.ok((statuses.get('allow') ?? 0) > 0)
      assert.ok(server.requests.length <= 30, `JWKS fetches bounded: ${server.requests.length}`)
      faults.push('jwks-rotation-mid-load')
    } finally {
      await server.close()
    }
  })
})

describe('introspection faults through authz.check: 401, fail closed, no hang', () => {
  let server: LoopbackServer
  before(async () => {
    server = await startLoopback()
  })
  after(() => server.close())

  const activeBody = (extra: Record<string, unknown> = {}) => ({ active: true, iss: ISSUER, aud: AUD, sub: 'u', client_id: 'c', scope: 'notes:read', exp: Math.floor(Date.now() / 1000) + 300, ...extra })
  const INTROSPECTION_FAULTS: Array<[string, LoopbackHandler | 'closed']> = [
    ['down (closed port)', 'closed'],
    ['slow headers', () => new Promise(() => {})],
    [
      'slow body',
      (_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json' })
        res.write('{"active":true,')
      },
    ],
    ['HTTP 500', (_req, res) => sendJson(res, activeBody(), 500)],
    ['garbage', (_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"active":tru')],
    ['"active" missing', (_req, res) => sendJson(res, { ...activeBody(), active: undefined })],
    ['"active": "true" (string)', (_req, res) => sendJson(res, activeBody({ active: 'true' }))],
    ['connection reset', (_req, res: ServerResponse) => res.socket?.destroy()],
  ]
  for (const [name, fault] of INTROSPECTION_FAULTS) {
    it(`introspection ${name}`, async () => {
      const endpoint = fault === 'closed' ? `${await closedPortUrl()}/introspect` : `${server.url}/introspect`
      if (fault !== 'closed') server.handle(fault)
      const events: DecisionEvent[] = []
      const verifier = createTokenVerifier({ audience: AUD, introspection: { endpoint, issuer: ISSUER, clientId: 'rs', clientSecret: 's', timeout: TIMEOUT_S, maxResponseBytes: 4096, tenant: 'acme' } })
      const authz = await createAuthz({ bundle, verifier, onDecision: (e) => events.push(e) })
      assert.equal(await refused(authz, events, 'opaque-token-abcdef0123456789', name), 'ERR_INTROSPECTION_UNAVAILABLE')
      faults.push(`introspection-${name}`)
    })
  }

  it('control: a well-formed active answer is allowed', async () => {
    server.handle((_req, res) => sendJson(res, activeBody()))
    const verifier = createTokenVerifier({ audience: AUD, introspection: { endpoint: `${server.url}/introspect`, issuer: ISSUER, clientId: 'rs', clientSecret: 's', timeout: TIMEOUT_S, tenant: 'acme' } })
    const authz = await createAuthz({ bundle, verifier })
    await allowed(authz, 'opaque-token-abcdef0123456789', 'active introspection')
  })
})
