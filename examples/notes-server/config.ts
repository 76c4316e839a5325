/**
 * Configuration of the notes example, from a JSON file (`NOTES_CONFIG=notes.json`) and the
 * environment (which wins), so the same server runs against the built-in development issuer or
 * any OAuth / OpenID Connect issuer:
 *
 * | file key | environment | meaning | default |
 * |---|---|---|---|
 * | `resource` | `NOTES_RESOURCE` | this server's resource URI (the token audience, the MCP path) | `http://127.0.0.1:3000/mcp` |
 * | `host` | `NOTES_HOST` (or `HOST`) | address to listen on | `127.0.0.1` |
 * | `port` | `NOTES_PORT` | port to listen on | the resource URI's port, else 3000 |
 * | `issuer` | `NOTES_ISSUER` | the trusted issuer | the development issuer `<origin>/dev-issuer`, served by the example |
 * | `jwksUri` | `NOTES_JWKS_URI` | the issuer's JWKS | none: the verifier finds it by discovery of the issuer's metadata |
 * | `typ` | `NOTES_TYP` (comma-separated) | accepted JWT `typ` values | the verifier's (`at+jwt`) |
 * | `tenant` | `NOTES_TENANT` | tenant the issuer's principals belong to | none |
 * | `audience` | `NOTES_AUDIENCE` | audience the tokens must carry | the resource URI |
 * | `verifier` | — | a whole `createTokenVerifier` configuration, passed as-is (replaces issuer / jwksUri / typ / tenant) | — |
 * | `bundle` | `MCP_AUTHZ_BUNDLE` | a prebuilt policy bundle (its resource and issuers must match) | built at start from `data.json` |
 * | `idleTimeoutMs` | `NOTES_IDLE_TIMEOUT_MS` | a session idle this long is freed | 1800000 (30 min) |
 * | `devIssuer` | `NOTES_DEV_ISSUER` (`0` / `1`) | serve the development issuer | on when no issuer is configured |
 *
 * @module
 */
import { readFile } from 'node:fs/promises'

/** The resolved configuration. */
export interface NotesConfig {
  resource: string
  host: string
  port: number
  /** The issuers the policy trusts (with their tenant), taken from the verifier configuration. */
  issuers: Record<string, { tenant?: string }>
  /** Passed to `createTokenVerifier` as-is. */
  verifier: Record<string, unknown>
  /** Serve the development issuer at `issuer` (which then lives on this server's origin). */
  devIssuer: string | undefined
  bundle: string | undefined
  idleTimeoutMs: number | undefined
}

/** What a configuration file may hold. */
interface NotesFile {
  resource?: string
  host?: string
  port?: number
  issuer?: string
  jwksUri?: string
  typ?: string | string[]
  tenant?: string
  audience?: string
  verifier?: Record<string, unknown>
  bundle?: string
  idleTimeoutMs?: number
  devIssuer?: boolean
}

const DEFAULT_RESOURCE = 'http://127.0.0.1:3000/mcp'

function fail(message: string): never {
  throw new TypeError(`notes configuration: ${message}`)
}

function integer(value: unknown, name: string): number | undefined {
  if (value === undefined || value === '') return undefined
  const n = typeof value === 'number' ? value : Number(value)
  if (!Number.isSafeInteger(n) || n < 0) fail(`${name} must be a non-negative integer`)
  return n
}

function issuerOf(entry: unknown): { issuer: string; tenant?: string } | undefined {
  if (typeof entry === 'string') return { issuer: entry }
  if (entry === null || typeof entry !== 'object') return undefined
  const { issuer, tenant } = entry as { issuer?: unknown; tenant?: unknown }
  if (typeof issuer !== 'string') return undefined
  return typeof tenant === 'string' ? { issuer, tenant } : { issuer }
}

/**
 * Resolves the configuration from `env` and the file it names (`NOTES_CONFIG`).
 *
 * @example
 * ```ts
 * const config = await loadNotesConfig({ NOTES_ISSUER: 'https://auth.example.com', NOTES_RESOURCE: 'http://127.0.0.1:3000/mcp' })
 * ```
 */
