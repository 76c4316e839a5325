import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { it } from 'node:test'
import { parseConfig } from '../../src/config/load.ts'
import { mintDevToken } from '../../src/runtime/dev-issuer.ts'
import { startServer } from '../../src/server/start.ts'
import { buildTestBundle } from '../helpers/bundle.ts'
import { call, post, quickData, RESOURCE } from './helpers.ts'
import { tempDir } from '../helpers/temp.ts'

it('serve from a configuration: dev issuer trusted, decisions logged with their revision, JWKS served', async () => {
  const dir = await tempDir('mcp-authz-start-')
  const logFile = join(dir, 'decisions.jsonl')
  const config = parseConfig(
    { bundle: { path: await buildTestBundle(quickData, { revision: 'r1' }) }, devIssuer: { dir: join(dir, 'dev') }, decisionLog: { sinks: [{ type: 'file', path: logFile }] }, server: { port: 0, devIssuer: true } },
    { env: {} },
  )
  const running = await startServer(config)
  try {
    const token = await mintDevToken({ audience: RESOURCE, scope: 'notes:read', dir: join(dir, 'dev') })
    const r = await post(`${running.url}/v1/decide`, { token, message: call('notes_write', { title: 'x' }) })
    assert.equal(r.json.status, 403)
    const jwks = (await (await fetch(`${running.url}/dev-issuer/jwks`)).json()) as { keys: Array<{ kty: string; d?: string }> }
    assert.equal(jwks.keys[0]?.kty, 'EC')
    assert.equal(jwks.keys[0]?.d, undefined, 'never the private key')
  } finally {
    await running.close()
  }
  const lines = (await readFile(logFile, 'utf8')).trim().split('\n')
  assert.ok(lines.some((l) => l.includes('"r1"')), 'the decision record carries the bundle revision')
})
