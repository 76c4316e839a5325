/**
 * Property-based fuzzing of the token verifier (fast-check, fixed seed, bounded runs, no network):
 * valid tokens are signed with local jose keys configured as an inline `jwks` issuer, then mutated
 * in every way an attacker or a broken client could — bit flips in each segment (decoded bytes,
 * so the mutation is real, and base64url characters), swapped / dropped / duplicated segments,
 * re-encoded headers with another `alg` / `kid` / `typ`, re-encoded payloads with other claims,
 * transplanted signatures, truncation, extra dots, padding and junk. Properties:
 *
 * - `verify` never throws anything but a `TokenVerificationError` (status 401), and never the
 *   catch-all `ERR_VERIFICATION_FAILED` (every refusal is a deliberate one);
 * - a mutated token is never accepted;
 * - the refusal never echoes the token;
 * - through `authz.check`, any credential that is not a valid token is a 401 (never an allow)
 *   with exactly one decision event.
 *
 * Longer: `FUZZ_RUNS=20000 FUZZ_SEED=<n> node --test test/hardening/verifier-fuzz.property.test.ts`.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import fc from 'fast-check'
import { createAuthz, type Authz, type DecisionEvent } from '../../src/authz.ts'
import { createTokenVerifier, TokenVerificationError, type TokenVerifier } from '../../src/verify/index.ts'
import { buildTestBundle, testData } from '../helpers/bundle.ts'
import { accessClaims, b64, jwksOf, makeKey, mint } from '../helpers/verify-tokens.ts'
import type { TestKey } from '../helpers/verify-tokens.ts'
import { FUZZ, summaryAtExit } from './helpers.ts'

const ISSUER = 'https://as.example.com'
const AUD = 'https://mcp.example.com/mcp'

let keys: TestKey[] = []
let stranger: TestKey
let valid: string[] = []
let verifier: TokenVerifier
const codes = new Map<string, number>()
const runs: string[] = []
let fuzzedTotal = 0
const fetches: string[] = []

function count(code: string): void {
  codes.set(code, (codes.get(code) ?? 0) + 1)
}

/** The property every refused credential must satisfy; returns the error code. */
async function mustRefuse(token: string): Promise<string> {
  fuzzedTotal++
  const outcome = await verifier.verify(token).then(
    (principal) => ({ accepted: principal }),
    (err: unknown) => ({ err }),
  )
  if ('accepted' in outcome) assert.fail(`mutated token accepted: ${token.slice(0, 120)}…`)
  const { err } = outcome
  assert.ok(err instanceof TokenVerificationError, `untyped error ${String(err)} for ${JSON.stringify(token.slice(0, 120))}`)
  assert.equal(err.status, 401)
  assert.notEqual(err.code, 'ERR_VERIFICATION_FAILED', `unexpected failure path for ${JSON.stringify(token.slice(0, 120))}: ${String((err as Error).cause)}`)
  if (token.length >= 12) assert.ok(!err.message.includes(token), 'the message echoes the token')
  count(err.code)
  return err.code
}

const segments = (t: string): [string, string, string] => t.split('.') as [string, string, string]
const decodeJson = (s: string): Record<string, unknown> => JSON.parse(Buffer.from(s, 'base64url').toString('utf8')) as Record<string, unknown>

// ── mutations ────────────────────────────────────────────────────────────────────────────────
/** Flips one bit of the decoded bytes of one segment and re-encodes it canonically. */
const bitFlip = fc.record({ segment: fc.integer({ min: 0, max: 2 }), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }).map(({ segment, at, bit }) => ({
  name: `bit-flip[${segment}]`,
  apply(token: string): string {
    const parts = segments(token)
    const bytes = Buffer.from(parts[segment]!, 'base64url')
    if (bytes.length === 0) return `${token}A`
    const i = at % bytes.length
    bytes[i] = bytes[i]! ^ (1 << bit)
    parts[segment] = bytes.toString('base64url')
    return parts.join('.')
  },
}))

