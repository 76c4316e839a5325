// `mcp-authz proxy --config` as a process: configuration file with a proxy section (stdio upstream:
// the Python SDK server), tokens from a real oidc-provider, and the promise that no stdio process
// outlives the proxy — neither a graceful stop (SIGTERM) nor a SIGKILL of the proxy.
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { parseConfig } from '../../src/config/load.ts'
import { configJsonSchema } from '../../src/config/schema.ts'
import { startAuthorizationServer, type AuthorizationServer } from '../helpers/authorization-server.ts'
import { buildTestBundle } from '../helpers/bundle.ts'
import { freePort } from '../helpers/net.ts'
import { notesData, PYTHON_SERVER, pythonEnv, SCOPES, stopProcess } from './helpers.ts'

const MAIN = new URL('../../src/cli/main.ts', import.meta.url).pathname
let as: AuthorizationServer
let dir: string
const procs: ChildProcess[] = []

before(async () => {
  as = await startAuthorizationServer({ resources: {}, clients: [] })
  dir = await mkdtemp(join(tmpdir(), 'mcp-authz-proxy-cli-'))
})
after(async () => {
  for (const p of procs) await stopProcess(p)
  await as?.close()
  await rm(dir, { recursive: true, force: true })
})

/** Pids whose parent is `pid` (Linux /proc). */
async function childrenOf(pid: number): Promise<number[]> {
  const out: number[] = []
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '')
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
    if (ppid === pid) out.push(Number(entry))
  }
  return out
}

async function alive(pid: number): Promise<boolean> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined)
  return stat !== undefined && stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z'
}

async function waitFor(condition: () => Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting: ${what}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

/** Starts `mcp-authz proxy` on a stdio upstream; resolves with the process, its URL and a token. */
async function startCli(name: string): Promise<{ proc: ChildProcess; url: string; token: string }> {
  const python = await pythonEnv()
  const port = await freePort()
  const resource = `http://127.0.0.1:${port}/mcp`
  const realm = await as.addRealm(name, { resources: { [resource]: { scopes: SCOPES } }, clients: [{ clientId: 'reader', clientSecret: 'reader-secret', scopes: SCOPES }] })
  const bundle = await buildTestBundle(notesData(resource, realm.issuer))
  const config = join(dir, `${name}.yaml`)
  await writeFile(config, [
    `bundle: { path: ${JSON.stringify(bundle)} }`,
    'verifier:',
    `  issuers: [{ issuer: ${JSON.stringify(realm.issuer)}, jwksUri: ${JSON.stringify(realm.jwksUri)} }]`,
    'proxy:',
    `  port: ${port}`,
    '  upstream:',
    `    command: ${JSON.stringify(python)}`,
    `    args: [${JSON.stringify(PYTHON_SERVER)}, stdio]`,
    '    maxProcesses: 4',
    '',
  ].join('\n'))
  const proc = spawn(process.execPath, [MAIN, 'proxy', '--config', config, '--log-level', 'warn'], { stdio: ['ignore', 'pipe', 'pipe'] })
  procs.push(proc)
  const line = await new Promise<string>((resolve, reject) => {
    let out = ''
    let err = ''
    proc.stdout?.on('data', (d: Buffer) => {
      out += d.toString()
      if (out.includes('\n')) resolve(out.split('\n')[0] as string)
    })
    proc.stderr?.on('data', (d: Buffer) => (err += d.toString()))
    proc.once('exit', (code) => reject(new Error(`proxy exited ${code}: ${err}`)))
  })
  const started = JSON.parse(line) as { mcp: string; upstream: string }
  assert.equal(started.mcp, resource)
  assert.match(started.upstream, /^stdio: /)
  return { proc, url: resource, token: await realm.token('reader', { resource, scope: 'notes:read' }) }
}

async function openSession(url: string, token: string): Promise<string> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'cli-test', version: '1' } } }),
  })
  assert.equal(res.status, 200, await res.clone().text())
  await res.text()
  return res.headers.get('mcp-session-id') as string
}

