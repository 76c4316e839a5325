/**
 * The JWS layer shared by JWT verification: the compact-serialization shape test, the
 * header policy applied before any cryptography (RFC 8725), the candidate-key loop, the mapping
 * of jose errors to {@link TokenVerificationError} codes, and {@link verifyCompactJws} — the
 * signature step alone, which the Wycheproof vectors exercise.
 *
 * All parsing and signature work is jose's; this module only decides what is allowed.
 *
 * @module
 */
import { compactVerify, decodeProtectedHeader, errors } from 'jose'
import type { CompactVerifyResult, JWSHeaderParameters, JWTVerifyGetKey } from 'jose'
import type { JwsAlgorithm } from './config.ts'
import { TokenVerificationError } from './errors.ts'
import type { KeySet } from './key-set.ts'

/** What a protected header may contain. */
export interface HeaderPolicy {
  /** Accepted `alg` values. */
  algorithms: readonly JwsAlgorithm[]
  /**
   * Whether the header must carry a `typ` (one of {@link typ}). When `false`, a header without
   * `typ` is accepted too.
   */
  requireTyp: boolean
  /**
   * Accepted `typ` values, compared case-insensitively without an `application/` prefix:
   * `at+jwt` (RFC 9068 § 4) and/or `jwt` (what Keycloak, Auth0, Entra ID… put in access tokens).
   * Default: `['at+jwt']` when `requireTyp`, else `['at+jwt', 'jwt']`.
   */
  typ?: readonly AccessTokenTyp[]
}

/** The `typ` values an access token may carry: RFC 9068's `at+jwt`, or the generic `JWT`. */
export type AccessTokenTyp = 'at+jwt' | 'jwt'

const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*$/
/** Header parameters that point at, or carry, a key. Keys come from configuration only. */
const KEY_CARRYING_HEADERS = ['jwk', 'jku', 'x5u'] as const
const MAX_KID_LENGTH = 1024
/** Candidate keys tried when a token without `kid` matches several keys. */
const MAX_CANDIDATE_KEYS = 4

/**
 * Whether `token` has the shape of a JWS in compact serialization: three base64url segments.
 * Says nothing about validity.
 *
 * @example
 * ```ts
 * isCompactJws('eyJhbGciOiJFUzI1NiJ9.e30.c2ln') // true
 * isCompactJws('{"payload":"…"}') // false
 * ```
 */
export function isCompactJws(token: string): boolean {
  return COMPACT_JWS.test(token)
}

/**
 * A `typ` / `cty` value in the form it is compared: lowercase, without `application/` (RFC 7515 § 4.1.9).
 *
 * @example
 * ```ts
 * normalizeTyp('application/AT+JWT') // 'at+jwt'
 * ```
 */
export function normalizeTyp(typ: string): string {
  const lower = typ.toLowerCase()
  return lower.startsWith('application/') ? lower.slice('application/'.length) : lower
}

/**
 * Decodes the unverified protected header of a compact JWS (jose `decodeProtectedHeader`).
 *
 * @throws {TokenVerificationError} `ERR_TOKEN_MALFORMED` when it is not a compact JWS with a JSON object header.
 * @example
 * ```ts
 * peekProtectedHeader(token).kid
 * ```
 */
export function peekProtectedHeader(token: string): JWSHeaderParameters {
  if (!isCompactJws(token)) throw new TokenVerificationError('ERR_TOKEN_MALFORMED', 'not a JWS in compact serialization')
  try {
    return decodeProtectedHeader(token) as JWSHeaderParameters
  } catch {
    throw new TokenVerificationError('ERR_TOKEN_MALFORMED', 'the JWS protected header is not a base64url JSON object')
  }
}

