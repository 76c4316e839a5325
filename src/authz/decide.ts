/**
 * Deciding one JSON-RPC message for a verified principal: classify, build the policy input, evaluate
 * (through the decision cache when the bundle is provably deterministic), map to what the client is
 * told, record one event.
 *
 * @module
 */
import { randomUUID } from 'node:crypto'
import { performance } from 'node:perf_hooks'
import { classifyMessage } from '../action/classify.ts'
import { MESSAGE_INVALID } from '../action/errors.ts'
import type { Principal } from '../contracts/principal.ts'
import { decisionOutcome } from '../enforce/outcome.ts'
import type { Decision, PolicyInput, Reason } from '../policy/decision.ts'
import type { DecideContext, DecisionResult } from '../authz.ts'
import { isShadowed, type Core } from './core.ts'
import { nsSince, timings } from './events.ts'
import { policyInput } from './input.ts'

/** Reasons with the place each comes from, when the bundle says (for the decision log and `eval`). */
export function attributed(reasons: readonly Reason[], ruleOf: ReadonlyMap<string, string>): Reason[] {
  if (ruleOf.size === 0) return reasons as Reason[]
  return reasons.map((r) => {
    const rule = ruleOf.get(r.code)
    return rule === undefined || (r as { rule?: unknown }).rule !== undefined ? r : { ...r, rule }
  })
}

/** Evaluates one input, through the cache when allowed. Reports a policy error as an incident. */
export function evaluateInput(core: Core, principal: Principal, input: PolicyInput, decisionId: string): Decision {
  const state = core.state()
  let decision: Decision
  if (core.cache !== undefined && core.cacheActive()) {
    const key = core.cache.key(state.active.revision, principal, input.action, input.context.transport)
    decision = core.cache.get(key) ?? core.cache.set(key, core.engine.evaluate(input), principal)
  } else {
    decision = core.engine.evaluate(input)
  }
  const failure = decision.reasons.find((r) => r.code === 'policy_error')
  if (failure !== undefined) core.incident({ code: 'ERR_POLICY_EVAL', message: failure.message, decisionId })
  return decision
}

/**
 * Decides one message. Never throws.
 *
 * @example
 * ```ts
 * const result = decide(core, principal, '{"jsonrpc":"2.0","id":1,"method":"tools/list"}', {})
 * ```
 */
export function decide(core: Core, principal: Principal, message: unknown, context: DecideContext = {}): DecisionResult {
  const started = performance.now()
  const decisionId = randomUUID()
  const state = core.state()
  const revision = state.active.revision
  const classified = classifyMessage(message, core.limits)
  const classifyNs = nsSince(started)
  if (!classified.ok) {
    // Refused before any policy input existed, but the client holds this decision id: record it.
    core.recorder.refusal(decisionId, 400, [], { code: MESSAGE_INVALID, message: classified.error.message }, timings(started, context.verifyNs), context.transport)
    return {
      decisionId,
      allow: false,
      status: 400,
      jsonRpcError: classified.error,
      requestId: classified.id,
      reasons: [],
      requiredScopes: [],
      enforcement: 'enforced',
      wouldAllow: false,
      revision,
    }
  }
  const { action } = classified
  const input = policyInput(state.plan, principal, action, {
    server: state.server,
    transport: context.transport ?? core.transport,
    ...(context.requestId !== undefined ? { requestId: context.requestId } : {}),
    ...(context.annotations !== undefined ? { annotations: context.annotations } : {}),
  })
  const evalStart = performance.now()
  const decision = evaluateInput(core, principal, input, decisionId)
  const evalNs = nsSince(evalStart)
  const shadow = !decision.allow && isShadowed(core.shadow, action)
  const outcome = decisionOutcome(decision, {
    decisionId,
    resourceMetadataUrl: state.metadataUrl,
    isRequest: action.id !== undefined,
    ...(core.stepUpScopes === 'granted-and-required' && !decision.allow ? { stepUpScopes: core.stepUpScopes, grantedScopes: principal.scopes, knownScopes: state.knownScopes } : {}),
  })
  const reasons = attributed(decision.reasons, state.ruleOf)
  const result: DecisionResult = {
    decisionId,
    allow: decision.allow || shadow,
    status: shadow ? 200 : outcome.status,
    reasons,
    requiredScopes: decision.required_scopes,
    action,
    message: classified.message,
    input,
    requestId: action.id ?? null,
    enforcement: shadow ? 'shadow' : 'enforced',
    wouldAllow: decision.allow,
    revision,
  }
  if (!shadow && outcome.wwwAuthenticate !== undefined) result.wwwAuthenticate = outcome.wwwAuthenticate
  if (!shadow && outcome.jsonRpcError !== undefined) result.jsonRpcError = outcome.jsonRpcError
  const failure = decision.reasons.find((r) => r.code === 'policy_error')
  core.recorder.record({
    decisionId,
    input,
    result: reasons === decision.reasons ? decision : { ...decision, reasons },
    metrics: { ...timings(started, context.verifyNs), classify_ns: classifyNs, eval_ns: evalNs },
    enforcement: result.enforcement,
    wouldAllow: decision.allow,
    httpStatus: result.status,
    transport: input.context.transport,
    ...(failure !== undefined ? { error: { code: 'ERR_POLICY_EVAL', message: failure.message } } : {}),
  })
  return result
}
