/**
 * The benchmark suite: every scenario of bench/README.md, measured with mitata in one process
 * (per-call samples, warm-up first), plus the HTTP scenarios driven by autocannon against servers
 * in a child process, plus the baselines (hand-written JS, Cedar via cedar-wasm, a real OPA server
 * as a sidecar). `runSuite({ smoke: true })` runs everything with a handful of iterations (CI).
 *
 * Scenarios whose project API is missing are reported as `skipped: <why>`, never faked.
 *
 * @module
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { Agent, request } from 'node:http'
import { freePort } from '../test/helpers/net.ts'
import { cpus, loadavg } from 'node:os'
import { fileURLToPath } from 'node:url'
import { measure } from 'mitata'
import { createAuthz, type Authz, type CredentialVerifier } from '../src/authz.ts'
import { classifyMessage } from '../src/action/classify.ts'
import { DecisionCache } from '../src/policy/decision-cache.ts'
import type { PolicyInput } from '../src/policy/decision.ts'
import { PolicyEngine } from '../src/policy/engine.ts'
import type { Principal } from '../src/verify/principal.ts'
import {
  alice,
  benchData,
  buildBenchBundle,
  callMessage,
  CASES,
  CEDAR_POLICIES,
  cedarRequest,
  createJsCheck,
  ISSUER,
  RESOURCE,
  TENANT,
  twoHundredTools,
  twoKbArguments,
  twoKbCall,
  typicalCall,
} from './fixtures.ts'

const ROOT = fileURLToPath(new URL('..', import.meta.url))

/** One measured (or skipped) in-process scenario. Times in nanoseconds. */
export interface ScenarioResult {
  id: string
  group: 'target' | 'baseline' | 'context'
  name: string
  status: 'ok' | 'skipped'
  reason?: string
  samples?: number
  p50_ns?: number
  p99_ns?: number
  p999_ns?: number
  avg_ns?: number
  ops_per_s?: number
}

/** One autocannon run. */
export interface HttpResult {
  id: string
  name: string
  status: 'ok' | 'skipped'
  reason?: string
  requests_per_s?: number
  latency_p50_ms?: number
  latency_p99_ms?: number
  requests?: number
  errors?: number
  non2xx?: number
}

/** One target of bench/README.md, judged on this run's numbers. */
export interface TargetResult {
  name: string
  target: string
  measured: string
  met: boolean | null
}

/** Whether the JS baseline, Cedar, the WASM policy and the OPA sidecar agree on a case. */
export interface AgreementResult {
  name: string
  expected: boolean
  js: boolean
  wasm: boolean
  cedar: boolean | null
  opa: boolean | null
}

export interface SuiteResult {
  meta: {
    date: string
    mode: 'full' | 'smoke'
    node: string
    nproc: number
    cpu: string
    loadavg_start: number[]
    loadavg_end: number[]
    opa: string | null
    note: string
  }
  scenarios: ScenarioResult[]
  http: HttpResult[]
  agreement: AgreementResult[]
  targets: TargetResult[]
}

export interface SuiteOptions {
  smoke?: boolean
  /** Seconds per autocannon run. Default 10 (1 in smoke mode). */
  httpSeconds?: number
  /** Progress lines go here. Default: stderr. */
  log?: (line: string) => void
}

type Sync = () => unknown
type Async = () => Promise<unknown>

function skipped(id: string, group: ScenarioResult['group'], name: string, reason: string): ScenarioResult {
  return { id, group, name, status: 'skipped', reason }
}


async function tryImport<T>(specifier: string): Promise<T | string> {
  try {
    return (await import(specifier)) as T
  } catch (err) {
    return `${specifier} cannot be imported (${err instanceof Error ? err.message.split('\n')[0] : String(err)})`
  }
}

