/**
 * The local development issuer behind `mcp-authz token`. DEVELOPMENT ONLY: it mints access tokens
 * (RFC 9068 `at+jwt`, ES256) with keys it creates and keeps in a local folder
 * (`.mcp-authz/dev-issuer/` by default, which ignores itself in git). A configuration trusts it by
 * pointing an issuer's `jwksFile` at `<dir>/jwks.json`; nothing here is used unless configured.
 *
 * @module
 */
import { randomUUID } from 'node:crypto'
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { SignJWT, exportJWK, generateKeyPair, importJWK, type JWK } from 'jose'

/** The development issuer's identifier. */
export const DEV_ISSUER = 'http://127.0.0.1:8181/dev-issuer'
/** Default folder of the development issuer's keys. */
export const DEV_ISSUER_DIR = '.mcp-authz/dev-issuer'

/** The keys of the development issuer. */
export interface DevIssuerKeys {
  privateJwk: JWK
  jwks: { keys: JWK[] }
  jwksFile: string
}

/**
 * Loads the development issuer's keys from `dir`, creating them (ES256) on first use.
 *
 * @example
 * ```ts
 * const { jwksFile } = await ensureDevIssuer('.mcp-authz/dev-issuer')
 * ```
 */
export async function ensureDevIssuer(dir: string = DEV_ISSUER_DIR): Promise<DevIssuerKeys> {
  const keyFile = join(dir, 'private.jwk.json')
  const jwksFile = join(dir, 'jwks.json')
  try {
    const privateJwk = JSON.parse(await readFile(keyFile, 'utf8')) as JWK
    const jwks = JSON.parse(await readFile(jwksFile, 'utf8')) as { keys: JWK[] }
    return { privateJwk, jwks, jwksFile }
  } catch {
    // First use: create the keys below.
  }
  await mkdir(dir, { recursive: true })
  await writeFile(join(dir, '.gitignore'), '# mcp-authz development keys: never commit\n*\n')
  const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true })
  const kid = `dev-${randomUUID().slice(0, 8)}`
  const privateJwk = { ...(await exportJWK(privateKey)), kid, alg: 'ES256', use: 'sig' }
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' }
  await writeFile(keyFile, JSON.stringify(privateJwk), { mode: 0o600 })
  await chmod(keyFile, 0o600)
  await writeFile(jwksFile, JSON.stringify({ keys: [publicJwk] }, null, 2))
  return { privateJwk, jwks: { keys: [publicJwk] }, jwksFile }
}

/** Options of {@link mintDevToken}. */
export interface MintOptions {
  /** Audience: the protected resource URI. Required. */
  audience: string
  /** Space-separated scopes. Default `''`. */
  scope?: string
  /** Subject. Default `dev-user`. */
  subject?: string
  /** Client id. Default `dev-client`. */
  clientId?: string
  /** Lifetime, seconds. Default 3600. */
  ttlSeconds?: number
  /** Extra claims (e.g. `{ roles: ['admin'] }`). */
  claims?: Record<string, unknown>
  /** Keys folder. Default `.mcp-authz/dev-issuer`. */
  dir?: string
  /** Issuer. Default {@link DEV_ISSUER}. */
  issuer?: string
}

/**
 * Mints an RFC 9068 access token from the development issuer. DEVELOPMENT ONLY.
 *
 * @example
 * ```ts
 * const token = await mintDevToken({ audience: 'http://127.0.0.1:8181/mcp', scope: 'notes:read' })
 * ```
 */
export async function mintDevToken(options: MintOptions): Promise<string> {
  if (typeof options?.audience !== 'string' || options.audience === '') throw new TypeError('audience is required')
  const ttl = options.ttlSeconds ?? 3600
  if (!Number.isInteger(ttl) || ttl <= 0) throw new TypeError('ttlSeconds must be a positive integer')
  const { privateJwk } = await ensureDevIssuer(options.dir)
  const key = await importJWK(privateJwk, 'ES256')
  return new SignJWT({ ...options.claims, scope: options.scope ?? '', client_id: options.clientId ?? 'dev-client' })
    .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', ...(privateJwk.kid ? { kid: privateJwk.kid } : {}) })
    .setIssuer(options.issuer ?? DEV_ISSUER)
    .setSubject(options.subject ?? 'dev-user')
    .setAudience(options.audience)
    .setIssuedAt()
    .setJti(randomUUID())
    .setExpirationTime(`${ttl}s`)
    .sign(key)
}
