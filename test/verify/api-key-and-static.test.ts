/**
 * API keys (hash-only configuration, constant-time lookup) and the static stdio principal.
 */
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { describe, it } from 'node:test'
import { createTokenVerifier, generateApiKey, hashApiKey, staticPrincipal, staticPrincipalFromEnv, TokenVerificationError } from '../../src/verify/index.ts'

const AUD = 'https://mcp.example.test/mcp'

describe('API keys', () => {
  const alice = generateApiKey()
  const bot = generateApiKey()
  const verifier = createTokenVerifier({
    audience: AUD,
    apiKeys: {
      keys: [
        { id: 'alice-laptop', hash: hashApiKey(alice), subject: 'alice', scopes: ['notes:write', 'notes:read'], tenant: 'acme', claims: { roles: ['editor'] } },
        { hash: hashApiKey(bot), subject: 'ci-bot', clientId: 'ci', scopes: [] },
      ],
    },
  })

  it('generates prefixed 256-bit keys, hashed as sha256:<hex> (same as sha256sum)', () => {
    assert.match(alice, /^mcpk_[A-Za-z0-9_-]{43}$/)
    assert.match(hashApiKey(alice), /^sha256:[0-9a-f]{64}$/)
    let shell: string | undefined
    try {
      shell = execFileSync('sha256sum', { input: alice, encoding: 'utf8' }).split(' ')[0]
    } catch {
      shell = undefined // no sha256sum on this machine
    }
    if (shell !== undefined) assert.equal(hashApiKey(alice), `sha256:${shell}`)
  })

  it('maps a known key to its configured principal', async () => {
    const p = await verifier.verify(alice)
    assert.deepEqual(p, {
      subject: 'alice',
      issuer: 'urn:mcp-authz:api-key',
      audience: [AUD],
      scopes: ['notes:read', 'notes:write'],
      authMethod: 'api_key',
      tokenId: 'api-key:alice-laptop',
      claims: { roles: ['editor'] },
      tenant: 'acme',
    })
    const b = await verifier.verify(bot)
    assert.deepEqual([b.subject, b.clientId, b.tokenId, b.scopes], ['ci-bot', 'ci', 'api-key:key-1', []])
  })

  it('refuses unknown keys, near misses and keys differing only in case', async () => {
    for (const key of [generateApiKey(), `${alice}x`, alice.slice(0, -1), alice.toUpperCase().replace('MCPK_', 'mcpk_')]) {
      await assert.rejects(verifier.verify(key), (err: unknown) => err instanceof TokenVerificationError && err.code === 'ERR_API_KEY_UNKNOWN' && !err.message.includes(key))
    }
  })

  it('hands out copies: a caller cannot change the configured principal', async () => {
    ;(await verifier.verify(alice)).scopes.push('admin')
    assert.deepEqual((await verifier.verify(alice)).scopes, ['notes:read', 'notes:write'])
  })

  it('rejects invalid scopes in configuration at startup', () => {
    assert.throws(() => createTokenVerifier({ apiKeys: { keys: [{ hash: hashApiKey(bot), subject: 'x', scopes: ['a b'] }] } }), /apiKeys\.keys\[0\]/)
  })
})

describe('static principal (stdio)', () => {
  it('builds the principal from configuration', () => {
    assert.deepEqual(staticPrincipal({ subject: 'alice', scopes: ['b', 'a'], tenant: 'acme', claims: { roles: ['owner'] } }), {
      subject: 'alice',
      issuer: 'urn:mcp-authz:static',
      audience: [],
      scopes: ['a', 'b'],
      authMethod: 'static',
      tokenId: 'static:alice',
      claims: { roles: ['owner'] },
      tenant: 'acme',
    })
  })

  it('builds the principal from the environment', () => {
    const p = staticPrincipalFromEnv({ MCP_AUTHZ_SUBJECT: 'bob', MCP_AUTHZ_SCOPES: 'notes:read  notes:write', MCP_AUTHZ_CLIENT_ID: 'cli' })
    assert.deepEqual([p.subject, p.scopes, p.clientId, p.authMethod], ['bob', ['notes:read', 'notes:write'], 'cli', 'static'])
    assert.ok(staticPrincipalFromEnv({}).subject.length > 0, 'defaults to the OS user')
  })

  it('refuses a configuration that cannot be a principal', () => {
    assert.throws(() => staticPrincipal({ subject: '' }), TypeError)
    assert.throws(() => staticPrincipal({ subject: 'a', scopes: ['bad"scope'] }), TypeError)
  })
})