/** A real OPA server on loopback, loaded with the same Rego and data (the sidecar pattern). */
async function startOpa(dataFile: string): Promise<{ port: number; child: ChildProcess; version: string } | string> {
  const opa = process.env.MCP_AUTHZ_OPA ?? 'opa'
  const version = await new Promise<string>((resolve) => {
    const c = spawn(opa, ['version'], { stdio: ['ignore', 'pipe', 'ignore'] })
    let out = ''
    c.stdout.on('data', (d: Buffer) => (out += d.toString()))
    c.on('error', () => resolve(''))
    c.on('close', () => resolve(/Version: (\S+)/.exec(out)?.[1] ?? ''))
  })
  if (version === '') return 'opa CLI not found on PATH'
  const port = await freePort()
  const child = spawn(opa, ['run', '--server', '--addr', `127.0.0.1:${port}`, '--log-level', 'error', '--ignore', '*_test.rego', `${ROOT}policies/mcp/authz`, dataFile], {
    stdio: 'ignore',
  })
  // The sidecar stops itself with us: killed on exit, and never outlives 15 minutes.
  const timer = setTimeout(() => child.kill('SIGTERM'), 15 * 60_000)
  timer.unref()
  process.once('exit', () => child.kill('SIGTERM'))
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      const req = request({ host: '127.0.0.1', port, path: '/health', method: 'GET' }, (res) => {
        res.resume()
        resolve(res.statusCode === 200)
      })
      req.on('error', () => resolve(false))
      req.end()
    })
    if (ok) return { port, child, version }
    await new Promise((r) => setTimeout(r, 100))
  }
  child.kill('SIGTERM')
  return 'opa server did not become healthy within 10 s'
}

/** POST JSON over a keep-alive agent; resolves with the parsed body. */
function postJson(agent: Agent, port: number, path: string, body: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => {
        try {
          resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')))
        } catch (err) {
          reject(err)
        }
      })
    })
    req.on('error', reject)
    req.end(body)
  })
}

/** The policy input exactly as createAuthz builds it for a message (arguments only for tools with argument rules). */
function inputFor(authz: Authz, principal: Principal, message: unknown): PolicyInput {
  const c = classifyMessage(message)
  if (!c.ok) throw new Error('bench message does not classify')
  const a = c.action
  const withArgs = authz.bundle.argumentRules.tools
  const action = { method: a.method, kind: a.kind, ...(a.name !== undefined ? { name: a.name } : {}), ...(a.id !== undefined ? { id: a.id } : {}), ...(a.arguments !== undefined && a.name !== undefined && withArgs.has(a.name) ? { arguments: a.arguments } : {}) }
  const server = { resource: authz.bundle.config.resource, ...(authz.bundle.config.server_name ? { name: authz.bundle.config.server_name } : {}) }
  return { principal, action, server, context: { time_ns: Date.now() * 1e6, transport: 'http' } }
}

