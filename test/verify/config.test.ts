/**
 * Configuration: safe defaults, and bad options failing fast with a TypeError naming the option.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { createTokenVerifier, DEFAULT_ALGORITHMS, resolveVerifierConfig } from '../../src/verify/index.ts'
import type { VerifierConfig } from '../../src/verify/index.ts'

const AUD = 'https://mcp.example.test/mcp'
const remote = { issuer: 'https://as.example.test', jwksUri: 'https://as.example.test/jwks' }

describe('verifier configuration', () => {
  it('applies the documented defaults', () => {
    const r = resolveVerifierConfig({
      audience: 'HTTPS://MCP.Example.Test/mcp/',
      issuers: [remote],
      introspection: { endpoint: 'https://as.example.test/introspect', clientId: 'rs', clientSecret: 's' },
      apiKeys: { keys: [] },
    })
    assert.equal(r.audience, AUD, 'stored in canonical form')
    assert.deepEqual([r.clockTolerance, r.maxTokenAge, r.maxTokenLength, r.cacheMax], [30, undefined, 8192, 10000])
    const [iss] = r.issuers
    assert.ok(iss !== undefined)
    assert.deepEqual(iss.algorithms, [...DEFAULT_ALGORITHMS])
    assert.deepEqual(DEFAULT_ALGORITHMS, ['RS256', 'PS256', 'ES256', 'ES384', 'EdDSA'])
    assert.deepEqual(iss.requiredClaims, ['iss', 'exp', 'aud', 'sub'])
    assert.equal(iss.requireTyp, true)
    assert.deepEqual([iss.jwksTimeoutMs, iss.jwksCooldownMs, iss.jwksCacheMaxAgeMs, iss.jwksMaxBytes], [5000, 1000, 600000, 262144])
    const i = r.introspection
    assert.ok(i !== undefined)
    assert.deepEqual(
      [i.clientAuthMethod, i.timeoutMs, i.maxResponseBytes, i.requireAudience, i.cacheTtlMs, i.negativeCacheTtlMs, i.cacheMax],
      ['client_secret_basic', 5000, 65536, true, 60000, 2000, 10000],
    )
    assert.deepEqual([r.apiKeys?.prefix, r.apiKeys?.issuer], ['mcpk_', 'urn:mcp-authz:api-key'])
  })

  const bad: Array<[string, VerifierConfig, RegExp]> = [
    ['nothing to verify with', { audience: AUD }, /at least one of issuers, introspection, apiKeys/],
    ['no audience', { issuers: [remote] }, /"audience" is required/],
    ['an audience that is not a URI', { audience: 'mcp', issuers: [remote] }, /"audience" must be an absolute/],
    ['an issuer without keys that cannot be discovered (plain http)', { audience: AUD, issuers: [{ issuer: 'http://a.example' }] }, /"issuers\[0\]\.issuer" must be an https URL \(plain http only on loopback\) to find its keys by discovery/],
    ['an issuer string that cannot be discovered', { audience: AUD, issuers: ['urn:example:issuer'] }, /"issuers\[0\]\.issuer" must be an https URL/],
    ['an issuer with two key sources', { audience: AUD, issuers: [{ ...remote, jwks: { keys: [] } }] }, /"issuers\[0\]" must set at most one of jwksUri, jwks, jwksFile/],
    ['plain http JWKS off loopback', { audience: AUD, issuers: [{ ...remote, jwksUri: 'http://as.example.test/jwks' }] }, /"issuers\[0\]\.jwksUri" must be an https URL/],
    ['HS256 allowed', { audience: AUD, issuers: [{ ...remote, algorithms: ['HS256' as 'RS256'] }] }, /"issuers\[0\]\.algorithms" contains "HS256"/],
    ['alg none allowed', { audience: AUD, issuers: [{ ...remote, algorithms: ['none' as 'RS256'] }] }, /"issuers\[0\]\.algorithms" contains "none"/],
    ['an unknown required claim', { audience: AUD, issuers: [{ ...remote, requiredClaims: ['email' as 'jti'] }] }, /"issuers\[0\]\.requiredClaims" contains "email"/],
    ['duplicate issuers', { audience: AUD, issuers: [remote, remote] }, /"issuers\[1\]\.issuer" duplicates/],
    ['a negative clock tolerance', { audience: AUD, issuers: [remote], clockTolerance: -1 }, /"clockTolerance" must be a number/],
    ['a zero JWKS timeout', { audience: AUD, issuers: [{ ...remote, jwksTimeout: 0 }] }, /"issuers\[0\]\.jwksTimeout"/],
    [
      'a long negative cache',
      { audience: AUD, introspection: { endpoint: 'https://as.example.test/i', clientId: 'rs', clientSecret: 's', negativeCacheTtl: 60 } },
      /"introspection\.negativeCacheTtl" must be a number between 0 and 10/,
    ],
    ['basic auth without a secret', { audience: AUD, introspection: { endpoint: 'https://as.example.test/i', clientId: 'rs' } }, /"introspection\.clientSecret" is required/],
    [
      'private_key_jwt with a public key',
      { audience: AUD, introspection: { endpoint: 'https://as.example.test/i', clientId: 'rs', clientAuthMethod: 'private_key_jwt', privateKey: { kty: 'EC' } } },
      /"introspection\.privateKey" must be a private JWK/,
    ],
    ['an API key stored in clear', { apiKeys: { keys: [{ hash: 'mcpk_secret', subject: 'bot' }] } }, /"apiKeys\.keys\[0\]\.hash" must be "sha256:"/],
    [
      'two API keys with the same hash',
      { apiKeys: { keys: [{ hash: `sha256:${'a'.repeat(64)}`, subject: 'a' }, { hash: `sha256:${'a'.repeat(64)}`, subject: 'b' }] } },
      /"apiKeys\.keys\[1\]\.hash" duplicates/,
    ],
    ['an API-key prefix that looks like a JWT', { apiKeys: { prefix: 'eyJ', keys: [] } }, /"apiKeys\.prefix" must not start with "ey"/],
    [
      'an API key overriding a registered claim',
      { apiKeys: { keys: [{ hash: `sha256:${'a'.repeat(64)}`, subject: 'a', claims: { scope: 'admin' } }] } },
      /"apiKeys\.keys\[0\]\.claims" must not set the registered claim "scope"/,
    ],
  ]
  for (const [name, config, message] of bad) {
    it(`fails fast with a TypeError naming the option: ${name}`, () => {
      assert.throws(() => createTokenVerifier(config), (err: unknown) => err instanceof TypeError && message.test(err.message))
    })
  }

  it('allows plain http on loopback, and elsewhere only when dangerously allowed', () => {
    createTokenVerifier({ audience: AUD, issuers: [{ ...remote, jwksUri: 'http://127.0.0.1:8080/jwks' }] })
    createTokenVerifier({ audience: AUD, issuers: [{ ...remote, jwksUri: 'http://as.internal/jwks' }], dangerouslyAllowInsecureHttp: true })
  })

  it('is JSON-serialisable as documented (round-trips unchanged)', () => {
    const config: VerifierConfig = {
      audience: AUD,
      issuers: [{ ...remote, algorithms: ['ES256'], requiredClaims: ['jti'], claims: ['roles'], tenant: 'acme' }],
      introspection: { endpoint: 'https://as.example.test/i', clientId: 'rs', clientSecret: 's', requireAudience: false },
      apiKeys: { keys: [{ hash: `sha256:${'b'.repeat(64)}`, subject: 'bot', scopes: ['a'] }] },
      clockTolerance: 10,
    }
    assert.deepEqual(JSON.parse(JSON.stringify(config)), config)
    createTokenVerifier(JSON.parse(JSON.stringify(config)) as VerifierConfig)
  })
})
