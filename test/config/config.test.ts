import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { ConfigError } from '../../src/config/errors.ts'
import { envName, loadConfig, parseConfig } from '../../src/config/load.ts'
import { configJsonSchema } from '../../src/config/schema.ts'
import { tempDir } from '../helpers/temp.ts'

const HASH = 'a'.repeat(64)

async function file(name: string, text: string): Promise<string> {
  const dir = await tempDir('mcp-authz-config-')
  const path = join(dir, name)
  await writeFile(path, text)
  return path
}

describe('configuration file', () => {
  it('reads YAML, applies defaults and resolves paths against the file', async () => {
    const path = await file('config.yaml', 'bundle:\n  path: build/bundle.tar.gz\ndevIssuer: {}\n')
    const config = await loadConfig(path, { env: {} })
    assert.equal(config.server.host, '127.0.0.1')
    assert.equal(config.server.port, 8181)
    assert.equal(config.server.bodyLimit, 1048576)
    assert.equal(config.bundle.path, join(path, '..', 'build/bundle.tar.gz'))
    assert.equal(config.bundle.pollIntervalSeconds, 30)
    assert.equal(config.devIssuer?.dir, join(path, '..', '.mcp-authz/dev-issuer'))
  })

  it('reads JSON too', async () => {
    const path = await file('config.json', JSON.stringify({ bundle: { url: 'https://bundles.example.com/b.tar.gz', pollIntervalSeconds: 5 }, server: { port: 9000 } }))
    const config = await loadConfig(path, { env: {} })
    assert.equal(config.bundle.url, 'https://bundles.example.com/b.tar.gz')
    assert.equal(config.server.port, 9000)
  })

  it('lists every problem by path and never returns a half-valid configuration', () => {
    try {
      parseConfig({ bundle: { path: 'a', url: 'ftp://x' }, server: { port: 70000, apiKeyHashes: ['nope'], bodyLimit: -1 }, shadow: 'yes', typo: 1 }, { env: {} })
      assert.fail('should throw')
    } catch (err) {
      assert.ok(err instanceof ConfigError)
      assert.equal(err.code, 'ERR_CONFIG_INVALID')
      const paths = err.problems.map((p) => p.path).sort()
      assert.deepEqual(paths, ['$', '$.bundle', '$.bundle.url', '$.server.apiKeyHashes[0]', '$.server.bodyLimit', '$.server.port', '$.shadow'].sort())
      assert.match(err.message, /\$\.server\.port/)
    }
  })

  it('requires exactly one bundle source, and a key when signing is required', () => {
    assert.throws(() => parseConfig({ bundle: {} }, { env: {} }), (e: ConfigError) => e.problems.some((p) => p.path === '$.bundle' && /exactly one/.test(p.message)))
    assert.throws(() => parseConfig({ bundle: { path: 'b', signing: { required: true } } }, { env: {} }), (e: ConfigError) => e.problems.some((p) => p.path === '$.bundle.signing.publicKey'))
  })

  it('applies environment overrides (MCP_AUTHZ_<SECTION>_<KEY>)', () => {
    assert.equal(envName('bundle.pollIntervalSeconds'), 'MCP_AUTHZ_BUNDLE_POLL_INTERVAL_SECONDS')
    const config = parseConfig(
      { bundle: { path: '/srv/b.tar.gz' }, server: { port: 1 } },
      { env: { MCP_AUTHZ_SERVER_PORT: '9191', MCP_AUTHZ_BUNDLE_PATH: '/other.tar.gz', MCP_AUTHZ_SERVER_API_KEY_HASHES: `${HASH}, sha256:${'b'.repeat(64)}`, MCP_AUTHZ_SHADOW: 'true' } },
    )
    assert.equal(config.server.port, 9191)
    assert.equal(config.bundle.path, '/other.tar.gz')
    assert.deepEqual(config.server.apiKeyHashes, [HASH, `sha256:${'b'.repeat(64)}`])
    assert.equal(config.shadow, false, 'only the documented keys are read')
    assert.throws(() => parseConfig({ bundle: { path: 'b' } }, { env: { MCP_AUTHZ_SERVER_PORT: 'eighty' } }), (e: ConfigError) => e.problems[0]?.path === '$.server.port')
  })

  it('reports YAML and JSON syntax errors with their line and column (never line 0)', async () => {
    const path = await file('bad.yaml', 'bundle:\n  path: [unclosed\n')
    await assert.rejects(loadConfig(path, { env: {} }), (e: ConfigError) => e.code === 'ERR_CONFIG_READ' && /^\$ \(line [1-9]\d*, column [1-9]\d*\)$/.test(e.problems[0]?.path ?? ''))
    const tab = await file('tab.yaml', 'bundle:\n\tpath: b.tar.gz\n')
    await assert.rejects(loadConfig(tab, { env: {} }), (e: ConfigError) => e.problems[0]?.path === '$ (line 2, column 1)' && /tab\.yaml:2:1: Tabs are not allowed/.test(e.message))
    const json = await file('bad.json', '{\n  "bundle": { "path": "b" },\n}\n')
    await assert.rejects(loadConfig(json, { env: {} }), (e: ConfigError) => e.problems[0]?.path === '$ (line 3, column 1)')
    const dup = await file('dup.yaml', 'bundle:\n  path: a\nbundle:\n  path: b\n')
    await assert.rejects(loadConfig(dup, { env: {} }), (e: ConfigError) => e.problems[0]?.path === '$ (line 3, column 1)' && /unique/.test(e.problems[0]?.message ?? ''))
  })

  it('the shipped quickstart configuration is valid', async () => {
    const config = await loadConfig(new URL('../../examples/quickstart/config.yaml', import.meta.url).pathname, { env: {} })
    assert.equal(config.resource, 'http://127.0.0.1:8181/mcp')
  })

  it('schemas/config.schema.json is generated from the zod schema (mcp-authz config-schema)', () => {
    const onDisk = JSON.parse(readFileSync(new URL('../../schemas/config.schema.json', import.meta.url), 'utf8'))
    assert.deepEqual(onDisk, configJsonSchema(), 'regenerate with: node src/cli/main.ts config-schema --out schemas/config.schema.json')
  })
})

describe('listening beyond loopback', () => {
  it('needs API key hashes and refuses the development issuer', () => {
    assert.throws(
      () => parseConfig({ bundle: { path: 'b' }, devIssuer: {}, server: { host: '0.0.0.0' } }, { env: {} }),
      (e: ConfigError) => e.problems.some((p) => p.path === '$.server.apiKeyHashes') && e.problems.some((p) => p.path === '$.devIssuer'),
    )
    assert.equal(parseConfig({ bundle: { path: 'b' }, server: { host: '0.0.0.0', apiKeyHashes: [HASH] } }, { env: {} }).server.host, '0.0.0.0')
  })
})
