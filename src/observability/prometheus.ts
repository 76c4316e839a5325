/**
 * Prometheus metrics of the decision endpoint — and of any embedded server that wants them — on
 * their own prom-client `Registry` (never the global one, so two servers in one process — and
 * tests — do not collide). The same metrics are available as OpenTelemetry metrics through
 * `createOtelDecisionHook` (`src/observability/`); both derive their labels with `decisionLabels`.
 * See `docs/observability.md`.
 *
 * @module
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'
import type { DecisionEvent } from '../decision-log/record.ts'
import { decisionLabels, isListFiltering, LATENCY_BUCKETS, stageSeconds, STAGES } from './labels.ts'

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
 * Creates the metrics on a fresh registry. Serve `registry.metrics()` (content type
 * `registry.contentType`) wherever Prometheus scrapes.
 *
 * @example
 * ```ts
 * const metrics = createServerMetrics()
 * const authz = await createAuthz({ bundle, onDecision: metrics.observeDecision })
 * app.get('/metrics', async (_req, res) => res.type(metrics.registry.contentType).send(await metrics.registry.metrics()))
 * ```
 */
export function createServerMetrics(options: MetricsOptions = {}): ServerMetrics {
  const registry = new Registry()
  if (options.processMetrics !== false) collectDefaultMetrics({ register: registry, prefix: 'mcp_authz_' })
  const decisions = new Counter({ name: 'mcp_authz_decisions_total', help: 'Decisions by result (allow, deny, shadow_deny) and first reason code', labelNames: ['result', 'reason'] as const, registers: [registry] })
  const latency = new Histogram({ name: 'mcp_authz_decision_duration_seconds', help: 'Decision latency by stage (verify, classify, eval, total)', labelNames: ['stage'] as const, buckets: [...LATENCY_BUCKETS], registers: [registry] })
  const verifyFailures = new Counter({ name: 'mcp_authz_verification_failures_total', help: 'Credential verification failures by error code', labelNames: ['code'] as const, registers: [registry] })
  const bundleInfo = new Gauge({ name: 'mcp_authz_bundle_info', help: 'The policy bundle revision serving (value 1)', labelNames: ['revision'] as const, registers: [registry] })
  const bundleLoaded = new Gauge({ name: 'mcp_authz_bundle_loaded_timestamp_seconds', help: 'When the serving bundle was activated', registers: [registry] })
  const reloadFailures = new Counter({ name: 'mcp_authz_bundle_reload_failures_total', help: 'Bundle reloads refused (download, signature, data or load failure)', labelNames: ['reason'] as const, registers: [registry] })

  return {
    registry,
    observeDecision(event) {
      if (isListFiltering(event)) return
      const labels = decisionLabels(event)
      decisions.inc({ result: labels.result, reason: labels.reason })
      if (labels.verificationFailure !== undefined) verifyFailures.inc({ code: labels.verificationFailure })
      for (const [stage, key] of STAGES) {
        const seconds = stageSeconds(event, key)
        if (seconds !== undefined) latency.observe({ stage }, seconds)
      }
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
