/**
 * Where a request to the decision endpoint spends its CPU time: runs bench/http-servers.ts in a
 * child process under `node --cpu-prof`, drives the endpoint as users run it (`POST /v1/decide`,
 * memoized ES256 JWT, decision log to a file, metrics on) with autocannon for a few seconds, then
 * reads the V8 CPU profile and attributes every sample to a stage of the request — by the first
 * frame, from the sampled one up the stack, that belongs to a known module (a builtin such as
 * `JSON.parse` counts for whoever called it). Prints a markdown table: each stage's share of the
 * server's busy time and its microseconds per request (busy CPU time / requests served).
 *
 * Not in CI; one run takes about 20 s. The summary in bench/README.md comes from it.
 *
 * ```sh
 * . scripts/env.sh && node bench/profile-endpoint.ts [seconds] [top-functions]
 * ```
 *
 * @module
 */
import { spawn } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import * as jose from 'jose'
import { buildBenchBundle, ISSUER, RESOURCE, TENANT, typicalCall } from './fixtures.ts'
import { tempDir } from '../test/helpers/temp.ts'

interface AutocannonResult {
  requests: { average: number; total: number }
  errors: number
  non2xx: number
}
// autocannon ships no types: the part used here.
const autocannon = ((await import('autocannon' as string)) as { default: (opts: Record<string, unknown>) => Promise<AutocannonResult> }).default

interface ProfileNode {
  id: number
  callFrame: { functionName: string; url: string }
  children?: number[]
}
interface Profile {
  nodes: ProfileNode[]
  samples: number[]
  timeDeltas: number[]
}

