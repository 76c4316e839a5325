import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, it } from 'node:test'
import { parseConfig } from '../../src/config/load.ts'
import { mintDevToken } from '../../src/runtime/dev-issuer.ts'
import { startServer, type RunningServer } from '../../src/server/start.ts'
import { buildTestBundle } from '../helpers/bundle.ts'
import { bundleServer, call, eventually, post, quickData, RESOURCE } from './helpers.ts'
import { tempDir } from '../helpers/temp.ts'

// Two stateless replicas poll one bundle server; publishing a new bundle moves both to it.
const bs = bundleServer()
const replicas: RunningServer[] = []
let devDir: string

before(async () => {
  devDir = await tempDir('mcp-authz-scale-')
  bs.set(await readFile(await buildTestBundle(quickData, { revision: 'r1' })), '"r1"')
  const url = await bs.listen()
  for (let i = 0; i < 2; i++) {
    const config = parseConfig({ bundle: { url, pollIntervalSeconds: 0.05 }, devIssuer: { dir: devDir }, server: { port: 0 } }, { env: {} })
    replicas.push(await startServer(config))
  }
})
after(async () => {
  await Promise.all(replicas.map((r) => r.close()))
  bs.server.close()
})

it('two endpoint replicas polling one bundle server both switch to the new revision', async () => {
  const token = await mintDevToken({ audience: RESOURCE, scope: 'notes:read', dir: devDir })
  for (const r of replicas) {
    const ready = (await (await fetch(`${r.url}/ready`)).json()) as { revision: string }
    assert.equal(ready.revision, 'r1')
    assert.equal((await post(`${r.url}/v1/decide`, { token, message: call('notes_read') })).json.allow, true)
  }
  // r2: notes_read now needs another scope; both replicas must pick it up and deny.
  const data = structuredClone(quickData)
  data.mcp_authz.tools.notes_read.scopes = ['notes:list']
  bs.set(await readFile(await buildTestBundle(data, { revision: 'r2' })), '"r2"')
  await eventually(() => replicas.every((r) => r.authz.bundle.revision === 'r2'))
  for (const r of replicas) {
    assert.equal(((await (await fetch(`${r.url}/ready`)).json()) as { revision: string }).revision, 'r2')
    const d = await post(`${r.url}/v1/decide`, { token, message: call('notes_read') })
    assert.equal(d.json.status, 403)
    assert.equal(d.json.revision, 'r2')
    assert.match(await (await fetch(`${r.url}/metrics`)).text(), /mcp_authz_bundle_info\{revision="r2"\} 1/)
  }
  assert.ok(bs.requests.some((q) => q.status === 304), 'unchanged polls are answered 304')
})