/**
 * Applies the header policy before any key lookup or signature work: `alg` allowlisted (never
 * `none`, whatever its case), no `crit`, no `b64`, no nested `cty: JWT`, no key-carrying header
 * (`jwk`, `jku`, `x5u`; `x5c` is ignored, never used), `kid` a bounded string, `typ` per policy.
 *
 * @throws {TokenVerificationError} `ERR_ALG_NOT_ALLOWED`, `ERR_HEADER_INVALID` or `ERR_TYP_INVALID`.
 * @example
 * ```ts
 * checkProtectedHeader(peekProtectedHeader(token), { algorithms: ['RS256'], requireTyp: true })
 * ```
 */
export function checkProtectedHeader(header: JWSHeaderParameters, policy: HeaderPolicy): void {
  const { alg } = header
  if (typeof alg !== 'string' || alg.length === 0) throw new TokenVerificationError('ERR_ALG_NOT_ALLOWED', 'the JWS has no alg')
  if (alg.toLowerCase() === 'none') throw new TokenVerificationError('ERR_ALG_NOT_ALLOWED', 'unsecured JWS (alg none) refused')
  if (!(policy.algorithms as readonly string[]).includes(alg)) throw new TokenVerificationError('ERR_ALG_NOT_ALLOWED', `alg ${alg} is not accepted`)
  if (header.crit !== undefined) throw new TokenVerificationError('ERR_HEADER_INVALID', 'crit header refused (no extension is understood)')
  if (header.b64 !== undefined) throw new TokenVerificationError('ERR_HEADER_INVALID', 'b64 header refused (unencoded payloads are not JWTs)')
  if (header.cty !== undefined && (typeof header.cty !== 'string' || normalizeTyp(header.cty) === 'jwt')) {
    throw new TokenVerificationError('ERR_HEADER_INVALID', 'nested JWT (cty JWT) refused')
  }
  for (const name of KEY_CARRYING_HEADERS) {
    if (header[name] !== undefined) throw new TokenVerificationError('ERR_HEADER_INVALID', `${name} header refused (keys come from configuration only)`)
  }
  if (header.kid !== undefined && (typeof header.kid !== 'string' || header.kid.length > MAX_KID_LENGTH)) {
    throw new TokenVerificationError('ERR_HEADER_INVALID', 'kid must be a string')
  }
  const typ = header.typ
  if (typ !== undefined && typeof typ !== 'string') throw new TokenVerificationError('ERR_TYP_INVALID', 'typ must be a string')
  const accepted: readonly string[] = policy.typ ?? (policy.requireTyp ? ['at+jwt'] : ['at+jwt', 'jwt'])
  if (typ === undefined) {
    if (policy.requireTyp) throw new TokenVerificationError('ERR_TYP_INVALID', `the JWS has no typ (accepted: ${accepted.join(', ')})`)
    return
  }
  if (!accepted.includes(normalizeTyp(typ))) throw new TokenVerificationError('ERR_TYP_INVALID', `typ ${typ} is not accepted (accepted: ${accepted.join(', ')})`)
}

/**
 * Maps anything jose (or a key resolver) throws to a {@link TokenVerificationError}. jose's own
 * errors are not kept as `cause`: claim errors carry the whole claim set.
 *
 * @example
 * ```ts
 * try { await jwtVerify(token, keys) } catch (err) { throw fromJoseError(err) }
 * ```
 */
