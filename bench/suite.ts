/**
 * The benchmark suite: every scenario of bench/README.md, measured with mitata in one process
 * (per-call samples, warm-up first), plus the HTTP scenarios driven by autocannon against servers
 * in a child process, plus the floors and baselines (a constant policy through the same engine path,
 * hand-written JS, Cedar via cedar-wasm, a real OPA server as a sidecar). Every target is a ratio
 * between two scenarios of the same run (issue 15), judged in {@link judge} and written to
 * bench/results/latest.json (`targets`, `ratios`). `runSuite({ smoke: true })` runs everything
 * with a handful of iterations (CI).
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
import { buildBundle } from '../src/policy/build.ts'
import type { Principal } from '../src/verify/principal.ts'
import { deepFreeze } from '../src/verify/memo.ts'
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

/** The folder of the floor policy (a constant decision; see bench/floor/mcp/authz/floor.rego). */
const FLOOR_LIBRARY = fileURLToPath(new URL('./floor', import.meta.url))

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

/** One target of issue 15, judged on this run's numbers: a ratio between two measurements of the run. */
export interface TargetResult {
  name: string
  /** `numerator/denominator`, the scenario ids (HTTP ids for req/s ratios). */
  ratio: string
  target: string
  measured: string
  /** The measured ratio (null when a side was skipped). */
  value: number | null
  met: boolean | null
}

/** Whether the JS baseline, Cedar, the WASM policy, its table path and the OPA sidecar agree on a case. */
export interface AgreementResult {
  name: string
  expected: boolean
  js: boolean
  wasm: boolean
  /** The answer from the memoized principal's decision table (second call; the first filled it). */
  table: boolean
  /** Whether the table answer equals the WASM answer in everything (allow, reasons, scopes, status, errors). */
  tableIdentical: boolean
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
  /** Whether `decide.table` was really answered from a table (one evaluation for many calls). */
  tableAnswered: boolean
  targets: TargetResult[]
  /** Every target's ratio by its `ratio` key (numerator/denominator), for scripts. */
  ratios: Record<string, number | null>
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

  // 1. Policy evaluation only: the typical policy and the floor (a constant policy), same engine
  // path, same input — the input exactly as createAuthz builds it (only the fields the compiled
  // rules can read).
  const engine = new PolicyEngine()
  await engine.load(bundleBytes)
  const floorBundle = `${bundle}.floor.tar.gz`
  await buildBundle({ data: dataFile, out: floorBundle, library: FLOOR_LIBRARY, revision: 'floor' })
  const floorEngine = new PolicyEngine()
  await floorEngine.load(await readFile(floorBundle))
  const authz = await createAuthz({ bundle: bundleBytes })
  const typicalInput = authz.decide(alice, typicalCall).input as PolicyInput
  const writer: Principal = { ...alice, scopes: ['notes:read', 'notes:write'] }
  const bigInput = authz.decide(writer, twoKbCall()).input as PolicyInput
  const typicalText = JSON.stringify(typicalInput)
  if (!engine.evaluate(typicalInput).allow) throw new Error('the typical decision must allow')
  if (!floorEngine.evaluate(typicalInput).allow) throw new Error('the floor must allow')
  if (!engine.evaluate(bigInput).allow) throw new Error('the 2 KB-argument decision must allow')
  await bench('policy.floor', 'baseline', 'constant policy, same input and engine path (the opa-wasm floor)', () => floorEngine.evaluate(typicalInput))
  await bench('policy.typical', 'target', 'policy evaluation, typical tools/call', () => engine.evaluate(typicalInput))
  await bench('policy.typical.serialised', 'context', 'policy evaluation, typical, input pre-serialised', () => engine.evaluate(typicalText))
  await bench('policy.args2kb', 'context', 'policy evaluation, tools/call with 2 KB arguments', () => engine.evaluate(bigInput))

  // 2. decide() end to end with a cached (already verified) principal: a plain object (evaluated
  // every call), and the deeply frozen one the token memo hands out (answered from its table).
  await bench('decide.principal', 'target', 'decide(), cached principal (classify + evaluate + event)', () => authz.decide(alice, typicalCall))
  const typicalText2 = JSON.stringify(typicalCall)
  await bench('decide.principal.text', 'context', 'decide(), cached principal, message as JSON text', () => authz.decide(alice, typicalText2))
  const memoAlice = deepFreeze(structuredClone(alice))
  const tableAnswered = await answeredFromTable(bundleBytes, memoAlice)
  await bench('decide.table', 'target', 'decide(), memoized principal, answered from its decision table', () => authz.decide(memoAlice, typicalCall))

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
      await bench(`check.jwt.${alg}`, 'context', `check(), fresh ${alg} JWT each call`, async () => authzFresh.check(pool[i++ % poolSize], typicalCall))
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
  await bench('visible.200.table', 'context', 'visible(), 200 tools, memoized principal (from its table)', () => authz.visible(memoAlice, 'tool', tools))

