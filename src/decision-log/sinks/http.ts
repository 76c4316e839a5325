/**
 * The `http` sink: batched upload to an OPA-compatible decision-log collector, following OPA's
 * decision log service API — `POST <url>` (conventionally `…/logs`) with a gzip-compressed JSON array
 * of records, `Content-Encoding: gzip`, `Content-Type: application/json`.
 *
 * - `write()` only appends to an in-memory buffer and arms a timer; the upload happens later, so a
 *   slow or dead collector never delays a decision.
 * - The buffer is bounded by records and bytes; what does not fit is dropped and counted.
 * - A batch is sent when it reaches `batchMaxRecords` / `batchMaxBytes`, or `flushIntervalMs` after
 *   its first record. One upload at a time, oldest records first.
 * - Network errors, timeouts, 408, 429 and 5xx are retried with exponential backoff and jitter
 *   (honouring `Retry-After`); other statuses, or `retry.maxAttempts` failures, fail the batch.
 * - `close()` uploads what is left, within `closeTimeoutMs`; what cannot be sent by then is counted
 *   as failed.
 * - The optional bearer credential is sent only in the `Authorization` header, never logged, and
 *   redirects are refused so it cannot follow one.
 *
 * @module
 */
import { promisify } from 'node:util'
import { gzip as gzipCallback } from 'node:zlib'
import { DecisionLogError } from '../errors.ts'
import { DEFAULT_LABELS, type DecisionRecord } from '../record.ts'
import { intOption, report, type DecisionLogSink, type SinkHooks, type SinkStats } from './sink.ts'

const gzip = promisify(gzipCallback)

/** Retry policy of {@link createHttpSink}. */
export interface HttpRetryOptions {
  /** Attempts per batch, the first included, before its records count as failed. Default `8`. */
  maxAttempts?: number
  /** Backoff before the first retry, in ms; doubles each attempt. Default `500`. */
  minDelayMs?: number
  /** Longest backoff, in ms (also caps `Retry-After`). Default `30000`. */
  maxDelayMs?: number
}

/** Options of {@link createHttpSink}. JSON-serialisable. */
export interface HttpSinkOptions {
  /** Collector endpoint, e.g. `https://collector.example/logs`. `http:` or `https:`, no credentials in it. Required. */
  url: string
  /** Bearer token for the collector, sent as `Authorization: Bearer …`. Never logged. Default: none. */
  bearerToken?: string
  /** Extra request headers (e.g. a tenant header). Default: none. */
  headers?: Record<string, string>
  /** Most records per upload. Default `500`. */
  batchMaxRecords?: number
  /** Most uncompressed bytes per upload (a single larger record is sent alone). Default `1048576` (1 MiB). */
  batchMaxBytes?: number
  /** Longest wait before a partial batch is sent, in ms. Default `5000`. */
  flushIntervalMs?: number
  /** Most records held in memory (waiting or being uploaded). Default `10000`. */
  bufferMaxRecords?: number
  /** Most bytes held in memory. Default `33554432` (32 MiB). */
  bufferMaxBytes?: number
  /** Timeout of one upload, response included, in ms. Default `10000`. */
  timeoutMs?: number
  /** Retry policy. */
  retry?: HttpRetryOptions
  /** Longest time `close()` spends uploading what is left, in ms. Default `10000`. */
  closeTimeoutMs?: number
  /** Name in stats and errors. Default `'http'`. */
  name?: string
}

/** Counters of the HTTP sink. */
export interface HttpSinkStats extends SinkStats {
  /** Records in memory now (waiting or in flight). */
  buffered: number
  /** Upload requests made, retries included. */
  requests: number
  /** Uploads that failed and were retried. */
  retries: number
}

/** The HTTP sink. */
export interface HttpSink extends DecisionLogSink {
  stats(): HttpSinkStats
}

