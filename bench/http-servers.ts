/**
 * Child process of the benchmark suite: serves the decision endpoint (`buildServer`, `POST
 * /v1/decide`) and a Fastify hello-world JSON POST on 127.0.0.1, so autocannon can drive both from
 * the parent process. The endpoint three ways: as users run it (`logged`: decision log to a file
 * and Prometheus metrics fed by every decision, as src/runtime/engine.ts wires them), with neither
 * (`decide`), and with neither but the decision cache on (`cached`). Reads `{bundle,
 * verifierConfig}` as one JSON line on stdin, prints `{hello, decide, cached, logged, reason?}`
 * (ports; null with a reason when the endpoint is missing) on stdout, and stops itself — removing
 * its log folder — when stdin closes or after 15 minutes.
 *
 * @module
 */
import { rmSync } from 'node:fs'
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import Fastify from 'fastify'
import { createAuthz, type CredentialVerifier } from '../src/authz.ts'
import { createDecisionLogger } from '../src/decision-log/index.ts'
import { createServerMetrics } from '../src/observability/prometheus.ts'

const lines = createInterface({ input: process.stdin })
const first = await new Promise<string>((resolve) => lines.once('line', resolve))
const { bundle, verifierConfig } = JSON.parse(first) as { bundle: string; verifierConfig: unknown }

const logDir = await mkdtemp(join(tmpdir(), 'mcp-authz-bench-log-'))
const stop = () => {
  rmSync(logDir, { recursive: true, force: true })
  process.exit(0)
}
const stopTimer = setTimeout(stop, 15 * 60_000)
stopTimer.unref()

const hello = Fastify({ logger: false })
hello.post('/hello', async () => ({ hello: 'world' }))
await hello.listen({ host: '127.0.0.1', port: 0 })
const helloPort = (hello.server.address() as { port: number }).port

let decidePort: number | null = null
let cachedPort: number | null = null
let loggedPort: number | null = null
let reason: string | undefined
try {
  const app = (await import('../src/server/app.ts')) as unknown as { buildServer?: (o: Record<string, unknown>) => import('fastify').FastifyInstance }
  const verify = (await import('../src/verify/index.ts')) as unknown as { createTokenVerifier?: (c: unknown) => CredentialVerifier }
  if (typeof app.buildServer !== 'function') reason = 'src/server/app.ts has no buildServer'
  else if (verifierConfig === null || typeof verify.createTokenVerifier !== 'function') reason = 'no token verifier (src/verify) for POST /v1/decide'
  else {
    const verifier = verify.createTokenVerifier(verifierConfig)
    const authz = await createAuthz({ bundle, verifier })
    const server = app.buildServer({ authz, verifier })
    await server.listen({ host: '127.0.0.1', port: 0 })
    decidePort = (server.server.address() as { port: number }).port
    // The same endpoint with the decision cache on (the bench bundle declares decision_cache: true).
    const cachedAuthz = await createAuthz({ bundle, verifier, decisionCache: { max: 10_000 } })
    const cachedServer = app.buildServer({ authz: cachedAuthz, verifier })
    await cachedServer.listen({ host: '127.0.0.1', port: 0 })
    cachedPort = (cachedServer.server.address() as { port: number }).port
    // As users run it (src/runtime/engine.ts): every decision feeds the metrics and the decision log, here a file.
    const metrics = createServerMetrics()
    const log = createDecisionLogger({ sinks: [{ type: 'file', path: join(logDir, 'decisions.jsonl') }] })
    const loggedAuthz = await createAuthz({
      bundle,
      verifier,
      onDecision: (event) => {
        metrics.observeDecision(event)
        log.log(event)
      },
    })
    const loggedServer = app.buildServer({ authz: loggedAuthz, verifier, metrics })
    await loggedServer.listen({ host: '127.0.0.1', port: 0 })
    loggedPort = (loggedServer.server.address() as { port: number }).port
  }
} catch (err) {
  reason = `decision endpoint unavailable: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`
}

process.stdout.write(`${JSON.stringify({ hello: helloPort, decide: decidePort, cached: cachedPort, logged: loggedPort, ...(reason ? { reason } : {}) })}\n`)
lines.on('close', stop)
process.on('SIGTERM', stop)
