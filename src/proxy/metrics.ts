/**
 * The proxy's own Prometheus metrics, registered beside the decision metrics of the endpoint
 * (`mcp_authz_decisions_total`, …) on the same registry:
 *
 * - `mcp_authz_proxy_upstream_requests_total{upstream,status}` — requests answered by the upstream, by HTTP status (stdio: `200`);
 * - `mcp_authz_proxy_upstream_failures_total{upstream,reason}` — `connect`, `timeout`, `lost` (died mid-stream), `too_large`, `refused` (upstream 401/403), `bad_response`, `busy`, `spawn`;
 * - `mcp_authz_proxy_upstream_duration_seconds{upstream}` — time to the upstream's response headers (stdio: to the response);
 * - `mcp_authz_proxy_stdio_processes` — stdio processes alive.
 *
 * @module
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client'

/** The hooks the upstreams feed. */
export interface ProxyMetrics {
  upstreamAnswered(upstream: 'http' | 'stdio', status: number, seconds: number): void
  upstreamFailed(upstream: 'http' | 'stdio', reason: string): void
}

/**
 * Registers the proxy metrics on `registry`.
 *
 * @example
 * ```ts
 * const metrics = createProxyMetrics(serverMetrics.registry, { processes: () => upstream.processes })
 * ```
 */
export function createProxyMetrics(registry: Registry | undefined, gauges: { processes?: () => number } = {}): ProxyMetrics {
  if (registry === undefined) return { upstreamAnswered: () => undefined, upstreamFailed: () => undefined }
  const answered = new Counter({ name: 'mcp_authz_proxy_upstream_requests_total', help: 'Requests answered by the upstream, by HTTP status', labelNames: ['upstream', 'status'] as const, registers: [registry] })
  const failed = new Counter({ name: 'mcp_authz_proxy_upstream_failures_total', help: 'Upstream failures by reason (connect, timeout, lost, too_large, refused, bad_response, busy, spawn)', labelNames: ['upstream', 'reason'] as const, registers: [registry] })
  const latency = new Histogram({
    name: 'mcp_authz_proxy_upstream_duration_seconds',
    help: "Time to the upstream's response headers (stdio: to the response)",
    labelNames: ['upstream'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 2.5, 10, 60],
    registers: [registry],
  })
  if (gauges.processes !== undefined) {
    const read = gauges.processes
    new Gauge({
      name: 'mcp_authz_proxy_stdio_processes',
      help: 'stdio upstream processes alive',
      registers: [registry],
      collect() {
        this.set(read())
      },
    })
  }
  return {
    upstreamAnswered(upstream, status, seconds) {
      answered.inc({ upstream, status: String(status) })
      latency.observe({ upstream }, seconds)
    },
    upstreamFailed(upstream, reason) {
      failed.inc({ upstream, reason })
    },
  }
}