  // 5. Decision cache: the lookup itself, and decide() on a hit.
  const cache = new DecisionCache({ max: 10_000 })
  const key0 = cache.key(authz.bundle.revision, alice, typicalInput.action, 'http')
  cache.set(key0, engine.evaluate(typicalInput), alice)
  await bench('cache.hit', 'context', 'decision-cache hit (key + lookup)', () => cache.get(cache.key(authz.bundle.revision, alice, typicalInput.action, 'http')))
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
    await bench('redact.2kb', 'context', 'redaction of 2 KB of arguments', () => redact(args))
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

  // Agreement on allow/deny across implementations, the table path included (its whole answer
  // compared with the WASM path's, from an engine without tables).
  const agreement: AgreementResult[] = []
  const untabled = await createAuthz({ bundle: bundleBytes, decisionTable: false })
  for (const c of CASES) {
    const memo = deepFreeze(structuredClone(c.principal))
    authz.decide(memo, callMessage(c.tool))
    const fromTable = authz.decide(memo, callMessage(c.tool))
    const wasm = untabled.decide(c.principal, callMessage(c.tool))
    agreement.push({
      name: c.name,
      expected: c.allow,
      js: jsCheck(c.principal, c.tool),
      wasm: wasm.allow,
      table: fromTable.allow,
      tableIdentical: JSON.stringify(answerOf(fromTable)) === JSON.stringify(answerOf(wasm)),
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
    tableAnswered,
    targets: [],
    ratios: {},
  }
  result.targets = judge(result)
  result.ratios = Object.fromEntries(result.targets.map((t) => [t.ratio, t.value]))
  return result
}

/** What a caller gets of a decision, without what differs per call (decision id, timings). */
function answerOf(r: Awaited<ReturnType<Authz['decide']>>): unknown {
  const data = r.jsonRpcError?.data as Record<string, unknown> | undefined
  return {
    allow: r.allow,
    status: r.status,
    enforcement: r.enforcement,
    reasons: r.reasons,
    requiredScopes: r.requiredScopes,
    wwwAuthenticate: r.wwwAuthenticate,
    jsonRpcError: r.jsonRpcError === undefined ? undefined : { ...r.jsonRpcError, data: data === undefined ? undefined : { ...data, decision_id: '' } },
  }
}

/** Whether a memoized principal's repeated decision is answered without a WASM evaluation (on an engine of its own, counted). */
async function answeredFromTable(bundleBytes: Buffer, principal: Principal): Promise<boolean> {
  const probe = await createAuthz({ bundle: bundleBytes })
  const policy = probe.bundle.policy
  let evaluations = 0
  const original = policy.evaluate.bind(policy)
  policy.evaluate = ((...args: Parameters<typeof original>) => (evaluations++, original(...args))) as typeof original
  for (let i = 0; i < 5; i++) probe.decide(principal, typicalCall)
  return evaluations === 1 && probe.decide(principal, typicalCall).allow
}

interface HttpOptions {
  bundle: string
  verifierConfig: unknown
  token: string | undefined
  seconds: number
  log: (line: string) => void
}

/**
 * Starts bench/http-servers.ts in a child process and drives its servers with autocannon from
 * here: hello world first and last (its figure is the mean of both, so that a load change on the
 * shared machine weighs on both sides of the ratio), the endpoint as users run it (decision log
 * to a file, metrics) and the same endpoint without them in between.
 */
async function runHttp(o: HttpOptions): Promise<HttpResult[]> {
  const hello: HttpResult = { id: 'http.hello', name: 'Fastify hello-world JSON POST (mean of a run before and after)', status: 'skipped' }
  const logged: HttpResult = { id: 'http.decide.logged', name: 'POST /v1/decide (memoized JWT, decision log to a file, metrics on)', status: 'skipped' }
  const decide: HttpResult = { id: 'http.decide', name: 'POST /v1/decide (memoized JWT, log off, metrics off)', status: 'skipped' }
  const cachedDecide: HttpResult = { id: 'http.decide.cached', name: 'POST /v1/decide (memoized JWT, log off, decision cache on)', status: 'skipped' }
  const all = [hello, logged, decide, cachedDecide]
  const autocannonMod = await tryImport<{ default: AutocannonFn }>('autocannon')
  if (typeof autocannonMod === 'string') return all.map((h) => ({ ...h, reason: autocannonMod }))
  const child = spawn(process.execPath, [fileURLToPath(new URL('./http-servers.ts', import.meta.url))], { stdio: ['pipe', 'pipe', 'inherit'] })
  try {
    const ports = await new Promise<{ hello: number; decide: number | null; cached: number | null; logged: number | null; reason?: string }>((resolve, reject) => {
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
    const before = await run(ports.hello, '/hello', decideBody)
    o.log(`http.hello (before)  ${Math.round(before.requests_per_s ?? 0)} req/s`)
    for (const [target, port] of [[logged, ports.logged], [decide, ports.decide], [cachedDecide, ports.cached]] as const) {
      if (port === null) Object.assign(target, { reason: ports.reason ?? 'no decision endpoint' })
      else if (o.token === undefined) Object.assign(target, { reason: 'no token verifier: POST /v1/decide needs a verified token' })
      else {
        const d = await run(port, '/v1/decide', decideBody)
        Object.assign(target, d, { id: target.id, name: target.name })
        o.log(`${target.id}  ${Math.round(d.requests_per_s ?? 0)} req/s`)
      }
    }
    const after = await run(ports.hello, '/hello', decideBody)
    o.log(`http.hello (after)  ${Math.round(after.requests_per_s ?? 0)} req/s`)
    const mean = (a: number | undefined, b: number | undefined) => ((a ?? 0) + (b ?? 0)) / 2
    Object.assign(hello, {
      status: 'ok',
      requests_per_s: mean(before.requests_per_s, after.requests_per_s),
      latency_p50_ms: mean(before.latency_p50_ms, after.latency_p50_ms),
      latency_p99_ms: mean(before.latency_p99_ms, after.latency_p99_ms),
      requests: (before.requests ?? 0) + (after.requests ?? 0),
      errors: (before.errors ?? 0) + (after.errors ?? 0),
      non2xx: (before.non2xx ?? 0) + (after.non2xx ?? 0),
    })
    return all
  } catch (err) {
    const reason = `failed: ${err instanceof Error ? err.message : String(err)}`
    return all.map((h) => ({ ...h, reason }))
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

/**
 * Judges issue 15's targets on this run's numbers: each a ratio of two measurements of the same
 * run (p50 for in-process scenarios, mean req/s for HTTP), so that the machine's speed and load
 * cancel out as far as they can.
 */
export function judge(r: SuiteResult): TargetResult[] {
  const t: TargetResult[] = []
  /** `num` at most `max` times `den` (times: smaller is better). */
  const atMost = (name: string, num: string, den: string, max: number) => {
    const a = p50(r, num)
    const b = p50(r, den)
    const value = a === undefined || b === undefined ? null : a / b
    t.push({ name, ratio: `${num}/${den}`, target: `≤ ${max}× \`${den}\``, measured: value === null ? 'skipped' : `${value.toFixed(2)}× (${fmt(a as number)} / ${fmt(b as number)})`, value, met: value === null ? null : value <= max })
  }
  /** `num` at least `min` times `den` (a peer being slower than us). */
  const atLeast = (name: string, num: string, den: string, min: number) => {
    const a = p50(r, num)
    const b = p50(r, den)
    const value = a === undefined || b === undefined ? null : a / b
    t.push({ name, ratio: `${num}/${den}`, target: `≥ ${min}× \`${den}\``, measured: value === null ? 'skipped' : `${value.toFixed(1)}× (${fmt(a as number)} / ${fmt(b as number)})`, value, met: value === null ? null : value >= min })
  }
  atMost('typical policy vs the opa-wasm floor', 'policy.typical', 'policy.floor', 1.5)
  atMost('decision from a principal\'s table vs hand-written JS', 'decide.table', 'baseline.js', 30)
  atLeast('cedar-wasm vs the WASM policy', 'baseline.cedar', 'policy.typical', 10)
  atLeast('OPA sidecar vs the WASM policy', 'baseline.opa-sidecar', 'policy.typical', 50)
  const hello = r.http.find((h) => h.id === 'http.hello')
  const rps = (id: string) => {
    const h = r.http.find((x) => x.id === id)
    return hello?.status === 'ok' && h?.status === 'ok' && hello.requests_per_s && h.requests_per_s ? h.requests_per_s / hello.requests_per_s : null
  }
  const logged = rps('http.decide.logged')
  const off = rps('http.decide')
  const cached = rps('http.decide.cached')
  const pct = (v: number | null) => (v === null ? 'skipped' : `${(v * 100).toFixed(0)}%`)
  t.push({
    name: 'decision endpoint as users run it vs Fastify hello world',
    ratio: 'http.decide.logged/http.hello',
    target: '≥ 60% of hello-world req/s',
    measured: `${pct(logged)} (log off: ${pct(off)}; log off, decision cache on: ${pct(cached)})`,
    value: logged,
    met: logged === null ? null : logged >= 0.6,
  })
  atMost('check() with a memoized token vs decide()', 'check.jwt.memo', 'decide.principal', 1.5)
  atMost('visible() over 200 tools vs one typical evaluation', 'visible.200', 'policy.typical', 25)
  return t
}

/** Nanoseconds, human-readable. */
export function fmt(ns: number): string {
  if (ns < 1000) return `${ns.toFixed(0)} ns`
  if (ns < 1e6) return `${(ns / 1000).toFixed(2)} µs`
  return `${(ns / 1e6).toFixed(2)} ms`
}
