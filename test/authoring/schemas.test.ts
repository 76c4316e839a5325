/**
 * The shipped JSON Schemas work offline, in `opa check --schema schemas/` and in editors: no
 * schema refers to another file (which tools resolve against the `$id` host and try to fetch), and
 * the copies inside input.schema.json are the contracts' own schemas.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { embedded } from '../../scripts/sync-schemas.ts'
import { freePort } from '../helpers/net.ts'

const SCHEMAS = new URL('../../schemas/', import.meta.url).pathname
const OPA = process.env.MCP_AUTHZ_OPA ?? 'opa'

/** Runs opa with every HTTP(S) request sent to a closed loopback port: any fetch fails at once. */
async function opaOffline(args: string[], cwd: string): Promise<{ code: number; output: string }> {
  const proxy = `http://127.0.0.1:${await freePort()}`
  return new Promise((resolve) => {
    execFile(OPA, args, { cwd, timeout: 60_000, env: { ...process.env, HTTP_PROXY: proxy, HTTPS_PROXY: proxy, http_proxy: proxy, https_proxy: proxy, NO_PROXY: '', no_proxy: '' } }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, output: `${stdout}${stderr}` })
    })
  })
}

describe('shipped JSON Schemas', () => {
  test('no schema refers to another file; input.schema.json embeds the principal and action schemas as they are', () => {
    for (const name of readdirSync(SCHEMAS).filter((f) => f.endsWith('.json'))) {
      const text = readFileSync(join(SCHEMAS, name), 'utf8')
      for (const m of text.matchAll(/"\$ref"\s*:\s*"([^"]*)"/g)) assert.ok(m[1]?.startsWith('#'), `${name} refers to ${m[1]}: tools would fetch it`)
    }
    const input = JSON.parse(readFileSync(join(SCHEMAS, 'input.schema.json'), 'utf8')) as { $defs: Record<string, unknown> }
    assert.deepEqual(input.$defs.principal, embedded('principal'), 'regenerate with: node scripts/sync-schemas.ts')
    assert.deepEqual(input.$defs.action, embedded('action'), 'regenerate with: node scripts/sync-schemas.ts')
  })

  test('opa check --schema schemas/ works with no network, and catches a mistyped input field', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'mcp-authz-schemas-'))
    t.after(() => rm(dir, { recursive: true, force: true }))
    const module = (field: string) => `# METADATA\n# schemas:\n#   - input: schema["input.schema"]\n#   - data: schema["data.schema"]\npackage mcp.authz.custom\n\nimport rego.v1\n\ndeny contains {"code": "c", "message": "m"} if {\n\tinput.principal.${field} == "mallory"\n\tdata.mcp_authz.resource != ""\n}\n`
    await writeFile(join(dir, 'good.rego'), module('subject'))
    const good = await opaOffline(['check', '--strict', '--schema', SCHEMAS, 'good.rego'], dir)
    assert.equal(good.code, 0, good.output)
    await writeFile(join(dir, 'typo.rego'), module('subjectt'))
    const typo = await opaOffline(['check', '--strict', '--schema', SCHEMAS, 'typo.rego'], dir)
    assert.notEqual(typo.code, 0)
    assert.match(typo.output, /undefined ref: input\.principal\.subjectt/)
    assert.doesNotMatch(typo.output, /mcp-authz\.dev|proxyconnect|dial tcp/)
  })
})
