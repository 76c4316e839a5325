/**
 * The CLI for a user whose policy is data only, with no `opa` installed: `eval --data` (and `eval`
 * finding `data.yaml` in the current folder) decides with the shipped library, `check` validates a
 * configuration with `bundle.data`, and `build` says how to install opa — and that data alone
 * needs no build. Each case runs the real CLI as a process.
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { copyFile, mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { before, describe, it } from 'node:test'
import { buildTestBundle } from '../helpers/bundle.ts'
import { envWithoutOpa } from '../helpers/no-opa.ts'
import { tempDir } from '../helpers/temp.ts'

const MAIN = new URL('../../src/cli/main.ts', import.meta.url).pathname
const DATA = `mcp_authz:
  resource: https://notes.example.com/mcp
  issuers:
    https://as.example.com: { tenant: acme }
  tools:
    notes_read: { scopes: [notes:read] }
    notes_write: { scopes: [notes:write] }
`

describe('the CLI with policy data only and no opa', () => {
  let dir: string
  let env: NodeJS.ProcessEnv
  const cli = (args: string[], cwd = dir) => spawnSync(process.execPath, [MAIN, ...args], { cwd, env, encoding: 'utf8', timeout: 60_000 })
  before(async () => {
    dir = await tempDir('mcp-authz-cli-data-')
    env = await envWithoutOpa(join(dir, 'bin'))
    await writeFile(join(dir, 'data.yaml'), DATA)
  })

  it('eval --data decides with the shipped library', () => {
    const r = cli(['eval', '--data', 'data.yaml', '--sub', 'alice', '--scopes', 'notes:read', '--tool', 'notes_write'])
    assert.equal(r.status, 0, r.stderr)
    const out = JSON.parse(r.stdout)
    assert.equal(out.status, 403)
    assert.deepEqual(out.required_scopes, ['notes:write'])
    assert.equal(out.input.principal.issuer, 'https://as.example.com', 'the issuer defaults from the data')
  })

  it('eval with no policy named: build/bundle.tar.gz when there is one, else the data file here, else exit 2 saying what to give', async () => {
    const viaDefault = cli(['eval', '--sub', 'alice', '--scopes', 'notes:write', '--tool', 'notes_write'])
    assert.equal(viaDefault.status, 0, viaDefault.stderr)
    assert.equal(JSON.parse(viaDefault.stdout).allow, true)
    assert.match(JSON.parse(viaDefault.stdout).revision, /^lib-.*\+data-/)

    const withBundle = await tempDir('mcp-authz-cli-data-bundle-')
    await mkdir(join(withBundle, 'build'))
    await copyFile(await buildTestBundle({ mcp_authz: { resource: 'https://notes.example.com/mcp', issuers: { 'https://as.example.com': {} } } }, { revision: 'built' }), join(withBundle, 'build/bundle.tar.gz'))
    await writeFile(join(withBundle, 'data.yaml'), DATA)
    assert.equal(JSON.parse(cli(['eval', '--sub', 'a', '--tool', 'notes_read'], withBundle).stdout).revision, 'built', 'the built bundle first')

    const empty = await tempDir('mcp-authz-cli-data-empty-')
    const none = cli(['eval', '--sub', 'alice', '--tool', 'notes_read'], empty)
    assert.equal(none.status, 2)
    assert.match(none.stderr, /eval needs a policy: --bundle <file> .* or --data <file>/)
    const both = cli(['eval', '--bundle', 'b.tar.gz', '--data', 'data.yaml', '--sub', 'alice', '--tool', 'notes_read'])
    assert.equal(both.status, 2)
    assert.match(both.stderr, /give the policy one way/)
  })

  it('check --config with bundle.data: valid, and a data mistake is exit 2 with its path', async () => {
    await writeFile(join(dir, 'config.yaml'), 'bundle:\n  data: data.yaml\n')
    const ok = cli(['check', '--config', 'config.yaml'])
    assert.equal(ok.status, 0, ok.stderr)
    assert.equal(JSON.parse(ok.stdout).bundle, join(dir, 'data.yaml'))
    await writeFile(join(dir, 'bad.yaml'), `${DATA}  tool: {}\n`)
    await writeFile(join(dir, 'bad-config.yaml'), 'bundle:\n  data: bad.yaml\n')
    const bad = cli(['check', '--config', 'bad-config.yaml'])
    assert.equal(bad.status, 2)
    assert.match(bad.stderr, /tool/)
  })

  it('build without opa: exit 2, how to install it, and that data alone needs no build', () => {
    const r = cli(['build', '--data', 'data.yaml'])
    assert.equal(r.status, 2, r.stderr)
    assert.match(r.stderr, /go install github\.com\/open-policy-agent\/opa@v1\.22\.2/)
    assert.match(r.stderr, /MCP_AUTHZ_OPA/)
    assert.match(r.stderr, /Policy data alone needs no build: createAuthz\(\{ data: 'data\.yaml' \}\), bundle: \{ data: data\.yaml \}/)
    assert.doesNotMatch(r.stderr, /npm run|setup/, 'no advice that only holds in the repository')
  })
})
