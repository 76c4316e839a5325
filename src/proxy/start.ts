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
import type { Authz } from '../authz.ts'
import type { Config } from '../config/schema.ts'
import type { BundleLoader } from '../policy/loader.ts'
import { engineFromConfig, runSurface } from '../runtime/engine.ts'
import type { ServerMetrics } from '../observability/prometheus.ts'
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

  const engine = await engineFromConfig(config)
  const { authz, metrics, loader } = engine
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

  const { url, close } = await runSurface(engine, { log: proxy.app.log, listen: (l) => proxy.app.listen(l), close: () => proxy.close() }, { host: section.host, port: section.port }, options.handleSignals)
  return { proxy, authz, loader, metrics, url, close }
}
