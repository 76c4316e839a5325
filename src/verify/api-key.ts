/**
 * API keys, for internal and single-user servers where an authorization server is overkill.
 * A key is recognised by its prefix (default `mcpk_`); configuration stores only
 * `sha256:<hex>` of each key, mapped to a fixed principal.
 *
 * The presented key is hashed once and compared with **every** configured digest using
 * `crypto.timingSafeEqual` over fixed-length digests — no early exit, so timing does not reveal
 * which entry (if any) matched. Keys must be high-entropy random strings ({@link generateApiKey});
 * that is why a plain SHA-256 suffices (no password hashing: nothing to brute-force, and a slow
 * hash per configured key per request would be a denial-of-service lever).
 *
 * @module
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import type { ResolvedApiKeys } from './config.ts'
import { TokenVerificationError } from './errors.ts'
import { normalizePrincipal, PrincipalError } from './principal.ts'
import type { Principal } from './principal.ts'

/** Verifies API keys. */
export interface ApiKeyVerifier {
  /** The prefix that routes a credential here. */
  readonly prefix: string
  /** Returns the principal configured for the key, or throws `ERR_API_KEY_UNKNOWN`. */
  verify(key: string): Promise<Principal>
}

/**
 * The configuration hash of an API key: `sha256:` + hex SHA-256 of the whole key.
 *
 * @example
 * ```ts
 * hashApiKey('mcpk_4mRk…') // 'sha256:9f86d0…'
 * ```
 * Shell equivalent: `printf %s "$KEY" | sha256sum`.
 */
export function hashApiKey(key: string): string {
  return `sha256:${createHash('sha256').update(key, 'utf8').digest('hex')}`
}

/**
 * A new random API key: prefix + 32 random bytes, base64url (256 bits of entropy).
 *
 * @example
 * ```ts
 * const key = generateApiKey() // 'mcpk_Xq3…'
 * config.apiKeys.keys.push({ hash: hashApiKey(key), subject: 'ci-bot', scopes: ['tools:read'] })
 * ```
 */
export function generateApiKey(prefix = 'mcpk_'): string {
  return `${prefix}${randomBytes(32).toString('base64url')}`
}

/**
 * Creates the API-key verifier. Each entry's principal is built (and checked) now.
 *
 * @throws {TypeError} when an entry cannot become a principal (e.g. an invalid scope).
 * @example
 * ```ts
 * const apiKeys = createApiKeyVerifier(resolveVerifierConfig(config).apiKeys!, { audience: 'https://mcp.example.com/mcp' })
 * const principal = await apiKeys.verify(presentedKey)
 * ```
 */
export function createApiKeyVerifier(config: ResolvedApiKeys, settings: { audience: string | undefined }): ApiKeyVerifier {
  const entries = config.keys.map((entry, i) => {
    const claims: Record<string, unknown> = {
      ...entry.claims,
      sub: entry.subject,
      jti: `api-key:${entry.id}`,
      scope: (entry.scopes ?? []).join(' '),
    }
    if (entry.clientId !== undefined) claims.client_id = entry.clientId
    if (settings.audience !== undefined) claims.aud = settings.audience
    let principal: Principal
    try {
      principal = normalizePrincipal(claims, {
        authMethod: 'api_key',
        defaultIssuer: config.issuer,
        issuerTenant: entry.tenant,
        claimAllowlist: Object.keys(entry.claims ?? {}),
      })
    } catch (err) {
      if (err instanceof PrincipalError) throw new TypeError(`"apiKeys.keys[${i}]" ${err.message}`)
      throw err
    }
    principal.issuer = config.issuer
    return { digest: Buffer.from(entry.hash.slice('sha256:'.length), 'hex'), principal }
  })

  return {
    prefix: config.prefix,
    async verify(key) {
      const digest = createHash('sha256').update(key, 'utf8').digest()
      let match = -1
      for (let i = 0; i < entries.length; i++) {
        // Every entry is compared; the result only selects, it never stops the loop.
        const equal = timingSafeEqual(digest, (entries[i] as { digest: Buffer }).digest)
        match = equal && match < 0 ? i : match
      }
      if (match < 0) throw new TokenVerificationError('ERR_API_KEY_UNKNOWN', 'unknown API key')
      return structuredClone((entries[match] as { principal: Principal }).principal)
    },
  }
}
