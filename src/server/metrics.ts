/**
 * Prometheus metrics of the decision endpoint, on their own prom-client `Registry` (never the
 * global one, so two servers in one process — and tests — do not collide).
 *
 * @module
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'
import { MESSAGE_INVALID } from '../action/errors.ts'
import type { DecisionEvent } from '../authz.ts'

const LATENCY_BUCKETS = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1]

/** The endpoint's metrics and the hooks that feed them. */
export interface ServerMetrics {
  readonly registry: Registry
  /** Feeds one decision (plug into `createAuthz({ onDecision })`). */
  observeDecision(event: DecisionEvent): void
  /** Records the bundle revision now serving. */
  bundleActivated(revision: string): void
  /** Counts a failed bundle reload. */
  reloadFailed(reason: string): void
}

/** Options of {@link createServerMetrics}. */
export interface MetricsOptions {
  /** Also collect Node process metrics (CPU, memory, event loop). Default `true`. */
  processMetrics?: boolean
}

/**
 * Creates the metrics on a fresh registry.
 *
 * @example
 * ```ts
 * const metrics = createServerMetrics()
 * const authz = await createAuthz({ bundle, onDecision: metrics.observeDecision })
 * ```
 */
export function createServerMetrics(options: MetricsOptions = {}): ServerMetrics {
  const registry = new Registry()
  if (options.processMetrics !== false) collectDefaultMetrics({ register: registry, prefix: 'mcp_authz_' })
  const decisions = new Counter({ name: 'mcp_authz_decisions_total', help: 'Decisions by result (allow, deny, shadow_deny) and first reason code', labelNames: ['result', 'reason'] as const, registers: [registry] })
  const latency = new Histogram({ name: 'mcp_authz_decision_duration_seconds', help: 'Decision latency by stage (verify, eval, total)', labelNames: ['stage'] as const, buckets: LATENCY_BUCKETS, registers: [registry] })
  const verifyFailures = new Counter({ name: 'mcp_authz_verification_failures_total', help: 'Credential verification failures by error code', labelNames: ['code'] as const, registers: [registry] })
  const bundleInfo = new Gauge({ name: 'mcp_authz_bundle_info', help: 'The policy bundle revision serving (value 1)', labelNames: ['revision'] as const, registers: [registry] })
  const bundleLoaded = new Gauge({ name: 'mcp_authz_bundle_loaded_timestamp_seconds', help: 'When the serving bundle was activated', registers: [registry] })
  const reloadFailures = new Counter({ name: 'mcp_authz_bundle_reload_failures_total', help: 'Bundle reloads refused (download, signature, data or load failure)', labelNames: ['reason'] as const, registers: [registry] })

  return {
    registry,
    observeDecision(event) {
      const result = event.result.allow ? 'allow' : event.enforcement === 'shadow' ? 'shadow_deny' : 'deny'
      const malformed = event.error?.code === MESSAGE_INVALID
      const reason = event.result.allow ? 'none' : malformed ? 'invalid_message' : event.error !== undefined ? 'invalid_token' : (event.result.reasons[0]?.code ?? 'unknown')
      decisions.inc({ result, reason })
      if (event.error !== undefined && !malformed) verifyFailures.inc({ code: event.error.code })
      const m = event.metrics
      if (m.verify_ns !== undefined) latency.observe({ stage: 'verify' }, m.verify_ns / 1e9)
      if (m.eval_ns !== undefined) latency.observe({ stage: 'eval' }, m.eval_ns / 1e9)
      latency.observe({ stage: 'total' }, m.total_ns / 1e9)
    },
    bundleActivated(revision) {
      bundleInfo.reset()
      bundleInfo.set({ revision }, 1)
      bundleLoaded.set(Date.now() / 1000)
    },
    reloadFailed(reason) {
      reloadFailures.inc({ reason })
    },
  }
}
