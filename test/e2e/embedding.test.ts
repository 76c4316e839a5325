// 13.1: the documented embedding is real. Each snippet of the README and docs/mcp.md marked
// `<!-- snippet: … -->` is run as written, in its own process, with only the configuration literals
// (issuer, audience, policy data file, port) and the package import swapped for the test's own; several
// SDK clients then connect at once with tokens from a real oidc-provider, and each is served as
// itself — stateful snippets in a session of their own, the stateless one with none.
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { after, before, describe, it } from 'node:test'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { startAuthorizationServer, type AuthorizationServer } from '../helpers/authorization-server.ts'
import { freePort } from '../helpers/net.ts'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const SNIPPETS = [
  { name: 'embed-node', doc: 'README.md', stateless: false },
  { name: 'embed-express', doc: 'docs/mcp.md', stateless: false },
  { name: 'embed-fastify', doc: 'docs/mcp.md', stateless: false },
  { name: 'embed-stateless', doc: 'docs/mcp.md', stateless: true },
] as const
const CLIENTS = ['c0', 'c1', 'c2', 'c3']

/** The ```ts block after `<!-- snippet: name … -->` in a document. */
export function snippet(text: string, name: string): string {
  const marker = text.indexOf(`<!-- snippet: ${name}`)
  assert.ok(marker !== -1, `no snippet ${name}`)
  const open = text.indexOf('```ts\n', marker)
  const close = text.indexOf('\n```', open + 6)
  assert.ok(open !== -1 && close !== -1, `snippet ${name} has no ts block`)
  return text.slice(open + 6, close + 1)
}

const writeJson = (file: string, value: unknown) => writeFile(file, JSON.stringify(value))

/** Replaces `from` (which the snippet must contain) with `to`. */
function swap(code: string, from: string, to: string): string {
  assert.ok(code.includes(from), `the snippet no longer contains ${from}`)
  return code.replaceAll(from, to)
}

let as: AuthorizationServer
let scratch: string
/** Ports each snippet may listen on: one found free can be taken by another test before the snippet binds it, so there are spares. */
const ports = new Map<string, number[]>()
const children: ChildProcess[] = []

before(async () => {
  for (const s of SNIPPETS) ports.set(s.name, [await freePort(), await freePort(), await freePort()])
  const resources = Object.fromEntries([...ports.values()].flat().map((port) => [`http://127.0.0.1:${port}/mcp`, { scopes: ['notes:read'] }]))
  as = await startAuthorizationServer({ resources, clients: CLIENTS.map((clientId) => ({ clientId, clientSecret: `${clientId}-secret`, scopes: ['notes:read'] })) })
  // Inside the repository, so the snippets resolve the SDK, express and fastify from node_modules.
  scratch = await mkdtemp(join(ROOT, 'build', 'snippets-'))
})

after(async () => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL')
  await as?.close()
  if (scratch) await rm(scratch, { recursive: true, force: true })
})

/** Starts a snippet; resolves once its metadata document answers (bounded), rejects if it exits first. */
async function run(name: string, code: string, port: number): Promise<{ child: ChildProcess; output: () => string }> {
  const file = join(scratch, `${name}.ts`)
  await writeFile(file, code)
  const child = spawn(process.execPath, [file], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
  children.push(child)
  let output = ''
  child.stdout?.on('data', (d: Buffer) => void (output += d.toString()))
  child.stderr?.on('data', (d: Buffer) => void (output += d.toString()))
  // 'close', not 'exit': by then all of its output has arrived (EADDRINUSE is read from it).
  const exited = new Promise<never>((_, reject) => child.once('close', (c) => reject(new Error(`${name} exited (${c}): ${output}`))))
  const deadline = Date.now() + 30_000
  const ready = (async () => {
    for (;;) {
      const ok = await fetch(`http://127.0.0.1:${port}/.well-known/oauth-protected-resource/mcp`).then((r) => r.ok, () => false)
      if (ok) return
      if (Date.now() > deadline) throw new Error(`${name} did not listen within 30 s: ${output}`)
      await new Promise((r) => setTimeout(r, 50))
    }
  })()
  await Promise.race([ready, exited])
  exited.catch(() => {})
  return { child, output: () => output }
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return
  const exited = new Promise((r) => child.once('exit', r))
  child.kill('SIGTERM')
  await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))])
  if (child.exitCode === null) child.kill('SIGKILL')
}

