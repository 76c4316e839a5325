/**
 * The OpenTelemetry consumer of decision events (13.5), with the real OpenTelemetry SDK (in-memory
 * exporters) fed by a real engine (`createAuthz` with a real WASM bundle): one span per decision
 * with stage timings, decision id, outcome and reason codes — never a credential or an argument
 * value — and the same metrics as the Prometheus endpoint.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { context, metrics as otelMetrics, ROOT_CONTEXT, SpanStatusCode, trace } from '@opentelemetry/api'
import { AggregationTemporality, MeterProvider, MetricReader, type DataPoint, type Histogram, type ResourceMetrics } from '@opentelemetry/sdk-metrics'
import { InMemorySpanExporter, SimpleSpanProcessor, StackContextManager, TracerProvider, type ReadableSpan } from '@opentelemetry/sdk-trace'
import { createAuthz, type Authz, type DecisionEvent } from '../../src/authz.ts'
import { createDecisionLogger } from '../../src/decision-log/logger.ts'
import { combineDecisionConsumers, createOtelDecisionHook, METRIC_NAMES, SPAN_ATTRIBUTES } from '../../src/observability/index.ts'
import { createServerMetrics } from '../../src/observability/prometheus.ts'
import { createTokenVerifier } from '../../src/verify/index.ts'
import { buildTestBundle, testData } from '../helpers/bundle.ts'
import { accessClaims, jwksOf, makeKey, mint, type TestKey } from '../helpers/verify-tokens.ts'

const ISSUER = 'https://as.example.com'
const AUD = testData.mcp_authz.resource
const SECRET_ARGUMENT = 'argument-value-that-must-not-leak-4711'

class TestReader extends MetricReader {
  protected override async onShutdown(): Promise<void> {}
  protected override async onForceFlush(): Promise<void> {}
}

/** A fresh SDK pair (tracer and meter providers) with in-memory capture. */
function sdk() {
  const spans = new InMemorySpanExporter()
  const tracerProvider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter: spans })] })
  const reader = new TestReader({ aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE })
  const meterProvider = new MeterProvider({ readers: [reader] })
  return {
    spans,
    tracerProvider,
    meterProvider,
    async collect(): Promise<ResourceMetrics> {
      const { resourceMetrics, errors } = await reader.collect()
      assert.deepEqual(errors, [])
      return resourceMetrics
    },
    async shutdown() {
      await tracerProvider.shutdown()
      await meterProvider.shutdown()
    },
  }
}

function points(rm: ResourceMetrics, name: string): DataPoint<unknown>[] {
  return rm.scopeMetrics.flatMap((s) => s.metrics).filter((m) => m.descriptor.name === name).flatMap((m) => m.dataPoints as DataPoint<unknown>[])
}
function counterBy(rm: ResourceMetrics, name: string): Record<string, number> {
  const out: Record<string, number> = {}
  for (const p of points(rm, name)) out[Object.values(p.attributes).join('/')] = p.value as number
  return out
}

let key: TestKey
let bundle: string
let readerToken: string
let expiredToken: string

before(async () => {
  key = await makeKey('ES256', 'k1')
  bundle = await buildTestBundle(testData)
  readerToken = await mint(key, accessClaims(ISSUER, AUD, { scope: 'notes:read', client_id: 'notes-desktop' }))
  const now = Math.floor(Date.now() / 1000)
  expiredToken = await mint(key, accessClaims(ISSUER, AUD, { scope: 'notes:read', iat: now - 7200, exp: now - 3600 }))
})

async function engine(onDecision: (e: DecisionEvent) => void): Promise<Authz> {
  return createAuthz({ bundle, verifier: createTokenVerifier({ audience: AUD, issuers: [{ issuer: ISSUER, jwks: jwksOf(key), tenant: 'acme' }] }), onDecision })
}
const call = (name: string, args: Record<string, unknown>, id = 7) => ({ jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: args } })

