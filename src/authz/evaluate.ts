/**
 * A raw policy input evaluated on the decision entrypoint, as OPA's Data API would (the decision
 * endpoint's OPA-compatible route). Recorded like any decision.
 *
 * @module
 */
import { randomUUID } from 'node:crypto'
import { performance } from 'node:perf_hooks'
import type { Decision, PolicyInput } from '../policy/decision.ts'
import type { Core } from './core.ts'
import { attributed } from './decide.ts'
import { nsSince } from './events.ts'

/**
 * Evaluates a whole input as given (no plan applies: the caller chose every field). Never throws.
 *
 * @example
 * ```ts
 * const { allow, decisionId } = evaluate(core, { principal, action: { method: 'tools/call', kind: 'tool', name: 'notes_read' }, server, context })
 * ```
 */
export function evaluate(core: Core, input: PolicyInput): Decision & { decisionId: string; revision?: string } {
  const started = performance.now()
  const decisionId = randomUUID()
  const state = core.state()
  const decision = core.engine.evaluate(input)
  const evalNs = nsSince(started)
  const failure = decision.reasons.find((r) => r.code === 'policy_error')
  if (failure !== undefined) core.incident({ code: 'ERR_POLICY_EVAL', message: failure.message, decisionId })
  const reasons = attributed(decision.reasons, state.ruleOf)
  const result = reasons === decision.reasons ? decision : { ...decision, reasons }
  core.recorder.record({
    decisionId,
    input,
    result,
    metrics: { eval_ns: evalNs, total_ns: evalNs },
    enforcement: 'enforced',
    wouldAllow: decision.allow,
    transport: input.context?.transport ?? core.transport,
    ...(failure !== undefined ? { error: { code: 'ERR_POLICY_EVAL', message: failure.message } } : {}),
  })
  return { ...result, decisionId, revision: state.active.revision }
}