/** Stages, tried in order on a frame's URL (first match wins). */
const STAGES: ReadonlyArray<readonly [string, RegExp]> = [
  ['token (memo lookup)', /\/src\/verify\//],
  ['classify the JSON-RPC message', /\/src\/action\//],
  ['decision table lookup', /\/src\/authz\/table\.ts/],
  ['WASM policy evaluation (engine, input encoding)', /\/src\/policy\/|^wasm:\/\//],
  ['decide(): input, outcome, decision event', /\/src\/authz\/|\/src\/authz\.ts|\/src\/enforce\//],
  ['decision record + redaction', /\/src\/decision-log\/(?!sinks\/)/],
  ['decision log file sink', /\/src\/decision-log\/sinks\/|\/sonic-boom\/|\/pino\//],
  ['metrics (prom-client)', /\/src\/observability\/|\/prom-client\//],
  ['endpoint handler (src/server)', /\/src\/server\//],
  ['Fastify (routing, body parse, reply serialise)', /\/node_modules\/(fastify|@fastify|find-my-way|avvio|fast-json-stringify|secure-json-parse|fast-querystring|light-my-request|content-type|process-warning|abstract-logging|fast-uri|toad-cache|rfdc)\//],
]
const SPECIAL: Record<string, string> = { '(garbage collector)': 'garbage collection', '(program)': 'V8/native, unattributed', '(root)': 'V8/native, unattributed' }

function stageOf(frames: readonly ProfileNode[]): string {
  for (const f of frames) {
    const special = SPECIAL[f.callFrame.functionName]
    if (special !== undefined && f.callFrame.url === '') return special
    for (const [name, re] of STAGES) if (re.test(f.callFrame.url)) return name
  }
  return 'Node core (HTTP parser, sockets, timers)'
}

/** Busy microseconds per function (self time), the busiest first. */
function topFunctions(profile: Profile, n: number): Array<[string, number]> {
  const byId = new Map(profile.nodes.map((x) => [x.id, x]))
  const self = new Map<string, number>()
  profile.samples.forEach((id, i) => {
    const f = (byId.get(id) as ProfileNode).callFrame
    if (f.functionName === '(idle)') return
    const key = `${f.functionName || '(anonymous)'} ${f.url.replace(/^.*\/(node_modules|src)\//, '$1/')}`
    self.set(key, (self.get(key) ?? 0) + (profile.timeDeltas[i] ?? 0))
  })
  return [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, n)
}

/** Busy microseconds per stage (idle excluded). */
function summarise(profile: Profile): Map<string, number> {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]))
  const parent = new Map<number, number>()
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
  const stageCache = new Map<number, string>()
  const out = new Map<string, number>()
  profile.samples.forEach((id, i) => {
    const leaf = byId.get(id) as ProfileNode
    if (leaf.callFrame.functionName === '(idle)') return
    let stage = stageCache.get(id)
    if (stage === undefined) {
      const frames: ProfileNode[] = []
      for (let n: number | undefined = id; n !== undefined; n = parent.get(n)) frames.push(byId.get(n) as ProfileNode)
      stage = stageOf(frames)
      stageCache.set(id, stage)
    }
    out.set(stage, (out.get(stage) ?? 0) + (profile.timeDeltas[i] ?? 0))
  })
  return out
}

const seconds = Number(process.argv[2] ?? 8)
const { bundle } = await buildBenchBundle()
const { privateKey, publicKey } = await jose.generateKeyPair('ES256', { extractable: true })
const jwk = { ...(await jose.exportJWK(publicKey)), kid: 'bench-ES256', alg: 'ES256', use: 'sig' }
const token = await new jose.SignJWT({ client_id: 'notes-app', scope: 'notes:read' })
  .setProtectedHeader({ alg: 'ES256', kid: 'bench-ES256', typ: 'at+jwt' })
  .setIssuer(ISSUER)
  .setAudience(RESOURCE)
  .setSubject('alice')
  .setJti(randomUUID())
  .setIssuedAt()
  .setExpirationTime('1h')
  .sign(privateKey)
const verifierConfig = { audience: RESOURCE, issuers: [{ issuer: ISSUER, jwks: { keys: [jwk] }, algorithms: ['ES256'], tenant: TENANT }] }
const profDir = await tempDir('mcp-authz-bench-prof-')
const child = spawn(process.execPath, ['--cpu-prof', `--cpu-prof-dir=${profDir}`, fileURLToPath(new URL('./http-servers.ts', import.meta.url))], { stdio: ['pipe', 'pipe', 'inherit'] })
const ports = await new Promise<{ logged: number | null; reason?: string }>((resolve, reject) => {
  let out = ''
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString()
    if (out.includes('\n')) resolve(JSON.parse(out.split('\n')[0] as string))
  })
  child.once('exit', (code) => reject(new Error(`http-servers exited with ${code}`)))
  child.stdin.write(`${JSON.stringify({ bundle, verifierConfig })}\n`)
})
if (ports.logged === null) throw new Error(`no logged endpoint: ${ports.reason}`)
const opts = { url: `http://127.0.0.1:${ports.logged}/v1/decide`, method: 'POST' as const, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token, message: typicalCall }), connections: 10 }
const warm = await autocannon({ ...opts, duration: 2 })
const r = await autocannon({ ...opts, duration: seconds })
const exited = new Promise((resolve) => child.once('exit', resolve))
child.stdin.end()
await exited
const file = (await readdir(profDir)).find((f) => f.endsWith('.cpuprofile'))
if (file === undefined) throw new Error('no CPU profile written')
const profile = JSON.parse(await readFile(join(profDir, file), 'utf8')) as Profile
const stages = summarise(profile)
const busy = [...stages.values()].reduce((a, b) => a + b, 0)
// The profile covers the warm-up too: requests are those of both runs.
const requests = warm.requests.total + r.requests.total
const errors = warm.errors + r.errors + warm.non2xx + r.non2xx
process.stdout.write(`${r.requests.average.toFixed(0)} req/s over ${seconds} s (after a 2 s warm-up, also profiled); ${requests} requests (${errors} errors or non-2xx), ${(busy / 1e6).toFixed(2)} s of busy CPU in the server process\n\n`)
process.stdout.write('| stage | share of busy CPU | µs per request |\n|---|---:|---:|\n')
for (const [name, us] of [...stages.entries()].sort((a, b) => b[1] - a[1])) process.stdout.write(`| ${name} | ${((us / busy) * 100).toFixed(1)}% | ${(us / requests).toFixed(1)} |\n`)
process.stdout.write(`| **total** | 100% | ${(busy / requests).toFixed(1)} |\n`)
const top = Number(process.argv[3] ?? 0)
if (top > 0) {
  process.stdout.write('\n| function (self time) | share of busy CPU |\n|---|---:|\n')
  for (const [name, us] of topFunctions(profile, top)) process.stdout.write(`| ${name} | ${((us / busy) * 100).toFixed(1)}% |\n`)
}
process.exit(0)