/** Runs the whole suite and returns well-formed results. */
export async function runSuite(options: SuiteOptions = {}): Promise<SuiteResult> {
  const smoke = options.smoke ?? false
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`))
  const loadStart = loadavg().map((l) => Math.round(l * 100) / 100)
  const warmup = smoke ? 5 : 3000
  const opts = smoke
    ? { batch_threshold: 0, min_samples: 10, max_samples: 20, min_cpu_time: 0, warmup_samples: 1 }
    : { batch_threshold: 0, min_samples: 1000, max_samples: 400_000, min_cpu_time: 1.5e9, warmup_samples: 50 }
  const asyncOpts = smoke ? opts : { ...opts, max_samples: 100_000, min_cpu_time: 1.5e9 }
  const scenarios: ScenarioResult[] = []

  async function bench(id: string, group: ScenarioResult['group'], name: string, fn: Sync | Async): Promise<void> {
    try {
      for (let i = 0; i < warmup; i++) await fn()
      const s = await measure(fn, fn.constructor.name === 'AsyncFunction' ? asyncOpts : opts)
      scenarios.push({ id, group, name, status: 'ok', samples: s.samples.length, p50_ns: s.p50, p99_ns: s.p99, p999_ns: s.p999, avg_ns: s.avg, ops_per_s: 1e9 / s.avg })
      log(`${id.padEnd(28)} p50 ${fmt(s.p50).padStart(9)}  p99 ${fmt(s.p99).padStart(9)}  p99.9 ${fmt(s.p999).padStart(9)}`)
    } catch (err) {
      scenarios.push(skipped(id, group, name, `failed: ${err instanceof Error ? err.message : String(err)}`))
      log(`${id}: failed: ${String(err)}`)
    }
  }

  log(`building the bench bundle with the opa CLI…`)
  const { bundle, dataFile } = await buildBenchBundle()
  const bundleBytes = await readFile(bundle)

  // 1. Policy evaluation only.
  const engine = new PolicyEngine()
  await engine.load(bundleBytes)
  const authz = await createAuthz({ bundle: bundleBytes })
  const typicalInput = inputFor(authz, alice, typicalCall)
  const writer: Principal = { ...alice, scopes: ['notes:read', 'notes:write'] }
  const bigInput = inputFor(authz, writer, twoKbCall())
  const typicalText = JSON.stringify(typicalInput)
  if (!engine.evaluate(typicalInput).allow) throw new Error('the typical decision must allow')
  if (!engine.evaluate(bigInput).allow) throw new Error('the 2 KB-argument decision must allow')
  await bench('policy.typical', 'target', 'policy evaluation, typical tools/call', () => engine.evaluate(typicalInput))
  await bench('policy.typical.serialised', 'context', 'policy evaluation, typical, input pre-serialised', () => engine.evaluate(typicalText))
  await bench('policy.args2kb', 'target', 'policy evaluation, tools/call with 2 KB arguments', () => engine.evaluate(bigInput))

  // 2. decide() end to end with a cached (already verified) principal.
  await bench('decide.principal', 'target', 'decide(), cached principal (classify + evaluate + event)', () => authz.decide(alice, typicalCall))
  const typicalText2 = JSON.stringify(typicalCall)
  await bench('decide.principal.text', 'context', 'decide(), cached principal, message as JSON text', () => authz.decide(alice, typicalText2))

  // 3. check() with a fresh JWT each call, per algorithm, and with a memoized one.
  const verifyMod = await tryImport<typeof import('../src/verify/index.ts')>('../src/verify/index.ts')
  const jose = await tryImport<typeof import('jose')>('jose')
  let httpVerifierConfig: unknown
  let httpToken: string | undefined
  if (typeof verifyMod === 'string' || typeof verifyMod.createTokenVerifier !== 'function' || typeof jose === 'string') {
    const why = typeof verifyMod === 'string' ? verifyMod : typeof jose === 'string' ? jose : 'src/verify/index.ts has no createTokenVerifier'
    for (const alg of ['RS256', 'ES256', 'EdDSA']) scenarios.push(skipped(`check.jwt.${alg}`, 'target', `check(), fresh ${alg} JWT each call`, why))
    scenarios.push(skipped('check.jwt.memo', 'target', 'check(), memoized JWT', why))
  } else {
    const keys: Array<Record<string, unknown>> = []
    const signers = new Map<string, (jti: string) => Promise<string>>()
    for (const alg of ['RS256', 'ES256', 'EdDSA'] as const) {
      const { privateKey, publicKey } = await jose.generateKeyPair(alg, { extractable: true })
      const jwk = { ...(await jose.exportJWK(publicKey)), kid: `bench-${alg}`, alg, use: 'sig' }
      keys.push(jwk)
      signers.set(alg, (jti) =>
        new jose.SignJWT({ client_id: 'notes-app', scope: 'notes:read' })
          .setProtectedHeader({ alg, kid: `bench-${alg}`, typ: 'at+jwt' })
          .setIssuer(ISSUER)
          .setAudience(RESOURCE)
          .setSubject('alice')
          .setJti(jti)
          .setIssuedAt()
          .setExpirationTime('1h')
          .sign(privateKey),
      )
    }
    const verifierConfig = { audience: RESOURCE, issuers: [{ issuer: ISSUER, jwks: { keys }, algorithms: ['RS256', 'ES256', 'EdDSA'], tenant: TENANT }] }
    httpVerifierConfig = verifierConfig
    const fresh = verifyMod.createTokenVerifier(verifierConfig as Parameters<typeof verifyMod.createTokenVerifier>[0], {})
    const noMemo = verifyMod.createTokenVerifier({ ...verifierConfig, cacheMax: 0 } as Parameters<typeof verifyMod.createTokenVerifier>[0])
    const authzFresh = await createAuthz({ bundle: bundleBytes, verifier: noMemo as CredentialVerifier })
    const authzMemo = await createAuthz({ bundle: bundleBytes, verifier: fresh as CredentialVerifier })
    const poolSize = smoke ? 4 : 2000
    for (const [alg, sign] of signers) {
      const pool: string[] = []
      for (let i = 0; i < poolSize; i++) pool.push(await sign(randomUUID()))
      const first = await authzFresh.check(pool[0], typicalCall)
      if (!first.allow) throw new Error(`a ${alg} token must be allowed: ${JSON.stringify(first.reasons)}`)
      let i = 0
      // Every call verifies a token the verifier has not memoized (memo disabled), signature included.
      await bench(`check.jwt.${alg}`, 'target', `check(), fresh ${alg} JWT each call`, async () => authzFresh.check(pool[i++ % poolSize], typicalCall))
    }
    const memoToken = await (signers.get('ES256') as (jti: string) => Promise<string>)(randomUUID())
    httpToken = memoToken
    await authzMemo.check(memoToken, typicalCall)
    await bench('check.jwt.memo', 'target', 'check(), memoized JWT (verifier cache hit)', async () => authzMemo.check(memoToken, typicalCall))
  }

  // 4. List filtering of 200 tools in one evaluation.
  const tools = twoHundredTools()
  const shown = authz.visible(alice, 'tool', tools)
  if (shown.length === 0 || shown.length === tools.length) throw new Error('visible must filter some but not all tools')
  await bench('visible.200', 'target', 'visible(), 200 tools in one evaluation', () => authz.visible(alice, 'tool', tools))

  // 5. Decision cache: the lookup itself, and decide() on a hit.
  const cache = new DecisionCache({ max: 10_000 })
  const key0 = cache.key(authz.bundle.revision, alice, typicalInput.action, 'http')
  cache.set(key0, engine.evaluate(typicalInput), alice)
  await bench('cache.hit', 'target', 'decision-cache hit (key + lookup)', () => cache.get(cache.key(authz.bundle.revision, alice, typicalInput.action, 'http')))
  const cached = await createAuthz({ bundle: bundleBytes, decisionCache: { max: 10_000 } })
  cached.decide(alice, typicalCall)
  await bench('decide.cache-hit', 'context', 'decide() on a decision-cache hit', () => cached.decide(alice, typicalCall))

  // 6. Redaction of a 2 KB argument object.
  const redactMod = await tryImport<typeof import('../src/decision-log/redact.ts')>('../src/decision-log/redact.ts')
  if (typeof redactMod === 'string' || typeof redactMod.createRedactor !== 'function') {
    scenarios.push(skipped('redact.2kb', 'target', 'redaction of 2 KB of arguments', typeof redactMod === 'string' ? redactMod : 'src/decision-log/redact.ts has no createRedactor'))
  } else {
    const redact = redactMod.createRedactor()
    const args = twoKbArguments()
    const r = redact(args)
    if (r.redacted === 0) throw new Error('the redactor must find the secrets in the 2 KB arguments')
    await bench('redact.2kb', 'target', 'redaction of 2 KB of arguments', () => redact(args))
  }

  // Baselines, same rules, same run.
  const jsCheck = createJsCheck(benchData)
  await bench('baseline.js', 'baseline', 'hand-written JS check (the floor)', () => jsCheck(alice, 'notes_read'))

  const cedarMod = await tryImport<typeof import('@cedar-policy/cedar-wasm/nodejs')>('@cedar-policy/cedar-wasm/nodejs')
  let cedarDecide: ((p: Principal, tool: string) => boolean) | undefined
  if (typeof cedarMod === 'string') {
    scenarios.push(skipped('baseline.cedar', 'baseline', 'cedar-wasm statefulIsAuthorized', cedarMod))
  } else {
    const parsed = cedarMod.preparsePolicySet('mcp', { staticPolicies: CEDAR_POLICIES })
    if (parsed.type !== 'success') throw new Error(`Cedar policies do not parse: ${JSON.stringify(parsed)}`)
    cedarDecide = (p, tool) => {
      const answer = cedarMod.statefulIsAuthorized({ ...cedarRequest(p, tool), preparsedPolicySetId: 'mcp' })
      if (answer.type !== 'success') throw new Error(`Cedar failed: ${JSON.stringify(answer.errors)}`)
      return answer.response.decision === 'allow'
    }
    const req = cedarRequest(alice, 'notes_read')
    await bench('baseline.cedar', 'baseline', 'cedar-wasm statefulIsAuthorized (pre-parsed policies)', () => cedarMod.statefulIsAuthorized({ ...req, preparsedPolicySetId: 'mcp' }))
    await bench('baseline.cedar.stateless', 'baseline', 'cedar-wasm isAuthorized (policies parsed per call)', () => cedarMod.isAuthorized({ ...req, policies: { staticPolicies: CEDAR_POLICIES } }))
  }

  const opa = await startOpa(dataFile)
  let opaDecide: ((p: Principal, tool: string) => Promise<boolean>) | undefined
  if (typeof opa === 'string') {
    scenarios.push(skipped('baseline.opa-sidecar', 'baseline', 'OPA server sidecar, Data API over HTTP keep-alive', opa))
  } else {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 })
    const path = '/v1/data/mcp/authz/decision'
    opaDecide = async (p, tool) => {
      const r = (await postJson(agent, opa.port, path, JSON.stringify({ input: inputFor(authz, p, callMessage(tool)) }))) as { result?: { allow?: boolean } }
      return r.result?.allow === true
    }
    const body = JSON.stringify({ input: typicalInput })
    const r = (await postJson(agent, opa.port, path, body)) as { result?: { allow?: boolean } }
    if (r.result?.allow !== true) throw new Error(`the OPA sidecar must allow the typical decision: ${JSON.stringify(r)}`)
    await bench('baseline.opa-sidecar', 'baseline', `OPA ${opa.version} server sidecar, Data API over HTTP keep-alive`, async () => postJson(agent, opa.port, path, body))
  }

  // Agreement on allow/deny across implementations.
  const agreement: AgreementResult[] = []
  for (const c of CASES) {
    agreement.push({
      name: c.name,
      expected: c.allow,
      js: jsCheck(c.principal, c.tool),
      wasm: authz.decide(c.principal, callMessage(c.tool)).allow,
      cedar: cedarDecide ? cedarDecide(c.principal, c.tool) : null,
      opa: opaDecide ? await opaDecide(c.principal, c.tool) : null,
    })
  }
  if (typeof opa !== 'string') opa.child.kill('SIGTERM')

  // 7. HTTP: the decision endpoint against a Fastify hello world, autocannon from this process.
  const http = await runHttp({ bundle, verifierConfig: httpVerifierConfig, token: httpToken, seconds: options.httpSeconds ?? (smoke ? 1 : 10), log })

  const result: SuiteResult = {
    meta: {
      date: new Date().toISOString(),
      mode: smoke ? 'smoke' : 'full',
      node: process.version,
      nproc: cpus().length,
      cpu: cpus()[0]?.model ?? 'unknown',
      loadavg_start: loadStart,
      loadavg_end: loadavg().map((l) => Math.round(l * 100) / 100),
      opa: typeof opa === 'string' ? null : opa.version,
      note: 'mitata per-call samples (no batching): p50/p99/p99.9 include ~20-40 ns of timer overhead; ops/s = 1e9 / mean.',
    },
    scenarios,
    http,
    agreement,
    targets: [],
  }
  result.targets = judge(result)
  return result
}

interface HttpOptions {
  bundle: string
  verifierConfig: unknown
  token: string | undefined
  seconds: number
  log: (line: string) => void
}

/** Starts bench/http-servers.ts in a child process and drives both servers with autocannon from here. */
async function runHttp(o: HttpOptions): Promise<HttpResult[]> {
  const hello: HttpResult = { id: 'http.hello', name: 'Fastify hello-world JSON POST', status: 'skipped' }
  const decide: HttpResult = { id: 'http.decide', name: 'POST /v1/decide (memoized JWT)', status: 'skipped' }
  const cachedDecide: HttpResult = { id: 'http.decide.cached', name: 'POST /v1/decide (memoized JWT, decision cache on)', status: 'skipped' }
  const autocannonMod = await tryImport<{ default: AutocannonFn }>('autocannon')
  if (typeof autocannonMod === 'string') return [hello, decide, cachedDecide].map((h) => ({ ...h, reason: autocannonMod }))
  const child = spawn(process.execPath, [fileURLToPath(new URL('./http-servers.ts', import.meta.url))], { stdio: ['pipe', 'pipe', 'inherit'] })
  try {
    const ports = await new Promise<{ hello: number; decide: number | null; cached: number | null; reason?: string }>((resolve, reject) => {
      let out = ''
      child.stdout?.on('data', (d: Buffer) => {
        out += d.toString()
        const line = out.split('\n')[0]
        if (out.includes('\n') && line !== undefined) {
          try {
            resolve(JSON.parse(line))
          } catch (err) {
            reject(err)
          }
        }
      })
      child.once('exit', (code) => reject(new Error(`http-servers exited with ${code}`)))
      child.stdin?.write(`${JSON.stringify({ bundle: o.bundle, verifierConfig: o.verifierConfig ?? null })}\n`)
    })
    const message = typicalCall
    const decideBody = JSON.stringify({ token: o.token, message })
    const run = async (port: number, path: string, body: string): Promise<HttpResult> => {
      const opts = { url: `http://127.0.0.1:${port}${path}`, method: 'POST', headers: { 'content-type': 'application/json' }, body, connections: 10, pipelining: 1 }
      o.log(`autocannon ${path} (warm-up, then ${o.seconds} s)`)
      await autocannonMod.default({ ...opts, duration: Math.max(1, Math.round(o.seconds / 5)) })
      const r = await autocannonMod.default({ ...opts, duration: o.seconds })
      return { id: '', name: '', status: 'ok', requests_per_s: r.requests.average, latency_p50_ms: r.latency.p50, latency_p99_ms: r.latency.p99, requests: r.requests.total, errors: r.errors, non2xx: r.non2xx }
    }
    const h = await run(ports.hello, '/hello', decideBody)
    Object.assign(hello, h, { id: hello.id, name: hello.name })
    o.log(`http.hello   ${Math.round(h.requests_per_s ?? 0)} req/s`)
    for (const [target, port] of [[decide, ports.decide], [cachedDecide, ports.cached]] as const) {
      if (port === null) Object.assign(target, { reason: ports.reason ?? 'no decision endpoint' })
      else if (o.token === undefined) Object.assign(target, { reason: 'no token verifier: POST /v1/decide needs a verified token' })
      else {
        const d = await run(port, '/v1/decide', decideBody)
        Object.assign(target, d, { id: target.id, name: target.name })
        o.log(`${target.id}  ${Math.round(d.requests_per_s ?? 0)} req/s`)
      }
    }
    return [hello, decide, cachedDecide]
  } catch (err) {
    const reason = `failed: ${err instanceof Error ? err.message : String(err)}`
    return [hello, decide, cachedDecide].map((h) => ({ ...h, reason }))
  } finally {
    child.stdin?.end()
    child.kill('SIGTERM')
  }
}

