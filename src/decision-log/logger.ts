/**
 * The decision logger: what the engine calls once per decision. It applies the sampling and drop
 * rules (to allows only — a deny, a would-be deny in shadow mode, or an error is always logged),
 * builds the masked and redacted record, and hands it to every sink. Nothing in here ever throws
 * into the decision path or waits for I/O.
 *
 * @module
 */
import type { ActionKind } from '../action/action.ts'
import { DecisionLogError } from './errors.ts'
import type { MaskRule } from './mask.ts'
import { createRecordBuilder, fallbackRecord, resolveLabels, type DecisionEvent, type DecisionRecord, type RecordLabels } from './record.ts'
import { createRedactor, type RedactionOptions } from './redact.ts'
import { createFileSink, type FileSinkOptions } from './sinks/file.ts'
import { createHttpSink, type HttpSinkOptions } from './sinks/http.ts'
import { report, type DecisionLogSink, type SinkStats } from './sinks/sink.ts'
import { createStdoutSink, type StdoutSinkOptions } from './sinks/stdout.ts'

/** A sink in the configuration. */
export type SinkConfig =
  | ({ type: 'stdout' } & Omit<StdoutSinkOptions, 'destination' | 'endDestination'>)
  | ({ type: 'file' } & FileSinkOptions)
  | ({ type: 'http' } & HttpSinkOptions)

/** Sampling of allowed decisions. Denies are never sampled. */
export interface SamplingOptions {
  /** Share of allowed decisions logged, from 0 to 1. Default `1` (all). */
  allow?: number
  /** Per-method share of allowed decisions, overriding `allow` (e.g. `{ 'tools/list': 0.01 }`). Default: none. */
  methods?: Record<string, number>
}

/** Allowed decisions never logged. Denies are always logged. */
export interface DropOptions {
  /** JSON-RPC methods (e.g. `ping`, `notifications/initialized`). Default: none. */
  methods?: readonly string[]
  /** Action kinds (e.g. `notification`, `session`). Default: none. */
  kinds?: readonly ActionKind[]
}

/** Options of {@link createDecisionLogger}. JSON-serialisable: fed from the configuration file. */
export interface DecisionLoggerOptions {
  /** Log at all. Default `true`; `false` makes `log()` a no-op returning `undefined`. */
  enabled?: boolean
  /** Where records go. Default `[{ type: 'stdout' }]` (none when `hooks.sinks` are given). */
  sinks?: readonly SinkConfig[]
  /** Masks with OPA `system.log.mask` semantics (JSON pointers into `/input` or `/result`). Default: none. */
  masks?: readonly MaskRule[]
  /** Redactor options (patterns, secret keys, entropy, bounds). Default: all on, see `RedactionOptions`. */
  redaction?: RedactionOptions
  /** Sampling of allowed decisions. Default: log all. */
  sample?: SamplingOptions
  /** Allowed decisions not to log. Default: none. */
  drop?: DropOptions
  /** Record labels (`service`, `instance`, `version`, or any other). Default: `mcp-authz`, a random instance id, the package version. */
  labels?: RecordLabels
  /** Bundle name in `bundles`. Default `'authz'`. */
  bundleName?: string
}

/** Hooks of {@link createDecisionLogger}: what a configuration file cannot carry. */
export interface DecisionLoggerHooks {
  /** Sinks built in code (tests, custom destinations), used besides `options.sinks`. Default: none. */
  sinks?: readonly DecisionLogSink[]
  /** Called with every error of the logger and its sinks; what it throws is ignored. Default: none. */
  onError?: (error: DecisionLogError) => void
  /** Source of sampling randomness in [0, 1). Default `Math.random`. */
  random?: () => number
  /** Destination of `stdout` sinks instead of file descriptor 1 (tests). Default: none. */
  stdout?: StdoutSinkOptions['destination']
}

