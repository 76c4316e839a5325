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
import type { BundleState } from './state.ts'
import { isShadowed, type Core } from './core.ts'
import { nsSince, timings } from './events.ts'
import { argumentsReach, policyInput } from './input.ts'

/** Reasons with the place each comes from, when the bundle says (for the decision log and `eval`). */
export function attributed(reasons: readonly Reason[], ruleOf: ReadonlyMap<string, string>): Reason[] {
  if (ruleOf.size === 0 || reasons.length === 0) return reasons as Reason[]
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
 * The policy's answer for one input: from the principal's table when the bundle and the call
 * qualify (src/authz/table.ts), else evaluated (through the decision cache when allowed) and kept
 * in the table for the next call.
 */
function answer(core: Core, state: BundleState, principal: Principal, input: PolicyInput, decisionId: string, nowMs: number): Decision {
  const tables = state.tables
  if (tables === undefined || argumentsReach(state.plan, input.action) || !tables.accepts(principal)) return evaluateInput(core, principal, input, decisionId)
  return tables.decision(principal, input.action, nowMs) ?? tables.keepDecision(principal, input.action, evaluateInput(core, principal, input, decisionId), nowMs)
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
  // Timings exist only for the decision event: without a consumer, the clock is not read.
  const recording = core.recorder.active
  const started = recording ? performance.now() : 0
  const decisionId = randomUUID()
  const state = core.state()
  const revision = state.active.revision
  const classified = classifyMessage(message, core.limits)
  const classifyNs = recording ? nsSince(started) : 0
  if (!classified.ok) {
    // Refused before any policy input existed, but the client holds this decision id: record it.
    if (recording) core.recorder.refusal(decisionId, 400, [], { code: MESSAGE_INVALID, message: classified.error.message }, timings(started, context.verifyNs), context.transport)
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
  const nowMs = Date.now()
  const input = policyInput(state.plan, principal, action, {
    server: state.server,
    transport: context.transport ?? core.transport,
    nowMs,
    ...(context.requestId !== undefined ? { requestId: context.requestId } : {}),
    ...(context.annotations !== undefined ? { annotations: context.annotations } : {}),
  })
  const evalStart = recording ? performance.now() : 0
  const decision = answer(core, state, principal, input, decisionId, nowMs)
  const evalNs = recording ? nsSince(evalStart) : 0
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
  if (recording) {
    const failure = decision.allow ? undefined : decision.reasons.find((r) => r.code === 'policy_error')
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
  }
  return result
}