describe('the documented embedding snippets', () => {
  it('the node:http snippet is the same in the README and docs/mcp.md', async () => {
    const readme = snippet(await readFile(join(ROOT, 'README.md'), 'utf8'), 'embed-node')
    const docs = snippet(await readFile(join(ROOT, 'docs/mcp.md'), 'utf8'), 'embed-node')
    assert.equal(docs, readme)
  })

  for (const s of SNIPPETS) {
    it(`${s.name} (${s.doc}): ${CLIENTS.length} SDK clients at once, each served as itself`, async () => {
      const documented = snippet(await readFile(join(ROOT, s.doc), 'utf8'), s.name)
      let started: { child: ChildProcess; output: () => string; resource: string } | undefined
      for (const port of ports.get(s.name) ?? []) {
        const resource = `http://127.0.0.1:${port}/mcp`
        const data = join(scratch, `${s.name}-${port}.data.json`)
        await writeJson(data, {
          mcp_authz: {
            resource,
            authorization_servers: [as.issuer],
            issuers: { [as.issuer]: {} },
            defaults: { read_scope: 'notes:read', write_scope: 'notes:write' },
            tools: { whoami: { scopes: ['notes:read'] } },
          },
        })
        let code = swap(documented, "from 'mcp-authz'", `from ${JSON.stringify(join(ROOT, 'src/index.ts'))}`)
        code = swap(code, "'https://as.example.com/jwks'", JSON.stringify(as.jwksUri))
        code = swap(code, "'https://as.example.com'", JSON.stringify(as.issuer))
        code = swap(code, "'https://notes.example.com/mcp'", JSON.stringify(resource))
        code = swap(code, "'data.yaml'", JSON.stringify(data))
        code = code.includes('port: 3000') ? swap(code, 'port: 3000', `port: ${port}`) : swap(code, 'listen(3000,', `listen(${port},`)
        try {
          started = { ...(await run(s.name, code, port)), resource }
          break
        } catch (err) {
          if (!String(err).includes('EADDRINUSE')) throw err
        }
      }
      assert.ok(started, `${s.name}: every port was taken`)
      const { child, output, resource } = started
      const clients: Client[] = []
      try {
        const tokens = await Promise.all(CLIENTS.map((id) => as.token(id, { resource, scope: 'notes:read' })))
        await Promise.all(
          tokens.map(async (token) => {
            const client = new Client({ name: 'snippet-test', version: '1.0.0' })
            await client.connect(new StreamableHTTPClientTransport(new URL(resource), { requestInit: { headers: { authorization: `Bearer ${token}` } } }))
            clients.push(client)
          }),
        )
        const answers = await Promise.all(clients.map((c) => c.callTool({ name: 'whoami', arguments: {} })))
        const subjects = answers.map((a) => (a.content as Array<{ text: string }>)[0]?.text)
        assert.deepEqual([...subjects].sort(), [...CLIENTS].sort(), output())
        const sessionIds = clients.map((c) => (c.transport as StreamableHTTPClientTransport).sessionId)
        if (s.stateless) assert.deepEqual(sessionIds, CLIENTS.map(() => undefined))
        else assert.equal(new Set(sessionIds).size, CLIENTS.length)
        // Without a token: the guard answers, with the challenge that leads to the issuer.
        const anonymous = await fetch(resource, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' }, body: '{"jsonrpc":"2.0","id":1,"method":"ping"}' })
        assert.equal(anonymous.status, 401)
        assert.match(anonymous.headers.get('www-authenticate') ?? '', /resource_metadata="/)
      } finally {
        for (const c of clients) await c.close().catch(() => {})
        await stop(child)
      }
    })
  }
})
