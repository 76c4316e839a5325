// The released MCP conformance suite (@modelcontextprotocol/conformance, active + pending server
// scenarios) against the project's conformance target server, first direct, then through
// `createProxy` with a policy admitting the suite's credential-less principal (listing every tool,
// resource and prompt the suite uses). Both runs must pass the same number of checks: the proxy
// changes nothing an MCP client can see (SSE, resumption with Last-Event-ID, sampling, elicitation,
// progress, logging, subscriptions, DNS rebinding protection). Then again with the target server
// over stdio behind the proxy's bridge (a process per session).
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { after, describe, it } from 'node:test'
import { liveChildren } from '../../src/proxy/index.ts'
import { staticPrincipal } from '../../src/verify/index.ts'
import { startConformanceServer } from '../conformance/server.ts'
import { startTestProxy } from './helpers.ts'

const run = promisify(execFile)
const SUITE = process.env.MCP_CONFORMANCE_SUITE ?? 'all'
const CLI = new URL('../../node_modules/@modelcontextprotocol/conformance/dist/index.js', import.meta.url).pathname

let workdir: string | undefined
after(async () => {
  if (workdir) await rm(workdir, { recursive: true, force: true })
})

async function suite(url: string): Promise<{ passed: number; failed: number; output: string }> {
  workdir ??= await mkdtemp(join(tmpdir(), 'mcp-authz-proxy-conformance-'))
  const { stdout, stderr } = await run(process.execPath, [CLI, 'server', '--url', url, '--suite', SUITE], { cwd: workdir, timeout: 150_000, maxBuffer: 16 * 1024 * 1024 }).catch((e: { stdout?: string; stderr?: string }) => ({ stdout: e.stdout ?? '', stderr: e.stderr ?? '' }))
  const output = `${stdout}\n${stderr}`
  const m = /Total: (\d+) passed, (\d+) failed/.exec(output)
  assert.ok(m, `no summary in conformance output:\n${output.slice(-2000)}`)
  return { passed: Number(m[1]), failed: Number(m[2]), output }
}

const TOOLS = [
  'test_simple_text', 'test_image_content', 'test_audio_content', 'test_embedded_resource', 'test_multiple_content_types', 'test_tool_with_logging',
  'test_error_handling', 'test_tool_with_progress', 'test_sampling', 'test_elicitation', 'test_elicitation_sep1034_defaults', 'test_elicitation_sep1330_enums',
  'test_reconnection', 'json_schema_2020_12_tool',
]
let directPassed: number | undefined
const PROMPTS = ['test_simple_prompt', 'test_prompt_with_arguments', 'test_prompt_with_embedded_resource', 'test_prompt_with_image']

describe('MCP conformance suite through the proxy', { timeout: 400_000 }, () => {
  it('passes exactly as many checks through the proxy as direct, every call decided', async () => {
    const upstream = await startConformanceServer()
    try {
      const direct = await suite(upstream.url)
      console.log(`conformance direct: ${direct.passed} passed, ${direct.failed} failed`)
      assert.equal(direct.failed, 0, direct.output.slice(-3000))
      directPassed = direct.passed
      const scopes = { scopes: ['mcp:read'] }
      const proxy = await startTestProxy(undefined, { url: upstream.url }, {
        data: (resource) => ({
          mcp_authz: {
            resource,
            server_name: 'conformance target behind mcp-authz proxy',
            authorization_servers: ['http://127.0.0.1:1/unused'],
            issuers: {},
            defaults: { read_scope: 'mcp:read', write_scope: 'mcp:write', unlisted_tools: 'deny', unlisted_resources: 'deny', unlisted_prompts: 'deny' },
            tools: Object.fromEntries(TOOLS.map((t) => [t, scopes])),
            resources: [{ prefix: 'test://', scopes: ['mcp:read'] }],
            prompts: Object.fromEntries(PROMPTS.map((p) => [p, scopes])),
          },
        }),
        dangerouslyAllowAnonymous: staticPrincipal({ subject: 'conformance-suite', scopes: ['mcp:read'] }),
      })
      try {
        const through = await suite(proxy.url)
        console.log(`conformance through the proxy: ${through.passed} passed, ${through.failed} failed`)
        assert.equal(through.failed, 0, through.output.slice(-4000))
        assert.equal(through.passed, direct.passed)
        const methods = new Set(proxy.events.map((e) => e.input?.action.method))
        for (const m of ['initialize', 'tools/call', 'resources/read', 'prompts/get', 'notifications/initialized', 'response']) assert.ok(methods.has(m), `${m} was decided`)
        assert.ok(proxy.events.every((e) => e.result.allow), 'nothing the suite does was denied')
      } finally {
        await proxy.close()
      }
    } finally {
      await upstream.close()
    }
  })
})

describe('MCP conformance suite through the proxy, stdio upstream', { timeout: 400_000 }, () => {
  it('passes through the stdio bridge (a process per session)', async () => {
    const proxy = await startTestProxy(undefined, { command: process.execPath, args: [new URL('./conformance-stdio.ts', import.meta.url).pathname], env: { PATH: process.env.PATH ?? '' }, maxProcesses: 64, stopGraceMs: 500 }, {
      data: (resource) => ({
        mcp_authz: {
          resource,
          authorization_servers: ['http://127.0.0.1:1/unused'],
          issuers: {},
          defaults: { read_scope: 'mcp:read', write_scope: 'mcp:write', unlisted_tools: 'deny', unlisted_resources: 'deny', unlisted_prompts: 'deny' },
          tools: Object.fromEntries(TOOLS.map((t) => [t, { scopes: ['mcp:read'] }])),
          resources: [{ prefix: 'test://', scopes: ['mcp:read'] }],
          prompts: Object.fromEntries(PROMPTS.map((p) => [p, { scopes: ['mcp:read'] }])),
        },
      }),
      dangerouslyAllowAnonymous: staticPrincipal({ subject: 'conformance-suite', scopes: ['mcp:read'] }),
    })
    try {
      const through = await suite(proxy.url)
      console.log(`conformance through the proxy, stdio upstream: ${through.passed} passed, ${through.failed} failed`)
      assert.equal(through.failed, 0, through.output.slice(-4000))
      assert.ok(directPassed !== undefined, 'the direct run comes first')
      assert.equal(through.passed, directPassed)
    } finally {
      await proxy.close()
    }
    assert.equal(liveChildren(), 0, 'every stdio process stopped with the proxy')
  })
})