/** Replaces one base64url character of the (signed) header or payload. */
const charFlip = fc
  .record({ segment: fc.integer({ min: 0, max: 1 }), at: fc.nat(), char: fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'.split('')) })
  .map(({ segment, at, char }) => ({
    name: `char-flip[${segment}]`,
    apply(token: string): string {
      const parts = segments(token)
      const s = parts[segment]!
      const i = at % s.length
      parts[segment] = s.slice(0, i) + (s[i] === char ? (char === 'A' ? 'B' : 'A') : char) + s.slice(i + 1)
      return parts.join('.')
    },
  }))

const PERMUTATIONS = [
  [0, 2, 1],
  [1, 0, 2],
  [1, 2, 0],
  [2, 0, 1],
  [2, 1, 0],
  [0, 0, 2],
  [1, 1, 2],
  [0, 1, 1],
  [0, 1],
  [1, 2],
  [0, 1, 2, 2],
  [0, 1, 2, 0, 1],
] as const
const swap = fc.constantFrom(...PERMUTATIONS).map((order) => ({
  name: `segments[${order.join('')}]`,
  apply: (token: string) => order.map((i) => segments(token)[i]).join('.'),
}))

const HEADER_CHANGES: Array<[string, Record<string, unknown>]> = [
  ['alg none', { alg: 'none' }],
  ['alg NONE', { alg: 'NONE' }],
  ['alg HS256', { alg: 'HS256' }],
  ['alg RS256', { alg: 'RS256' }],
  ['alg PS256', { alg: 'PS256' }],
  ['alg ES256', { alg: 'ES256' }],
  ['alg ES384', { alg: 'ES384' }],
  ['alg EdDSA', { alg: 'EdDSA' }],
  ['alg RS512', { alg: 'RS512' }],
  ['alg missing', { alg: undefined }],
  ['alg number', { alg: 256 }],
  ['kid other', { kid: 'k-es' }],
  ['kid rsa', { kid: 'k-rsa' }],
  ['kid unknown', { kid: 'nope' }],
  ['kid missing', { kid: undefined }],
  ['kid traversal', { kid: '../../../../dev/null' }],
  ['kid object', { kid: { $ne: null } }],
  ['kid huge', { kid: 'k'.repeat(2000) }],
  ['typ JWT', { typ: 'JWT' }],
  ['typ application/at+jwt', { typ: 'application/at+jwt' }],
  ['typ AT+JWT', { typ: 'AT+JWT' }],
  ['typ dpop+jwt', { typ: 'dpop+jwt' }],
  ['typ missing', { typ: undefined }],
  ['crit', { crit: ['exp'], exp: 1 }],
  ['b64 false', { b64: false, crit: ['b64'] }],
  ['jku', { jku: 'http://127.0.0.1:1/jwks' }],
  ['x5u', { x5u: 'http://169.254.169.254/latest' }],
  ['jwk', { jwk: { kty: 'oct', k: 'AAAA' } }],
  ['cty JWT', { cty: 'JWT' }],
  ['zip', { zip: 'DEF' }],
  ['enc (JWE-like)', { enc: 'A256GCM' }],
  ['extra member', { x: 1 }],
]
/** Re-encodes the protected header with another alg / kid / typ (or a key-carrying member), keeping payload and signature. */
const headerChange = fc.constantFrom(...HEADER_CHANGES).map(([name, change]) => ({
  name: `header ${name}`,
  apply(token: string): string {
    const [h, p, s] = segments(token)
    const header = { ...decodeJson(h), ...change }
    for (const [k, v] of Object.entries(change)) if (v === undefined) delete header[k]
    return `${b64(header)}.${p}.${s}`
  },
}))

/** Same header JSON, other serialisation (member order, whitespace): a different signing input. */
const headerReserialised = fc.constantFrom('reordered', 'spaced', 'padded').map((how) => ({
  name: `header ${how}`,
  apply(token: string): string {
    const [h, p, s] = segments(token)
    const header = decodeJson(h)
    const text =
      how === 'reordered'
        ? JSON.stringify(Object.fromEntries(Object.entries(header).reverse()))
        : how === 'spaced'
          ? JSON.stringify(header, null, 1)
          : `${JSON.stringify(header)} `
    return `${Buffer.from(text).toString('base64url')}.${p}.${s}`
  },
}))

const CLAIM_CHANGES: Array<[string, Record<string, unknown>]> = [
  ['aud other', { aud: 'https://evil.example.com/mcp' }],
  ['aud array', { aud: [AUD, 'https://evil.example.com/mcp'] }],
  ['iss other', { iss: 'https://evil.example.com' }],
  ['exp later', { exp: 4102444800 }],
  ['exp removed', { exp: undefined }],
  ['scope wider', { scope: 'notes:read notes:write notes:admin' }],
  ['sub other', { sub: 'admin' }],
  ['tenant', { tid: 'globex' }],
  ['cnf', { cnf: { jkt: 'x' } }],
]
/** Re-encodes the payload with other claims, keeping header and signature. */
const payloadChange = fc.constantFrom(...CLAIM_CHANGES).map(([name, change]) => ({
  name: `payload ${name}`,
  apply(token: string): string {
    const [h, p, s] = segments(token)
    const claims = { ...decodeJson(p), ...change }
    for (const [k, v] of Object.entries(change)) if (v === undefined) delete claims[k]
    return `${h}.${b64(claims)}.${s}`
  },
}))

/** The signature of another valid token (another key, or the same key over other claims). */
const transplant = fc.nat().map((n) => ({
  name: 'signature transplant',
  apply(token: string): string {
    const donors = valid.filter((v) => v !== token)
    const donor = donors[n % donors.length]!
    const [h, p] = segments(token)
    return `${h}.${p}.${segments(donor)[2]}`
  },
}))

const truncate = fc.nat().map((n) => ({
  name: 'truncated',
  apply: (token: string) => token.slice(0, n % token.length),
}))

const extraDots = fc.record({ at: fc.nat(), dots: fc.constantFrom('.', '..', '...') }).map(({ at, dots }) => ({
  name: 'extra dots',
  apply(token: string): string {
    const i = at % (token.length + 1)
    return token.slice(0, i) + dots + token.slice(i)
  },
}))

const junk = fc.record({ where: fc.constantFrom('prefix', 'suffix', 'inside'), text: fc.constantFrom('=', '==', '+', '/', '~', 'A', ' ', '\t', '%2E', '\u0000', 'é', 'Bearer ') }).map(({ where, text }) => ({
  name: `junk ${where}`,
  apply(token: string): string {
    if (where === 'prefix') return text + token
    if (where === 'suffix') return token + text
    const [h, p, s] = segments(token)
    return `${h}.${p}${text}.${s}`
  },
}))

const mutation = fc.oneof(bitFlip, bitFlip, charFlip, swap, headerChange, headerReserialised, payloadChange, transplant, truncate, extraDots, junk)

before(async () => {
  keys = await Promise.all([makeKey('RS256', 'k-rsa'), makeKey('ES256', 'k-es'), makeKey('EdDSA', 'k-ed'), makeKey('PS256', 'k-ps')])
  stranger = await makeKey('ES256', 'k-es') // same kid as a trusted key, not trusted
  // Keys are inline: no request is ever legitimate, whatever a token's jku / x5u / kid says (no SSRF).
  const noNetwork = (async (input: unknown) => {
    fetches.push(String(input))
    throw new Error('the verifier must not make network requests here')
  }) as typeof fetch
  verifier = createTokenVerifier({ audience: AUD, issuers: [{ issuer: ISSUER, jwks: jwksOf(...keys), algorithms: ['RS256', 'PS256', 'ES256', 'EdDSA'], tenant: 'acme' }] }, { fetch: noNetwork })
  valid = await Promise.all([
    ...keys.map((k) => mint(k, accessClaims(ISSUER, AUD, { scope: 'notes:read', exp: Math.floor(Date.now() / 1000) + 3600 }))),
    mint(keys[0]!, accessClaims(ISSUER, AUD, { scope: 'notes:read notes:write', exp: Math.floor(Date.now() / 1000) + 3600 })),
  ])
  // Controls: every base token verifies (so a refusal of a mutation is due to the mutation).
  for (const t of valid) assert.equal((await verifier.verify(t)).subject, 'user-1')
})

after(() => assert.deepEqual(fetches, [], 'a fuzzed token made the verifier fetch something'))

summaryAtExit('verifier-fuzz', () => ({
  seed: FUZZ.seed,
  properties: `${runs.length} (${runs.join(', ')})`,
  'tokens fuzzed': fuzzedTotal,
  'network requests': fetches.length,
  codes: [...codes.entries()].sort((a, b) => b[1] - a[1]).map(([c, n]) => `${c}=${n}`).join(' '),
}))

describe('verifier fuzzing: mutated tokens', () => {
  it('a mutated valid token is never accepted and always refused with a typed, deliberate 401', async () => {
    const names = new Map<string, number>()
    await fc.assert(
      fc.asyncProperty(fc.nat(), mutation, async (which, m) => {
        const base = valid[which % valid.length]!
        const mutated = m.apply(base)
        fc.pre(mutated !== base)
        names.set(m.name.split(/[[ ]/)[0]!, (names.get(m.name.split(/[[ ]/)[0]!) ?? 0) + 1)
        await mustRefuse(mutated)
      }),
      { seed: FUZZ.seed, numRuns: FUZZ.numRuns * 4 },
    )
    runs.push(`mutations×${FUZZ.numRuns * 4}`)
    assert.ok(names.size >= 8, `mutation kinds exercised: ${[...names.keys()].join(', ')}`)
  })

  it('tokens signed by an untrusted key (same kid, same claims) are refused', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...HEADER_CHANGES.slice(11, 18)), fc.string({ maxLength: 30 }), async ([, change], sub) => {
        const claims = accessClaims(ISSUER, AUD, { sub: sub || 'x' })
        const header: Record<string, unknown> = { ...change }
        for (const [k, v] of Object.entries(header)) if (v === undefined) delete header[k]
        const forged = await mint(stranger, claims, typeof header.kid === 'string' ? header : { kid: 'k-es' }).catch(() => mint(stranger, claims))
        await mustRefuse(forged)
      }),
      { seed: FUZZ.seed, numRuns: Math.max(20, Math.floor(FUZZ.numRuns / 4)) },
    )
    runs.push(`forged×${Math.max(20, Math.floor(FUZZ.numRuns / 4))}`)
  })

  it('arbitrary JWT-shaped credentials naming the trusted issuer are refused (header and claims fuzzed)', async () => {
    const json = fc.jsonValue({ maxDepth: 2 })
    const header = fc.record(
      {
        alg: fc.oneof(fc.constantFrom('RS256', 'ES256', 'EdDSA', 'PS256', 'none', 'HS256', 'ES512'), json),
        kid: fc.oneof(fc.constantFrom('k-rsa', 'k-es', 'k-ed', 'k-ps'), json),
        typ: fc.oneof(fc.constantFrom('at+jwt', 'JWT'), json),
        crit: json,
        jku: fc.webUrl(),
        x5c: json,
      },
      { requiredKeys: ['alg'] },
    )
    const payload = fc.record(
      { iss: fc.constant(ISSUER), aud: fc.oneof(fc.constant(AUD), json), sub: fc.oneof(fc.string(), json), exp: fc.oneof(fc.integer(), json), scope: fc.oneof(fc.string(), json), iat: json, nbf: json },
      { requiredKeys: ['iss'] },
    )
    const signature = fc.oneof(fc.constant(''), fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b).toString('base64url')), fc.constantFrom(...valid.map((v) => segments(v)[2])))
    await fc.assert(
      fc.asyncProperty(header, payload, signature, async (h, p, s) => {
        await mustRefuse(`${b64(h)}.${b64(p)}.${s}`)
      }),
      { seed: FUZZ.seed, numRuns: FUZZ.numRuns },
    )
    runs.push(`jwt-shaped×${FUZZ.numRuns}`)
  })

  it('arbitrary strings (any unicode, binary, base64url soup) are refused with a typed error', async () => {
    const soup = fc.string({ unit: fc.constantFrom(...'ABCDabcd0123-_.eyJ=+/~'.split('')), maxLength: 400 })
    const credential = fc.oneof(fc.string({ maxLength: 300 }), fc.string({ unit: 'binary', maxLength: 200 }), fc.string({ unit: 'grapheme', maxLength: 100 }), soup, fc.string({ minLength: 8000, maxLength: 9000, unit: fc.constantFrom('A', '.', '-') }))
    await fc.assert(
      fc.asyncProperty(credential, async (token) => {
        fc.pre(token.length > 0)
        await mustRefuse(token)
      }),
      { seed: FUZZ.seed, numRuns: FUZZ.numRuns },
    )
    runs.push(`strings×${FUZZ.numRuns}`)
  })
})

