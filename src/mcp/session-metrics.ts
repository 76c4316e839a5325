/**
 * Prometheus metrics of the MCP session bindings, in the naming of the endpoint's metrics
 * (`src/server/metrics.ts`: `mcp_authz_` prefix, counters ending in `_total`), read from
 * {@link SessionBindings.stats} at scrape time:
 *
 * | metric | type | meaning |
 * |---|---|---|
 * | `mcp_authz_sessions` | gauge | sessions bound now |
 * | `mcp_authz_session_principals` | gauge | principals holding at least one session |
 * | `mcp_authz_session_evictions_total{reason}` | counter | sessions forgotten without their owner asking: `principal_limit` (the principal opened one more than allowed), `idle` |
 * | `mcp_authz_session_refusals_total` | counter | new sessions refused because the table was full |
 *
 * @module
 */
import { Counter, Gauge, type Registry } from 'prom-client'
import type { EvictionReason, SessionBindings } from './session-bindings.ts'

const REASONS: readonly EvictionReason[] = ['principal_limit', 'idle']

/**
 * Registers the session metrics on a prom-client registry (e.g. `createServerMetrics().registry`).
 *
 * @throws {TypeError} when `bindings` is not a SessionBindings (stateless sessions have none).
 * @example
 * ```ts
 * const metrics = createServerMetrics()
 * registerSessionMetrics(metrics.registry, sessions.bindings)
 * ```
 */
export function registerSessionMetrics(registry: Registry, bindings: SessionBindings | undefined): void {
  if (bindings === undefined || typeof bindings.stats !== 'function') throw new TypeError('bindings must be a SessionBindings (stateless sessions have none)')
  new Gauge({
    name: 'mcp_authz_sessions',
    help: 'MCP sessions bound to the principal that opened them',
    registers: [registry],
    collect() {
      this.set(bindings.stats().sessions)
    },
  })
  new Gauge({
    name: 'mcp_authz_session_principals',
    help: 'Principals holding at least one MCP session',
    registers: [registry],
    collect() {
      this.set(bindings.stats().principals)
    },
  })
  new Counter({
    name: 'mcp_authz_session_evictions_total',
    help: 'MCP sessions forgotten without their owner asking, by reason (principal_limit, idle)',
    labelNames: ['reason'] as const,
    registers: [registry],
    collect() {
      const { evictions } = bindings.stats()
      this.reset()
      for (const reason of REASONS) this.inc({ reason }, evictions[reason])
    },
  })
  new Counter({
    name: 'mcp_authz_session_refusals_total',
    help: 'New MCP sessions refused because the session table was full',
    registers: [registry],
    collect() {
      this.reset()
      this.inc(bindings.stats().refused)
    },
  })
}
