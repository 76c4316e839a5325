/**
 * Errors of the decision-log stage. None of them ever reaches the decision path: sinks report them
 * through the `onError` hook of {@link createDecisionLogger} and count them in `stats()`.
 *
 * @module
 */
import { AuthzError } from '../errors.ts'

/** Stable codes of {@link DecisionLogError}. */
export type DecisionLogErrorCode =
  /** A record could not be built (a bug, or an input that defeats the redactor); a minimal record was logged instead. */
  | 'ERR_DECISION_LOG_RECORD_FAILED'
  /** A stream or file sink could not write (disk full, closed pipe, file not openable). */
  | 'ERR_DECISION_LOG_WRITE_FAILED'
  /** A sink's bounded buffer is full; new records are dropped and counted until it drains. */
  | 'ERR_DECISION_LOG_BUFFER_FULL'
  /** An HTTP upload failed for good (non-retryable status, or retries exhausted); its records are counted as failed. */
  | 'ERR_DECISION_LOG_UPLOAD_FAILED'

/**
 * A problem inside the decision log. Reported, never thrown into a decision.
 *
 * @example
 * ```ts
 * createDecisionLogger(options, {
 *   onError(err) {
 *     if (err.code === 'ERR_DECISION_LOG_UPLOAD_FAILED') metrics.uploadFailures.inc()
 *   },
 * })
 * ```
 */
export class DecisionLogError extends AuthzError {
  declare readonly code: DecisionLogErrorCode
  /** Name of the sink at fault (`stdout`, `file`, `http`, or a custom name), when a sink is at fault. */
  readonly sink: string | undefined
  constructor(code: DecisionLogErrorCode, message: string, options?: ErrorOptions & { sink?: string }) {
    super(code, message, options)
    this.sink = options?.sink
  }
}
