/**
 * OpenTelemetry for decisions, as a consumer of `DecisionEvent`: one span per decision and the
 * endpoint's metrics as OpenTelemetry instruments, through `@opentelemetry/api` only. Without an
 * SDK registered by the host application, every call is a no-op.
 *
 * The span is created after the fact, from the event: it starts `metrics.total_ns` before the
 * event's `timestamp` and ends at it (or after the decision log, when the hook writes the log
 * itself), as a child of the span active when the engine called `onDecision` (the request's).
 * It carries stage timings, the decision id, the outcome and the reason codes — never a credential,
 * an argument value or a reason message (which may quote an argument).
 *
 * @module
 */
import {
  context as otelContext,
  metrics as otelMetrics,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Counter,
  type Histogram,
  type Meter,
  type MeterProvider,
  type Tracer,
  type TracerProvider,
} from '@opentelemetry/api'
import type { DecisionEvent } from '../decision-log/record.ts'
import { compileScanner, SECRET_PATTERNS } from '../decision-log/patterns.ts'
import { DEFAULT_LABELS } from '../decision-log/record.ts'
import { decisionLabels, isListFiltering, LATENCY_BUCKETS, stageSeconds, STAGES } from './labels.ts'

/** The instrumentation scope name (tracer and meter). */
export const INSTRUMENTATION_SCOPE = 'mcp-authz'

/** Span attribute names. Where an OpenTelemetry semantic convention exists it is used. */
export const SPAN_ATTRIBUTES = Object.freeze({
  /** Semantic convention (MCP): the JSON-RPC method, e.g. `tools/call`. */
  method: 'mcp.method.name',
  /** Semantic convention (GenAI): the tool of a `tools/call`. */
  tool: 'gen_ai.tool.name',
  /** Semantic convention (GenAI): the prompt of a `prompts/get`. */
  prompt: 'gen_ai.prompt.name',
  /** Semantic convention (MCP): the resource URI of `resources/*`, with credentials redacted. */
  resourceUri: 'mcp.resource.uri',
  /** Semantic convention (JSON-RPC): the request id, as a string. */
  requestId: 'jsonrpc.request.id',
  /** Semantic convention (network): `tcp` for HTTP, `pipe` for stdio. */
  networkTransport: 'network.transport',
  /** Semantic convention (HTTP): the status the request was answered with. */
  httpStatus: 'http.response.status_code',
  /** Semantic convention: set (with an error status) only when the engine failed (`policy_error`). */
  errorType: 'error.type',
  /** Semantic convention (opt-in, `recordSubject`): the principal's subject. */
  subject: 'enduser.id',
  /** The decision id (as in the decision log and the client's JSON-RPC error). */
  decisionId: 'mcp_authz.decision_id',
  /** `allow`, `deny` or `shadow_deny`. */
  outcome: 'mcp_authz.outcome',
  /** Reason codes, in the policy's order (string array). */
  reasons: 'mcp_authz.reasons',
  /** Rules the reasons came from, when the engine reports them (string array). */
  rules: 'mcp_authz.rules',
  /** `enforced` or `shadow`. */
  enforcement: 'mcp_authz.enforcement',
  /** The revision of the bundle that decided. */
  revision: 'mcp_authz.bundle.revision',
  /** The error code of a request refused before the policy (e.g. `ERR_JWT_EXPIRED`). */
  errorCode: 'mcp_authz.error.code',
  /** The OAuth client id of the principal. */
  clientId: 'mcp_authz.client_id',
  /** The tenant of the principal. */
  tenant: 'mcp_authz.tenant',
  /** How the principal was authenticated (`jwt`, `introspection`, `api_key`, `static`). */
  authMethod: 'mcp_authz.auth_method',
  /** Stage timings in nanoseconds, named as in the decision log. */
  verifyNs: 'mcp_authz.timer.verify_ns',
  classifyNs: 'mcp_authz.timer.classify_ns',
  evalNs: 'mcp_authz.timer.eval_ns',
  logNs: 'mcp_authz.timer.log_ns',
  totalNs: 'mcp_authz.timer.total_ns',
  /** Whether the decision logger wrote a record (false: sampled out or dropped by a rule). Only with `logger`. */
  logged: 'mcp_authz.logged',
  /** List filtering: what was listed, and how many items the server had, the principal saw, were hidden. */
  listKind: 'mcp_authz.list.kind',
  listTotal: 'mcp_authz.list.total',
  listVisible: 'mcp_authz.list.visible',
  listHidden: 'mcp_authz.list.hidden',
  /** The decision id of the related call (the list call, for a filtering decision). */
  relatedDecisionId: 'mcp_authz.related_decision_id',
} as const)

