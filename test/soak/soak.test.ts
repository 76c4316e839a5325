/**
 * Soak: a bounded load run on 127.0.0.1 through the HTTP enforcement (`mcpAuthzHandler` on
 * node:http) and the decision endpoint (`/v1/decide`), with a mix of valid, expired, forged,
 * foreign-audience, missing and under-scoped tokens, allowed and denied calls, denied arguments
 * and malformed bodies. It checks:
 *
 * - zero unexpected statuses and zero failed requests (every answer is the one its kind expects);
 * - every decision logged exactly once: the decision ids the clients got (the
 *   `Mcp-Authz-Decision-Id` header, the endpoint's `decision_id`) are exactly the decision ids of
 *   the records the decision logger wrote, each once;
 * - memory flat: WASM linear memory unchanged after warm-up; live memory (JS heap + external,
 *   read after a full GC every 500 ms) and RSS on a plateau over the second half of the run — the
 *   trend of a least-squares line through the readings, not two points of the GC sawtooth
 *   (`plateau.ts`). A leak raises the trend: `SOAK_LEAK_BYTES=2048 node --test test/soak/soak.test.ts`
 *   makes the decision-log sink keep 2 KiB per record, and the run fails (measured runs in
 *   `test/soak/README.md`).
 *
 * Duration: `SOAK_SECONDS` (default 10, as in CI; 60 locally: `SOAK_SECONDS=60 node --test test/soak/`).
 * Concurrency: `SOAK_CONCURRENCY` (default 16).
 */
import assert from 'node:assert/strict'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { after, before, it } from 'node:test'
import type { FastifyInstance } from 'fastify'
import { createAuthz, type Authz } from '../../src/authz.ts'
import { createDecisionLogger, type DecisionLogger } from '../../src/decision-log/index.ts'
import type { DecisionLogSink } from '../../src/decision-log/sinks/sink.ts'
import { mcpAuthzHandler } from '../../src/mcp/index.ts'
import { buildServer } from '../../src/server/app.ts'
import { createTokenVerifier } from '../../src/verify/index.ts'
import { buildTestBundle, testData } from '../helpers/bundle.ts'
import { accessClaims, jwksOf, makeKey, mint } from '../helpers/verify-tokens.ts'
import { plateau, type MemorySample } from './plateau.ts'

const SECONDS = Number(process.env.SOAK_SECONDS ?? 10)
const CONCURRENCY = Number(process.env.SOAK_CONCURRENCY ?? 16)
const WARMUP_SECONDS = Number(process.env.SOAK_WARMUP_SECONDS ?? 3)
const ISSUER = 'https://as.example.com'
const AUD = testData.mcp_authz.resource
const POOL = 40 // distinct tokens per kind (memoization and misses both exercised)
/** Bytes the decision-log sink keeps per record: an injected leak, to see the memory check fail. Default 0. */
const LEAK_BYTES = Number(process.env.SOAK_LEAK_BYTES ?? 0)
const SAMPLE_MS = 500
const MiB = 1048576

interface Kind {
  name: string
  weight: number
  token(i: number): string | undefined
  body: string
  /** Expected status on the MCP endpoint, and the `status` field of /v1/decide. */
  http: number
  decide: number
}

let authz: Authz
let logger: DecisionLogger
let mcpServer: Server
let endpoint: FastifyInstance
let mcpUrl = ''
let decideUrl = ''
const logged = new Map<string, number>()
let kinds: Kind[] = []
let tokenInRecord = 0
let loggedTotal = 0
const leaked: number[][] = []

const call = (name: string, args: Record<string, unknown>) => JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name, arguments: args } })

