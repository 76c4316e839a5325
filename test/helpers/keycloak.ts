/**
 * A real Keycloak (26.x, dev mode, in-memory H2, 127.0.0.1 only) for the identity-provider tests.
 *
 * `scripts/test.sh` starts one for the whole run and passes it in the environment
 * (`MCP_AUTHZ_KEYCLOAK_URL`, `MCP_AUTHZ_KEYCLOAK_ADMIN`, `MCP_AUTHZ_KEYCLOAK_ADMIN_PASSWORD`);
 * a test file run on its own starts its own through `scripts/keycloak.sh run` and stops it.
 * Where no JDK ≥ 21 exists (or `MCP_AUTHZ_KEYCLOAK_SKIP` says why not), {@link useKeycloak}
 * returns the reason, for a loud skip.
 *
 * Each test file works in realms of its own, created from `examples/keycloak/mcp.realm.json` (the
 * realm the server imports at start) under another name and with the test's resource URI as
 * audience, so files running in parallel never see each other's keys, clients or sessions.
 *
 * @module
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { freePort } from './net.ts'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
/** The realm file Keycloak imports at start. */
export const REALM_FILE = `${ROOT}examples/keycloak/mcp.realm.json`
/** The audience the realm file puts in tokens (its mappers' `included.custom.audience`). */
export const REALM_FILE_AUDIENCE = 'http://127.0.0.1:8181/mcp'

/** A Keycloak reachable on loopback, with admin rights. */
export interface Keycloak {
  /** `http://127.0.0.1:<port>`. */
  readonly url: string
  /** The issuer of a realm: `<url>/realms/<name>`. */
  issuer(realm: string): string
  /** A fresh admin access token (master realm, admin-cli). */
  adminToken(): Promise<string>
  /** Calls the admin REST API (`/admin/realms…`); throws on a non-2xx answer. */
  admin(method: string, path: string, body?: unknown): Promise<unknown>
  /**
   * Creates a realm from the realm file under `name`, with `audience` in place of the file's
   * audience (and anything `patch` changes). Returns its issuer.
   */
  createRealm(name: string, audience: string, patch?: (realm: Record<string, unknown>) => void): Promise<string>
  /** Deletes a realm (ignores a missing one). */
  deleteRealm(name: string): Promise<void>
  /** Posts a form to a realm's token endpoint (client secret basic); throws on a non-200 answer. */
  tokenResponse(realm: string, client: { id: string; secret: string }, form: Record<string, string>): Promise<Record<string, unknown>>
  /** Stops Keycloak if this process started it. */
  close(): Promise<void>
}

async function waitReady(url: string, deadlineMs: number, child?: ChildProcess): Promise<void> {
  const until = Date.now() + deadlineMs
  for (;;) {
    if (child !== undefined && child.exitCode !== null) throw new Error(`Keycloak exited during start-up (code ${child.exitCode})`)
    try {
      const res = await fetch(`${url}/realms/mcp/.well-known/openid-configuration`, { signal: AbortSignal.timeout(5000) })
      await res.body?.cancel()
      if (res.status === 200) return
    } catch {
      // not listening yet
    }
    if (Date.now() > until) throw new Error(`Keycloak at ${url} not ready after ${Math.round(deadlineMs / 1000)} s`)
    await new Promise((r) => setTimeout(r, 1000))
  }
}

