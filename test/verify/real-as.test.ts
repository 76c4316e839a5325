/**
 * Token verification against a real authorization server (oidc-provider): RFC 9068 JWT access
 * tokens obtained with client_credentials + RFC 8707 resource indicators, key rotation,
 * opaque tokens by RFC 7662 introspection (client_secret_basic and private_key_jwt), tokens
 * for other resources and from another realm of the same server.
 */
import assert from 'node:assert/strict'
import { setTimeout as sleep } from 'node:timers/promises'
import { after, before, describe, it } from 'node:test'
import { decodeProtectedHeader, exportJWK, generateKeyPair } from 'jose'
import type { JWK } from 'jose'
import { createTokenVerifier } from '../../src/verify/index.ts'
import type { JwtIssuerConfig, VerifierConfig, VerifierOverrides } from '../../src/verify/index.ts'
import { startAuthorizationServer } from '../helpers/authorization-server.ts'
import type { AuthorizationServer, Realm } from '../helpers/authorization-server.ts'

const MCP = 'https://mcp.example.test/mcp'
const OTHER = 'https://other.example.test/api'
const TOOLS = 'https://tools.example.test/mcp'

let as: AuthorizationServer
let realmB: Realm
let rsJwtKey: JWK

function jwtIssuer(extra: Partial<JwtIssuerConfig> = {}): JwtIssuerConfig {
  return { issuer: as.issuer, jwksUri: as.jwksUri, ...extra }
}

function mcpVerifier(extra: Partial<VerifierConfig> = {}, overrides: VerifierOverrides = {}) {
  return createTokenVerifier({ audience: MCP, issuers: [jwtIssuer()], ...extra }, overrides)
}

function introspectionVerifier(audience: string, extra: Partial<NonNullable<VerifierConfig['introspection']>> = {}, overrides: VerifierOverrides = {}) {
  return createTokenVerifier(
    { audience, introspection: { endpoint: as.introspectionEndpoint, issuer: as.issuer, clientId: 'rs', clientSecret: 'rs-secret', ...extra } },
    overrides,
  )
}