before(async () => {
  const [key, forger] = await Promise.all([makeKey('ES256', 'k1'), makeKey('ES256', 'k1')])
  const exp = Math.floor(Date.now() / 1000) + 3600 + SECONDS
  const pool = (scope: string, extra: Record<string, unknown> = {}, signer = key) =>
    Promise.all(Array.from({ length: POOL }, (_, i) => mint(signer, accessClaims(ISSUER, AUD, { scope, exp, sub: `user-${i}`, ...extra }))))
  const [readers, writers, expired, forged, foreign] = await Promise.all([
    pool('notes:read'),
    pool('notes:read notes:write'),
    pool('notes:read', { iat: Math.floor(Date.now() / 1000) - 7200, exp: Math.floor(Date.now() / 1000) - 3600 }),
    pool('notes:read notes:write', {}, forger),
    pool('notes:read', { aud: 'https://other.example.com/mcp' }),
  ])
  const at = (list: string[]) => (i: number) => list[i % list.length]
  kinds = [
    { name: 'allowed read', weight: 30, token: at(readers), body: call('notes_read', {}), http: 200, decide: 200 },
    { name: 'allowed write', weight: 15, token: at(writers), body: call('notes_write', { title: 'groceries', folder: 'work' }), http: 200, decide: 200 },
    { name: 'under-scoped (step-up)', weight: 10, token: at(readers), body: call('notes_write', { title: 'x' }), http: 403, decide: 403 },
    { name: 'denied argument', weight: 8, token: at(writers), body: call('notes_write', { title: 'x', folder: 'secret' }), http: 200, decide: 200 },
    { name: 'private resource', weight: 5, token: at(readers), body: JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'resources/read', params: { uri: 'notes://private/diary' } }), http: 403, decide: 403 },
    { name: 'expired token', weight: 8, token: at(expired), body: call('notes_read', {}), http: 401, decide: 401 },
    { name: 'forged token', weight: 8, token: at(forged), body: call('notes_read', {}), http: 401, decide: 401 },
    { name: 'foreign audience', weight: 5, token: at(foreign), body: call('notes_read', {}), http: 401, decide: 401 },
    { name: 'no token', weight: 5, token: () => undefined, body: call('notes_read', {}), http: 401, decide: 401 },
    { name: 'malformed body', weight: 6, token: at(readers), body: '{"jsonrpc":"2.0","id":1,"method":', http: 400, decide: 400 },
  ]

  const verifier = createTokenVerifier({ audience: AUD, issuers: [{ issuer: ISSUER, jwks: jwksOf(key), tenant: 'acme' }] })
  const counting: DecisionLogSink = {
    name: 'count',
    write(record) {
      loggedTotal++
      logged.set(record.decision_id, (logged.get(record.decision_id) ?? 0) + 1)
      // Every token of this run is a JWT ("eyJ…"): none may reach a record, input included.
      if (JSON.stringify(record).includes('eyJ')) tokenInRecord++
      // A JS-heap leak: an array of LEAK_BYTES / 8 numbers (8 bytes each) kept per record.
      if (LEAK_BYTES > 0) leaked.push(new Array<number>(LEAK_BYTES >> 3).fill(leaked.length))
    },
    flush: async () => {},
    close: async () => {},
    stats: () => ({ written: loggedTotal, dropped: 0, failed: 0 }),
  }
  logger = createDecisionLogger({ sinks: [] }, { sinks: [counting] })
  authz = await createAuthz({ bundle: await buildTestBundle(testData), verifier, onDecision: (e) => void logger.log(e) })
  mcpServer = createServer(mcpAuthzHandler({ authz, handle: (_req, res) => void res.writeHead(200, { 'content-type': 'application/json' }).end('{"jsonrpc":"2.0","id":7,"result":{"content":[]}}') }))
  await new Promise<void>((resolve) => mcpServer.listen(0, '127.0.0.1', resolve))
  mcpUrl = `http://127.0.0.1:${(mcpServer.address() as AddressInfo).port}/mcp`
  endpoint = buildServer({ authz, verifier })
  decideUrl = `${await endpoint.listen({ host: '127.0.0.1', port: 0 })}/v1/decide`
})

after(async () => {
  mcpServer?.closeAllConnections()
  await new Promise((r) => mcpServer?.close(r))
  await endpoint?.close()
  await logger?.close()
})