function handle(url: string, admin: { user: string; password: string }, stop: () => Promise<void>): Keycloak {
  async function adminToken(): Promise<string> {
    const res = await fetch(`${url}/realms/master/protocol/openid-connect/token`, {
      method: 'POST',
      body: new URLSearchParams({ grant_type: 'password', client_id: 'admin-cli', username: admin.user, password: admin.password }),
      signal: AbortSignal.timeout(30_000),
    })
    const json = (await res.json()) as { access_token?: string }
    if (res.status !== 200 || json.access_token === undefined) throw new Error(`Keycloak admin login: HTTP ${res.status}`)
    return json.access_token
  }
  async function adminCall(method: string, path: string, body?: unknown): Promise<unknown> {
    const res = await fetch(`${url}/admin${path}`, {
      method,
      headers: { authorization: `Bearer ${await adminToken()}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(60_000),
    })
    const text = await res.text()
    if (res.status < 200 || res.status > 299) throw new Error(`Keycloak admin ${method} ${path}: HTTP ${res.status} ${text.slice(0, 300)}`)
    return text === '' ? undefined : JSON.parse(text)
  }
  return {
    url,
    issuer: (realm) => `${url}/realms/${realm}`,
    adminToken,
    admin: adminCall,
    async createRealm(name, audience, patch) {
      const text = readFileSync(REALM_FILE, 'utf8').replaceAll(REALM_FILE_AUDIENCE, audience)
      const realm = JSON.parse(text) as Record<string, unknown>
      realm.realm = name
      patch?.(realm)
      await adminCall('POST', '/realms', realm)
      return `${url}/realms/${name}`
    },
    async deleteRealm(name) {
      await adminCall('DELETE', `/realms/${encodeURIComponent(name)}`).catch(() => {})
    },
    async tokenResponse(realm, client, form) {
      const res = await fetch(`${url}/realms/${realm}/protocol/openid-connect/token`, {
        method: 'POST',
        headers: { authorization: `Basic ${Buffer.from(`${encodeURIComponent(client.id)}:${encodeURIComponent(client.secret)}`).toString('base64')}` },
        body: new URLSearchParams(form),
        signal: AbortSignal.timeout(30_000),
      })
      const json = (await res.json()) as Record<string, unknown>
      if (res.status !== 200) throw new Error(`Keycloak token endpoint: HTTP ${res.status} ${JSON.stringify(json)}`)
      return json
    },
    close: stop,
  }
}

/**
 * The Keycloak of this run, or why there is none (a reason to skip with, loudly).
 *
 * @example
 * ```ts
 * const kc = await useKeycloak()
 * if (typeof kc === 'string') { test('Keycloak', { skip: kc }, () => {}); } else { after(() => kc.close()) }
 * ```
 */
export async function useKeycloak(): Promise<Keycloak | string> {
  if (process.env.MCP_AUTHZ_KEYCLOAK_SKIP) return `Keycloak tests skipped: ${process.env.MCP_AUTHZ_KEYCLOAK_SKIP}`
  const deadline = Number(process.env.KEYCLOAK_START_TIMEOUT ?? 420) * 1000
  const given = process.env.MCP_AUTHZ_KEYCLOAK_URL
  if (given) {
    const admin = { user: process.env.MCP_AUTHZ_KEYCLOAK_ADMIN ?? 'admin', password: process.env.MCP_AUTHZ_KEYCLOAK_ADMIN_PASSWORD ?? '' }
    await waitReady(given, deadline)
    return handle(given, admin, async () => {})
  }
  const java = spawnSync('bash', [`${ROOT}scripts/keycloak.sh`, 'java'], { encoding: 'utf8', timeout: 60_000 })
  if (java.status !== 0) return `Keycloak tests skipped: ${java.stderr.trim().replace(/^\[keycloak\] /, '') || 'no JDK >= 21'}`
  const port = await freePort()
  const admin = { user: 'admin', password: randomBytes(18).toString('base64url') }
  const child = spawn('bash', [`${ROOT}scripts/keycloak.sh`, 'run', String(port)], {
    cwd: ROOT,
    detached: true, // its own process group: stopped as a whole
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, KC_BOOTSTRAP_ADMIN_USERNAME: admin.user, KC_BOOTSTRAP_ADMIN_PASSWORD: admin.password },
  })
  let stderr = ''
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000)
  })
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const stop = async () => {
    if (child.exitCode !== null || child.pid === undefined) return
    try {
      process.kill(-child.pid, 'SIGTERM')
    } catch {
      return
    }
    const killed = await Promise.race([exited.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 30_000).unref())])
    if (!killed) {
      try {
        process.kill(-child.pid, 'SIGKILL')
      } catch {
        // already gone
      }
    }
  }
  const url = `http://127.0.0.1:${port}`
  try {
    await waitReady(url, deadline, child)
  } catch (err) {
    await stop()
    throw new Error(`${(err as Error).message}\n${stderr}`)
  }
  return handle(url, admin, stop)
}
