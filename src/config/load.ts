/**
 * Reads a configuration file (YAML or JSON), applies environment-variable overrides, validates it
 * and reports every problem by path. Never returns a half-valid configuration.
 *
 * Override rule: `MCP_AUTHZ_<SECTION>_<KEY>` sets `<section>.<key>`, with camelCase keys written in
 * UPPER_SNAKE_CASE (`MCP_AUTHZ_SERVER_PORT` → `server.port`, `MCP_AUTHZ_BUNDLE_POLL_INTERVAL_SECONDS`
 * → `bundle.pollIntervalSeconds`, `MCP_AUTHZ_RESOURCE` → `resource`). Values are parsed as JSON when
 * they are numbers, booleans or arrays, else taken as strings; `MCP_AUTHZ_SERVER_API_KEY_HASHES`
 * also accepts a comma-separated list. Only the keys in {@link ENV_OVERRIDES} are read.
 *
 * @module
 */
import { readFile } from 'node:fs/promises'
import { dirname, isAbsolute, resolve } from 'node:path'
import { DocumentSyntaxError, parseDocumentText } from '../parse-document.ts'
import { configSchema, type Config } from './schema.ts'
import { ConfigError } from './errors.ts'

/** Configuration paths that environment variables may override. */
export const ENV_OVERRIDES: readonly string[] = [
  'resource',
  'bundle.path',
  'bundle.url',
  'bundle.data',
  'bundle.watch',
  'bundle.pollIntervalSeconds',
  'bundle.timeoutMs',
  'bundle.maxBytes',
  'bundle.signing.publicKey',
  'bundle.signing.required',
  'server.host',
  'server.port',
  'server.apiKeyHashes',
  'server.bodyLimit',
  'server.requestTimeoutMs',
  'server.devIssuer',
  'devIssuer.dir',
  'proxy.host',
  'proxy.port',
  'proxy.upstream.url',
]

/** The environment variable that overrides a configuration path. */
export function envName(path: string): string {
  return `MCP_AUTHZ_${path.split('.').map((k) => k.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase()).join('_')}`
}

function envValue(raw: string, path: string): unknown {
  const t = raw.trim()
  if (/^(true|false|-?\d+(\.\d+)?|\[.*\])$/s.test(t)) {
    try {
      return JSON.parse(t)
    } catch {
      return raw
    }
  }
  if (path === 'server.apiKeyHashes') return t.split(',').map((s) => s.trim()).filter((s) => s !== '')
  return raw
}

function setPath(target: Record<string, unknown>, path: string, value: unknown): void {
  const keys = path.split('.')
  let node = target
  for (const key of keys.slice(0, -1)) {
    const next = node[key]
    if (next === null || typeof next !== 'object' || Array.isArray(next)) node[key] = {}
    node = node[key] as Record<string, unknown>
  }
  node[keys[keys.length - 1] as string] = value
}

/** JSON-path rendering of a zod issue path (`$.server.apiKeyHashes[0]`). */
function jsonPath(path: ReadonlyArray<PropertyKey>): string {
  return `$${path.map((k) => (typeof k === 'number' ? `[${k}]` : `.${String(k)}`)).join('')}`
}

/** Options of {@link parseConfig} and {@link loadConfig}. */
export interface LoadOptions {
  /** Environment to read overrides from. Default `process.env`; pass `{}` to ignore it. */
  env?: Record<string, string | undefined>
  /** Folder relative file paths in the configuration are resolved against. Default: the file's folder (or the cwd). */
  baseDir?: string
}

/**
 * Validates an already parsed configuration object (after env overrides).
 *
 * @throws {ConfigError} `ERR_CONFIG_INVALID` with every problem by path.
 * @example
 * ```ts
 * const config = parseConfig({ bundle: { path: 'build/bundle.tar.gz' } }, { env: {} })
 * config.server.port // 8181
 * ```
 */
export function parseConfig(raw: unknown, options: LoadOptions = {}): Config {
  const env = options.env ?? process.env
  const doc: Record<string, unknown> = raw === undefined || raw === null ? {} : (structuredClone(raw) as Record<string, unknown>)
  if (typeof doc !== 'object' || Array.isArray(doc)) throw new ConfigError('ERR_CONFIG_INVALID', 'configuration must be an object', [{ path: '$', message: 'must be an object' }])
  for (const path of ENV_OVERRIDES) {
    const value = env[envName(path)]
    if (value !== undefined && value !== '') setPath(doc, path, envValue(value, path))
  }
  const parsed = configSchema.safeParse(doc)
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => ({ path: jsonPath(i.path), message: i.message }))
    throw new ConfigError('ERR_CONFIG_INVALID', `configuration is invalid:\n${problems.map((p) => `  ${p.path}: ${p.message}`).join('\n')}`, problems)
  }
  const config = parsed.data
  const base = options.baseDir ?? process.cwd()
  const abs = (p: string) => (isAbsolute(p) ? p : resolve(base, p))
  if (config.bundle.path !== undefined) config.bundle.path = abs(config.bundle.path)
  if (config.bundle.data !== undefined) config.bundle.data = abs(config.bundle.data)
  const key = config.bundle.signing?.publicKey
  if (config.bundle.signing !== undefined && key !== undefined && !key.includes('-----BEGIN')) config.bundle.signing.publicKey = abs(key)
  if (config.devIssuer !== undefined) config.devIssuer.dir = abs(config.devIssuer.dir)
  const issuers = (config.verifier as { issuers?: Array<{ jwksFile?: unknown }> } | undefined)?.issuers
  if (Array.isArray(issuers)) for (const i of issuers) if (typeof i?.jwksFile === 'string') i.jwksFile = abs(i.jwksFile)
  return config
}

/**
 * Reads and validates a configuration file (`.yaml`, `.yml` or `.json`).
 *
 * @throws {ConfigError} `ERR_CONFIG_READ` (unreadable / not YAML) or `ERR_CONFIG_INVALID` (every problem by path).
 * @example
 * ```ts
 * const config = await loadConfig('examples/quickstart/config.yaml')
 * ```
 */
export async function loadConfig(file: string, options: LoadOptions = {}): Promise<Config> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (err) {
    throw new ConfigError('ERR_CONFIG_READ', `cannot read ${file}: ${(err as Error).message}`, [{ path: '$', message: 'cannot be read' }])
  }
  // YAML is a superset of JSON: one parser for both (strict JSON for .json); every syntax error is listed with its line and column.
  let raw: unknown
  try {
    raw = parseDocumentText(text, file)
  } catch (err) {
    if (!(err instanceof DocumentSyntaxError)) throw err
    const problems = err.problems.map((p) => ({ path: `$ (line ${p.line}, column ${p.column})`, message: p.message }))
    throw new ConfigError('ERR_CONFIG_READ', err.message, problems)
  }
  return parseConfig(raw, { ...options, baseDir: options.baseDir ?? dirname(resolve(file)) })
}