/** Metric instrument names (OpenTelemetry style; a Prometheus exporter writes them as in the table of `docs/observability.md`). */
export const METRIC_NAMES = Object.freeze({
  /** Counter, attributes `result`, `reason` → `mcp_authz_decisions_total`. */
  decisions: 'mcp_authz.decisions',
  /** Histogram in seconds, attribute `stage` (`verify`, `classify`, `eval`, `total`) → `mcp_authz_decision_duration_seconds`. */
  duration: 'mcp_authz.decision.duration',
  /** Counter, attribute `code` → `mcp_authz_verification_failures_total`. */
  verificationFailures: 'mcp_authz.verification.failures',
  /** Counter, attribute `reason` (`download`, `signature`, `load`) → `mcp_authz_bundle_reload_failures_total`. */
  reloadFailures: 'mcp_authz.bundle.reload.failures',
  /** Gauge (value 1), attribute `revision` → `mcp_authz_bundle_info`. */
  bundleInfo: 'mcp_authz.bundle.info',
  /** Gauge in seconds since the epoch → `mcp_authz_bundle_loaded_timestamp_seconds`. */
  bundleLoaded: 'mcp_authz.bundle.loaded.timestamp',
} as const)

/** Something that logs a decision event (a `DecisionLogger`). */
export interface EventLogger {
  log(event: DecisionEvent): unknown
}

/** Options of {@link createOtelDecisionHook}. */
export interface OtelDecisionHookOptions {
  /** Where spans go. Default: the global tracer provider (`trace.getTracerProvider()`), a no-op until the host registers an SDK. */
  tracerProvider?: TracerProvider
  /** Where metrics go. Default: the global meter provider (`metrics.getMeterProvider()`), a no-op until the host registers an SDK. Register the SDK before creating the hook. */
  meterProvider?: MeterProvider
  /** Create a span per decision. Default `true`. */
  traces?: boolean
  /** Record the decision metrics. Default `true`. */
  metrics?: boolean
  /** The decision logger: when given, the hook logs each event itself and times it (`mcp_authz.timer.log_ns`, `mcp_authz.logged`). Default: none. */
  logger?: EventLogger
  /** Put the principal's subject on spans as `enduser.id`. Default `false` (a subject can be personal data). */
  recordSubject?: boolean
  /** Span name prefix: spans are named `<prefix> <method>[ <tool or prompt>]`. Default `'authz'`. */
  spanNamePrefix?: string
}

/** What {@link createOtelDecisionHook} returns: the `onDecision` consumer, plus the bundle hooks of `createServerMetrics`. */
export interface OtelDecisionHook {
  /** Records one decision (span and metrics). Never throws. */
  (event: DecisionEvent): void
  /** Records the bundle revision now serving (plug into `createBundleLoader({ onActivate })`). */
  bundleActivated(revision: string): void
  /** Counts a refused bundle reload (plug into `createBundleLoader({ onError })`). */
  reloadFailed(reason: string): void
}

const MAX_ATTRIBUTE_LENGTH = 256
const scanner = compileScanner(SECRET_PATTERNS)

function short(text: string): string {
  return text.length <= MAX_ATTRIBUTE_LENGTH ? text : `${text.slice(0, MAX_ATTRIBUTE_LENGTH)}…`
}
function str(v: unknown): string | undefined {
  return typeof v === 'string' && v.length > 0 ? v : undefined
}

/** A span name of low cardinality: the method, and the tool or prompt name (never a URI). */
function spanName(prefix: string, event: DecisionEvent): string {
  const action = event.input?.action
  const method = str(action?.method)
  if (method === undefined) return `${prefix} ${event.error !== undefined ? 'refused' : 'decision'}`
  const target = action?.kind === 'tool' || action?.kind === 'prompt' ? str(action.name) : undefined
  return short(target === undefined ? `${prefix} ${method}` : `${prefix} ${method} ${target}`)
}