/** Counters of a decision logger. */
export interface DecisionLoggerStats {
  /** `log()` calls. */
  events: number
  /** Records built and handed to the sinks. */
  logged: number
  /** Allowed decisions skipped by sampling. */
  sampledOut: number
  /** Allowed decisions skipped by drop rules. */
  droppedByRule: number
  /** Events after `close()` (not logged). */
  afterClose: number
  /** Records that could not be built normally (a minimal record was logged instead). */
  recordErrors: number
  /** Totals over the sinks. */
  written: number
  dropped: number
  failed: number
  /** Per sink, by name. */
  sinks: Record<string, SinkStats>
}

/** The decision logger. */
export interface DecisionLogger {
  /** Logs one decision; returns the record, or `undefined` when it was sampled out, dropped or logging is off. Never throws, never waits. */
  log(event: DecisionEvent): DecisionRecord | undefined
  /** Resolves when every sink has written what it had. Never rejects. */
  flush(): Promise<void>
  /** Flushes and closes every sink. Never rejects. */
  close(): Promise<void>
  /** Counters. */
  stats(): DecisionLoggerStats
}

function rate(value: unknown, name: string): number {
  if (typeof value !== 'number' || !(value >= 0 && value <= 1)) throw new TypeError(`${name} must be a number between 0 and 1`)
  return value
}

/** Whether a decision must be logged whatever the sampling: a deny, a would-be deny, an error. */
function mustLog(event: DecisionEvent): boolean {
  return event.result?.allow !== true || event.wouldAllow === false || event.error !== undefined || (typeof event.httpStatus === 'number' && event.httpStatus >= 400)
}

/**
 * Creates the decision logger.
 *
 * @throws {TypeError} naming the option when options are invalid.
 * @example
 * ```ts
 * const logger = createDecisionLogger({
 *   sinks: [{ type: 'stdout' }, { type: 'http', url: 'https://collector.example/logs' }],
 *   masks: ['/input/action/arguments/body'],
 *   sample: { allow: 0.1 },
 *   drop: { methods: ['ping'] },
 *   labels: { service: 'notes-mcp' },
 * })
 * const authz = await createAuthz({ bundle: 'bundle.tar.gz', onDecision: (event) => logger.log(event) })
 * process.on('SIGTERM', () => void logger.close())
 * ```
 */
