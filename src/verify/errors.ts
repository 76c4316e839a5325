/**
 * The one error type token verification throws: {@link TokenVerificationError}, with a stable
 * `code` for the decision log and the RFC 6750 § 3.1 mapping for the HTTP layer.
 *
 * The client never learns which check failed: the HTTP layer answers every code with the same
 * generic `401` challenge. The code is for operators (decision log, metrics). No message ever
 * contains the credential.
 *
 * @module
 */
import { AuthzError } from '../errors.ts'

/**
 * Stable codes of {@link TokenVerificationError}. See `docs/verification.md` for the table.
 *
 * - `ERR_TOKEN_MISSING` — no credential at all (RFC 6750 § 3.1: challenge without an error code).
 * - `ERR_TOKEN_TOO_LARGE` — longer than `maxTokenLength` bytes; refused before any parsing.
 * - `ERR_TOKEN_MALFORMED` — not RFC 6750 `b64token` syntax, not a compact JWS, bad base64url/JSON,
 *   JSON serialization, JWE, or no verifier accepts this shape.
 * - `ERR_ISSUER_UNKNOWN` — the unverified `iss` names no configured issuer (no network call made).
 * - `ERR_ISSUER_MISMATCH` — an introspection response names another issuer.
 * - `ERR_ALG_NOT_ALLOWED` — `alg` is `none` (any case), symmetric, or not in the issuer's allowlist.
 * - `ERR_HEADER_INVALID` — `crit`, `b64`, nested `cty: JWT`, or a key-carrying header
 *   (`jwk`, `jku`, `x5u`), or a non-string `kid`.
 * - `ERR_TYP_INVALID` — `typ` is not `at+jwt` where RFC 9068 typing is required, or names
 *   another JWT type (`dpop+jwt`, `logout+jwt`, …).
 * - `ERR_KEY_NOT_FOUND` — no configured key matches the `kid`/`alg`.
 * - `ERR_KEY_REJECTED` — the matching key was refused when the key set was loaded (weak RSA,
 *   ROCA, private material, wrong `use`/`key_ops`…) or is pinned to another `alg`.
 * - `ERR_SIGNATURE_INVALID` — the signature does not verify.
 * - `ERR_TOKEN_EXPIRED` — `exp` is past, beyond the clock tolerance.
 * - `ERR_TOKEN_NOT_YET_VALID` — `nbf` is in the future, beyond the clock tolerance.
 * - `ERR_IAT_IN_FUTURE` — `iat` is in the future, beyond the clock tolerance.
 * - `ERR_TOKEN_TOO_OLD` — `iat` is older than `maxTokenAge`.
 * - `ERR_AUDIENCE_MISMATCH` — `aud` is missing or does not contain this server's resource URI.
 * - `ERR_CLAIM_INVALID` — a required claim is missing or has the wrong type (e.g. `scope` array).
 * - `ERR_JWKS_UNAVAILABLE` — the remote JWKS could not be fetched (down, slow, oversize, garbage).
 * - `ERR_INTROSPECTION_UNAVAILABLE` — the introspection endpoint failed (fail closed).
 * - `ERR_TOKEN_INACTIVE` — the introspection endpoint answered `active: false`.
 * - `ERR_API_KEY_UNKNOWN` — the API key matches no configured hash.
 * - `ERR_VERIFICATION_ABORTED` — the caller's `AbortSignal` fired.
 * - `ERR_VERIFICATION_FAILED` — anything unexpected (wrapped, fail closed).
 */
export type TokenVerificationErrorCode =
  | 'ERR_TOKEN_MISSING'
  | 'ERR_TOKEN_TOO_LARGE'
  | 'ERR_TOKEN_MALFORMED'
  | 'ERR_ISSUER_UNKNOWN'
  | 'ERR_ISSUER_MISMATCH'
  | 'ERR_ALG_NOT_ALLOWED'
  | 'ERR_HEADER_INVALID'
  | 'ERR_TYP_INVALID'
  | 'ERR_KEY_NOT_FOUND'
  | 'ERR_KEY_REJECTED'
  | 'ERR_SIGNATURE_INVALID'
  | 'ERR_TOKEN_EXPIRED'
  | 'ERR_TOKEN_NOT_YET_VALID'
  | 'ERR_IAT_IN_FUTURE'
  | 'ERR_TOKEN_TOO_OLD'
  | 'ERR_AUDIENCE_MISMATCH'
  | 'ERR_CLAIM_INVALID'
  | 'ERR_JWKS_UNAVAILABLE'
  | 'ERR_INTROSPECTION_UNAVAILABLE'
  | 'ERR_TOKEN_INACTIVE'
  | 'ERR_API_KEY_UNKNOWN'
  | 'ERR_VERIFICATION_ABORTED'
  | 'ERR_VERIFICATION_FAILED'

/** RFC 6750 § 3.1 error codes a resource server puts in its `WWW-Authenticate: Bearer` challenge. */
export type BearerErrorCode = 'invalid_request' | 'invalid_token'

/**
 * A credential was refused. `code` says why (for logs); `status` and `oauthError` say what the
 * HTTP layer answers (the same for every code but `ERR_TOKEN_MISSING`).
 *
 * @example
 * ```ts
 * try {
 *   principal = await verifier.verify(token)
 * } catch (err) {
 *   if (err instanceof TokenVerificationError) {
 *     log.info({ reason: err.code }, 'token refused')
 *     reply.code(err.status).header('WWW-Authenticate', challenge(err.oauthError))
 *   } else throw err
 * }
 * ```
 */
export class TokenVerificationError extends AuthzError {
  declare readonly code: TokenVerificationErrorCode
  /** HTTP status to answer with: always `401` (a refused credential, RFC 6750 § 3.1). */
  readonly status: 401
  /**
   * The `error` attribute of the challenge: `invalid_token`, or `undefined` for
   * `ERR_TOKEN_MISSING` (RFC 6750 § 3.1: a request without credentials gets a bare challenge).
   */
  readonly oauthError: BearerErrorCode | undefined

  constructor(code: TokenVerificationErrorCode, message: string, options?: ErrorOptions) {
    super(code, message, options)
    this.status = 401
    this.oauthError = code === 'ERR_TOKEN_MISSING' ? undefined : 'invalid_token'
  }
}

/**
 * Turns anything thrown inside a verifier into a {@link TokenVerificationError}, so no untyped
 * error escapes `verify`. Unknown errors become `ERR_VERIFICATION_FAILED` (fail closed), the
 * original kept as `cause` for operators.
 *
 * @example
 * ```ts
 * try { … } catch (err) { throw asVerificationError(err) }
 * ```
 */
export function asVerificationError(err: unknown): TokenVerificationError {
  if (err instanceof TokenVerificationError) return err
  return new TokenVerificationError('ERR_VERIFICATION_FAILED', 'token verification failed unexpectedly', { cause: err })
}