describe('authz.check with fuzzed credentials', () => {
  let authz: Authz
  const events: DecisionEvent[] = []
  before(async () => {
    authz = await createAuthz({ bundle: await buildTestBundle(testData), verifier, onDecision: (e) => events.push(e) })
  })

  it('any credential that is not a valid token: 401 or 400, never an allow, one decision event each', async () => {
    const message = { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'notes_read', arguments: {} } }
    // Control: the base tokens are allowed.
    assert.equal((await authz.check(valid[0], message)).allow, true)
    const credential = fc.oneof(
      fc.string({ maxLength: 200 }),
      fc.tuple(fc.nat(), mutation).map(([i, m]) => m.apply(valid[i % valid.length]!)),
    )
    await fc.assert(
      fc.asyncProperty(credential, async (token) => {
        fc.pre(!valid.includes(token) && token !== '')
        const before = events.length
        const r = await authz.check(token, message)
        assert.equal(r.allow, false)
        assert.ok(r.status === 401 || r.status === 400, `status ${r.status}`)
        assert.equal(r.principal, undefined)
        assert.match(r.wwwAuthenticate ?? '', /^Bearer /)
        assert.equal(events.length, before + 1, 'exactly one decision event')
        const e = events.at(-1)!
        assert.equal(e.decisionId, r.decisionId)
        assert.equal(e.result.allow, false)
        assert.ok(!JSON.stringify(e).includes(token) || token.length < 12, 'the credential is not in the event')
      }),
      { seed: FUZZ.seed, numRuns: FUZZ.numRuns },
    )
    runs.push(`check×${FUZZ.numRuns}`)
  })
})
