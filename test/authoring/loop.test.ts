/**
 * The authoring loop's promise: what `mcp-authz test` shows for examples/policies is what the running
 * decision endpoint (POST /v1/decide, over HTTP) and an embedded MCP server (the documented
 * createMcpSessions + mcpAuthzHandler wiring, SDK client over Streamable HTTP) enforce — case by case, from the same decision table.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { after, before, describe, test } from 'node:test'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js'
import { z } from 'zod'
import { createAuthz, type Authz } from '../../src/authz.ts'
import type { Principal } from '../../src/contracts/principal.ts'
import { readTable } from '../../src/cli/decision-table.ts'
import { messageFromShorthand, principalFromShorthand, type PrincipalShorthand } from '../../src/cli/shorthand.ts'
import { createMcpSessions, mcpAuthzHandler, type McpSessions } from '../../src/mcp/index.ts'
import { buildServer } from '../../src/server/app.ts'
import { tempDir } from '../helpers/temp.ts'

const run = promisify(execFile)
const EXAMPLE = fileURLToPath(new URL('../../examples/policies', import.meta.url))
const CLI = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url))

interface Case {
  name: string
  principal: Principal
  message: { method: string; params: { name: string; arguments?: Record<string, unknown> } }
  expect: { allow?: boolean; status?: number; reasons?: string[] }
}

describe('mcp-authz test shows what the endpoint and an embedded server enforce', () => {
  let bundle: string
  let authz: Authz
  let cases: Case[]
  // Token → principal: the verifier the surfaces use, so each case's principal arrives as a bearer token.
  const byToken = new Map<string, Principal>()
  const verifier = {
    verify: async (token: string) => {
      const p = byToken.get(token)
      if (p === undefined) throw Object.assign(new Error('unknown test token'), { code: 'ERR_TOKEN_INVALID' })
      return p
    },
  }

  before(async () => {
    const tested = await run(process.execPath, [CLI, 'test', EXAMPLE], { timeout: 120_000 })
    assert.match(tested.stdout, / 0 failed/)
    bundle = join(await tempDir('mcp-authz-loop-'), 'bundle.tar.gz')
    await run(process.execPath, [CLI, 'build', '--data', join(EXAMPLE, 'data.json'), '--include', EXAMPLE, '--out', bundle, '--quiet'], { timeout: 120_000 })
    authz = await createAuthz({ bundle, verifier })
    const table = await readTable(join(EXAMPLE, 'decisions.yaml'))
    cases = table.cases.map(({ value: c, line }) => {
      const p = (typeof c.principal === 'string' ? table.principals[c.principal] : c.principal) ?? {}
      const principal = 'subject' in p ? (p as Principal) : principalFromShorthand({ ...(table.defaults.principal ?? {}), ...(p as PrincipalShorthand) }, authz.bundle.config, `loop:${line}`)
      byToken.set(`case-${line}`, principal)
      return { name: c.name ?? `line ${line}`, principal, message: (c.message ?? messageFromShorthand(c)) as Case['message'], expect: c.expect }
    })
    assert.ok(cases.length >= 8 && cases.every((c) => c.message.method === 'tools/call'), 'the example table calls tools')
  })

  test('the decision endpoint, over HTTP', async () => {
    const app = buildServer({ authz, verifier })
    try {
      for (const c of cases) {
        const token = [...byToken].find(([, p]) => p === c.principal)?.[0]
        const r = (await app.inject({ method: 'POST', url: '/v1/decide', payload: { token, message: { jsonrpc: '2.0', id: 1, ...c.message } } })).json() as { allow: boolean; status: number; reasons: Array<{ code: string }> }
        if (c.expect.allow !== undefined) assert.equal(r.allow, c.expect.allow, c.name)
        if (c.expect.status !== undefined) assert.equal(r.status, c.expect.status, c.name)
        if (c.expect.reasons !== undefined) assert.deepEqual(r.reasons.map((x) => x.code).sort(), [...c.expect.reasons].sort(), c.name)
      }
    } finally {
      await app.close()
    }
  })

  describe('an embedded MCP server (protect + HTTP guard, SDK client)', () => {
    let server: Server
    let url: string
    const called: string[] = []
    let sessions: McpSessions
    before(async () => {
      // The documented embedding: a protected server per request (stateless), behind the node:http guard.
      sessions = createMcpSessions({
        authz,
        stateless: true,
        transport: { enableJsonResponse: true },
        createServer: () => {
          const mcp = new McpServer({ name: 'files', version: '1.0.0' })
          for (const tool of ['fs_read', 'fs_list', 'fs_write', 'fs_delete', 'shell_exec']) {
            mcp.registerTool(tool, { inputSchema: { path: z.string().optional(), content: z.string().optional(), command: z.string().optional() } }, async (args) => {
              called.push(`${tool} ${JSON.stringify(args)}`)
              return { content: [{ type: 'text', text: 'done' }] }
            })
          }
          return mcp
        },
      })
      server = createServer(mcpAuthzHandler({ authz, sessions, path: '/mcp' }))
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
      url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`
    })
    after(async () => {
      await sessions.close()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    })

    test('every case: a call the table allows runs, one it denies never reaches the tool', async () => {
      for (const c of cases) {
        const token = [...byToken].find(([, p]) => p === c.principal)?.[0] as string
        const client = new Client({ name: 'loop', version: '1.0.0' })
        const transport = new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: { authorization: `Bearer ${token}` } } })
        const before = called.length
        let allowed: boolean
        try {
          await client.connect(transport)
          const result = await client.callTool({ name: c.message.params.name, arguments: c.message.params.arguments ?? {} })
          allowed = result.isError !== true
        } catch {
          allowed = false
        } finally {
          await client.close().catch(() => {})
        }
        if (c.expect.allow !== undefined) {
          assert.equal(allowed, c.expect.allow, c.name)
          assert.equal(called.length - before, c.expect.allow ? 1 : 0, `${c.name}: the tool ran ${called.length - before} times`)
        }
      }
    })
  })
})