function attributesOf(event: DecisionEvent, recordSubject: boolean): Attributes {
  const labels = decisionLabels(event)
  const a: Attributes = {}
  const action = event.input?.action
  const method = str(action?.method)
  if (method !== undefined) a[SPAN_ATTRIBUTES.method] = short(method)
  const name = str(action?.name)
  if (name !== undefined) {
    if (action?.kind === 'tool') a[SPAN_ATTRIBUTES.tool] = short(name)
    else if (action?.kind === 'prompt') a[SPAN_ATTRIBUTES.prompt] = short(name)
  }
  const uri = str(action?.uri)
  if (uri !== undefined) a[SPAN_ATTRIBUTES.resourceUri] = short(scanner.scan(short(uri)).text)
  const id = action?.id
  if (typeof id === 'string' || typeof id === 'number') a[SPAN_ATTRIBUTES.requestId] = short(String(id))
  const transport = str(event.transport) ?? str(event.input?.context?.transport)
  if (transport === 'http') a[SPAN_ATTRIBUTES.networkTransport] = 'tcp'
  else if (transport === 'stdio') a[SPAN_ATTRIBUTES.networkTransport] = 'pipe'
  if (typeof event.httpStatus === 'number') a[SPAN_ATTRIBUTES.httpStatus] = event.httpStatus
  a[SPAN_ATTRIBUTES.decisionId] = String(event.decisionId)
  a[SPAN_ATTRIBUTES.outcome] = labels.result
  const reasons = Array.isArray(event.result?.reasons) ? event.result.reasons : []
  a[SPAN_ATTRIBUTES.reasons] = reasons.map((r) => short(String(r?.code)))
  const rules = [...new Set(reasons.map((r) => r?.rule).filter((r): r is string => typeof r === 'string' && r.length > 0))]
  if (rules.length > 0) a[SPAN_ATTRIBUTES.rules] = rules.map(short)
  a[SPAN_ATTRIBUTES.enforcement] = event.enforcement === 'shadow' ? 'shadow' : 'enforced'
  if (typeof event.revision === 'string') a[SPAN_ATTRIBUTES.revision] = short(event.revision)
  if (event.error !== undefined) a[SPAN_ATTRIBUTES.errorCode] = short(typeof event.error.code === 'string' ? event.error.code : 'unknown')
  const principal = event.input?.principal
  const clientId = str(principal?.clientId)
  if (clientId !== undefined) a[SPAN_ATTRIBUTES.clientId] = short(clientId)
  const tenant = str(principal?.tenant)
  if (tenant !== undefined) a[SPAN_ATTRIBUTES.tenant] = short(tenant)
  const authMethod = str(principal?.authMethod)
  if (authMethod !== undefined) a[SPAN_ATTRIBUTES.authMethod] = authMethod
  const subject = str(principal?.subject)
  if (recordSubject && subject !== undefined) a[SPAN_ATTRIBUTES.subject] = short(subject)
  for (const [stage, key] of STAGES) {
    const seconds = stageSeconds(event, key)
    if (seconds !== undefined) a[`mcp_authz.timer.${stage}_ns`] = Math.round(seconds * 1e9)
  }
  const list = event.list
  if (typeof list === 'object' && list !== null && typeof list.kind === 'string') {
    a[SPAN_ATTRIBUTES.listKind] = list.kind
    if (Number.isFinite(list.total)) a[SPAN_ATTRIBUTES.listTotal] = list.total
    if (Number.isFinite(list.visible)) a[SPAN_ATTRIBUTES.listVisible] = list.visible
    if (Array.isArray(list.hidden)) a[SPAN_ATTRIBUTES.listHidden] = list.hidden.length
  }
  const related = str(event.relatedDecisionId)
  if (related !== undefined) a[SPAN_ATTRIBUTES.relatedDecisionId] = short(related)
  return a
}

/**
 * Creates the OpenTelemetry consumer of decision events: a span per decision and the decision
 * metrics, through `@opentelemetry/api`. Feed it to `createAuthz({ onDecision })`, alone or with
 * other consumers through `combineDecisionConsumers`.
 *
 * @throws {TypeError} naming the option when options are invalid.
 * @example
 * ```ts
 * // The host application registers an OpenTelemetry SDK first (NodeSDK, or providers of its own).
 * const logger = createDecisionLogger({ sinks: [{ type: 'stdout' }] })
 * const otel = createOtelDecisionHook({ logger })
 * const authz = await createAuthz({ bundle: 'bundle.tar.gz', onDecision: otel })
 * ```
 */