export function createDecisionLogger(options: DecisionLoggerOptions = {}, hooks: DecisionLoggerHooks = {}): DecisionLogger {
  if (typeof options !== 'object' || options === null) throw new TypeError('options must be an object')
  const enabled = options.enabled ?? true
  if (typeof enabled !== 'boolean') throw new TypeError('enabled must be a boolean')

  const sampleAllow = options.sample?.allow === undefined ? 1 : rate(options.sample.allow, 'sample.allow')
  const methodRates = new Map<string, number>()
  for (const [method, r] of Object.entries(options.sample?.methods ?? {})) methodRates.set(method, rate(r, `sample.methods["${method}"]`))
  const dropMethods = new Set(options.drop?.methods ?? [])
  const dropKinds = new Set<string>(options.drop?.kinds ?? [])
  for (const m of dropMethods) if (typeof m !== 'string') throw new TypeError('drop.methods must be strings')
  for (const k of dropKinds) if (typeof k !== 'string') throw new TypeError('drop.kinds must be strings')
  const random = hooks.random ?? Math.random

  const labels = resolveLabels(options.labels)
  const bundleName = options.bundleName ?? 'authz'
  const masks = options.masks ?? []
  const build = createRecordBuilder({ labels, bundleName, masks, redactor: createRedactor(options.redaction ?? {}) })

  const onError = hooks.onError
  const sinkHooks = { onError }
  const sinks: DecisionLogSink[] = []
  const configured = options.sinks ?? (hooks.sinks !== undefined ? [] : [{ type: 'stdout' } as const])
  if (!Array.isArray(configured)) throw new TypeError('sinks must be an array')
  try {
    for (const [i, sink] of configured.entries()) {
      const cfg = sink as SinkConfig
      if (cfg?.type === 'stdout') sinks.push(createStdoutSink({ ...cfg, ...(hooks.stdout !== undefined ? { destination: hooks.stdout } : {}) }, sinkHooks))
      else if (cfg?.type === 'file') sinks.push(createFileSink(cfg, sinkHooks))
      else if (cfg?.type === 'http') sinks.push(createHttpSink(cfg, sinkHooks))
      else throw new TypeError(`sinks[${i}].type must be "stdout", "file" or "http"`)
    }
  } catch (error) {
    for (const s of sinks) void s.close()
    throw error
  }
  sinks.push(...(hooks.sinks ?? []))
  const names = new Map<DecisionLogSink, string>()
  const seen = new Map<string, number>()
  for (const s of sinks) {
    const base = typeof s.name === 'string' && s.name.length > 0 ? s.name : 'sink'
    const n = (seen.get(base) ?? 0) + 1
    seen.set(base, n)
    names.set(s, n === 1 ? base : `${base}#${n}`)
  }

  const counters = { events: 0, logged: 0, sampledOut: 0, droppedByRule: 0, afterClose: 0, recordErrors: 0 }
  let closed = false
  let closing: Promise<void> | undefined

  function keep(event: DecisionEvent): 'log' | 'sampled' | 'dropped' {
    if (mustLog(event)) return 'log'
    const action = event.input?.action
    if (action !== undefined && (dropMethods.has(action.method) || dropKinds.has(action.kind))) return 'dropped'
    const r = (action !== undefined ? methodRates.get(action.method) : undefined) ?? sampleAllow
    if (r >= 1) return 'log'
    return random() < r ? 'log' : 'sampled'
  }

  function settleAll(op: (s: DecisionLogSink) => Promise<void>): Promise<void> {
    return Promise.all(
      sinks.map(async (s) => {
        try {
          await op(s)
        } catch {
          // Sinks promise never to reject; a custom one that does is ignored.
        }
      }),
    ).then(() => undefined)
  }

  return {
    log(event: DecisionEvent): DecisionRecord | undefined {
      counters.events++
      if (!enabled) return undefined
      if (closed) {
        counters.afterClose++
        return undefined
      }
      let record: DecisionRecord
      try {
        const verdict = keep(event)
        if (verdict === 'sampled') {
          counters.sampledOut++
          return undefined
        }
        if (verdict === 'dropped') {
          counters.droppedByRule++
          return undefined
        }
        record = build(event)
      } catch (error) {
        counters.recordErrors++
        report(sinkHooks, new DecisionLogError('ERR_DECISION_LOG_RECORD_FAILED', `decision ${String(event?.decisionId)}: record could not be built: ${(error as Error)?.message ?? String(error)}`, { cause: error }))
        try {
          record = fallbackRecord(event, labels, bundleName)
        } catch {
          return undefined
        }
      }
      counters.logged++
      for (const sink of sinks) {
        try {
          sink.write(record)
        } catch (error) {
          report(sinkHooks, new DecisionLogError('ERR_DECISION_LOG_WRITE_FAILED', `${names.get(sink)} sink threw: ${(error as Error)?.message ?? String(error)}`, { cause: error, sink: names.get(sink) as string }))
        }
      }
      return record
    },
    flush: () => settleAll((s) => s.flush()),
    close(): Promise<void> {
      closed = true
      closing ??= settleAll((s) => s.close())
      return closing
    },
    stats(): DecisionLoggerStats {
      const out: DecisionLoggerStats = { ...counters, written: 0, dropped: 0, failed: 0, sinks: {} }
      for (const s of sinks) {
        let st: SinkStats
        try {
          st = s.stats()
        } catch {
          continue
        }
        const { written, dropped, failed } = st
        out.sinks[names.get(s) as string] = { written, dropped, failed }
        out.written += written
        out.dropped += dropped
        out.failed += failed
      }
      return out
    },
  }
}
