/**
 * Child process of the benchmark suite: serves the decision endpoint (`buildServer`, `POST
 * /v1/decide`) and a Fastify hello-world JSON POST on 127.0.0.1, so autocannon can drive both from
 * the parent process. Reads `{bundle, verifierConfig}` as one JSON line on stdin, prints
 * `{hello, decide, reason?}` (ports; `decide: null` with a reason when the endpoint is missing) on
 * stdout, and stops itself when stdin closes or after 15 minutes.
 *
 * @module
 */
import { createInterface } from 'node:readline'
import Fastify from 'fastify'
import { createAuthz, type CredentialVerifier } from '../src/authz.ts'

const lines = createInterface({ input: process.stdin })
const first = await new Promise<string>((resolve) => lines.once('line', resolve))
const { bundle, verifierConfig } = JSON.parse(first) as { bundle: string; verifierConfig: unknown }

const stopTimer = setTimeout(() => process.exit(0), 15 * 60_000)
stopTimer.unref()

const hello = Fastify({ logger: false })
hello.post('/hello', async () => ({ hello: 'world' }))
await hello.listen({ host: '127.0.0.1', port: 0 })
const helloPort = (hello.server.address() as { port: number }).port

let decidePort: number | null = null
let cachedPort: number | null = null
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
  }
} catch (err) {
  reason = `decision endpoint unavailable: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`
}

process.stdout.write(`${JSON.stringify({ hello: helloPort, decide: decidePort, cached: cachedPort, ...(reason ? { reason } : {}) })}\n`)
lines.on('close', () => process.exit(0))
process.on('SIGTERM', () => process.exit(0))
