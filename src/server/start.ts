/**
 * Assembles and runs the decision endpoint from a validated configuration: verifier, first bundle
 * (verified when signing is configured), engine, bundle loader (watch or poll), metrics, decision
 * log, Fastify server, and graceful shutdown on SIGTERM / SIGINT (in-flight decisions finish).
 *
 * @module
 */
import { readFile } from 'node:fs/promises'
import type { FastifyInstance } from 'fastify'
import { createAuthz, type Authz, type AuthzIncident, type CredentialVerifier, type DecisionEvent } from '../authz.ts'
import type { Config } from '../config/schema.ts'
import { createBundleLoader, fetchBundle, type BundleLoader } from '../policy/loader.ts'
import { createSignatureVerifier } from '../policy/signature.ts'
import type { VerifierConfig } from '../verify/config.ts'
import { buildServer } from './app.ts'
import { DEV_ISSUER, ensureDevIssuer } from './dev-issuer.ts'
import { createServerMetrics, type ServerMetrics } from './metrics.ts'

/**
 * How tokens are verified: `config.verifier` and — when `devIssuer` is configured (development
 * only) — the local development issuer's keys. What is trusted (audience, issuers, their tenants)
 * is not repeated here: `createAuthz` derives it from the bundle's policy data.
 */
export function verifierConfigFor(config: Config, devJwks?: { keys: unknown[] }): VerifierConfig {
  const vc: { issuers?: unknown[]; [key: string]: unknown } = { ...(config.verifier ?? {}) }
  if (devJwks !== undefined) {
    vc.issuers = [...(Array.isArray(vc.issuers) ? vc.issuers : []), { issuer: DEV_ISSUER, jwks: devJwks, algorithms: ['ES256'], claims: ['roles'] }]
  }
  return vc as unknown as VerifierConfig
}

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

interface DecisionLogger {
  log(event: DecisionEvent): void
  close?(): Promise<void> | void
}

async function decisionLogger(options: Record<string, unknown> | undefined): Promise<DecisionLogger | undefined> {
  if (options === undefined) return undefined
  // Owned by another module; loaded only when configured.
  const mod = (await import('../decision-log/index.ts').catch(() => undefined)) as { createDecisionLogger?: (o: unknown) => DecisionLogger } | undefined
  if (mod?.createDecisionLogger === undefined) throw new TypeError('decisionLog is configured but the decision log module is not available')
  return mod.createDecisionLogger(options)
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
  const metrics = createServerMetrics()
  const log = await decisionLogger(config.decisionLog)
  const signing = config.bundle.signing
  const verifyBundle = signing?.publicKey !== undefined ? await createSignatureVerifier({ publicKey: signing.publicKey, algorithm: signing.algorithm, required: signing.required }) : undefined

  // The first bundle: the server never starts without one.
  let first: Uint8Array
  let firstEtag: string | undefined
  if (config.bundle.path !== undefined) {
    first = await readFile(config.bundle.path)
  } else {
    const got = await fetchBundle(config.bundle.url as string, { timeoutMs: config.bundle.timeoutMs, maxBytes: config.bundle.maxBytes })
    if (got === undefined) throw new TypeError('bundle server answered 304 to an unconditional request')
    first = got.bytes
    firstEtag = got.etag
  }
  if (verifyBundle !== undefined) await verifyBundle(first)

  const dev = config.devIssuer !== undefined ? await ensureDevIssuer(config.devIssuer.dir) : undefined
  const devJwks = dev?.jwks
  // Logged through the app's logger once it exists; the first bundle's smoke test runs before.
  let logError = (incident: AuthzIncident): void => {
    process.stderr.write(`mcp-authz: ${incident.code}: ${incident.message} (decision ${incident.decisionId})\n`)
  }
  const authz = await createAuthz({
    bundle: first,
    ...(config.resource !== undefined ? { resource: config.resource } : {}),
    ...(config.limits !== undefined ? { limits: config.limits } : {}),
    ...(config.engine !== undefined ? { engine: config.engine } : {}),
    ...(config.decisionCache !== undefined ? { decisionCache: config.decisionCache } : {}),
    shadow: config.shadow,
    verifier: verifierConfigFor(config, devJwks),
    onDecision: (event) => {
      metrics.observeDecision(event)
      log?.log(event)
    },
    onError: (incident) => logError(incident),
  })
  // /v1/visible verifies with whatever verifier the serving bundle's trust facts built.
  const currentVerifier: CredentialVerifier = { verify: (token, opts) => (authz.verifier as CredentialVerifier).verify(token, opts) }

  const loader = createBundleLoader({
    target: authz,
    ...(config.bundle.path !== undefined ? { path: config.bundle.path, watch: config.bundle.watch } : { url: config.bundle.url as string }),
    pollIntervalMs: config.bundle.pollIntervalSeconds * 1000,
    timeoutMs: config.bundle.timeoutMs,
    maxBytes: config.bundle.maxBytes,
    ...(verifyBundle !== undefined ? { verify: verifyBundle } : {}),
    initial: { bytes: first, ...(firstEtag !== undefined ? { etag: firstEtag } : {}) },
    onActivate: (revision) => {
      metrics.bundleActivated(revision)
      app.log.info({ revision }, 'policy bundle activated')
    },
    onError: (err, reason) => {
      metrics.reloadFailed(reason)
      app.log.warn({ err: err.message, reason }, 'bundle reload refused; the previous bundle keeps serving')
      options.onReloadError?.(err, reason)
    },
  })

  metrics.bundleActivated(authz.bundle.revision)
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
  logError = (incident) => app.log.error({ code: incident.code, decision_id: incident.decisionId, err: incident.message }, 'policy evaluation failed; the call was denied (policy_error)')
  const url = await app.listen({ host: config.server.host, port: config.server.port })
  loader.start()

  let closing: Promise<void> | undefined
  const close = () =>
    (closing ??= (async () => {
      loader.stop()
      await app.close()
      await log?.close?.()
      if (options.handleSignals) {
        process.off('SIGTERM', onSignal)
        process.off('SIGINT', onSignal)
      }
    })())
  const onSignal = () => {
    void close().then(() => process.exit(0))
  }
  if (options.handleSignals) {
    process.once('SIGTERM', onSignal)
    process.once('SIGINT', onSignal)
  }
  return { app, authz, loader, metrics, url, close }
}