// A full GC before each memory reading, so the numbers compare live memory, not GC timing.
setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void
const memory = () => {
  gc()
  const m = process.memoryUsage()
  return { rss: m.rss, live: m.heapUsed + m.external, heap: m.heapUsed, wasm: wasmBytes() }
}

const wasmBytes = () => (authz.bundle.policy as unknown as { mem: { buffer: ArrayBuffer } }).mem.buffer.byteLength
const mib = (b: number) => Math.round((b / 1048576) * 10) / 10

it(`soak: ${SECONDS} s × ${CONCURRENCY} connections, mixed tokens and calls, through the HTTP guard and /v1/decide`, { timeout: (SECONDS + 60) * 1000 }, async () => {
  const totalWeight = kinds.reduce((n, k) => n + k.weight, 0)
  let seq = 0
  const pick = (): Kind => {
    let r = (seq++ * 7919) % totalWeight // deterministic spread over the weights
    for (const k of kinds) {
      if (r < k.weight) return k
      r -= k.weight
    }
    return kinds[0] as Kind
  }
  const statuses = new Map<string, number>()
  const unexpected: string[] = []
  let clientIds = 0
  let missing = 0
  let duplicates = 0
  /**
   * The record is written synchronously during the decision, before the answer: match and forget it
   * (memory stays flat). An id answered twice is then `missing` the second time.
   */
  const matched = (id: string): void => {
    clientIds++
    const n = logged.get(id)
    if (n === undefined) missing++
    else if (n !== 1) duplicates++
    logged.delete(id)
  }
  let requests = 0
  let errors = 0

  async function one(): Promise<void> {
    const kind = pick()
    const i = seq
    const token = kind.token(i)
    const viaEndpoint = i % 3 === 0
    requests++
    try {
      if (viaEndpoint) {
        const res = await fetch(decideUrl, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ ...(token ? { token } : {}), message: kind.http === 400 ? kind.body : JSON.parse(kind.body) }),
          signal: AbortSignal.timeout(10_000),
        })
        const body = (await res.json()) as { decision_id?: string; status?: number }
        const key = `decide ${res.status}/${body.status}`
        statuses.set(key, (statuses.get(key) ?? 0) + 1)
        if (res.status !== 200 || body.status !== kind.decide) unexpected.push(`${kind.name} via /v1/decide: ${res.status}/${body.status}`)
        if (body.decision_id) matched(body.decision_id)
        else unexpected.push(`${kind.name} via /v1/decide: no decision_id`)
      } else {
        const res = await fetch(mcpUrl, {
          method: 'POST',
          headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...(token ? { authorization: `Bearer ${token}` } : {}) },
          body: kind.body,
          signal: AbortSignal.timeout(10_000),
        })
        const text = await res.text()
        const key = `mcp ${res.status}`
        statuses.set(key, (statuses.get(key) ?? 0) + 1)
        if (res.status !== kind.http) unexpected.push(`${kind.name} via MCP: ${res.status} ${text.slice(0, 100)}`)
        if (kind.name === 'denied argument' && !text.includes('-32003')) unexpected.push(`denied argument not a JSON-RPC Forbidden: ${text.slice(0, 100)}`)
        const id = res.headers.get('mcp-authz-decision-id')
        if (id) matched(id)
        else unexpected.push(`${kind.name} via MCP: no decision id header`)
      }
    } catch (err) {
      errors++
      unexpected.push(`${kind.name}: ${(err as Error).message}`)
    }
  }

  const run = async (seconds: number) => {
    const deadline = Date.now() + seconds * 1000
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (Date.now() < deadline) await one()
      }),
    )
  }
  // Warm-up (JIT, memo, sockets, allocator arenas, WASM heap), then the measured run, read every
  // SAMPLE_MS after a full GC.
  await run(WARMUP_SECONDS)
  const start = memory()
  const live: MemorySample[] = []
  const rss: MemorySample[] = []
  const answered: number[] = []
  const t0 = performance.now()
  const read = () => {
    const m = memory()
    const t = (performance.now() - t0) / 1000
    live.push({ t, bytes: m.live })
    rss.push({ t, bytes: m.rss })
    answered.push(requests)
  }
  read()
  const sampler = setInterval(read, SAMPLE_MS)
  try {
    await run(SECONDS)
  } finally {
    clearInterval(sampler)
  }
  await logger.flush()
  read()
  const end = memory()
  if (process.env.SOAK_VERBOSE) console.log(JSON.stringify(live.map((s, i) => ({ t: Math.round(s.t * 10) / 10, live: mib(s.bytes), rss: mib((rss[i] as MemorySample).bytes) }))))
  // Live memory must be flat within 2 MiB or 5 %; RSS, which the allocator returns to the system
  // late and unevenly, within 64 MiB or 25 % — a leak of a few KiB per request exceeds both.
  const liveTrend = plateau(live, { floorBytes: 2 * MiB, fraction: 0.05 })
  const rssTrend = plateau(rss, { floorBytes: 64 * MiB, fraction: 0.25 })
  // The smallest per-request leak this run could see: the bound spread over the second half's requests.
  const secondHalf = (answered.at(-1) ?? 0) - (answered[live.length - liveTrend.n] ?? 0)
  const sensitivity = Math.round(liveTrend.limit / Math.max(1, secondHalf))

  // Every decision logged exactly once, and exactly the decisions the clients were told about:
  // whatever is left in `logged` was never seen by a client.
  const extra = logged.size

  console.log(
    `soak: ${SECONDS} s, ${CONCURRENCY} connections, requests ${requests} (${Math.round(requests / SECONDS)}/s), failed ${errors}, unexpected ${unexpected.length}; ` +
      `statuses ${[...statuses.entries()].sort().map(([k, v]) => `${k}=${v}`).join(' ')}; ` +
      `decision ids: clients ${clientIds}, logged ${loggedTotal}, duplicates ${duplicates}, missing ${missing}, extra ${extra}, records with a token ${tokenInRecord}; ` +
      `RSS ${mib(start.rss)}→${mib(end.rss)} MiB, live (heap + external, after GC) ${mib(start.live)}→${mib(end.live)} MiB, WASM ${mib(start.wasm)}→${mib(end.wasm)} MiB; ` +
      `second-half trend: live ${mib(liveTrend.growth)} MiB (limit ${mib(liveTrend.limit)}, ${liveTrend.n} samples, ${secondHalf} requests: a leak of ${sensitivity} B/request or more fails), RSS ${mib(rssTrend.growth)} MiB (limit ${mib(rssTrend.limit)})` +
      (LEAK_BYTES > 0 ? `; injected leak ${LEAK_BYTES} B/record, ${mib(leaked.length * LEAK_BYTES)} MiB kept` : ''),
  )
  assert.deepEqual(unexpected.slice(0, 10), [], `${unexpected.length} unexpected answers`)
  assert.equal(errors, 0)
  assert.equal(loggedTotal, clientIds, 'as many records as answers')
  assert.equal(duplicates, 0, 'a decision logged more than once')
  assert.equal(missing, 0, 'a decision the client saw was not logged')
  assert.equal(extra, 0, 'a decision was logged that no client saw')
  assert.equal(logger.stats().dropped + logger.stats().failed, 0)
  assert.equal(tokenInRecord, 0, 'a token reached the decision log')
  assert.equal(end.wasm, start.wasm, 'WASM memory grew after warm-up')
  assert.ok(liveTrend.ok, `live memory (after GC) still rising over the second half: +${mib(liveTrend.growth)} MiB (limit ${mib(liveTrend.limit)} MiB)`)
  assert.ok(rssTrend.ok, `RSS still rising over the second half: +${mib(rssTrend.growth)} MiB (limit ${mib(rssTrend.limit)} MiB)`)
})