describe('mcp-authz proxy (the command)', { timeout: 240_000 }, () => {
  it('serves a stdio upstream; SIGTERM stops it gracefully and stops every process it spawned', async () => {
    const { proc, url, token } = await startCli('graceful')
    await openSession(url, token)
    await openSession(url, token)
    const children = await childrenOf(proc.pid as number)
    assert.equal(children.length, 2, 'one process per session')
    const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)))
    proc.kill('SIGTERM')
    assert.equal(await exited, 0)
    for (const pid of children) await waitFor(async () => !(await alive(pid)), `stdio process ${pid} stopped`)
  })

  it('no stdio process outlives a proxy killed with SIGKILL (its stdin closes, the server exits)', async () => {
    const { proc, url, token } = await startCli('killed')
    await openSession(url, token)
    const children = await childrenOf(proc.pid as number)
    assert.equal(children.length, 1)
    proc.kill('SIGKILL')
    for (const pid of children) await waitFor(async () => !(await alive(pid)), `orphaned stdio process ${pid} exited`)
  })

  it('refuses a configuration without a proxy section, or with both an upstream URL and a command (exit 2, every problem by path)', async () => {
    const bundle = await buildTestBundle(notesData('http://127.0.0.1:1/mcp', 'http://127.0.0.1:1/as'))
    const run = async (yaml: string) => {
      const file = join(dir, `bad-${Math.random().toString(36).slice(2)}.yaml`)
      await writeFile(file, yaml)
      const p = spawn(process.execPath, [MAIN, 'proxy', '--config', file], { stdio: ['ignore', 'ignore', 'pipe'] })
      let err = ''
      p.stderr?.on('data', (d: Buffer) => (err += d.toString()))
      const code = await new Promise<number | null>((resolve) => p.once('exit', resolve))
      return { code, err }
    }
    const none = await run(`bundle: { path: ${JSON.stringify(bundle)} }\n`)
    assert.equal(none.code, 2)
    assert.match(none.err, /\$\.proxy/)
    const both = await run(`bundle: { path: ${JSON.stringify(bundle)} }\nproxy:\n  upstream: { url: "http://127.0.0.1:9/mcp", command: python }\n`)
    assert.equal(both.code, 2)
    assert.match(both.err, /\$\.proxy\.upstream: give exactly one of proxy\.upstream\.url and proxy\.upstream\.command/)
  })
})

describe('the proxy section of the configuration', () => {
  it('applies the documented defaults', () => {
    const config = parseConfig({ bundle: { path: 'b.tar.gz' }, proxy: { upstream: { command: 'python' } } }, { env: {} })
    const p = config.proxy
    assert.ok(p)
    assert.equal(p.host, '127.0.0.1')
    assert.equal(p.port, 8080)
    assert.equal(p.maxBodyBytes, 1024 * 1024)
    assert.equal(p.upstream.maxProcesses, 16)
    assert.equal(p.upstream.idleTimeoutSeconds, 300)
    assert.equal(p.upstream.timeoutMs, 60_000)
    assert.equal(p.upstream.streamIdleTimeoutMs, 600_000)
    assert.equal(p.upstream.maxMessageBytes, 16 * 1024 * 1024)
    assert.deepEqual(p.upstream.inheritEnv, ['PATH', 'HOME', 'LANG', 'LC_ALL', 'TZ', 'TMPDIR', 'SYSTEMROOT'])
    const withAssertion = parseConfig({ bundle: { path: 'b.tar.gz' }, proxy: { upstream: { url: 'http://127.0.0.1:9000/mcp' }, assertion: {} } }, { env: {} })
    assert.deepEqual({ ...withAssertion.proxy?.assertion }, { header: 'mcp-authz-assertion', ttlSeconds: 60, jwksPath: '/.well-known/jwks.json' })
  })

  it('refuses an assertion living longer than 60 s, header names that are not tokens, and the dev issuer beyond loopback', () => {
    assert.throws(() => parseConfig({ bundle: { path: 'b' }, proxy: { upstream: { command: 'x' }, assertion: { ttlSeconds: 61 } } }, { env: {} }), /ttlSeconds/)
    assert.throws(() => parseConfig({ bundle: { path: 'b' }, proxy: { upstream: { url: 'http://a/mcp', headers: { 'bad header': 'x' } } } }, { env: {} }), /headers/)
    assert.throws(() => parseConfig({ bundle: { path: 'b' }, devIssuer: {}, proxy: { host: '0.0.0.0', upstream: { command: 'x' } } }, { env: {} }), /development only/)
  })

  it('is in the generated JSON Schema (schemas/config.schema.json is up to date)', async () => {
    const generated = `${JSON.stringify(configJsonSchema(), null, 2)}\n`
    const committed = await readFile(new URL('../../schemas/config.schema.json', import.meta.url), 'utf8')
    assert.equal(committed, generated, 'run: node src/cli/main.ts config-schema --out schemas/config.schema.json')
    assert.ok((configJsonSchema().properties as Record<string, unknown>).proxy)
  })
})