/** Allowed read, under-scoped write, argument that leaks if logged, expired token, malformed message. */
async function drive(authz: Authz): Promise<void> {
  await authz.check(readerToken, call('notes_read', { title: SECRET_ARGUMENT }))
  await authz.check(readerToken, call('notes_write', { title: 'x', body: SECRET_ARGUMENT }, 8))
  await authz.check(expiredToken, call('notes_read', {}, 9))
  await authz.check(readerToken, '{"jsonrpc":"2.0","id":1,"method":')
  await authz.check(readerToken, { jsonrpc: '2.0', id: 10, method: 'resources/read', params: { uri: 'notes://private/diary' } })
}

describe('createOtelDecisionHook: one span per decision', () => {
  const otel = sdk()
  after(() => otel.shutdown())

  it('names spans by method and tool, times them from the event, and carries outcome, reasons and decision id', async () => {
    const events: DecisionEvent[] = []
    const hook = createOtelDecisionHook({ tracerProvider: otel.tracerProvider, meterProvider: otel.meterProvider })
    const authz = await engine(combineDecisionConsumers((e) => void events.push(e), hook))
    await drive(authz)
    const spans = otel.spans.getFinishedSpans()
    assert.equal(spans.length, events.length)
    assert.deepEqual(
      spans.map((s) => s.name),
      ['authz tools/call notes_read', 'authz tools/call notes_write', 'authz refused', 'authz refused', 'authz resources/read'],
      'low-cardinality names: method and tool, never a URI',
    )
    for (const [i, span] of spans.entries()) {
      const event = events[i] as DecisionEvent
      const a = span.attributes
      assert.equal(a[SPAN_ATTRIBUTES.decisionId], event.decisionId)
      assert.equal(a[SPAN_ATTRIBUTES.totalNs], event.metrics.total_ns)
      assert.equal(a[SPAN_ATTRIBUTES.revision], event.revision)
      // Created after the fact: ends at the event's timestamp, starts total_ns before it.
      const endMs = span.endTime[0] * 1000 + span.endTime[1] / 1e6
      const durationNs = span.duration[0] * 1e9 + span.duration[1]
      assert.ok(Math.abs(endMs - event.timestamp.getTime()) < 0.01, `span ${i} ends at the event timestamp`)
      assert.ok(Math.abs(durationNs - event.metrics.total_ns) < 1000, `span ${i} lasts total_ns (${durationNs} vs ${event.metrics.total_ns})`)
    }
    const [read, write, expired, malformed, resource] = spans as ReadableSpan[]
    assert.deepEqual(
      { method: read?.attributes[SPAN_ATTRIBUTES.method], tool: read?.attributes[SPAN_ATTRIBUTES.tool], outcome: read?.attributes[SPAN_ATTRIBUTES.outcome], reasons: read?.attributes[SPAN_ATTRIBUTES.reasons], id: read?.attributes[SPAN_ATTRIBUTES.requestId], status: read?.attributes[SPAN_ATTRIBUTES.httpStatus] },
      { method: 'tools/call', tool: 'notes_read', outcome: 'allow', reasons: [], id: '7', status: 200 },
    )
    assert.equal(typeof read?.attributes[SPAN_ATTRIBUTES.verifyNs], 'number')
    assert.equal(typeof read?.attributes[SPAN_ATTRIBUTES.evalNs], 'number')
    assert.equal(read?.attributes[SPAN_ATTRIBUTES.clientId], 'notes-desktop')
    assert.equal(read?.attributes[SPAN_ATTRIBUTES.tenant], 'acme')
    assert.equal(read?.attributes[SPAN_ATTRIBUTES.networkTransport], 'tcp')
    assert.equal(read?.attributes[SPAN_ATTRIBUTES.subject], undefined, 'the subject is opt-in')
    assert.deepEqual({ outcome: write?.attributes[SPAN_ATTRIBUTES.outcome], reasons: write?.attributes[SPAN_ATTRIBUTES.reasons], status: write?.attributes[SPAN_ATTRIBUTES.httpStatus] }, { outcome: 'deny', reasons: ['insufficient_scope'], status: 403 })
    assert.deepEqual({ outcome: expired?.attributes[SPAN_ATTRIBUTES.outcome], code: expired?.attributes[SPAN_ATTRIBUTES.errorCode], status: expired?.attributes[SPAN_ATTRIBUTES.httpStatus] }, { outcome: 'deny', code: 'ERR_TOKEN_EXPIRED', status: 401 })
    assert.equal(expired?.status.code, SpanStatusCode.UNSET, 'a refused token is the client’s failure, not the engine’s')
    assert.equal(malformed?.attributes[SPAN_ATTRIBUTES.errorCode], 'ERR_MESSAGE_INVALID')
    assert.equal(resource?.attributes[SPAN_ATTRIBUTES.resourceUri], 'notes://private/diary')
  })

  it('never puts a credential, an argument value or a reason message on a span', async () => {
    const text = JSON.stringify(otel.spans.getFinishedSpans().map((s) => ({ name: s.name, attributes: s.attributes, events: s.events, status: s.status })))
    assert.equal(text.includes(readerToken), false)
    assert.equal(text.includes(expiredToken.split('.')[2] as string), false)
    assert.equal(text.includes('eyJ'), false)
    assert.equal(text.includes(SECRET_ARGUMENT), false)
    assert.equal(/needs|scope notes:write/.test(text), false, 'reason messages (which may quote arguments) stay in the decision log')
  })

  it('a URI with credentials is redacted; the subject appears only when asked for', async () => {
    const exporter = new InMemorySpanExporter()
    const tracerProvider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] })
    const hook = createOtelDecisionHook({ tracerProvider, metrics: false, recordSubject: true })
    const authz = await engine(hook)
    await authz.check(readerToken, { jsonrpc: '2.0', id: 3, method: 'resources/read', params: { uri: 'notes://shared/report?api_key=hunter2pass42' } })
    const [span] = exporter.getFinishedSpans()
    assert.equal(span?.attributes[SPAN_ATTRIBUTES.resourceUri], 'notes://shared/report?api_key=[REDACTED:secret_assignment]')
    assert.equal(span?.attributes[SPAN_ATTRIBUTES.subject], 'user-1')
    await tracerProvider.shutdown()
  })

  it('is a child of the span active when the engine decides (the request span)', async () => {
    const exporter = new InMemorySpanExporter()
    const tracerProvider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] })
    const authz = await engine(createOtelDecisionHook({ tracerProvider, metrics: false }))
    // The host's context manager (NodeSDK registers an AsyncLocalStorage one; a synchronous one suffices here).
    context.setGlobalContextManager(new StackContextManager().enable())
    const parent = tracerProvider.getTracer('host').startSpan('POST /mcp', {}, ROOT_CONTEXT)
    try {
      context.with(trace.setSpan(ROOT_CONTEXT, parent), () => authz.decide({ subject: 'u', issuer: ISSUER, audience: [AUD], scopes: ['notes:read'], authMethod: 'jwt', tokenId: 't', claims: {} }, call('notes_read', {})))
    } finally {
      parent.end()
      context.disable()
    }
    const child = exporter.getFinishedSpans().find((s) => s.name === 'authz tools/call notes_read')
    assert.equal(child?.parentSpanContext?.spanId, parent.spanContext().spanId)
    assert.equal(child?.spanContext().traceId, parent.spanContext().traceId)
    await tracerProvider.shutdown()
  })

  it('with a logger: logs the event, times the log, and the span ends after it', async () => {
    const exporter = new InMemorySpanExporter()
    const tracerProvider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] })
    const written: string[] = []
    const logger = createDecisionLogger({ sinks: [], sample: { allow: 0 } }, { sinks: [{ name: 'm', write: (r) => void written.push(r.decision_id), flush: async () => {}, close: async () => {}, stats: () => ({ written: written.length, dropped: 0, failed: 0 }) }] })
    const events: DecisionEvent[] = []
    const authz = await engine(combineDecisionConsumers((e) => void events.push(e), createOtelDecisionHook({ tracerProvider, metrics: false, logger })))
    await authz.check(readerToken, call('notes_read', {}))
    await authz.check(readerToken, call('notes_write', { title: 'x' }))
    const [allowed, denied] = exporter.getFinishedSpans()
    assert.deepEqual(written, [events[1]?.decisionId], 'the logger got every event (the allow was sampled out)')
    assert.equal(allowed?.attributes[SPAN_ATTRIBUTES.logged], false)
    assert.equal(denied?.attributes[SPAN_ATTRIBUTES.logged], true)
    const logNs = denied?.attributes[SPAN_ATTRIBUTES.logNs] as number
    assert.ok(Number.isInteger(logNs) && logNs > 0)
    const durationNs = (denied?.duration[0] ?? 0) * 1e9 + (denied?.duration[1] ?? 0)
    assert.ok(Math.abs(durationNs - ((events[1]?.metrics.total_ns ?? 0) + logNs)) < 1000, 'the span covers the decision and its log')
    await tracerProvider.shutdown()
  })

  it('a policy_error sets an error status and error.type; list filtering and rules become attributes', () => {
    const exporter = new InMemorySpanExporter()
    const tracerProvider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] })
    const hook = createOtelDecisionHook({ tracerProvider, metrics: false })
    const base: DecisionEvent = { decisionId: 'd-1', timestamp: new Date(), path: 'mcp/authz/decision', input: undefined, result: { allow: false, reasons: [{ code: 'policy_error', message: 'evaluation failed', rule: 'mcp-authz engine' }], required_scopes: [] }, revision: 'r1', metrics: { total_ns: 5000, classify_ns: 100 }, enforcement: 'enforced', transport: 'stdio' }
    hook(base)
    hook({ ...base, decisionId: 'd-2', result: { allow: true, reasons: [], required_scopes: [] }, list: { kind: 'tool', total: 5, visible: 2, hidden: ['a', 'b', 'c'] }, relatedDecisionId: 'd-0' })
    const [failed, listed] = exporter.getFinishedSpans()
    assert.equal(failed?.status.code, SpanStatusCode.ERROR)
    assert.equal(failed?.attributes[SPAN_ATTRIBUTES.errorType], 'policy_error')
    assert.deepEqual(failed?.attributes[SPAN_ATTRIBUTES.rules], ['mcp-authz engine'])
    assert.equal(failed?.attributes[SPAN_ATTRIBUTES.classifyNs], 100)
    assert.equal(failed?.attributes[SPAN_ATTRIBUTES.networkTransport], 'pipe')
    assert.equal(failed?.name, 'authz decision')
    assert.deepEqual(
      [listed?.attributes[SPAN_ATTRIBUTES.listKind], listed?.attributes[SPAN_ATTRIBUTES.listTotal], listed?.attributes[SPAN_ATTRIBUTES.listVisible], listed?.attributes[SPAN_ATTRIBUTES.listHidden], listed?.attributes[SPAN_ATTRIBUTES.relatedDecisionId]],
      ['tool', 5, 2, 3, 'd-0'],
    )
    assert.equal(listed?.status.code, SpanStatusCode.UNSET)
    void tracerProvider.shutdown()
  })
})