interface AutocannonResult {
  requests: { average: number; total: number }
  latency: { p50: number; p99: number }
  errors: number
  non2xx: number
}
type AutocannonFn = (opts: Record<string, unknown>) => Promise<AutocannonResult>

function p50(r: SuiteResult, id: string): number | undefined {
  const s = r.scenarios.find((x) => x.id === id)
  return s?.status === 'ok' ? s.p50_ns : undefined
}

/** Judges the targets on this run's numbers (ratios within the run). */
export function judge(r: SuiteResult): TargetResult[] {
  const t: TargetResult[] = []
  const abs = (name: string, id: string, limitNs: number) => {
    const v = p50(r, id)
    t.push({ name, target: `p50 ≤ ${fmt(limitNs)}`, measured: v === undefined ? 'skipped' : `p50 ${fmt(v)}`, met: v === undefined ? null : v <= limitNs })
  }
  abs('policy evaluation, typical decision', 'policy.typical', 4000)
  abs('decide() with a cached principal', 'decide.principal', 8000)
  abs('decision-cache hit', 'cache.hit', 1000)
  const ratio = (name: string, base: string, min: number) => {
    const b = p50(r, base)
    const w = p50(r, 'policy.typical')
    t.push({ name, target: `≥ ${min}× faster (p50)`, measured: b === undefined || w === undefined ? 'skipped' : `${(b / w).toFixed(1)}×`, met: b === undefined || w === undefined ? null : b / w >= min })
  }
  ratio('WASM policy vs cedar-wasm (statefulIsAuthorized)', 'baseline.cedar', 10)
  ratio('WASM policy vs OPA sidecar (HTTP keep-alive)', 'baseline.opa-sidecar', 25)
  const hello = r.http.find((h) => h.id === 'http.hello')
  for (const [id, label] of [['http.decide', 'decision endpoint vs Fastify hello world'], ['http.decide.cached', 'decision endpoint (decision cache on) vs Fastify hello world']] as const) {
    const decide = r.http.find((h) => h.id === id)
    const ok = hello?.status === 'ok' && decide?.status === 'ok' && hello.requests_per_s && decide.requests_per_s
    t.push({
      name: label,
      target: '≥ 85% of hello-world req/s',
      measured: ok ? `${(((decide.requests_per_s as number) / (hello.requests_per_s as number)) * 100).toFixed(0)}%` : `skipped: ${decide?.reason ?? hello?.reason ?? 'not run'}`,
      met: ok ? (decide.requests_per_s as number) / (hello.requests_per_s as number) >= 0.85 : null,
    })
  }
  return t
}

/** Nanoseconds, human-readable. */
export function fmt(ns: number): string {
  if (ns < 1000) return `${ns.toFixed(0)} ns`
  if (ns < 1e6) return `${(ns / 1000).toFixed(2)} µs`
  return `${(ns / 1e6).toFixed(2)} ms`
}
