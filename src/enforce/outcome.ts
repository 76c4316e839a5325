/**
 * Maps a decision to what the client is told: the HTTP status, the Bearer challenge, the
 * JSON-RPC error. Clients get generic messages; reasons stay in the decision log.
 *
 * @module
 */
import { JsonRpcErrorCode, type JsonRpcError } from '../action/errors.ts'
import type { Decision } from '../policy/decision.ts'
import { bearerChallenge } from './challenge.ts'

/** What to send back for one decision. */
export interface Outcome {
  /**
   * 200: allowed, or denied with a JSON-RPC error (Streamable HTTP answers JSON-RPC errors with 200);
   * 400: malformed; 401: no/invalid token, or a token not issued for this server;
   * 403: scopes missing (step-up) or a denied notification (no JSON-RPC channel to answer on).
   */
  status: 200 | 400 | 401 | 403
  /** `WWW-Authenticate` value for 401/403. */
  wwwAuthenticate?: string
  /** JSON-RPC error for a denied request (generic message, decision id in data). */
  jsonRpcError?: JsonRpcError
}

/** Reasons meaning "this token is not for this server": answered like an invalid token. */
const TOKEN_REASONS = new Set(['issuer_not_trusted', 'audience_mismatch'])

/**
 * Which scopes a `403 insufficient_scope` challenge names (MCP authorization 2025-11-25,
 * "Server Scope Management"):
 *
 * - `'required'` — exactly the scopes this call needs (RFC 6750 § 3.1; the MCP "minimum approach").
 *   A client that re-authorizes with only these (the SDK 1.32 client does) gets a token that has
 *   lost its earlier scopes: write-then-read costs three authorizations.
 * - `'granted-and-required'` — the scopes the token already carries that this server knows
 *   (`knownScopes`), plus the missing ones (the MCP "recommended approach"): re-authorizing with
 *   exactly the challenge keeps the earlier permissions. Scopes of other servers or of OpenID
 *   Connect (`openid`, `profile`, `offline_access`…) are never echoed.
 */
export type StepUpScopes = 'required' | 'granted-and-required'

/** Context the challenge needs. */
export interface OutcomeContext {
  decisionId: string
  /** RFC 9728 metadata URL for `resource_metadata`. */
  resourceMetadataUrl?: string
  /** Scopes to advertise in a 401 challenge (e.g. the server's read scope). */
  defaultScopes?: readonly string[]
  /** Whether the action is a request (has an id) rather than a notification or response. */
  isRequest: boolean
  /** Which scopes a 403 step-up challenge names (see {@link StepUpScopes}). Default: `'required'`. */
  stepUpScopes?: StepUpScopes
  /** The scopes the token carries (`principal.scopes`); read with `'granted-and-required'`. Default: none. */
  grantedScopes?: readonly string[]
  /**
   * The scopes this server knows (e.g. `scopesNamed(bundle.config)`): only these granted scopes are
   * echoed with `'granted-and-required'`. Default: none known, so nothing granted is echoed.
   */
  knownScopes?: readonly string[]
}

/**
 * The `scope` of a 403 challenge: the required scopes, preceded — with `'granted-and-required'` —
 * by the granted scopes this server knows. Unique, order kept (granted first, then required).
 *
 * @example
 * ```ts
 * stepUpScope(['notes:write'], { stepUpScopes: 'granted-and-required', grantedScopes: ['notes:read', 'openid'], knownScopes: ['notes:read', 'notes:write'] })
 * // ['notes:read', 'notes:write']
 * ```
 */
export function stepUpScope(required: readonly string[], ctx: Pick<OutcomeContext, 'stepUpScopes' | 'grantedScopes' | 'knownScopes'>): string[] {
  if (ctx.stepUpScopes !== 'granted-and-required') return [...new Set(required)]
  const known = new Set(ctx.knownScopes ?? [])
  const granted = (ctx.grantedScopes ?? []).filter((s) => known.has(s))
  return [...new Set([...granted, ...required])]
}

/** 401 for a missing or invalid credential. `error` is omitted when no credential was sent (RFC 6750 § 3.1). */
export function unauthorizedOutcome(ctx: Pick<OutcomeContext, 'resourceMetadataUrl' | 'defaultScopes'>, credentialSent: boolean): Outcome {
  return {
    status: 401,
    wwwAuthenticate: bearerChallenge({
      ...(credentialSent ? { error: 'invalid_token' as const, errorDescription: 'The access token is invalid' } : {}),
      ...(ctx.defaultScopes ? { scope: ctx.defaultScopes } : {}),
      ...(ctx.resourceMetadataUrl ? { resourceMetadata: ctx.resourceMetadataUrl } : {}),
    }),
  }
}

/**
 * Decides what the client sees for a decision.
 *
 * @example
 * ```ts
 * decisionOutcome({ allow: false, reasons: [{ code: 'insufficient_scope', message: '…' }], required_scopes: ['notes:write'] }, { decisionId, isRequest: true })
 * // { status: 403, wwwAuthenticate: 'Bearer error="insufficient_scope", scope="notes:write", …' }
 * ```
 */
export function decisionOutcome(decision: Decision, ctx: OutcomeContext): Outcome {
  if (decision.allow) return { status: 200 }
  const codes = decision.reasons.map((r) => r.code)
  if (codes.some((c) => TOKEN_REASONS.has(c))) return unauthorizedOutcome(ctx, true)
  if (codes.length > 0 && codes.every((c) => c === 'insufficient_scope') && decision.required_scopes.length > 0) {
    return {
      status: 403,
      wwwAuthenticate: bearerChallenge({
        error: 'insufficient_scope',
        scope: stepUpScope(decision.required_scopes, ctx),
        errorDescription: 'Additional scope is required for this request',
        ...(ctx.resourceMetadataUrl ? { resourceMetadata: ctx.resourceMetadataUrl } : {}),
      }),
    }
  }
  if (!ctx.isRequest) return { status: 403 }
  return {
    status: 200,
    jsonRpcError: { code: JsonRpcErrorCode.Forbidden, message: 'Forbidden', data: { decision_id: ctx.decisionId } },
  }
}