describe('createOtelDecisionHook: the endpoint’s metrics through the OpenTelemetry meter', () => {
  it('counts the same decisions, reasons, verification failures and stage latencies as createServerMetrics', async () => {
    const otel = sdk()
    const prom = createServerMetrics({ processMetrics: false })
    const hook = createOtelDecisionHook({ tracerProvider: otel.tracerProvider, meterProvider: otel.meterProvider })
    const authz = await engine(combineDecisionConsumers(prom.observeDecision, hook))
    await drive(authz)
    await drive(authz)
    hook.reloadFailed('signature')
    prom.reloadFailed('signature')
    hook.bundleActivated('rev-2')
    const rm = await otel.collect()

    const promDecisions: Record<string, number> = {}
    for (const v of (await prom.registry.getSingleMetric('mcp_authz_decisions_total')?.get())?.values ?? []) promDecisions[`${v.labels.result}/${v.labels.reason}`] = v.value
    assert.deepEqual(counterBy(rm, METRIC_NAMES.decisions), promDecisions)
    assert.deepEqual(promDecisions, { 'allow/none': 2, 'deny/insufficient_scope': 4, 'deny/invalid_token': 2, 'deny/invalid_message': 2 })
    const promFailures: Record<string, number> = {}
    for (const v of (await prom.registry.getSingleMetric('mcp_authz_verification_failures_total')?.get())?.values ?? []) promFailures[String(v.labels.code)] = v.value
    assert.deepEqual(counterBy(rm, METRIC_NAMES.verificationFailures), promFailures)
    assert.deepEqual(promFailures, { ERR_TOKEN_EXPIRED: 2 })
    assert.deepEqual(counterBy(rm, METRIC_NAMES.reloadFailures), { signature: 1 })

    const histogram: Record<string, number> = {}
    for (const p of points(rm, METRIC_NAMES.duration)) histogram[String(p.attributes.stage)] = (p.value as Histogram).count
    const promHistogram: Record<string, number> = {}
    for (const v of (await prom.registry.getSingleMetric('mcp_authz_decision_duration_seconds')?.get())?.values ?? []) if ((v as { metricName?: string }).metricName === 'mcp_authz_decision_duration_seconds_count') promHistogram[String(v.labels.stage)] = v.value
    assert.deepEqual(histogram, promHistogram)
    assert.deepEqual(histogram, { verify: 10, classify: 6, eval: 6, total: 10 })
    const buckets = rm.scopeMetrics.flatMap((s) => s.metrics).find((m) => m.descriptor.name === METRIC_NAMES.duration)
    assert.equal(buckets?.descriptor.unit, 's')
    assert.deepEqual((points(rm, METRIC_NAMES.duration)[0]?.value as Histogram).buckets.boundaries, [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1])
    assert.deepEqual(points(rm, METRIC_NAMES.bundleInfo).map((p) => [p.attributes.revision, p.value]), [['rev-2', 1]])
    assert.equal(points(rm, METRIC_NAMES.bundleLoaded).length, 1)
    await otel.shutdown()
  })

  it('a policy error with a cause is counted under its reason, not as a verification failure', async () => {
    const otel = sdk()
    const prom = createServerMetrics({ processMetrics: false })
    const hook = createOtelDecisionHook({ tracerProvider: otel.tracerProvider, meterProvider: otel.meterProvider })
    const input = { principal: { subject: 'u', issuer: ISSUER, audience: [AUD], scopes: [], authMethod: 'jwt' as const, tokenId: 't', claims: {} }, action: { method: 'tools/call', kind: 'tool' as const, name: 'x' }, server: { resource: AUD }, context: { time_ns: 0, transport: 'http' } }
    const event: DecisionEvent = { decisionId: 'd', timestamp: new Date(), path: 'mcp/authz/decision', input, result: { allow: false, reasons: [{ code: 'policy_error', message: 'boom' }], required_scopes: [] }, revision: 'r', metrics: { total_ns: 1 }, enforcement: 'enforced', error: { code: 'ERR_POLICY_EVAL', message: 'boom' } }
    hook(event)
    prom.observeDecision(event)
    const rm = await otel.collect()
    assert.deepEqual(counterBy(rm, METRIC_NAMES.decisions), { 'deny/policy_error': 1 })
    assert.deepEqual(counterBy(rm, METRIC_NAMES.verificationFailures), {})
    assert.equal((await prom.registry.getSingleMetric('mcp_authz_verification_failures_total')?.get())?.values.length, 0)
    await otel.shutdown()
  })
})

