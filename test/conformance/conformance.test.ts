// The official MCP conformance suite (@modelcontextprotocol/conformance server scenarios, `all` = active + pending)
// against this project's target server, first unprotected, then wrapped by protect() + the HTTP
// guard with a policy admitting the suite's (credential-less) anonymous principal. Both runs must
// pass the same number of checks.
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { freePort } from '../helpers/net.ts'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { after, describe, it } from 'node:test'
import { createAuthz } from '../../src/authz.ts'
import type { DecisionEvent } from '../../src/authz.ts'
import { staticPrincipal } from '../../src/verify/index.ts'
import { buildTestBundle } from '../helpers/bundle.ts'
import { PROMPTS, startConformanceServer, TOOLS } from './server.ts'

const run = promisify(execFile)
// `all` = the active scenarios plus the pending ones (JSON Schema 2020-12, SSE polling); both pass.
const SUITE = process.env.MCP_CONFORMANCE_SUITE ?? 'all'
const CLI = new URL('../../node_modules/@modelcontextprotocol/conformance/dist/index.js', import.meta.url).pathname


let workdir: string | undefined
after(async () => {
  if (workdir) await rm(workdir, { recursive: true, force: true })
})

async function suite(url: string): Promise<{ passed: number; failed: number; output: string }> {
  workdir ??= await mkdtemp(join(tmpdir(), 'mcp-authz-conformance-'))
  const { stdout, stderr } = await run(process.execPath, [CLI, 'server', '--url', url, '--suite', SUITE], { cwd: workdir, timeout: 80_000, maxBuffer: 16 * 1024 * 1024 }).catch((e: { stdout?: string; stderr?: string }) => ({ stdout: e.stdout ?? '', stderr: e.stderr ?? '' }))
  const output = `${stdout}\n${stderr}`
  const m = /Total: (\d+) passed, (\d+) failed/.exec(output)
  assert.ok(m, `no summary in conformance output:\n${output.slice(-2000)}`)
  return { passed: Number(m[1]), failed: Number(m[2]), output }
}

describe('MCP conformance suite (active + pending server scenarios)', { timeout: 170_000 }, () => {
  let unprotected: { passed: number; failed: number } | undefined

  it('the unprotected target server passes every check', async () => {
    const server = await startConformanceServer()
    try {
      const result = await suite(server.url)
      console.log(`conformance unprotected: ${result.passed} passed, ${result.failed} failed`)
      assert.equal(result.failed, 0, result.output.slice(-3000))
      assert.ok(result.passed >= 40, 'every active check (40 in conformance 0.1.16) ran')
      unprotected = result
    } finally {
      await server.close()
    }
  })

  it('protected by mcp-authz (protect + HTTP guard, anonymous principal allowed by policy), it passes exactly as many', async () => {
    assert.ok(unprotected, 'the unprotected run comes first')
    const port = await freePort()
    const resource = `http://127.0.0.1:${port}/mcp`
    const bundle = await buildTestBundle({
      mcp_authz: {
        resource,
        server_name: 'mcp-authz conformance target',
        authorization_servers: ['http://127.0.0.1:1/unused'],
        issuers: {},
        defaults: { read_scope: 'mcp:read', write_scope: 'mcp:write' },
        // Default deny: every tool, resource and prompt the target serves is listed.
        tools: Object.fromEntries(TOOLS.map((t) => [t.name, {}])),
        resources: [{ prefix: 'test://' }],
        prompts: Object.fromEntries(PROMPTS.map((p) => [p.name, {}])),
      },
    })
    const events: DecisionEvent[] = []
    const authz = await createAuthz({ bundle, onDecision: (e) => events.push(e) })
    const anonymous = staticPrincipal({ subject: 'conformance-suite', scopes: ['mcp:read', 'mcp:write'] })
    const server = await startConformanceServer({ port, authz, anonymous })
    try {
      const result = await suite(server.url)
      console.log(`conformance protected: ${result.passed} passed, ${result.failed} failed`)
      assert.equal(result.failed, 0, result.output.slice(-3000))
      assert.equal(result.passed, unprotected.passed)
      assert.ok(events.some((e) => e.input?.action.method === 'tools/call'), 'calls were decided by the engine')
      assert.ok(events.every((e) => e.result.allow), 'nothing was denied')
    } finally {
      await server.close()
    }
  })
})
