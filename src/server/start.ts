/**
 * Runs the decision endpoint from a validated configuration: the engine as the configuration
 * describes it (src/runtime/engine.ts: first bundle, derived verifier, metrics, decision log, hot
 * reload), the Fastify server, and graceful shutdown on SIGTERM / SIGINT (in-flight decisions finish).
 *
 * @module
 */
import type { FastifyInstance } from 'fastify'
import type { Authz, CredentialVerifier } from '../authz.ts'
import type { Config } from '../config/schema.ts'
import type { BundleLoader } from '../policy/loader.ts'
import { engineFromConfig, runSurface } from '../runtime/engine.ts'
import { buildServer } from './app.ts'
import type { ServerMetrics } from '../observability/prometheus.ts'

export { verifierConfigFor } from '../runtime/engine.ts'

/** A running endpoint. */
export interface RunningServer {
  app: FastifyInstance
  authz: Authz
  loader: BundleLoader
  metrics: ServerMetrics
  /** `http://host:port` actually bound. */
  url: string
  /** Stops polling, finishes in-flight requests, flushes the decision log. */
  close(): Promise<void>
}

/** Options of {@link startServer}. */
export interface StartOptions {
  /** Install SIGTERM / SIGINT handlers that close gracefully. Default `false`. */
  handleSignals?: boolean
  /** Fastify logger option. Default `false`. */
  logger?: boolean | Record<string, unknown>
  /** Called for each bundle reload failure (besides the metric). */
  onReloadError?: (err: Error, reason: string) => void
}

/**
 * Starts the endpoint described by `config` and resolves once it listens.
 *
 * @example
 * ```ts
 * const running = await startServer(await loadConfig('config.yaml'), { handleSignals: true })
 * console.log(running.url)
 * ```
 */
export async function startServer(config: Config, options: StartOptions = {}): Promise<RunningServer> {
  const engine = await engineFromConfig(config, options.onReloadError !== undefined ? { onReloadError: options.onReloadError } : {})
  const { authz, metrics, loader, devJwks } = engine
  // /v1/visible verifies with whatever verifier the serving bundle's trust facts built.
  const currentVerifier: CredentialVerifier = { verify: (token, opts) => (authz.verifier as CredentialVerifier).verify(token, opts) }
  const app = buildServer({
    authz,
    verifier: currentVerifier,
    host: config.server.host,
    apiKeyHashes: config.server.apiKeyHashes,
    bodyLimit: config.server.bodyLimit,
    requestTimeoutMs: config.server.requestTimeoutMs,
    metrics,
    ...(config.server.devIssuer && devJwks !== undefined ? { devIssuerJwks: devJwks } : {}),
    logger: options.logger ?? false,
  })
  const { url, close } = await runSurface(engine, app, { host: config.server.host, port: config.server.port }, options.handleSignals)
  return { app, authz, loader, metrics, url, close }
}
