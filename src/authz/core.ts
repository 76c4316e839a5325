/**
 * The engine's moving parts, shared by the pieces of `createAuthz` (decide, check, visible,
 * evaluate, load): the policy engine, the per-bundle state, the decision cache and the recorder.
 *
 * @module
 */
import type { Action } from '../action/action.ts'
import type { MessageLimits } from '../action/limits.ts'
import type { StepUpScopes } from '../enforce/outcome.ts'
import type { DecisionCache } from '../policy/decision-cache.ts'
import type { PolicyEngine } from '../policy/engine.ts'
import type { Recorder } from './events.ts'
import type { BundleState } from './state.ts'

/** Shadow mode: decide and log, but let the call through. */
export type ShadowConfig = boolean | { tools?: readonly string[]; methods?: readonly string[] }

/** An error the engine reports besides answering (a policy that fails to evaluate). */
export interface AuthzIncident {
  /** Stable code, e.g. `ERR_POLICY_EVAL`. */
  code: string
  /** What went wrong, as the policy runtime said it. */
  message: string
  /** The decision it happened in. */
  decisionId: string
}

/** Shared by every piece of one engine. */
export interface Core {
  readonly engine: PolicyEngine
  readonly limits: Readonly<Required<MessageLimits>>
  readonly transport: string
  readonly shadow: ShadowConfig | undefined
  /** Which scopes a 403 step-up challenge names. */
  readonly stepUpScopes: StepUpScopes
  readonly cache: DecisionCache | undefined
  readonly recorder: Recorder
  /** The state of the bundle serving now. */
  state(): BundleState
  /** Whether the decision cache may serve the bundle serving now. */
  cacheActive(): boolean
  /** Reports an incident (default: one line on stderr). */
  incident(incident: AuthzIncident): void
}

/** Whether shadow mode covers an action. */
export function isShadowed(shadow: ShadowConfig | undefined, action: Action): boolean {
  if (shadow === undefined || shadow === false) return false
  if (shadow === true) return true
  if (action.kind === 'tool' && action.name !== undefined && shadow.tools?.includes(action.name)) return true
  return shadow.methods?.includes(action.method) ?? false
}
