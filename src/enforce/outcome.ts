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

/** Context the challenge needs. */
export interface OutcomeContext {
  decisionId: string
  /** RFC 9728 metadata URL for `resource_metadata`. */
  resourceMetadataUrl?: string
  /** Scopes to advertise in a 401 challenge (e.g. the server's read scope). */
  defaultScopes?: readonly string[]
  /** Whether the action is a request (has an id) rather than a notification or response. */
  isRequest: boolean
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
        scope: decision.required_scopes,
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
