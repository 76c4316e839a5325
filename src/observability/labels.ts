/**
 * The low-cardinality facts every metrics consumer derives from a decision event — the outcome and
 * the first reason — so the Prometheus metrics of the endpoint and the OpenTelemetry metrics of an
 * embedded server count the same things under the same labels.
 *
 * @module
 */
import { MESSAGE_INVALID } from '../action/errors.ts'
import type { DecisionEvent } from '../decision-log/record.ts'

/** Labels of one decision. */
export interface DecisionLabels {
  /** `allow`, `deny`, or `shadow_deny` (denied by the policy, let through by shadow mode). */
  result: 'allow' | 'deny' | 'shadow_deny'
  /** `none` for an allow; otherwise `invalid_message`, `invalid_token`, or the first reason code (`unknown` when there is none). */
  reason: string
  /** The verification error code, when the credential was refused before any policy input existed (not for a malformed message). */
  verificationFailure?: string
}

/**
 * Derives the labels of a decision event.
 *
 * @example
 * ```ts
 * decisionLabels(event) // { result: 'deny', reason: 'insufficient_scope' }
 * ```
 */
export function decisionLabels(event: DecisionEvent): DecisionLabels {
  const allow = event.result?.allow === true
  const result = allow ? 'allow' : event.enforcement === 'shadow' ? 'shadow_deny' : 'deny'
  const code = event.error?.code
  const malformed = code === MESSAGE_INVALID
  // Refused before any policy input existed: a bad message, or a credential that did not verify.
  // An error on an event with an input is the cause of a policy failure, not a verification failure.
  const refused = code !== undefined && event.input === undefined
  const first = event.result?.reasons?.[0]?.code
  const reason = allow ? 'none' : malformed ? 'invalid_message' : refused ? 'invalid_token' : typeof first === 'string' ? first : 'unknown'
  const labels: DecisionLabels = { result, reason }
  if (refused && !malformed) labels.verificationFailure = typeof code === 'string' ? code : 'unknown'
  return labels
}

/**
 * Whether an event is the list-filtering evaluation of a list call (path `mcp/authz/visible`) rather
 * than a decision: the list call itself was counted already, so metrics of decisions skip it.
 */
export function isListFiltering(event: DecisionEvent): boolean {
  return event.list !== undefined
}

/** Histogram buckets of the decision latency, in seconds (50 µs to 1 s). */
export const LATENCY_BUCKETS: readonly number[] = Object.freeze([0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1])

/** The stages timed in an event, with the metric label each is recorded under. */
export const STAGES = [
  ['verify', 'verify_ns'],
  ['classify', 'classify_ns'],
  ['eval', 'eval_ns'],
  ['total', 'total_ns'],
] as const

/** A stage duration of an event in seconds, or `undefined` when it was not measured (or is not a finite non-negative number). */
export function stageSeconds(event: DecisionEvent, key: (typeof STAGES)[number][1]): number | undefined {
  const ns = event.metrics?.[key]
  return typeof ns === 'number' && Number.isFinite(ns) && ns >= 0 ? ns / 1e9 : undefined
}