/** Hooks of {@link createHttpSink}. */
export interface HttpSinkHooks extends SinkHooks {
  /** Source of jitter in [0, 1). Default `Math.random`. */
  random?: () => number
}

interface Entry {
  line: string
  bytes: number
  seq: number
}

type Outcome = { kind: 'ok' } | { kind: 'retry'; reason: string; retryAfterMs?: number } | { kind: 'fatal'; reason: string }

function retryAfterMs(value: string | null): number | undefined {
  if (value === null) return undefined
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000
  const at = Date.parse(value)
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now())
}

/**
 * Creates the HTTP sink.
 *
 * @throws {TypeError} naming the option when options are invalid.
 * @example
 * ```ts
 * const sink = createHttpSink({ url: 'https://collector.example/logs', bearerToken: process.env.COLLECTOR_TOKEN })
 * sink.write(record) // buffered; uploaded in a batch within 5 s
 * await sink.close() // uploads the rest
 * ```
 */
export function createHttpSink(options: HttpSinkOptions, hooks: HttpSinkHooks = {}): HttpSink {
  const on = 'sinks.http'
  if (typeof options !== 'object' || options === null) throw new TypeError(`${on} must be an object`)
  let url: URL
  try {
    url = new URL(options.url)
  } catch {
    throw new TypeError(`${on}.url must be an absolute URL`)
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new TypeError(`${on}.url must be http: or https:`)
  if (url.username !== '' || url.password !== '') throw new TypeError(`${on}.url must not contain credentials (use ${on}.bearerToken)`)
  if (options.bearerToken !== undefined && (typeof options.bearerToken !== 'string' || !/^[A-Za-z0-9\-._~+/]+=*$/.test(options.bearerToken))) {
    throw new TypeError(`${on}.bearerToken must be a token68 string`)
  }
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'content-encoding': 'gzip',
    'user-agent': `mcp-authz/${DEFAULT_LABELS.version}`,
  }
  if (options.headers !== undefined) {
    if (typeof options.headers !== 'object' || options.headers === null) throw new TypeError(`${on}.headers must be an object`)
    for (const [k, v] of Object.entries(options.headers)) {
      if (typeof v !== 'string' || !/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(k)) throw new TypeError(`${on}.headers.${k} must be a valid header with a string value`)
      headers[k.toLowerCase()] = v
    }
  }
  if (options.bearerToken !== undefined) headers.authorization = `Bearer ${options.bearerToken}`
  const batchMaxRecords = intOption(options.batchMaxRecords, `${on}.batchMaxRecords`, 500)
  const batchMaxBytes = intOption(options.batchMaxBytes, `${on}.batchMaxBytes`, 1024 * 1024)
  const flushIntervalMs = intOption(options.flushIntervalMs, `${on}.flushIntervalMs`, 5000)
  const bufferMaxRecords = intOption(options.bufferMaxRecords, `${on}.bufferMaxRecords`, 10_000)
  const bufferMaxBytes = intOption(options.bufferMaxBytes, `${on}.bufferMaxBytes`, 32 * 1024 * 1024)
  const timeoutMs = intOption(options.timeoutMs, `${on}.timeoutMs`, 10_000)
  const closeTimeoutMs = intOption(options.closeTimeoutMs, `${on}.closeTimeoutMs`, 10_000)
  if (options.retry !== undefined && (typeof options.retry !== 'object' || options.retry === null)) throw new TypeError(`${on}.retry must be an object`)
  const maxAttempts = intOption(options.retry?.maxAttempts, `${on}.retry.maxAttempts`, 8)
  const minDelayMs = intOption(options.retry?.minDelayMs, `${on}.retry.minDelayMs`, 500)
  const maxDelayMs = intOption(options.retry?.maxDelayMs, `${on}.retry.maxDelayMs`, 30_000)
  if (maxDelayMs < minDelayMs) throw new TypeError(`${on}.retry.maxDelayMs must be >= ${on}.retry.minDelayMs`)
  const name = options.name ?? 'http'
  const random = hooks.random ?? Math.random
  const endpoint = url.href

  const stats: HttpSinkStats = { written: 0, dropped: 0, failed: 0, buffered: 0, requests: 0, retries: 0 }
  // The buffer: entries[head…] are held, oldest first; the batch in flight is always at the front.
  let entries: Entry[] = []
  let head = 0
  let bufBytes = 0
  let nextSeq = 1
  let attempts = 0
  let inFlight = false
  let timer: NodeJS.Timeout | undefined
  let timerKind: 'interval' | 'backoff' | 'immediate' | undefined
  let closed = false
  let terminated = false
  let closing: Promise<void> | undefined
  let fullReported = false
  const abort = new AbortController()
  const waiters: { seq: number; resolve: () => void }[] = []

  const count = (): number => entries.length - head

  function removeFront(n: number): void {
    for (let i = head; i < head + n; i++) bufBytes -= (entries[i] as Entry).bytes
    head += n
    if (head === entries.length) {
      entries = []
      head = 0
    } else if (head > 1024 && head * 2 > entries.length) {
      entries = entries.slice(head)
      head = 0
    }
    stats.buffered = count()
    if (count() < bufferMaxRecords) fullReported = false
  }

  function settle(): void {
    const front = count() > 0 ? (entries[head] as Entry).seq : nextSeq
    for (let i = waiters.length - 1; i >= 0; i--) {
      const w = waiters[i] as { seq: number; resolve: () => void }
      if (w.seq < front) {
        waiters.splice(i, 1)
        w.resolve()
      }
    }
  }

  function setTimer(kind: 'interval' | 'backoff' | 'immediate', ms: number): void {
    if (timer !== undefined) clearTimeout(timer)
    timerKind = kind
    timer = setTimeout(() => {
      timer = timerKind = undefined
      pump()
    }, ms)
    // An idle sink must not keep the process alive; one being flushed must.
    if (waiters.length === 0 && !closed) timer.unref()
  }

  /** Arms the next upload according to what is buffered. */
  function schedule(): void {
    if (inFlight || terminated || timerKind === 'backoff' || timerKind === 'immediate') return
    if (count() === 0) {
      if (timer !== undefined) clearTimeout(timer)
      timer = timerKind = undefined
      return
    }
    const urgent = count() >= batchMaxRecords || bufBytes >= batchMaxBytes || waiters.length > 0 || closed
    if (urgent) setTimer('immediate', 0)
    else if (timerKind !== 'interval') setTimer('interval', flushIntervalMs)
  }

  async function upload(body: string): Promise<Outcome> {
    const signal = AbortSignal.any([AbortSignal.timeout(timeoutMs), abort.signal])
    try {
      const compressed = await gzip(body)
      stats.requests++
      const res = await fetch(endpoint, { method: 'POST', headers, body: compressed, signal, redirect: 'error' })
      try {
        await res.arrayBuffer()
      } catch {
        // The status is what counts.
      }
      if (res.status >= 200 && res.status < 300) return { kind: 'ok' }
      const reason = `collector answered HTTP ${res.status}`
      if (res.status === 408 || res.status === 429 || res.status >= 500) {
        const after = retryAfterMs(res.headers.get('retry-after'))
        return after === undefined ? { kind: 'retry', reason } : { kind: 'retry', reason, retryAfterMs: after }
      }
      return { kind: 'fatal', reason }
    } catch (error) {
      const e = error as Error & { cause?: { code?: string } }
      const reason = e?.name === 'TimeoutError' ? `upload timed out after ${timeoutMs} ms` : `upload failed: ${e?.cause?.code ?? e?.message ?? String(error)}`
      return { kind: 'retry', reason }
    }
  }

  function failFront(n: number, reason: string): void {
    stats.failed += n
    removeFront(n)
    attempts = 0
    report(hooks, new DecisionLogError('ERR_DECISION_LOG_UPLOAD_FAILED', `${name} sink: ${n} record(s) not delivered to ${url.origin}${url.pathname}: ${reason}`, { sink: name }))
  }

  function pump(): void {
    if (inFlight || terminated || count() === 0) {
      settle()
      return
    }
    if (timer !== undefined) clearTimeout(timer)
    timer = timerKind = undefined
    let n = 0
    let bytes = 2
    while (n < count() && n < batchMaxRecords) {
      const next = (entries[head + n] as Entry).bytes + (n > 0 ? 1 : 0)
      if (n > 0 && bytes + next > batchMaxBytes) break
      bytes += next
      n++
    }
    const lines: string[] = []
    for (let i = head; i < head + n; i++) lines.push((entries[i] as Entry).line)
    inFlight = true
    void upload(`[${lines.join(',')}]`).then((outcome) => {
      inFlight = false
      if (terminated) return
      if (outcome.kind === 'ok') {
        stats.written += n
        attempts = 0
        removeFront(n)
      } else if (outcome.kind === 'fatal') failFront(n, outcome.reason)
      else {
        attempts++
        if (attempts >= maxAttempts) failFront(n, `${outcome.reason} (after ${attempts} attempts)`)
        else {
          stats.retries++
          const base = Math.min(maxDelayMs, minDelayMs * 2 ** (attempts - 1))
          let delay = base / 2 + (random() * base) / 2
          if (outcome.retryAfterMs !== undefined) delay = Math.max(delay, Math.min(outcome.retryAfterMs, maxDelayMs))
          settle()
          setTimer('backoff', Math.round(delay))
          return
        }
      }
      settle()
      schedule()
    })
  }

  function flush(): Promise<void> {
    if (count() === 0 || terminated) return Promise.resolve()
    return new Promise<void>((resolve) => {
      waiters.push({ seq: nextSeq - 1, resolve })
      timer?.ref()
      schedule()
    })
  }

  async function doClose(): Promise<void> {
    let deadline: NodeJS.Timeout | undefined
    await Promise.race([flush(), new Promise<void>((resolve) => (deadline = setTimeout(resolve, closeTimeoutMs)))])
    clearTimeout(deadline)
    terminated = true
    if (timer !== undefined) clearTimeout(timer)
    timer = timerKind = undefined
    abort.abort()
    const left = count()
    if (left > 0) {
      stats.failed += left
      removeFront(left)
      report(hooks, new DecisionLogError('ERR_DECISION_LOG_UPLOAD_FAILED', `${name} sink: ${left} record(s) not delivered before close (${closeTimeoutMs} ms)`, { sink: name }))
    }
    for (const w of waiters.splice(0)) w.resolve()
  }

  return {
    name,
    write(record: DecisionRecord): void {
      if (closed) {
        stats.dropped++
        return
      }
      let line: string
      try {
        line = JSON.stringify(record)
      } catch (error) {
        stats.failed++
        report(hooks, new DecisionLogError('ERR_DECISION_LOG_WRITE_FAILED', `${name} sink: record is not serialisable`, { cause: error, sink: name }))
        return
      }
      const bytes = Buffer.byteLength(line)
      if (count() >= bufferMaxRecords || bufBytes + bytes > bufferMaxBytes) {
        stats.dropped++
        if (!fullReported) {
          fullReported = true
          report(hooks, new DecisionLogError('ERR_DECISION_LOG_BUFFER_FULL', `${name} sink: buffer full (${count()} records, ${bufBytes} bytes), dropping records`, { sink: name }))
        }
        return
      }
      entries.push({ line, bytes, seq: nextSeq++ })
      bufBytes += bytes
      stats.buffered = count()
      schedule()
    },
    flush,
    close(): Promise<void> {
      closed = true
      closing ??= doClose().catch(() => undefined)
      return closing
    },
    stats: () => ({ ...stats }),
  }
}
