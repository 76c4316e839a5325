// docs/proxy.md's example as documented: examples/proxy/config.yaml, data.json and server.py (the
// official Python SDK over stdio) behind `startProxy` — what `mcp-authz proxy --config` runs —, with
// a development token. Only the port (and with it the resource URI), the data file and dev-issuer
// paths are moved to the test's own (environment overrides), and the stdout decision log is left out.
// The example needs no `opa` and no build: its configuration names the policy data file.
import assert from 'node:assert/strict'
import { mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { after, it } from 'node:test'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { loadConfig } from '../../src/config/load.ts'
import { startProxy, type RunningProxy } from '../../src/proxy/index.ts'
import { mintDevToken } from '../../src/runtime/dev-issuer.ts'
import { freePort } from '../helpers/net.ts'
import { pythonEnv } from './helpers.ts'

const EXAMPLE = new URL('../../examples/proxy/', import.meta.url)
let dir: string | undefined
let running: RunningProxy | undefined
const clients: Client[] = []
after(async () => {
  for (const c of clients) await c.close().catch(() => undefined)
  await running?.close()
  if (dir) await rm(dir, { recursive: true, force: true })
})

it('the documented example protects the Python server: 401 without a token, filtered tools and a working call with one', { timeout: 180_000 }, async () => {
  const python = await pythonEnv()
  dir = await mkdtemp(join(tmpdir(), 'mcp-authz-proxy-example-'))
  const port = await freePort()
  const resource = `http://127.0.0.1:${port}/mcp`
  const data = (await readFile(new URL('data.json', EXAMPLE), 'utf8')).replaceAll('http://127.0.0.1:8080/mcp', resource)
  const dataFile = join(dir, 'data.json')
  await writeFile(dataFile, data)
  const env = { MCP_AUTHZ_PROXY_PORT: String(port), MCP_AUTHZ_BUNDLE_DATA: dataFile, MCP_AUTHZ_DEV_ISSUER_DIR: dir }
  const config = await loadConfig(new URL('config.yaml', EXAMPLE).pathname, { env })
  assert.equal(config.proxy?.upstream.command, 'python3')
  assert.equal(config.bundle.data, dataFile)
  delete config.decisionLog
  running = await startProxy(config, { baseDir: new URL('.', EXAMPLE).pathname, env: { ...process.env, PATH: `${dirname(python)}:${process.env.PATH ?? ''}` } })

  const anonymous = await fetch(resource, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' }, body: '{"jsonrpc":"2.0","id":1,"method":"ping"}' })
  assert.equal(anonymous.status, 401)
  assert.match(anonymous.headers.get('www-authenticate') ?? '', new RegExp(`^Bearer scope="notes:read", resource_metadata="http://127.0.0.1:${port}/.well-known/oauth-protected-resource/mcp"$`))

  const token = await mintDevToken({ audience: resource, scope: 'notes:read', dir })
  const client = new Client({ name: 'example', version: '1.0.0' })
  clients.push(client)
  await client.connect(new StreamableHTTPClientTransport(new URL(resource), { requestInit: { headers: { authorization: `Bearer ${token}` } } }))
  assert.deepEqual((await client.listTools()).tools.map((t) => t.name), ['notes_read'])
  const out = await client.callTool({ name: 'notes_read', arguments: { title: 'welcome' } })
  assert.deepEqual(out.content, [{ type: 'text', text: 'Hello from Python' }])
  const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()
  assert.match(metrics, /mcp_authz_proxy_stdio_processes 1/)
  assert.match(metrics, /mcp_authz_decisions_total\{result="allow"/)

  // Hot reload: new data published over the file (by rename) serves the next call, no restart.
  const ready = async () => ((await (await fetch(`http://127.0.0.1:${port}/ready`)).json()) as { revision: string }).revision
  const before = await ready()
  const opened = JSON.parse(data) as { mcp_authz: { tools: Record<string, unknown> } }
  opened.mcp_authz.tools.notes_write = { scopes: ['notes:read'] }
  await writeFile(join(dir, 'next.json'), JSON.stringify(opened))
  await rename(join(dir, 'next.json'), dataFile)
  const deadline = Date.now() + 30_000
  while ((await ready()) === before) {
    assert.ok(Date.now() < deadline, 'the new data was activated within 30 s')
    await new Promise((r) => setTimeout(r, 100))
  }
  assert.deepEqual((await client.listTools()).tools.map((t) => t.name).sort(), ['notes_read', 'notes_write'])
})
