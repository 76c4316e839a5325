/**
 * The embedded example of `docs/observability.md` (examples/observability/embedded.ts) runs as
 * documented: a real MCP client over Streamable HTTP on 127.0.0.1, then what an operator sees —
 * Prometheus metrics, OpenTelemetry spans and metrics, the decision-log file — and a hot reload.
 * The document shows the file itself (with package imports): checked here too.
 */
import assert from 'node:assert/strict'
import { copyFile, readFile, rename, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { metrics as otelMetrics, trace } from '@opentelemetry/api'
import { AggregationTemporality, MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics'
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace'
import { startObservedServer } from '../../examples/observability/embedded.ts'
import { METRIC_NAMES, SPAN_ATTRIBUTES } from '../../src/observability/index.ts'
import { createTokenVerifier } from '../../src/verify/index.ts'
import { buildTestBundle, testData } from '../helpers/bundle.ts'
import { accessClaims, jwksOf, makeKey, mint } from '../helpers/verify-tokens.ts'
import { tempDir } from '../helpers/temp.ts'

const ISSUER = 'https://as.example.com'
const AUD = testData.mcp_authz.resource

class TestReader extends MetricReader {
  protected override async onShutdown(): Promise<void> {}
  protected override async onForceFlush(): Promise<void> {}
}

let dir: string
let server: Awaited<ReturnType<typeof startObservedServer>> | undefined
let token = ''
const clients: Client[] = []
const spans = new InMemorySpanExporter()
const tracerProvider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter: spans })] })
const reader = new TestReader({ aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE })
const meterProvider = new MeterProvider({ readers: [reader] })

before(async () => {
  // The host application registers its OpenTelemetry SDK first, as it would with NodeSDK.
  trace.setGlobalTracerProvider(tracerProvider)
  otelMetrics.setGlobalMeterProvider(meterProvider)
  dir = await tempDir('mcp-authz-observability-')
  await copyFile(await buildTestBundle(testData, { revision: 'rev-1' }), join(dir, 'bundle.tar.gz'))
  const key = await makeKey('ES256', 'k1')
  token = await mint(key, accessClaims(ISSUER, AUD, { scope: 'notes:read' }))
  server = await startObservedServer({
    bundlePath: join(dir, 'bundle.tar.gz'),
    verifier: createTokenVerifier({ audience: AUD, issuers: [{ issuer: ISSUER, jwks: jwksOf(key), tenant: 'acme' }] }),
    logFile: join(dir, 'decisions.jsonl'),
  })
})

after(async () => {
  for (const c of clients) await c.close().catch(() => {})
  await server?.close()
  trace.disable()
  otelMetrics.disable()
  await tracerProvider.shutdown()
  await meterProvider.shutdown()
  if (dir) await rm(dir, { recursive: true, force: true })
})

async function connect(): Promise<Client> {
  const client = new Client({ name: 'observability-example', version: '1.0.0' })
  await client.connect(new StreamableHTTPClientTransport(new URL((server as { url: string }).url), { requestInit: { headers: { authorization: `Bearer ${token}` } } }))
  clients.push(client)
  return client
}

const scrape = async (): Promise<string> => (await fetch((server as { metricsUrl: string }).metricsUrl, { signal: AbortSignal.timeout(10_000) })).text()

describe('the embedded observability example', () => {
  it('serves MCP calls, and the decisions show up in Prometheus metrics, OpenTelemetry and the decision log', async () => {
    const client = await connect()
    const read = await client.callTool({ name: 'notes_read', arguments: { title: 'groceries' } })
    assert.deepEqual(read.content, [{ type: 'text', text: 'note groceries' }])
    await assert.rejects(client.callTool({ name: 'notes_write', arguments: { title: 'x' } }), 'notes:write is missing: 403 step-up')

    const text = await scrape()
    assert.match(text, /mcp_authz_decisions_total\{result="allow",reason="none"\} [1-9]/)
    assert.match(text, /mcp_authz_decisions_total\{result="deny",reason="insufficient_scope"\} 1/)
    assert.match(text, /mcp_authz_decision_duration_seconds_count\{stage="eval"\} [1-9]/)
    assert.match(text, /mcp_authz_bundle_info\{revision="rev-1"\} 1/)
    assert.match(text, /mcp_authz_process_cpu_seconds_total/, 'process metrics too')

    const names = spans.getFinishedSpans().map((s) => s.name)
    assert.ok(names.includes('authz tools/call notes_read'), names.join(', '))
    assert.ok(names.includes('authz tools/call notes_write'))
    const denied = spans.getFinishedSpans().find((s) => s.name === 'authz tools/call notes_write')
    assert.equal(denied?.attributes[SPAN_ATTRIBUTES.outcome], 'deny')
    assert.equal(denied?.attributes[SPAN_ATTRIBUTES.logged], true)
    const { resourceMetrics } = await reader.collect()
    const otelDecisions = resourceMetrics.scopeMetrics.flatMap((s) => s.metrics).find((m) => m.descriptor.name === METRIC_NAMES.decisions)
    assert.ok(otelDecisions?.dataPoints.some((p) => p.attributes.reason === 'insufficient_scope' && p.value === 1))

    const deniedId = denied?.attributes[SPAN_ATTRIBUTES.decisionId]
    let lines: Array<{ decision_id: string; mcp: { reasons: string[] } }> = []
    await waitForAsync(
      async () => {
        const content = await readFile(join(dir, 'decisions.jsonl'), 'utf8').catch(() => '')
        lines = content.split('\n').filter((l) => l.endsWith('}')).map((l) => JSON.parse(l))
        return lines.some((l) => l.decision_id === deniedId)
      },
      15_000,
      'the denied decision in the log file',
    )
    assert.deepEqual(lines.find((l) => l.decision_id === deniedId)?.mcp.reasons, ['insufficient_scope'])
    assert.equal(JSON.stringify(lines).includes(token), false)
  })

  it('reloads the bundle when its file changes, and the metrics say which revision serves', async () => {
    const next = join(dir, 'next.tar.gz')
    await copyFile(await buildTestBundle(testData, { revision: 'rev-2' }), next)
    await rename(next, join(dir, 'bundle.tar.gz'))
    let text = ''
    await waitForAsync(async () => /mcp_authz_bundle_info\{revision="rev-2"\} 1/.test((text = await scrape())), 15_000, 'the new revision in the metrics')
    assert.doesNotMatch(text, /revision="rev-1"/, 'one revision serves at a time')
    assert.equal(server?.authz.bundle.revision, 'rev-2')
    const client = await connect()
    assert.deepEqual((await client.callTool({ name: 'notes_read', arguments: {} })).content, [{ type: 'text', text: 'note (all)' }])
  })

  it('the document shows this very file, with package imports', async () => {
    const doc = await readFile(new URL('../../docs/observability.md', import.meta.url), 'utf8')
    const block = /<!-- example: examples\/observability\/embedded\.ts -->\s*```ts\n([\s\S]*?)```/.exec(doc)?.[1]
    assert.ok(block, 'docs/observability.md has the example block')
    const file = await readFile(new URL('../../examples/observability/embedded.ts', import.meta.url), 'utf8')
    assert.equal(block, file.replace("'../../src/index.ts'", "'mcp-authz'").replace("'../../src/server/index.ts'", "'mcp-authz/server'"))
  })
})

async function waitForAsync(condition: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const start = Date.now()
  while (!(await condition())) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}
