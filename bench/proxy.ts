/**
 * The proxy's added latency: the same `tools/call` sent to a TypeScript SDK upstream directly and
 * through `mcp-authz proxy` (token verified — memoized ES256 JWT —, message classified and decided,
 * forwarded, answer filtered), interleaved one by one in the same run on 127.0.0.1, for an upstream
 * answering with JSON and one answering with SSE. Reported as p50 / p99 of each and the ratio of
 * the medians (a ratio, never an absolute time, is what the CI smoke may look at).
 *
 *     node bench/proxy.ts            # 3000 calls per side and mode → bench/results/proxy.json
 *     node bench/proxy.ts --smoke    # 40 calls: correctness only
 *
 * @module
 */
import { writeFile, mkdir } from 'node:fs/promises'
import { performance } from 'node:perf_hooks'
import { exportJWK, generateKeyPair, SignJWT } from 'jose'
import { createAuthz } from '../src/authz.ts'
import { createProxy } from '../src/proxy/index.ts'
import { createTokenVerifier } from '../src/verify/index.ts'
import { buildTestBundle } from '../test/helpers/bundle.ts'
import { freePort } from '../test/helpers/net.ts'
import { notesData, startTsUpstream } from '../test/proxy/helpers.ts'

const ISSUER = 'https://bench.issuer.example'

export interface ProxyBenchRow {
  mode: 'json' | 'sse'
  calls: number
  direct: { p50_us: number; p99_us: number }
  proxied: { p50_us: number; p99_us: number }
  /** p50 through the proxy ÷ p50 direct. */
  ratio_p50: number
  /** p50 through the proxy − p50 direct, µs. */
  added_p50_us: number
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number
}

async function session(url: string, headers: Record<string, string>): Promise<Record<string, string>> {
  const res = await fetch(url, { method: 'POST', headers, body: JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'bench', version: '1' } } }) })
  if (res.status !== 200) throw new Error(`initialize answered ${res.status}: ${await res.text()}`)
  await res.text()
  const out = { ...headers, 'mcp-session-id': res.headers.get('mcp-session-id') as string, 'mcp-protocol-version': '2025-11-25' }
  await (await fetch(url, { method: 'POST', headers: out, body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }) })).text()
  return out
}

/**
 * Runs the measurement.
 *
 * @example
 * ```ts
 * const rows = await benchProxy({ calls: 40 })
 * ```
 */
export async function benchProxy(options: { calls?: number } = {}): Promise<ProxyBenchRow[]> {
  const calls = options.calls ?? 3000
  const { publicKey, privateKey } = await generateKeyPair('ES256')
  const jwk = { ...(await exportJWK(publicKey)), kid: 'bench', alg: 'ES256', use: 'sig' }
  const rows: ProxyBenchRow[] = []
  for (const mode of ['json', 'sse'] as const) {
    const upstream = await startTsUpstream({ json: mode === 'json' })
    const port = await freePort()
    const resource = `http://127.0.0.1:${port}/mcp`
    const bundle = await buildTestBundle(notesData(resource, ISSUER))
    const verifier = createTokenVerifier({ audience: resource, issuers: [{ issuer: ISSUER, jwks: { keys: [jwk] }, algorithms: ['ES256'] }] })
    const authz = await createAuthz({ bundle, verifier })
    const proxy = await createProxy({ authz, upstream: { url: upstream.url } })
    await proxy.app.listen({ host: '127.0.0.1', port })
    try {
      const token = await new SignJWT({ scope: 'notes:read', client_id: 'bench' }).setProtectedHeader({ alg: 'ES256', kid: 'bench', typ: 'at+jwt' }).setIssuer(ISSUER).setAudience(resource).setSubject('bench').setIssuedAt().setExpirationTime('1h').setJti('bench-1').sign(privateKey)
      const base = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' }
      const direct = await session(upstream.url, base)
      const proxied = await session(resource, { ...base, authorization: `Bearer ${token}` })
      const body = (id: number) => JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'notes_read', arguments: { title: 'a' } } })
      const once = async (url: string, headers: Record<string, string>, id: number) => {
        const started = performance.now()
        const res = await fetch(url, { method: 'POST', headers, body: body(id) })
        const text = await res.text()
        const took = performance.now() - started
        if (res.status !== 200 || !text.includes('note a')) throw new Error(`call answered ${res.status}: ${text.slice(0, 200)}`)
        return took
      }
      for (let i = 0; i < Math.min(200, calls); i++) {
        await once(upstream.url, direct, i)
        await once(resource, proxied, i)
      }
      const d: number[] = []
      const p: number[] = []
      for (let i = 0; i < calls; i++) {
        // Interleaved, alternating which goes first: both see the same machine load.
        if (i % 2 === 0) {
          d.push(await once(upstream.url, direct, i))
          p.push(await once(resource, proxied, i))
        } else {
          p.push(await once(resource, proxied, i))
          d.push(await once(upstream.url, direct, i))
        }
      }
      d.sort((a, b) => a - b)
      p.sort((a, b) => a - b)
      const us = (ms: number) => Math.round(ms * 1000)
      rows.push({
        mode,
        calls,
        direct: { p50_us: us(percentile(d, 50)), p99_us: us(percentile(d, 99)) },
        proxied: { p50_us: us(percentile(p, 50)), p99_us: us(percentile(p, 99)) },
        ratio_p50: Math.round((percentile(p, 50) / percentile(d, 50)) * 100) / 100,
        added_p50_us: us(percentile(p, 50) - percentile(d, 50)),
      })
    } finally {
      await proxy.close()
      await upstream.close()
    }
  }
  return rows
}

/** The rows as a markdown table. */
export function proxyBenchMarkdown(rows: ProxyBenchRow[]): string {
  const lines = ['| upstream answers | calls | direct p50 / p99 | through the proxy p50 / p99 | added p50 | ratio p50 |', '|---|---:|---:|---:|---:|---:|']
  for (const r of rows) lines.push(`| ${r.mode.toUpperCase()} | ${r.calls} | ${r.direct.p50_us} / ${r.direct.p99_us} µs | ${r.proxied.p50_us} / ${r.proxied.p99_us} µs | ${r.added_p50_us} µs | ${r.ratio_p50}× |`)
  return lines.join('\n')
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const smoke = process.argv.includes('--smoke')
  const rows = await benchProxy({ calls: smoke ? 40 : 3000 })
  const out = new URL(smoke ? './results/smoke/' : './results/', import.meta.url)
  await mkdir(out, { recursive: true })
  await writeFile(new URL('proxy.json', out), `${JSON.stringify({ date: new Date().toISOString(), node: process.version, smoke, rows }, null, 2)}\n`)
  process.stdout.write(`${proxyBenchMarkdown(rows)}\n`)
}