describe('createOtelDecisionHook: safe by default', () => {
  it('without an SDK registered it is a no-op that never throws', async () => {
    assert.equal(trace.getTracerProvider().getTracer('x').startSpan('probe').isRecording(), false, 'no global SDK in this process')
    const hook = createOtelDecisionHook()
    const authz = await engine(hook)
    await drive(authz)
    hook.bundleActivated('r')
    hook.reloadFailed('load')
  })

  it('uses the global providers once the host registers them', async () => {
    const otel = sdk()
    trace.setGlobalTracerProvider(otel.tracerProvider)
    otelMetrics.setGlobalMeterProvider(otel.meterProvider)
    try {
      const authz = await engine(createOtelDecisionHook())
      await authz.check(readerToken, call('notes_read', {}))
      assert.deepEqual(otel.spans.getFinishedSpans().map((s) => s.name), ['authz tools/call notes_read'])
      assert.deepEqual(counterBy(await otel.collect(), METRIC_NAMES.decisions), { 'allow/none': 1 })
    } finally {
      trace.disable()
      otelMetrics.disable()
      await otel.shutdown()
    }
  })

  it('an SDK or a logger that throws never reaches the decision', async () => {
    const throwing = {
      getTracer: () => ({
        startSpan() {
          throw new Error('tracer exploded')
        },
      }),
    }
    const badMeter = {
      getMeter: () => ({
        createCounter: () => ({
          add() {
            throw new Error('meter exploded')
          },
        }),
        createHistogram: () => ({ record() {} }),
        createObservableGauge: () => ({ addCallback() {} }),
      }),
    }
    const hook = createOtelDecisionHook({ tracerProvider: throwing as never, meterProvider: badMeter as never, logger: { log: () => { throw new Error('logger exploded') } } })
    const authz = await engine(hook)
    const r = await authz.check(readerToken, call('notes_read', {}))
    assert.equal(r.allow, true)
    assert.doesNotThrow(() => hook.reloadFailed('x'))
  })

  it('rejects bad options with a TypeError naming the option', () => {
    assert.throws(() => createOtelDecisionHook(null as never), { name: 'TypeError', message: /options/ })
    assert.throws(() => createOtelDecisionHook({ traces: 'yes' as never }), { name: 'TypeError', message: /traces/ })
    assert.throws(() => createOtelDecisionHook({ metrics: 1 as never }), { name: 'TypeError', message: /metrics/ })
    assert.throws(() => createOtelDecisionHook({ recordSubject: 'no' as never }), { name: 'TypeError', message: /recordSubject/ })
    assert.throws(() => createOtelDecisionHook({ spanNamePrefix: '' }), { name: 'TypeError', message: /spanNamePrefix/ })
    assert.throws(() => createOtelDecisionHook({ logger: {} as never }), { name: 'TypeError', message: /logger/ })
    assert.throws(() => createOtelDecisionHook({ tracerProvider: {} as never }), { name: 'TypeError', message: /tracerProvider/ })
    assert.throws(() => createOtelDecisionHook({ meterProvider: {} as never }), { name: 'TypeError', message: /meterProvider/ })
  })
})