export function createOtelDecisionHook(options: OtelDecisionHookOptions = {}): OtelDecisionHook {
  if (typeof options !== 'object' || options === null) throw new TypeError('options must be an object')
  const bool = (v: unknown, name: string, fallback: boolean): boolean => {
    if (v === undefined) return fallback
    if (typeof v !== 'boolean') throw new TypeError(`${name} must be a boolean`)
    return v
  }
  const traces = bool(options.traces, 'traces', true)
  const withMetrics = bool(options.metrics, 'metrics', true)
  const recordSubject = bool(options.recordSubject, 'recordSubject', false)
  const prefix = options.spanNamePrefix ?? 'authz'
  if (typeof prefix !== 'string' || prefix.length === 0 || prefix.length > 64) throw new TypeError('spanNamePrefix must be a non-empty string of at most 64 characters')
  const logger = options.logger
  if (logger !== undefined && (typeof logger !== 'object' || logger === null || typeof logger.log !== 'function')) throw new TypeError('logger must have a log(event) method')
  for (const [name, provider, method] of [['tracerProvider', options.tracerProvider, 'getTracer'], ['meterProvider', options.meterProvider, 'getMeter']] as const) {
    if (provider !== undefined && typeof (provider as unknown as Record<string, unknown>)?.[method] !== 'function') throw new TypeError(`${name} must have a ${method}() method`)
  }

  const version = DEFAULT_LABELS.version
  const tracer: Tracer | undefined = traces ? (options.tracerProvider ?? trace.getTracerProvider()).getTracer(INSTRUMENTATION_SCOPE, version) : undefined
  let instruments: { decisions: Counter; duration: Histogram; verificationFailures: Counter; reloadFailures: Counter } | undefined
  let revision: string | undefined
  let loadedAt: number | undefined
  if (withMetrics) {
    const meter: Meter = (options.meterProvider ?? otelMetrics.getMeterProvider()).getMeter(INSTRUMENTATION_SCOPE, version)
    instruments = {
      decisions: meter.createCounter(METRIC_NAMES.decisions, { description: 'Decisions by result (allow, deny, shadow_deny) and first reason code' }),
      duration: meter.createHistogram(METRIC_NAMES.duration, { description: 'Decision latency by stage (verify, classify, eval, total)', unit: 's', advice: { explicitBucketBoundaries: [...LATENCY_BUCKETS] } }),
      verificationFailures: meter.createCounter(METRIC_NAMES.verificationFailures, { description: 'Credential verification failures by error code' }),
      reloadFailures: meter.createCounter(METRIC_NAMES.reloadFailures, { description: 'Bundle reloads refused (download, signature, data or load failure)' }),
    }
    meter.createObservableGauge(METRIC_NAMES.bundleInfo, { description: 'The policy bundle revision serving (value 1)' }).addCallback((result) => {
      if (revision !== undefined) result.observe(1, { revision })
    })
    meter.createObservableGauge(METRIC_NAMES.bundleLoaded, { description: 'When the serving bundle was activated', unit: 's' }).addCallback((result) => {
      if (loadedAt !== undefined) result.observe(loadedAt)
    })
  }

  function record(event: DecisionEvent): void {
    let logNs: number | undefined
    let logged: boolean | undefined
    if (logger !== undefined) {
      const started = process.hrtime.bigint()
      try {
        logged = logger.log(event) !== undefined
      } catch {
        logged = false
      }
      logNs = Number(process.hrtime.bigint() - started)
    }
    if (instruments !== undefined && !isListFiltering(event)) {
      try {
        const labels = decisionLabels(event)
        instruments.decisions.add(1, { result: labels.result, reason: labels.reason })
        if (labels.verificationFailure !== undefined) instruments.verificationFailures.add(1, { code: labels.verificationFailure })
        for (const [stage, key] of STAGES) {
          const seconds = stageSeconds(event, key)
          if (seconds !== undefined) instruments.duration.record(seconds, { stage })
        }
      } catch {
        // A metrics SDK that throws must not break the decision path.
      }
    }
    if (tracer !== undefined) {
      try {
        const endMs = event.timestamp instanceof Date && Number.isFinite(event.timestamp.getTime()) ? event.timestamp.getTime() : Date.now()
        const totalSeconds = stageSeconds(event, 'total_ns') ?? 0
        const span = tracer.startSpan(spanName(prefix, event), { kind: SpanKind.INTERNAL, startTime: endMs - totalSeconds * 1000 }, otelContext.active())
        if (span.isRecording()) {
          span.setAttributes(attributesOf(event, recordSubject))
          if (logNs !== undefined) span.setAttribute(SPAN_ATTRIBUTES.logNs, logNs)
          if (logged !== undefined) span.setAttribute(SPAN_ATTRIBUTES.logged, logged)
          if (Array.isArray(event.result?.reasons) && event.result.reasons.some((r) => r?.code === 'policy_error')) {
            span.setAttribute(SPAN_ATTRIBUTES.errorType, 'policy_error')
            span.setStatus({ code: SpanStatusCode.ERROR, message: 'policy_error' })
          }
        }
        span.end(endMs + (logNs ?? 0) / 1e6)
      } catch {
        // A tracing SDK that throws must not break the decision path.
      }
    }
  }

  const hook = ((event: DecisionEvent) => record(event)) as OtelDecisionHook
  hook.bundleActivated = (rev: string) => {
    revision = String(rev)
    loadedAt = Date.now() / 1000
  }
  hook.reloadFailed = (reason: string) => {
    try {
      instruments?.reloadFailures.add(1, { reason: String(reason) })
    } catch {
      // Same as above.
    }
  }
  return hook
}
