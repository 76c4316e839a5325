/**
 * The engine as a configuration file describes it, shared by the two long-running surfaces (the
 * decision endpoint and the proxy): the first bundle (signature-checked when configured) or the
 * policy data loaded into the prebuilt library (`bundle.data`), the verifier derived from the
 * policy's trust facts plus the configuration's verifier settings (and the development issuer's
 * keys), metrics, the decision log, and the loader for hot reload. A surface adds its HTTP side and
 * calls {@link ConfiguredEngine.attach} with its logger.
 *
 * @module
 */
import { readFile } from 'node:fs/promises'
import { createAuthz, type Authz, type AuthzIncident, type DecisionEvent } from '../authz.ts'
import type { Config } from '../config/schema.ts'
import { createDecisionLogger } from '../decision-log/index.ts'
import { PolicyError } from '../policy/errors.ts'
import { parsePolicyData } from '../policy/library.ts'
import { createBundleLoader, fetchBundle, type BundleLoader } from '../policy/loader.ts'
import { createSignatureVerifier } from '../policy/signature.ts'
import { createServerMetrics, type ServerMetrics } from '../observability/prometheus.ts'
import type { VerifierConfig } from '../verify/config.ts'
import { DEV_ISSUER, ensureDevIssuer } from './dev-issuer.ts'

/**
 * How tokens are verified: `config.verifier` and — when `devIssuer` is configured (development
 * only) — the local development issuer's keys. What is trusted (audience, issuers, their tenants)
 * is not repeated here: `createAuthz` derives it from the bundle's policy data.
 *
 * @example
 * ```ts
 * createAuthz({ bundle, verifier: verifierConfigFor(config) })
 * ```
 */
export function verifierConfigFor(config: Pick<Config, 'verifier'>, devJwks?: { keys: unknown[] }): VerifierConfig {
  const vc: { issuers?: unknown[]; [key: string]: unknown } = { ...(config.verifier ?? {}) }
  if (devJwks !== undefined) {
    vc.issuers = [...(Array.isArray(vc.issuers) ? vc.issuers : []), { issuer: DEV_ISSUER, jwks: devJwks, algorithms: ['ES256'], claims: ['roles'] }]
  }
  return vc as unknown as VerifierConfig
}

/** The logger a surface lends the engine (pino's, Fastify's `app.log`). */
export interface EngineLogger {
  info(object: Record<string, unknown>, message: string): void
  warn(object: Record<string, unknown>, message: string): void
  error(object: Record<string, unknown>, message: string): void
}

/** Options of {@link engineFromConfig}. */
export interface EngineFromConfigOptions {
  /** Called for each bundle reload failure (besides the metric and the log line). */
  onReloadError?: (err: Error, reason: string) => void
}

/** An engine assembled from a configuration, not yet reloading. */
export interface ConfiguredEngine {
  authz: Authz
  metrics: ServerMetrics
  loader: BundleLoader
  /** The development issuer's public keys, when `devIssuer` is configured. */
  devJwks: { keys: unknown[] } | undefined
  /** Logs policy failures and reloads through the surface's logger from now on (stderr until then). */
  attach(logger: EngineLogger): void
  /** Stops reloading and flushes the decision log. */
  close(): Promise<void>
}

/** The first policy a configuration names, as read by {@link firstPolicy}. */
export interface FirstPolicy {
  /** The bundle's bytes, or the data file's. */
  bytes: Uint8Array
  /** The bundle server's ETag. */
  etag?: string
  /** The parsed data file, when the configuration gives `bundle.data` (not yet validated). */
  data?: Record<string, unknown>
}

/**
 * Reads the first policy a configuration names: the bundle file or download (bounded by
 * `bundle.maxBytes`), or the policy data file (`bundle.data`, parsed).
 *
 * @example
 * ```ts
 * const first = await firstPolicy(config)
 * const authz = await createAuthz(first.data !== undefined ? { data: first.data } : { bundle: first.bytes })
 * ```
 */
export async function firstPolicy(config: Pick<Config, 'bundle'>): Promise<FirstPolicy> {
  const file = config.bundle.path ?? config.bundle.data
  if (file !== undefined) {
    const bytes = await readFile(file)
    if (bytes.byteLength > config.bundle.maxBytes) throw new PolicyError('ERR_BUNDLE_TOO_LARGE', `${file} is larger than bundle.maxBytes (${config.bundle.maxBytes} bytes)`)
    return config.bundle.data === undefined ? { bytes } : { bytes, data: parsePolicyData(bytes.toString('utf8'), file) }
  }
  const got = await fetchBundle(config.bundle.url as string, { timeoutMs: config.bundle.timeoutMs, maxBytes: config.bundle.maxBytes })
  if (got === undefined) throw new TypeError('bundle server answered 304 to an unconditional request')
  return got
}

/**
 * Assembles the engine a configuration describes. The first bundle must load (the surface never
 * starts without one, and never with a bundle whose signature fails).
 *
 * @example
 * ```ts
 * const engine = await engineFromConfig(await loadConfig('config.yaml'))
 * engine.attach(app.log)
 * engine.loader.start()
 * ```
 */
