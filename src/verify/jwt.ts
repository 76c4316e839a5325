/**
 * RFC 9068 JWT access tokens from one pinned issuer: header policy first (no key lookup, no
 * crypto), then jose `jwtVerify` with the issuer's vetted keys (a signature failing under a cached
 * key gets one cooldown-limited key refetch and one retry: a reused `kid`), exact `iss`, required claims,
 * `exp`/`nbf` (and `iat` age) with bounded skew; then `iat` not in the future, `aud` containing
 * this server's canonical resource URI (RFC 8707), no `cnf` (sender-constrained tokens are not
 * bearer tokens), and normalisation into a {@link Principal}.
 *
 * @module
 */
import { errors, jwtVerify } from 'jose'
import type { JWTPayload } from 'jose'
import type { ResolvedIssuer } from './config.ts'
import { TokenVerificationError } from './errors.ts'
import { checkProtectedHeader, fromJoseError, peekProtectedHeader, withCandidateKeys } from './jws.ts'
import { createKeySet } from './key-set.ts'
import type { KeySet } from './key-set.ts'
import { normalizePrincipal, PrincipalError } from './principal.ts'
import type { Principal } from './principal.ts'
import { canonicalResourceUri } from './resource-uri.ts'
import { raceAbort } from './abort.ts'

/** Settings shared by every issuer. */
export interface JwtVerifierSettings {
  /** Canonical resource URI that `aud` must contain. */
  audience: string
  /** Allowed clock skew, seconds. */
  clockTolerance: number
  /** Maximum `iat` age, seconds, if any. */
  maxTokenAge: number | undefined
  /** Clock, milliseconds since the epoch. */
  now: () => number
  /** `fetch` for remote key sets. */
  fetch: typeof globalThis.fetch
}

/** Verifies JWT access tokens of one issuer. */
export interface JwtVerifier {
  /** The pinned issuer identifier. */
  readonly issuer: string
  /** Verifies a token already routed to this issuer; resolves to the principal and the time (ms) until which it may be memoized. */
  verify(token: string, signal?: AbortSignal): Promise<{ principal: Principal; validUntil: number }>
}

function isSignatureFailure(err: unknown): boolean {
  return err instanceof errors.JWSSignatureVerificationFailed || (err instanceof TokenVerificationError && err.code === 'ERR_SIGNATURE_INVALID')
}

/** Whether `aud` (string or array) contains `audience` in canonical form. */
function audienceContains(aud: unknown, audience: string): boolean {
  const values = typeof aud === 'string' ? [aud] : Array.isArray(aud) ? aud : []
  return values.some((v) => typeof v === 'string' && canonicalResourceUri(v) === audience)
}

/**
 * Creates the verifier of one issuer. Local key sets are vetted now (bad keys fail fast);
 * remote ones on first use.
 *
 * @throws {TypeError} when a local key set is unusable.
 * @example
 * ```ts
 * const [issuer] = resolveVerifierConfig(config).issuers
 * const jwt = createJwtVerifier(issuer, { audience: 'https://mcp.example.com/mcp', clockTolerance: 30, maxTokenAge: undefined, now: Date.now, fetch })
 * const { principal } = await jwt.verify(token)
 * ```
 */
export function createJwtVerifier(
  issuer: ResolvedIssuer,
  settings: JwtVerifierSettings,
  keys: KeySet = createKeySet(issuer, { fetch: settings.fetch, now: settings.now, allowInsecureHttp: issuer.allowInsecureHttp }),
): JwtVerifier {
  const policy = { algorithms: issuer.algorithms, requireTyp: issuer.requireTyp, typ: issuer.typ }
  return {
    issuer: issuer.issuer,
    async verify(token, signal) {
      let payload: JWTPayload
      try {
        const header = peekProtectedHeader(token)
        checkProtectedHeader(header, policy)
        const options = {
          algorithms: [...issuer.algorithms],
          issuer: issuer.issuer,
          requiredClaims: [...issuer.requiredClaims],
          clockTolerance: settings.clockTolerance,
          currentDate: new Date(settings.now()),
          ...(settings.maxTokenAge === undefined ? {} : { maxTokenAge: settings.maxTokenAge }),
        }
        const attempt = () => withCandidateKeys(keys.getKey, (getKey) => jwtVerify(token, getKey, options))
        // A signature failing under a cached key may mean the issuer reused the kid for a new key:
        // one refetch (cooldown-limited, shared) and one retry when that key changed.
        const run = attempt().catch(async (err: unknown) => {
          if (!isSignatureFailure(err) || !(await keys.refreshAfterSignatureFailure(header))) throw err
          return attempt()
        })
        ;({ payload } = await raceAbort(run, signal))
      } catch (err) {
        throw fromJoseError(err)
      }

      const nowSec = settings.now() / 1000
      if (typeof payload.iat === 'number' && payload.iat > nowSec + settings.clockTolerance) {
        throw new TokenVerificationError('ERR_IAT_IN_FUTURE', 'iat is in the future')
      }
      if (!audienceContains(payload.aud, settings.audience)) {
        throw new TokenVerificationError('ERR_AUDIENCE_MISMATCH', 'aud does not name this resource')
      }
      if (payload.cnf !== undefined) {
        // DPoP / mTLS-bound (RFC 9449, RFC 8705): accepting it as a bearer token would drop the binding.
        throw new TokenVerificationError('ERR_CLAIM_INVALID', 'sender-constrained token (cnf) presented as a bearer token')
      }

      let principal: Principal
      try {
        principal = normalizePrincipal(payload as Record<string, unknown>, {
          authMethod: 'jwt',
          token,
          tenantClaim: issuer.tenantClaim,
          issuerTenant: issuer.tenant,
          claimAllowlist: issuer.claims,
          claimPointers: issuer.claimPointers,
          acceptScp: issuer.acceptScp,
        })
      } catch (err) {
        if (err instanceof PrincipalError) throw new TokenVerificationError('ERR_CLAIM_INVALID', err.message)
        throw err
      }

      // jose guarantees exp is a number here (required claim, type-checked).
      let validUntil = (payload.exp as number) * 1000
      if (settings.maxTokenAge !== undefined && typeof payload.iat === 'number') {
        validUntil = Math.min(validUntil, (payload.iat + settings.maxTokenAge) * 1000)
      }
      return { principal, validUntil }
    },
  }
}
