/**
 * The whole path for one HTTP call: verify the bearer credential (401 when missing or invalid, 400
 * for a malformed one), then decide the message. A failed credential is recorded like any decision.
 *
 * @module
 */
import { randomUUID } from 'node:crypto'
import { performance } from 'node:perf_hooks'
import type { Principal } from '../contracts/principal.ts'
import { bearerChallenge } from '../enforce/challenge.ts'
import { unauthorizedOutcome } from '../enforce/outcome.ts'
import type { Reason } from '../policy/decision.ts'
import type { CredentialVerifier, DecideContext, DecisionResult } from '../authz.ts'
import type { Core } from './core.ts'
import { decide } from './decide.ts'
import { nsSince } from './events.ts'

/** A refusal of the credential itself: recorded, answered with a challenge. */
function credentialFailure(core: Core, credential: string | undefined, started: number, status: 400 | 401, code: string, detail: string, transport: string | undefined): DecisionResult {
  const decisionId = randomUUID()
  const state = core.state()
  const reasons: Reason[] = [{ code: 'invalid_token', message: detail }]
  const elapsed = nsSince(started)
  core.recorder.refusal(decisionId, status, reasons, { code, message: detail }, { verify_ns: elapsed, total_ns: elapsed }, transport)
  const challenge = status === 401
    ? unauthorizedOutcome({ resourceMetadataUrl: state.metadataUrl, defaultScopes: state.challengeScopes }, credential !== undefined).wwwAuthenticate
    : bearerChallenge({ error: 'invalid_request' })
  return {
    decisionId,
    allow: false,
    status,
    ...(challenge !== undefined ? { wwwAuthenticate: challenge } : {}),
    reasons,
    requiredScopes: [],
    enforcement: 'enforced',
    wouldAllow: false,
    revision: state.active.revision,
  }
}

/**
 * Verifies, then decides. Never throws.
 *
 * @example
 * ```ts
 * const r = await check(core, verifier, token, message, { signal })
 * if (r.status === 401) res.writeHead(401, { 'www-authenticate': r.wwwAuthenticate })
 * ```
 */
export async function check(
  core: Core,
  verifier: CredentialVerifier | undefined,
  credential: string | undefined,
  message: unknown,
  context: DecideContext & { signal?: AbortSignal } = {},
): Promise<DecisionResult & { principal?: Principal }> {
  const started = core.recorder.active ? performance.now() : 0
  // No credential at all: a bare challenge (RFC 6750 § 3.1). An empty one was sent, and is invalid.
  if (credential === undefined) return credentialFailure(core, credential, started, 401, 'ERR_TOKEN_MISSING', 'no bearer credential', context.transport)
  if (credential === '') return credentialFailure(core, credential, started, 401, 'ERR_TOKEN_MISSING', 'empty bearer credential', context.transport)
  if (verifier === undefined) return credentialFailure(core, credential, started, 401, 'ERR_NO_VERIFIER', 'no verifier is configured', context.transport)
  let principal: Principal
  try {
    principal = await verifier.verify(credential, context.signal ? { signal: context.signal } : undefined)
  } catch (err) {
    const e = err as { code?: unknown; status?: unknown; message?: unknown }
    const code = typeof e.code === 'string' ? e.code : 'ERR_VERIFY_FAILED'
    return credentialFailure(core, credential, started, e.status === 400 ? 400 : 401, code, typeof e.message === 'string' ? e.message : 'verification failed', context.transport)
  }
  const result: DecisionResult & { principal?: Principal } = decide(core, principal, message, core.recorder.active ? { ...context, verifyNs: nsSince(started) } : context)
  result.principal = principal
  return result
}