export async function engineFromConfig(config: Config, options: EngineFromConfigOptions = {}): Promise<ConfiguredEngine> {
  const metrics = createServerMetrics()
  const log = config.decisionLog !== undefined ? createDecisionLogger(config.decisionLog as never) : undefined
  const signing = config.bundle.signing
  const verifyBundle = signing?.publicKey !== undefined ? await createSignatureVerifier({ publicKey: signing.publicKey, algorithm: signing.algorithm, required: signing.required }) : undefined
  const first = await firstPolicy(config)
  if (verifyBundle !== undefined) await verifyBundle(first.bytes)
  const devJwks = config.devIssuer !== undefined ? (await ensureDevIssuer(config.devIssuer.dir)).jwks : undefined

  let logger: EngineLogger | undefined
  const incident = (i: AuthzIncident): void => {
    if (logger !== undefined) logger.error({ code: i.code, decision_id: i.decisionId, err: i.message }, 'policy evaluation failed; the call was denied (policy_error)')
    else process.stderr.write(`mcp-authz: ${i.code}: ${i.message} (decision ${i.decisionId})\n`)
  }
  const authz = await createAuthz({
    ...(first.data !== undefined ? { data: first.data } : { bundle: first.bytes }),
    ...(config.resource !== undefined ? { resource: config.resource } : {}),
    ...(config.limits !== undefined ? { limits: config.limits } : {}),
    ...(config.engine !== undefined ? { engine: config.engine } : {}),
    ...(config.decisionCache !== undefined ? { decisionCache: config.decisionCache } : {}),
    shadow: config.shadow,
    verifier: verifierConfigFor(config, devJwks),
    onDecision: (event: DecisionEvent) => {
      metrics.observeDecision(event)
      log?.log(event)
    },
    onError: incident,
  })
  const loader = createBundleLoader({
    target: authz,
    ...(config.bundle.path !== undefined
      ? { path: config.bundle.path, watch: config.bundle.watch }
      : config.bundle.data !== undefined
        ? { data: config.bundle.data, watch: config.bundle.watch }
        : { url: config.bundle.url as string }),
    pollIntervalMs: config.bundle.pollIntervalSeconds * 1000,
    timeoutMs: config.bundle.timeoutMs,
    maxBytes: config.bundle.maxBytes,
    ...(verifyBundle !== undefined ? { verify: verifyBundle } : {}),
    initial: { bytes: first.bytes, ...(first.etag !== undefined ? { etag: first.etag } : {}) },
    onActivate: (revision) => {
      metrics.bundleActivated(revision)
      logger?.info({ revision }, 'policy bundle activated')
    },
    onError: (err, reason) => {
      metrics.reloadFailed(reason)
      logger?.warn({ err: err.message, reason }, 'bundle reload refused; the previous bundle keeps serving')
      options.onReloadError?.(err, reason)
    },
  })
  metrics.bundleActivated(authz.bundle.revision)
  return {
    authz,
    metrics,
    loader,
    devJwks,
    attach(l) {
      logger = l
    },
    async close() {
      loader.stop()
      await log?.close?.()
    },
  }
}

/** What {@link runSurface} needs of a surface (a Fastify app has it all). */
export interface Surface {
  log: EngineLogger
  listen(options: { host: string; port: number }): Promise<string>
  close(): Promise<unknown>
}

/**
 * Runs a surface on an engine: attaches its logger, listens, starts reloading, and returns the
 * URL and a `close` that stops reloading, closes the surface (in-flight work finishes), flushes the
 * decision log and removes the signal handlers — once, however often it is called.
 *
 * @example
 * ```ts
 * const { url, close } = await runSurface(engine, app, { host: '127.0.0.1', port: 8181 }, true)
 * ```
 */
export async function runSurface(engine: ConfiguredEngine, surface: Surface, listen: { host: string; port: number }, handleSignals = false): Promise<{ url: string; close: () => Promise<void> }> {
  engine.attach(surface.log)
  const url = await surface.listen(listen)
  engine.loader.start()
  let closing: Promise<void> | undefined
  let offSignals: (() => void) | undefined
  const close = () =>
    (closing ??= (async () => {
      engine.loader.stop()
      await surface.close()
      await engine.close()
      offSignals?.()
    })())
  if (handleSignals) offSignals = closeOnSignals(close)
  return { url, close }
}

/**
 * Closes gracefully on SIGTERM / SIGINT (in-flight work finishes), then exits 0. Returns the
 * function that removes the handlers.
 *
 * @example
 * ```ts
 * const off = closeOnSignals(close)
 * ```
 */
export function closeOnSignals(close: () => Promise<void>): () => void {
  const onSignal = () => {
    void close().then(() => process.exit(0))
  }
  process.once('SIGTERM', onSignal)
  process.once('SIGINT', onSignal)
  return () => {
    process.off('SIGTERM', onSignal)
    process.off('SIGINT', onSignal)
  }
}
