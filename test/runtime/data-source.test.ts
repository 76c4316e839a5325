/**
 * `bundle: { data: data.yaml }` in the configuration: the decision endpoint and the proxy run from
 * policy data alone (loaded into the prebuilt policy library, no `mcp-authz build`), and the data
 * file is watched and reloaded like a bundle file — a bad version is refused while the last good
 * one keeps serving.
 */
import assert from 'node:assert/strict'
import { rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { ConfigError } from '../../src/config/errors.ts'
import { loadConfig, parseConfig } from '../../src/config/load.ts'
import { createBundleLoader } from '../../src/policy/loader.ts'
import { startProxy } from '../../src/proxy/start.ts'
import { DEV_ISSUER, mintDevToken } from '../../src/runtime/dev-issuer.ts'
import { startServer } from '../../src/server/start.ts'
import { freePort } from '../helpers/net.ts'
import { tempDir } from '../helpers/temp.ts'
import { startTsUpstream } from '../proxy/helpers.ts'
import { call, eventually, post, RESOURCE } from '../server/helpers.ts'

/** The policy data as a user writes it: YAML, every tool used listed. */
const dataYaml = (writeScope: string) => `mcp_authz:
  resource: ${RESOURCE}
  issuers:
    ${DEV_ISSUER}: { tenant: acme }
  tools:
    notes_read: { scopes: [notes:read] }
    notes_write: { scopes: [${writeScope}] }
`

/** Replaces a file the safe way (write beside it, rename over it), as a deployment would. */
async function publish(path: string, text: string): Promise<void> {
  await writeFile(`${path}.next`, text)
  await rename(`${path}.next`, path)
}

describe('serve and proxy with policy data alone (bundle.data)', () => {
  it('the configuration takes bundle.data: relative to its file, exactly one source, never with signing, MCP_AUTHZ_BUNDLE_DATA', async () => {
    const dir = await tempDir('mcp-authz-data-config-')
    await writeFile(join(dir, 'config.yaml'), 'bundle:\n  data: policy/data.yaml\n')
    const config = await loadConfig(join(dir, 'config.yaml'), { env: {} })
    assert.equal(config.bundle.data, join(dir, 'policy/data.yaml'))
    assert.equal(config.bundle.watch, true)
    const problem = (raw: unknown, env: Record<string, string> = {}) => {
      try {
        parseConfig(raw, { env })
      } catch (err) {
        assert.ok(err instanceof ConfigError)
        return err.problems.map((p) => `${p.path}: ${p.message}`).join('\n')
      }
      return 'valid'
    }
    assert.match(problem({ bundle: { data: 'd.yaml', path: 'b.tar.gz' } }), /\$\.bundle: give exactly one of bundle\.path, bundle\.url and bundle\.data/)
    assert.match(problem({ bundle: { data: 'd.yaml', signing: { publicKey: 'k.pem' } } }), /\$\.bundle\.signing: signing verifies bundles/)
    assert.match(problem({ bundle: { path: 'b.tar.gz' } }, { MCP_AUTHZ_BUNDLE_DATA: '/srv/data.json' }), /exactly one/, 'the variable adds a source: still exactly one is required')
    assert.equal(parseConfig({ bundle: {} }, { env: { MCP_AUTHZ_BUNDLE_DATA: '/srv/data.json' } }).bundle.data, '/srv/data.json')
  })

  it('serve: decides from the data, reloads a replaced data file, keeps the last good data on a broken one', async () => {
    const dir = await tempDir('mcp-authz-data-serve-')
    const data = join(dir, 'data.yaml')
    await writeFile(data, dataYaml('notes:write'))
    const reloadErrors: string[] = []
    const running = await startServer(parseConfig({ bundle: { data }, devIssuer: { dir: join(dir, 'dev') }, server: { port: 0 } }, { env: {} }), { onReloadError: (_e, why) => reloadErrors.push(why) })
    try {
      const token = await mintDevToken({ audience: RESOURCE, scope: 'notes:read', dir: join(dir, 'dev') })
      const write = async () => (await post(`${running.url}/v1/decide`, { token, message: call('notes_write', { title: 'x' }) })).json
      const first = await write()
      assert.equal(first.status, 403)
      assert.deepEqual(first.required_scopes, ['notes:write'])
      const ready = (await (await fetch(`${running.url}/ready`, { signal: AbortSignal.timeout(5000) })).json()) as { revision: string }
      assert.match(ready.revision, /^lib-sha256-[0-9a-f]{16}\+data-[0-9a-f]{16}$/, 'the prebuilt library with this data')

      await publish(data, dataYaml('notes:read'))
      await eventually(() => running.authz.bundle.revision !== ready.revision, 10_000)
      assert.equal((await write()).allow, true, 'the new data decides')

      const good = running.authz.bundle.revision
      await publish(data, 'mcp_authz:\n  resource: [\n')
      await eventually(() => reloadErrors.length > 0, 10_000)
      assert.deepEqual(reloadErrors, ['load'])
      assert.equal(running.authz.bundle.revision, good)
      assert.equal((await write()).allow, true, 'still the last good data')
      const metrics = await (await fetch(`${running.url}/metrics`, { signal: AbortSignal.timeout(5000) })).text()
      assert.match(metrics, /mcp_authz_bundle_reload_failures_total\{reason="load"\} 1/)
    } finally {
      await running.close()
    }
  })

  it('serve refuses to start on invalid data, naming the mistake', async () => {
    const dir = await tempDir('mcp-authz-data-bad-')
    const data = join(dir, 'data.yaml')
    await writeFile(data, `${dataYaml('notes:write')}  tool: {}\n`)
    await assert.rejects(startServer(parseConfig({ bundle: { data }, server: { port: 0 } }, { env: {} })), (e: Error & { code?: string }) => e.code === 'ERR_DATA_INVALID' && /tools/.test(e.message))
  })

  it('proxy: the guard decides from the data and the upstream serves what it allows', async (t) => {
    const dir = await tempDir('mcp-authz-data-proxy-')
    const upstream = await startTsUpstream({ json: true })
    t.after(() => upstream.close())
    const port = await freePort()
    const resource = `http://127.0.0.1:${port}/mcp`
    const data = join(dir, 'data.json')
    await writeFile(data, JSON.stringify({ mcp_authz: { resource, issuers: { [DEV_ISSUER]: {} }, tools: { notes_read: { scopes: ['notes:read'] }, notes_write: { scopes: ['notes:write'] } } } }))
    const running = await startProxy(parseConfig({ bundle: { data }, devIssuer: { dir: join(dir, 'dev') }, proxy: { port, upstream: { url: upstream.url } } }, { env: {} }))
    const client = new Client({ name: 'data-only', version: '1.0.0' })
    try {
      const anonymous = await fetch(resource, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' }, body: JSON.stringify(call('notes_read')), signal: AbortSignal.timeout(5000) })
      assert.equal(anonymous.status, 401)
      assert.match(anonymous.headers.get('www-authenticate') ?? '', /resource_metadata="http:\/\/127\.0\.0\.1:\d+\/\.well-known\/oauth-protected-resource\/mcp"/)
      const token = await mintDevToken({ audience: resource, scope: 'notes:read', dir: join(dir, 'dev') })
      await client.connect(new StreamableHTTPClientTransport(new URL(resource), { requestInit: { headers: { authorization: `Bearer ${token}` } } }))
      assert.deepEqual((await client.listTools()).tools.map((t) => t.name), ['notes_read'], 'the list is filtered by the data')
      assert.deepEqual((await client.callTool({ name: 'notes_read', arguments: { title: 'a' } })).content, [{ type: 'text', text: 'note a' }])
      await assert.rejects(client.callTool({ name: 'notes_write', arguments: { title: 'a' } }), 'notes:write is missing: 403 step-up')
    } finally {
      await client.close().catch(() => undefined)
      await running.close()
    }
  })

  it('the loader: exactly one source; signature verification does not apply to a data file; an oversized data file is refused unread', async () => {
    const dir = await tempDir('mcp-authz-data-loader-')
    const target = { load: async () => ({ revision: 'x' }) }
    assert.throws(() => createBundleLoader({ target, path: 'b', data: 'd' }), /exactly one of path, url and data/)
    assert.throws(() => createBundleLoader({ target, data: 'd', verify: async () => undefined }), /does not apply to a data file/)
    const data = join(dir, 'data.yaml')
    await writeFile(data, dataYaml('notes:write'))
    const errors: string[] = []
    const loader = createBundleLoader({ target, data, maxBytes: 16, onError: (e) => errors.push(e.message) })
    await assert.rejects(loader.refresh(), (e: Error & { code?: string }) => e.code === 'ERR_BUNDLE_TOO_LARGE')
    assert.match(errors[0] ?? '', /policy data .*data\.yaml is larger than 16 bytes/)
  })
})
