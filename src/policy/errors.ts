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
  | 'ERR_OPA_MISSING'
  | 'ERR_POLICY_INVALID'
  | 'ERR_BUILTIN_UNSUPPORTED'
  | 'ERR_NO_LIBRARY'

/**
 * A bundle that cannot be loaded, data that fails its schema, Rego with an authoring mistake caught
 * at build (`ERR_POLICY_INVALID`, every problem with its file:line), a builtin the runtime cannot
 * execute (`ERR_BUILTIN_UNSUPPORTED`), a missing `opa` CLI (`ERR_OPA_MISSING`), or an evaluation
 * that failed.
 */
export class PolicyError extends AuthzError {
  declare readonly code: PolicyErrorCode
  /** For `ERR_DATA_INVALID`, `ERR_POLICY_INVALID` and `ERR_BUILTIN_UNSUPPORTED`: every problem, by JSON path or file:line. */
  readonly problems: ReadonlyArray<{ path: string; message: string }>
  constructor(code: PolicyErrorCode, message: string, options?: ErrorOptions & { problems?: Array<{ path: string; message: string }> }) {
    super(code, message, options)
    this.problems = options?.problems ?? []
  }
}
