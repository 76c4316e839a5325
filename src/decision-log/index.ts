/**
 * The decision-log stage: one masked, redacted, OPA-shaped record per decision, sent to stdout,
 * a file, or an OPA-compatible collector. See `docs/decision-log.md`.
 *
 * @module
 */
export { DecisionLogError, type DecisionLogErrorCode } from './errors.ts'
export {
  createDecisionLogger,
  type DecisionLogger,
  type DecisionLoggerHooks,
  type DecisionLoggerOptions,
  type DecisionLoggerStats,
  type DropOptions,
  type SamplingOptions,
  type SinkConfig,
} from './logger.ts'
export { applyMasks, compileMasks, parsePointer, type CompiledMask, type MaskOutcome, type MaskRule } from './mask.ts'
export {
  classifyKey,
  compileScanner,
  looksLikeSecretValue,
  SECRET_PATTERNS,
  shannonEntropy,
  type CustomPatternOptions,
  type KeyClass,
  type SecretPattern,
  type SecretPatternName,
} from './patterns.ts'
export {
  buildDecisionRecord,
  createRecordBuilder,
  DEFAULT_LABELS,
  MAX_HIDDEN_LOGGED,
  type DecisionEvent,
  type EventDecision,
  type EventReason,
  type ListFiltering,
  type DecisionRecord,
  type McpRecordFields,
  type RecordLabels,
  type RecordOptions,
} from './record.ts'
export { CIRCULAR, createRedactor, errorText, isPrivateJwk, TRUNCATED, UNREADABLE, type RedactCallOptions, type RedactionOptions, type RedactionResult, type Redactor } from './redact.ts'
export { createFileSink, type FileSinkOptions } from './sinks/file.ts'
export { createHttpSink, type HttpRetryOptions, type HttpSink, type HttpSinkHooks, type HttpSinkOptions, type HttpSinkStats } from './sinks/http.ts'
export type { DecisionLogSink, SinkHooks, SinkStats } from './sinks/sink.ts'
export { createStdoutSink, type StdoutSinkOptions } from './sinks/stdout.ts'
export { OPA_DECISION_LOG_TYPE, type LineDestination, type LineSink, type LineSinkOptions } from './sinks/stream.ts'
