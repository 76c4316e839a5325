/**
 * Errors of the policy stage.
 *
 * @module
 */
import { AuthzError } from '../errors.ts'

/** Stable codes of {@link PolicyError}. */
export type PolicyErrorCode =
  | 'ERR_BUNDLE_INVALID'
  | 'ERR_BUNDLE_TOO_LARGE'
  | 'ERR_DATA_INVALID'
  | 'ERR_POLICY_LOAD'
  | 'ERR_POLICY_EVAL'
  | 'ERR_NO_BUNDLE'
  | 'ERR_OPA_BUILD'

/** A bundle that cannot be loaded, data that fails its schema, or an evaluation that failed. */
export class PolicyError extends AuthzError {
  declare readonly code: PolicyErrorCode
  /** For `ERR_DATA_INVALID`: every problem, by JSON path. */
  readonly problems: ReadonlyArray<{ path: string; message: string }>
  constructor(code: PolicyErrorCode, message: string, options?: ErrorOptions & { problems?: Array<{ path: string; message: string }> }) {
    super(code, message, options)
    this.problems = options?.problems ?? []
  }
}