export function fromJoseError(err: unknown): TokenVerificationError {
  if (err instanceof TokenVerificationError) return err
  if (err instanceof errors.JWTExpired) {
    return err.claim === 'iat'
      ? new TokenVerificationError('ERR_TOKEN_TOO_OLD', 'iat is older than maxTokenAge')
      : new TokenVerificationError('ERR_TOKEN_EXPIRED', 'the token has expired')
  }
  if (err instanceof errors.JWTClaimValidationFailed) {
    const { claim, reason } = err
    if (claim === 'nbf') return new TokenVerificationError('ERR_TOKEN_NOT_YET_VALID', 'nbf is in the future')
    if (claim === 'iat' && reason === 'check_failed') return new TokenVerificationError('ERR_IAT_IN_FUTURE', 'iat is in the future')
    if (claim === 'iss') return new TokenVerificationError('ERR_ISSUER_MISMATCH', 'iss does not match the configured issuer')
    if (claim === 'aud') return new TokenVerificationError('ERR_AUDIENCE_MISMATCH', 'aud is missing or does not name this resource')
    if (claim === 'typ') return new TokenVerificationError('ERR_TYP_INVALID', 'typ is not accepted')
    return new TokenVerificationError('ERR_CLAIM_INVALID', `"${claim}" claim is ${reason === 'missing' ? 'missing' : 'invalid'}`)
  }
  if (err instanceof errors.JWSSignatureVerificationFailed) return new TokenVerificationError('ERR_SIGNATURE_INVALID', 'the signature does not verify')
  if (err instanceof errors.JOSEAlgNotAllowed) return new TokenVerificationError('ERR_ALG_NOT_ALLOWED', 'alg is not accepted')
  if (err instanceof errors.JWKSNoMatchingKey) return new TokenVerificationError('ERR_KEY_NOT_FOUND', 'no configured key matches the token')
  if (err instanceof errors.JWKSTimeout) return new TokenVerificationError('ERR_JWKS_UNAVAILABLE', 'the JWKS request timed out')
  if (err instanceof errors.JWSInvalid || err instanceof errors.JWTInvalid) return new TokenVerificationError('ERR_TOKEN_MALFORMED', 'the token is not a well-formed JWT')
  if (err instanceof errors.JOSENotSupported) return new TokenVerificationError('ERR_HEADER_INVALID', 'the token uses an unsupported JOSE feature')
  if (err instanceof errors.JWKInvalid || err instanceof errors.JWKSInvalid) return new TokenVerificationError('ERR_KEY_REJECTED', 'the key is invalid')
  // jose signals unusable keys (RSA < 2048 bits, key/alg mismatch) with a TypeError.
  if (err instanceof TypeError) return new TokenVerificationError('ERR_KEY_REJECTED', 'the key cannot verify this token', { cause: err })
  return new TokenVerificationError('ERR_VERIFICATION_FAILED', 'token verification failed unexpectedly', { cause: err })
}

/**
 * Runs a jose verification with the key set's resolver; when a token without `kid` matches
 * several keys, tries each candidate (at most four) until one verifies.
 *
 * @example
 * ```ts
 * const result = await withCandidateKeys(keys.getKey, (getKey) => jwtVerify(token, getKey, options))
 * ```
 */
export async function withCandidateKeys<T>(getKey: JWTVerifyGetKey, run: (getKey: JWTVerifyGetKey) => Promise<T>): Promise<T> {
  try {
    return await run(getKey)
  } catch (err) {
    if (!(err instanceof errors.JWKSMultipleMatchingKeys)) throw err
    let tried = 0
    for await (const key of err) {
      if (++tried > MAX_CANDIDATE_KEYS) break
      try {
        return await run(async () => key)
      } catch (inner) {
        if (!(inner instanceof errors.JWSSignatureVerificationFailed)) throw inner
      }
    }
    throw new TokenVerificationError('ERR_SIGNATURE_INVALID', 'no candidate key verifies the signature')
  }
}

/**
 * The signature step alone: shape, header policy, configured keys, jose `compactVerify`. No
 * claim checks — use the JWT verifier for tokens; this exists for JWS test vectors.
 *
 * @throws {TokenVerificationError} on any refusal.
 * @example
 * ```ts
 * const { payload } = await verifyCompactJws(jws, createLocalKeySet(jwks, ['ES256']), { algorithms: ['ES256'], requireTyp: false })
 * ```
 */
export async function verifyCompactJws(token: string, keys: KeySet, policy: HeaderPolicy): Promise<CompactVerifyResult> {
  try {
    checkProtectedHeader(peekProtectedHeader(token), policy)
    return await withCandidateKeys(keys.getKey, (getKey) => compactVerify(token, getKey, { algorithms: [...policy.algorithms] }))
  } catch (err) {
    throw fromJoseError(err)
  }
}
