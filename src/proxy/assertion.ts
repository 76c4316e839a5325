/**
 * The signed assertion of the principal that the proxy sends upstream instead of the client's
 * token (no token passthrough): a short-lived ES256 JWT, one per request, whose public key the
 * proxy publishes as a JWKS. The upstream verifies it like any JWT from a pinned issuer.
 *
 * Claims: `iss` (the proxy), `aud` (the upstream), `sub`, `client_id`, `scope` (space-delimited,
 * as RFC 9068), `tenant`, `idp` (the issuer that authenticated the principal), `decision_id` (the
 * decision-log record of this request), `jti`, `iat`, `nbf`, `exp` (≤ 60 s later). Header:
 * `alg: ES256`, `kid` (the key's RFC 7638 thumbprint), `typ: mcp-authz-assertion+jwt` (explicit
 * typing, RFC 8725 § 3.11, so it is never mistaken for an access token).
 *
 * @module
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, randomUUID, type KeyObject } from 'node:crypto'
import { calculateJwkThumbprint, SignJWT, type JWK } from 'jose'
import type { Principal } from '../contracts/principal.ts'

/** The `typ` header of every assertion. */
export const ASSERTION_TYPE = 'mcp-authz-assertion+jwt'

/** Options of {@link createAssertionSigner}. */
export interface AssertionSignerOptions {
  /** The `iss` claim: the proxy's identity (e.g. `https://mcp.example.com`). Required. */
  issuer: string
  /** The `aud` claim: the upstream (e.g. its URL). Required. */
  audience: string
  /** Lifetime of one assertion, seconds, 1–60. Default 60. */
  ttlSeconds?: number
  /** ES256 (P-256) private key, PKCS#8 or SEC1 PEM. Default: a key pair generated now (lost at exit). */
  privateKey?: string
}

/** Signs assertions and publishes the verification key. */
export interface AssertionSigner {
  /** `kid` of the signing key. */
  readonly kid: string
  /** The public keys, as a JWKS document (`{ keys: [...] }`). */
  readonly jwks: { keys: JWK[] }
  /** Signs one assertion for a principal and the decision that let the request through. */
  sign(principal: Principal, decisionId: string): Promise<string>
}

/**
 * Creates the signer (generates a key unless one is given).
 *
 * @throws {TypeError} naming the option when an option is invalid (e.g. a key that is not P-256).
 * @example
 * ```ts
 * const signer = await createAssertionSigner({ issuer: 'https://mcp.example.com', audience: 'http://127.0.0.1:9000/mcp' })
 * const jwt = await signer.sign(principal, decisionId) // send as `mcp-authz-assertion: <jwt>`
 * ```
 */
export async function createAssertionSigner(options: AssertionSignerOptions): Promise<AssertionSigner> {
  if (typeof options?.issuer !== 'string' || options.issuer === '') throw new TypeError('options.issuer must be a non-empty string')
  if (typeof options.audience !== 'string' || options.audience === '') throw new TypeError('options.audience must be a non-empty string')
  const ttl = options.ttlSeconds ?? 60
  if (!Number.isInteger(ttl) || ttl < 1 || ttl > 60) throw new TypeError('options.ttlSeconds must be an integer from 1 to 60')
  let privateKey: KeyObject
  if (options.privateKey !== undefined) {
    try {
      privateKey = createPrivateKey(options.privateKey)
    } catch {
      throw new TypeError('options.privateKey is not a PEM private key')
    }
    if (privateKey.asymmetricKeyType !== 'ec' || privateKey.asymmetricKeyDetails?.namedCurve !== 'prime256v1') throw new TypeError('options.privateKey must be a P-256 (ES256) key')
  } else {
    privateKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey
  }
  const { kty, crv, x, y } = createPublicKey(privateKey).export({ format: 'jwk' }) as JWK
  const thumbprintInput: JWK = { kty: kty as string, crv: crv as string, x: x as string, y: y as string }
  const kid = await calculateJwkThumbprint(thumbprintInput)
  const publicJwk: JWK = { ...thumbprintInput, kid, alg: 'ES256', use: 'sig' }
  const jwks = Object.freeze({ keys: [publicJwk] })
  const { issuer, audience } = options

  return {
    kid,
    jwks,
    async sign(principal, decisionId) {
      const now = Math.floor(Date.now() / 1000)
      const claims: Record<string, unknown> = {
        client_id: principal.clientId ?? principal.subject,
        scope: principal.scopes.join(' '),
        idp: principal.issuer,
        decision_id: decisionId,
      }
      if (principal.tenant !== undefined) claims.tenant = principal.tenant
      return new SignJWT(claims)
        .setProtectedHeader({ alg: 'ES256', kid, typ: ASSERTION_TYPE })
        .setIssuer(issuer)
        .setAudience(audience)
        .setSubject(principal.subject)
        .setJti(randomUUID())
        .setIssuedAt(now)
        .setNotBefore(now)
        .setExpirationTime(now + ttl)
        .sign(privateKey)
    },
  }
}
