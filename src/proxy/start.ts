/**
 * Runs the proxy from a validated configuration (`mcp-authz proxy --config`): the same engine
 * assembly as the decision endpoint — verifier, first bundle (signature-checked when configured),
 * hot reload (watch or poll), decision log, metrics — then {@link createProxy} on `proxy.host:port`,
 * and a graceful stop on SIGTERM / SIGINT (streams and sessions ended, every stdio process stopped,
 * the decision log flushed).
 *
 * @module
 */
import { readFile } from 'node:fs/promises'
import { isAbsolute, resolve } from 'node:path'
import { createAuthz, type Authz, type CredentialVerifier } from '../authz.ts'
import type { Config } from '../config/schema.ts'
import { createDecisionLogger } from '../decision-log/index.ts'
import { createBundleLoader, fetchBundle, type BundleLoader } from '../policy/loader.ts'
import { createSignatureVerifier } from '../policy/signature.ts'
import { ensureDevIssuer } from '../server/dev-issuer.ts'
import { createServerMetrics, type ServerMetrics } from '../server/metrics.ts'
import { verifierConfigFor } from '../server/start.ts'
import { createTokenVerifier } from '../verify/index.ts'
import { createAssertionSigner } from './assertion.ts'
import { createProxy, type Proxy, type UpstreamOptions } from './app.ts'

/** A running proxy. */
export interface RunningProxy {
  proxy: Proxy
  authz: Authz
  loader: BundleLoader
  metrics: ServerMetrics
  /** `http://host:port` actually bound. */
  url: string
  /** Stops reloading, ends streams, sessions and processes, closes the server, flushes the decision log. */
  close(): Promise<void>
}

/** Options of {@link startProxy}. */
export interface StartProxyOptions {
  /** Folder relative paths of the `proxy` section resolve against (the configuration file's). Default: the cwd. */
  baseDir?: string
  /** Install SIGTERM / SIGINT handlers that stop gracefully. Default `false`. */
  handleSignals?: boolean
  /** Fastify logger option. Default `false`. */
  logger?: boolean | Record<string, unknown>
  /** Environment the static credential (`headersFromEnv`) and the inherited variables are read from. Default `process.env`. */
  env?: Record<string, string | undefined>
}

/**
 * The environment of a spawned stdio server: the inherited allowlist, then `env`.
 *
 * @example
 * ```ts
 * childEnvironment({ inheritEnv: ['PATH'], env: { NOTES_DIR: '/srv/notes' } }, process.env) // { PATH: '…', NOTES_DIR: '/srv/notes' }
 * ```
 */
export function childEnvironment(upstream: { inheritEnv: readonly string[]; env: Record<string, string> }, from: Record<string, string | undefined>): Record<string, string> {
  const out: Record<string, string> = {}
  for (const name of upstream.inheritEnv) {
    const value = from[name]
    if (value !== undefined) out[name] = value
  }
  return { ...out, ...upstream.env }
}

/**
 * Starts the proxy described by `config.proxy` and resolves once it listens.
 *
 * @throws {TypeError} when `config.proxy` is missing or a static credential variable is unset.
 * @example
 * ```ts
 * const running = await startProxy(await loadConfig('proxy.yaml'), { baseDir: '.', handleSignals: true })
 * console.log(running.url)
 * ```
 */
export async function startProxy(config: Config, options: StartProxyOptions = {}): Promise<RunningProxy> {
  const section = config.proxy
  if (section === undefined) throw new TypeError('the configuration has no proxy section')
  const env = options.env ?? process.env
  const abs = (p: string) => (isAbsolute(p) ? p : resolve(options.baseDir ?? process.cwd(), p))
  const up = section.upstream
  const staticHeaders: Record<string, string> = { ...up.headers }
  for (const [name, variable] of Object.entries(up.headersFromEnv)) {
    const value = env[variable]
    if (value === undefined || value === '') throw new TypeError(`proxy.upstream.headersFromEnv.${name}: environment variable ${variable} is not set`)
    staticHeaders[name] = value
  }

  const metrics = createServerMetrics()
  const log = config.decisionLog !== undefined ? createDecisionLogger(config.decisionLog as never) : undefined
  const signing = config.bundle.signing
  const verifyBundle = signing?.publicKey !== undefined ? await createSignatureVerifier({ publicKey: signing.publicKey, algorithm: signing.algorithm, required: signing.required }) : undefined
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

  let verifier: CredentialVerifier | undefined
  const lazyVerifier: CredentialVerifier = { verify: (token, opts) => (verifier as CredentialVerifier).verify(token, opts) }
  const authz = await createAuthz({
    bundle: first,
    ...(config.resource !== undefined ? { resource: config.resource } : {}),
    ...(config.limits !== undefined ? { limits: config.limits } : {}),
    ...(config.engine !== undefined ? { engine: config.engine } : {}),
    ...(config.decisionCache !== undefined ? { decisionCache: config.decisionCache } : {}),
    shadow: config.shadow,
    verifier: lazyVerifier,
    onDecision: (event) => {
      metrics.observeDecision(event)
      log?.log(event)
    },
  })
  const devJwks = config.devIssuer !== undefined ? (await ensureDevIssuer(config.devIssuer.dir)).jwks : undefined
  verifier = createTokenVerifier(verifierConfigFor(config, authz, devJwks))

  const upstream: UpstreamOptions =
    up.url !== undefined
      ? { url: up.url, timeoutMs: up.timeoutMs, streamIdleTimeoutMs: up.streamIdleTimeoutMs, maxMessageBytes: up.maxMessageBytes, headers: staticHeaders }
      : {
          command: up.command as string,
          args: up.args,
          env: childEnvironment(up, env),
          ...(up.cwd !== undefined ? { cwd: abs(up.cwd) } : {}),
          maxProcesses: up.maxProcesses,
          idleTimeoutMs: Math.round(up.idleTimeoutSeconds * 1000),
          maxMessageBytes: up.maxMessageBytes,
        }
  const a = section.assertion
  const assertion =
    a === undefined
      ? undefined
      : {
          header: a.header,
          jwksPath: a.jwksPath,
          signer: await createAssertionSigner({
            issuer: a.issuer ?? new URL(authz.resource).origin,
            audience: a.audience ?? up.url ?? (up.command as string),
            ttlSeconds: a.ttlSeconds,
            ...(a.privateKey !== undefined ? { privateKey: a.privateKey.includes('-----BEGIN') ? a.privateKey : await readFile(abs(a.privateKey), 'utf8') } : {}),
          }),
        }
  const proxy = await createProxy({
    authz,
    upstream,
    listenHost: section.host,
    maxBodyBytes: section.maxBodyBytes,
    rootMetadata: section.rootMetadata,
    metrics,
    logger: options.logger ?? false,
    ...(section.path !== undefined ? { path: section.path } : {}),
    ...(section.allowedHosts !== undefined ? { allowedHosts: section.allowedHosts } : {}),
    ...(assertion !== undefined ? { assertion } : {}),
  })

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
      proxy.app.log.info({ revision }, 'policy bundle activated')
    },
    onError: (err, reason) => {
      metrics.reloadFailed(reason)
      proxy.app.log.warn({ err: err.message, reason }, 'bundle reload refused; the previous bundle keeps serving')
    },
  })
  metrics.bundleActivated(authz.bundle.revision)
  const url = await proxy.app.listen({ host: section.host, port: section.port })
  loader.start()

  let closing: Promise<void> | undefined
  const close = () =>
    (closing ??= (async () => {
      loader.stop()
      await proxy.close()
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
  return { proxy, authz, loader, metrics, url, close }
}