export async function loadNotesConfig(env: Record<string, string | undefined> = process.env): Promise<NotesConfig> {
  let file: NotesFile = {}
  if (env.NOTES_CONFIG) {
    try {
      file = JSON.parse(await readFile(env.NOTES_CONFIG, 'utf8')) as NotesFile
    } catch (err) {
      fail(`cannot read ${env.NOTES_CONFIG}: ${(err as Error).message}`)
    }
    if (file === null || typeof file !== 'object' || Array.isArray(file)) fail(`${env.NOTES_CONFIG} must hold a JSON object`)
  }
  const resource = env.NOTES_RESOURCE || file.resource || DEFAULT_RESOURCE
  let url: URL
  try {
    url = new URL(resource)
  } catch {
    fail(`resource ${JSON.stringify(resource)} is not an absolute URI`)
  }
  const port = integer(env.NOTES_PORT, 'NOTES_PORT') ?? integer(file.port, 'port') ?? (url.port ? Number(url.port) : 3000)
  const host = env.NOTES_HOST || env.HOST || file.host || '127.0.0.1'
  const audience = env.NOTES_AUDIENCE || file.audience || resource
  const issuer = env.NOTES_ISSUER || file.issuer
  const jwksUri = env.NOTES_JWKS_URI || file.jwksUri
  const typEnv = env.NOTES_TYP ? env.NOTES_TYP.split(',').map((t) => t.trim()).filter(Boolean) : undefined
  const typ = typEnv ?? (typeof file.typ === 'string' ? [file.typ] : file.typ)
  const tenant = env.NOTES_TENANT || file.tenant
  const devIssuerWanted = env.NOTES_DEV_ISSUER !== undefined ? env.NOTES_DEV_ISSUER !== '0' : file.devIssuer

  let verifier: Record<string, unknown>
  let devIssuer: string | undefined
  if (file.verifier !== undefined && !issuer) {
    if (file.verifier === null || typeof file.verifier !== 'object') fail('verifier must be an object (a createTokenVerifier configuration)')
    verifier = { audience, ...file.verifier }
  } else {
    const trusted = issuer ?? `${url.origin}/dev-issuer`
    if (issuer === undefined || devIssuerWanted === true) {
      if (new URL(trusted).origin !== url.origin) fail('the development issuer is served on this server: its issuer must share the resource origin')
      devIssuer = trusted
    }
    verifier = {
      audience,
      issuers: [{ issuer: trusted, claims: ['roles'], ...(devIssuer !== undefined ? { jwksUri: `${trusted}/jwks` } : {}), ...(jwksUri ? { jwksUri } : {}), ...(typ ? { typ } : {}), ...(tenant ? { tenant } : {}) }],
    }
  }
  if (devIssuerWanted === false) devIssuer = undefined
  const issuers: Record<string, { tenant?: string }> = {}
  for (const entry of Array.isArray(verifier.issuers) ? verifier.issuers : []) {
    const found = issuerOf(entry)
    if (found !== undefined) issuers[found.issuer] = found.tenant !== undefined ? { tenant: found.tenant } : {}
  }
  if (Object.keys(issuers).length === 0 && verifier.introspection === undefined) fail('no issuer is configured (NOTES_ISSUER, issuer, or verifier.issuers)')
  const introspectionIssuer = (verifier.introspection as { issuer?: unknown } | undefined)?.issuer
  if (typeof introspectionIssuer === 'string') issuers[introspectionIssuer] ??= {}
  return {
    resource,
    host,
    port,
    issuers,
    verifier,
    devIssuer,
    bundle: env.MCP_AUTHZ_BUNDLE || file.bundle,
    idleTimeoutMs: integer(env.NOTES_IDLE_TIMEOUT_MS, 'NOTES_IDLE_TIMEOUT_MS') ?? integer(file.idleTimeoutMs, 'idleTimeoutMs'),
  }
}

/** The policy data for `config`: `data.json`'s rules with this server's resource and trusted issuers. */
export async function notesPolicyData(config: NotesConfig): Promise<unknown> {
  const rules = JSON.parse(await readFile(new URL('./data.json', import.meta.url), 'utf8')) as { mcp_authz: Record<string, unknown> }
  const issuers = Object.keys(config.issuers)
  return { mcp_authz: { ...rules.mcp_authz, resource: config.resource, issuers: config.issuers, authorization_servers: issuers } }
}
