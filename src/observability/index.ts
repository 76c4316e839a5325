/**
 * Observability of decisions where users already look: OpenTelemetry spans and metrics
 * ({@link createOtelDecisionHook}), one `onDecision` for several consumers
 * ({@link combineDecisionConsumers}), and the labels shared with the Prometheus metrics of
 * `createServerMetrics`. See `docs/observability.md`.
 *
 * @module
 */
export { combineDecisionConsumers, type CombineOptions, type DecisionConsumer } from './combine.ts'
export { decisionLabels, LATENCY_BUCKETS, type DecisionLabels } from './labels.ts'
export {
  createOtelDecisionHook,
  INSTRUMENTATION_SCOPE,
  METRIC_NAMES,
  SPAN_ATTRIBUTES,
  type EventLogger,
  type OtelDecisionHook,
  type OtelDecisionHookOptions,
} from './otel.ts'