describe('verification against a real authorization server (oidc-provider)', () => {
  before(async () => {
    const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true })
    rsJwtKey = { ...(await exportJWK(privateKey)), kid: 'rs-jwt-1' }
    as = await startAuthorizationServer({
      resources: {
        [MCP]: { scopes: ['notes:read', 'notes:write', 'notes:admin'] },
        [OTHER]: { scopes: ['other:read'], format: 'opaque' },
        [TOOLS]: { scopes: ['tools:run'] },
      },
      clients: [
        { clientId: 'agent', clientSecret: 'agent-secret' },
        { clientId: 'reader', clientSecret: 'reader-secret', scopes: ['notes:read'] },
        { clientId: 'rs', clientSecret: 'rs-secret', scopes: [] },
        { clientId: 'rs-jwt', authMethod: 'private_key_jwt', scopes: [], jwks: { keys: [{ ...(await exportJWK(publicKey)), kid: 'rs-jwt-1' }] } },
      ],
    })
    realmB = await as.addRealm('b', { resources: { [MCP]: { scopes: ['notes:read'] } }, clients: [{ clientId: 'agent', clientSecret: 'agent-b-secret' }] })
  })
  after(() => as.close())

  it('client_credentials + resource indicator → at+jwt → principal with scopes, client and audience', async () => {
    const token = await as.token('agent', { resource: MCP, scope: 'notes:write notes:read' })
    assert.equal(decodeProtectedHeader(token).typ, 'at+jwt')
    const principal = await mcpVerifier().verify(token)
    const nowSec = Date.now() / 1000
    assert.equal(principal.subject, 'agent')
    assert.equal(principal.clientId, 'agent')
    assert.equal(principal.issuer, as.issuer)
    assert.deepEqual(principal.audience, [MCP])
    assert.deepEqual(principal.scopes, ['notes:read', 'notes:write'])
    assert.equal(principal.authMethod, 'jwt')
    assert.match(principal.tokenId, /^[\w-]{20,}$/) // the jti
    assert.ok(principal.expiresAt !== undefined && principal.expiresAt > nowSec + 200 && principal.expiresAt <= nowSec + 301)
  })

  it('carries exactly the granted scopes (what step-up decisions rest on)', async () => {
    const verifier = mcpVerifier()
    const narrow = await verifier.verify(await as.token('agent', { resource: MCP, scope: 'notes:read' }))
    assert.deepEqual(narrow.scopes, ['notes:read'])
    const wide = await verifier.verify(await as.token('agent', { resource: MCP, scope: 'notes:read notes:write notes:admin' }))
    assert.deepEqual(wide.scopes, ['notes:admin', 'notes:read', 'notes:write'])
    const reader = await verifier.verify(await as.token('reader', { resource: MCP, scope: 'notes:read' }))
    assert.deepEqual([reader.clientId, reader.scopes], ['reader', ['notes:read']])
  })

  it('pays the signature cost once per token: the second verification is memoized', async () => {
    // cacheMaxAge 0 makes jose refetch the JWKS on every key lookup, so the counter shows every real verification.
    const verifier = mcpVerifier({ issuers: [jwtIssuer({ jwksCacheMaxAge: 0 })] })
    const token = await as.token('agent', { resource: MCP, scope: 'notes:read' })
    const before = as.counts.jwks
    const first = await verifier.verify(token)
    assert.equal(as.counts.jwks, before + 1)
    first.scopes.push('notes:admin') // a caller mutating its copy must not alter the cache
    const second = await verifier.verify(token)
    assert.equal(as.counts.jwks, before + 1, 'no key lookup the second time')
    assert.deepEqual(second.scopes, ['notes:read'])
    await verifier.verify(await as.token('agent', { resource: MCP, scope: 'notes:read' }))
    assert.equal(as.counts.jwks, before + 2, 'another token is verified for real')
  })

  it('memoized principals never outlive exp', async () => {
    let offset = 0
    const verifier = mcpVerifier({ clockTolerance: 0 }, { now: () => Date.now() + offset })
    const token = await as.token('agent', { resource: MCP, scope: 'notes:read' })
    await verifier.verify(token)
    offset = 301_000
    await assert.rejects(verifier.verify(token), { code: 'ERR_TOKEN_EXPIRED' })
  })

  it('picks up a rotated signing key without restart, and old tokens keep verifying', async () => {
    const verifier = mcpVerifier({ cacheMax: 0, issuers: [jwtIssuer({ jwksCooldown: 0.2 })] })
    const oldToken = await as.token('agent', { resource: MCP, scope: 'notes:read' })
    const oldKid = decodeProtectedHeader(oldToken).kid
    await verifier.verify(oldToken)

    const { kid } = await as.rotateKeys()
    const newToken = await as.token('agent', { resource: MCP, scope: 'notes:read' })
    assert.equal(decodeProtectedHeader(newToken).kid, kid)
    assert.notEqual(kid, oldKid)
    await sleep(250) // past the cooldown that protects against unknown-kid fetch storms
    assert.equal((await verifier.verify(newToken)).subject, 'agent')
    assert.equal((await verifier.verify(oldToken)).subject, 'agent')
  })

  it('stops accepting tokens of a key the issuer no longer publishes', async () => {
    const verifier = mcpVerifier({ cacheMax: 0, issuers: [jwtIssuer({ jwksCooldown: 0.1, jwksCacheMaxAge: 0.3 })] })
    const token = await as.token('agent', { resource: MCP, scope: 'notes:read' })
    const kid = decodeProtectedHeader(token).kid as string
    await verifier.verify(token)
    await as.rotateKeys()
    await as.removeKey(kid)
    await sleep(350) // past the cache max age
    await assert.rejects(verifier.verify(token), { code: 'ERR_KEY_NOT_FOUND' })
  })

  it('verifies an opaque token for another resource by introspection (client_secret_basic), cached', async () => {
    const verifier = introspectionVerifier(OTHER)
    const token = await as.token('agent', { resource: OTHER, scope: 'other:read' })
    assert.ok(!token.includes('.'), 'opaque')
    const before = as.counts.introspection
    const principal = await verifier.verify(token)
    assert.equal(principal.authMethod, 'introspection')
    assert.equal(principal.subject, 'agent')
    assert.equal(principal.clientId, 'agent')
    assert.equal(principal.issuer, as.issuer)
    assert.deepEqual(principal.audience, [OTHER])
    assert.deepEqual(principal.scopes, ['other:read'])
    assert.match(principal.tokenId, /^fp:[0-9a-f]{24}$/)
    assert.ok(!JSON.stringify(principal).includes(token), 'the principal never holds the token')
    await verifier.verify(token)
    assert.equal(as.counts.introspection, before + 1, 'the second answer comes from the cache')
  })

  it('introspects with private_key_jwt client authentication', async () => {
    const verifier = introspectionVerifier(OTHER, { clientId: 'rs-jwt', clientSecret: undefined, clientAuthMethod: 'private_key_jwt', privateKey: rsJwtKey })
    const principal = await verifier.verify(await as.token('agent', { resource: OTHER, scope: 'other:read' }))
    assert.deepEqual([principal.authMethod, principal.scopes], ['introspection', ['other:read']])
  })

  it('fails closed when the resource server cannot authenticate to the introspection endpoint', async () => {
    const verifier = introspectionVerifier(OTHER, { clientSecret: 'wrong' })
    await assert.rejects(verifier.verify(await as.token('agent', { resource: OTHER, scope: 'other:read' })), { code: 'ERR_INTROSPECTION_UNAVAILABLE' })
  })

  it('refuses a revoked token (active: false), caching the refusal only briefly', async () => {
    let offset = 0
    const verifier = introspectionVerifier(OTHER, { cacheTtl: 0, negativeCacheTtl: 1 }, { now: () => Date.now() + offset })
    const token = await as.token('agent', { resource: OTHER, scope: 'other:read' })
    await verifier.verify(token)
    await as.revoke('agent', token)
    const before = as.counts.introspection
    await assert.rejects(verifier.verify(token), { code: 'ERR_TOKEN_INACTIVE' })
    await assert.rejects(verifier.verify(token), { code: 'ERR_TOKEN_INACTIVE' })
    assert.equal(as.counts.introspection, before + 1, 'the refusal is cached')
    offset = 1500
    await assert.rejects(verifier.verify(token), { code: 'ERR_TOKEN_INACTIVE' })
    assert.equal(as.counts.introspection, before + 2, 'and expires after negativeCacheTtl')
  })

  it('refuses tokens issued for another resource', async () => {
    const verifier = mcpVerifier({ introspection: { endpoint: as.introspectionEndpoint, issuer: as.issuer, clientId: 'rs', clientSecret: 'rs-secret' } })
    await assert.rejects(verifier.verify(await as.token('agent', { resource: TOOLS, scope: 'tools:run' })), { code: 'ERR_AUDIENCE_MISMATCH' })
    await assert.rejects(verifier.verify(await as.token('agent', { resource: OTHER, scope: 'other:read' })), { code: 'ERR_AUDIENCE_MISMATCH' })
    const mcpOnly = introspectionVerifier(MCP)
    await assert.rejects(mcpOnly.verify(await as.token('agent', { resource: OTHER, scope: 'other:read' })), { code: 'ERR_AUDIENCE_MISMATCH' })
  })

  it('refuses a token from a second realm (issuer) of the same server, without any request to it', async () => {
    const token = await realmB.token('agent', { resource: MCP, scope: 'notes:read' })
    const introspections = as.counts.introspection
    const verifier = mcpVerifier({ introspection: { endpoint: as.introspectionEndpoint, issuer: as.issuer, clientId: 'rs', clientSecret: 'rs-secret' } })
    await assert.rejects(verifier.verify(token), { code: 'ERR_ISSUER_UNKNOWN' })
    assert.equal(realmB.counts.jwks, 0)
    assert.equal(as.counts.introspection, introspections, 'another issuer’s token is never sent to our introspection endpoint')
    // …and the realm's own tokens do verify when that realm is the configured issuer.
    const realmVerifier = createTokenVerifier({ audience: MCP, issuers: [{ issuer: realmB.issuer, jwksUri: realmB.jwksUri }] })
    assert.equal((await realmVerifier.verify(token)).issuer, realmB.issuer)
  })
})