describe('combineDecisionConsumers', () => {
  const event = { decisionId: 'd' } as DecisionEvent
  it('calls every consumer in order, skipping falsy entries; one that throws does not stop the rest', () => {
    const seen: string[] = []
    const errors: Array<[string, number]> = []
    const combined = combineDecisionConsumers(
      (e) => void seen.push(`a:${e.decisionId}`),
      undefined,
      () => {
        throw new Error('b failed')
      },
      false,
      (e) => void seen.push(`c:${e.decisionId}`),
      { onError: (err, i) => void errors.push([(err as Error).message, i]) },
    )
    assert.doesNotThrow(() => combined(event))
    assert.deepEqual(seen, ['a:d', 'c:d'])
    assert.deepEqual(errors, [['b failed', 2]])
  })

  it('an onError that throws is ignored too; without onError errors are swallowed', () => {
    const throwing = () => {
      throw new Error('x')
    }
    assert.doesNotThrow(() => combineDecisionConsumers(throwing, { onError: throwing })(event))
    assert.doesNotThrow(() => combineDecisionConsumers(throwing)(event))
  })

  it('rejects what is not a consumer', () => {
    assert.throws(() => combineDecisionConsumers('log' as never), { name: 'TypeError', message: /consumers\[0\]/ })
    assert.throws(() => combineDecisionConsumers(() => {}, { onError: 'x' as never }), { name: 'TypeError', message: /onError/ })
  })
})

