/**
 * The decision contract: what the `mcp/authz/decision` entrypoint returns, and the policy input
 * it is evaluated on. Contracts: `schemas/decision.schema.json`, `schemas/input.schema.json`.
 *
 * @module
 */
import type { Action } from '../action/action.ts'
import type { Principal } from '../contracts/principal.ts'

/** Stable reason codes of the default policy library (custom policies may add their own). */
export type ReasonCode =
  | 'insufficient_scope'
  | 'tool_not_allowed'
  | 'resource_not_allowed'
  | 'prompt_not_allowed'
  | 'client_not_allowed'
  | 'role_not_allowed'
  | 'tenant_not_allowed'
  | 'issuer_not_trusted'
  | 'tenant_mismatch'
  | 'audience_mismatch'
  | 'argument_denied'
  | 'method_not_allowed'
  | 'default_deny'
  | 'policy_error'
  | (string & {})

/** Why a call was denied. Messages are for operators (decision log), never sent to clients. */
export interface Reason {
  code: ReasonCode
  message: string
}

/** The result of one decision. */
export interface Decision {
  /** Whether the call may proceed. */
  allow: boolean
  /** Every reason that denies the call (empty when allowed). */
  reasons: Reason[]
  /** Scopes that would turn this into an allow, when missing scopes are a reason (drives the 403 challenge). */
  required_scopes: string[]
}

/** The policy input, exactly as given to the WASM policy. */
export interface PolicyInput {
  principal: Principal
  action: Action
  server: { resource: string; name?: string }
  context: { time_ns: number; transport: string; request_id?: string }
}
