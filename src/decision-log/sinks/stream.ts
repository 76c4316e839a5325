/**
 * The line sink behind `stdout` and `file`: pino serialises each record into one JSON line (in the
 * shape of OPA's console decision logs: `level`, `type`, the record's fields, `msg`) and an
 * asynchronous destination writes it. Memory is bounded: past `maxBufferBytes` of unwritten data,
 * records are dropped and counted instead of queued.
 *
 * Internal: use {@link createStdoutSink} or {@link createFileSink}.
 *
 * @module
 */
import pino from 'pino'
import { DecisionLogError } from '../errors.ts'
import type { DecisionRecord } from '../record.ts'
import { report, type DecisionLogSink, type SinkHooks, type SinkStats } from './sink.ts'

/** pino's asynchronous destination (a SonicBoom). */
export type SonicBoom = ReturnType<typeof pino.destination>

/** The `type` OPA writes on its console decision-log lines. */
export const OPA_DECISION_LOG_TYPE = 'openpolicyagent.org/decision_logs'

/** A writable as far as the sink needs one (a Node `Writable`, or anything with `write(chunk, cb)`). */
export interface LineDestination {
  write(chunk: string, callback?: (error?: Error | null) => void): unknown
  writableLength?: number
  end?: (callback?: () => void) => unknown
  on?: (event: 'error', listener: (error: Error) => void) => unknown
}

/** Where a line sink writes. */
export type LineTarget =
  | { kind: 'sonic'; sonic: SonicBoom }
  | { kind: 'writable'; stream: LineDestination; end: boolean }

/** Shared options of line sinks. */
export interface LineSinkOptions {
  /** Unwritten bytes held in memory before records are dropped. Default `16777216` (16 MiB). */
  maxBufferBytes?: number
  /** Longest wait of `flush()` / `close()` for pending writes, in ms. Default `5000`. */
  flushTimeoutMs?: number
}

/** A line sink, with `reopen()` for log rotation where the target supports it. */
export interface LineSink extends DecisionLogSink {
  /** Reopens the file (after a rotation moved it). No-op for streams. */
  reopen(): void
}

/**
 * Builds a line sink over a SonicBoom or a writable. Internal: {@link createStdoutSink} and
 * {@link createFileSink} are the public forms.
 *
 * @example
 * ```ts
 * const sink = createLineSink('audit', { kind: 'writable', stream: process.stderr, end: false }, { maxBufferBytes: 1 << 20, flushTimeoutMs: 1000 }, {})
 * ```
 */
export function createLineSink(name: string, target: LineTarget, options: Required<LineSinkOptions>, hooks: SinkHooks | undefined): LineSink {
  const stats: SinkStats = { written: 0, dropped: 0, failed: 0 }
  let closed = false
  let closing: Promise<void> | undefined
  let fullReported = false
  let broken = false
  const waiters: (() => void)[] = []

  // Byte lengths of lines handed to the destination and not yet written, oldest first.
  const queue: number[] = []
  let head = 0
  let headDone = 0
  let pendingBytes = 0
  let pendingLines = 0

  // Set when close() has given up on what was still pending (counted as failed): later callbacks
  // for those lines must not count them again.
  let abandoned = false
  function settle(): void {
    if (pendingLines > 0) return
    fullReported = false
    for (const w of waiters.splice(0)) w()
  }
  function failPending(error: unknown): void {
    stats.failed += pendingLines
    queue.length = head = headDone = pendingBytes = pendingLines = 0
    report(hooks, new DecisionLogError('ERR_DECISION_LOG_WRITE_FAILED', `${name} sink: write failed: ${(error as Error)?.message ?? String(error)}`, { cause: error, sink: name }))
    settle()
  }
  function dropped(): void {
    stats.dropped++
    if (!fullReported) {
      fullReported = true
      report(hooks, new DecisionLogError('ERR_DECISION_LOG_BUFFER_FULL', `${name} sink: more than ${options.maxBufferBytes} bytes unwritten, dropping records`, { sink: name }))
    }
  }

  let adapter: { write(line: string): void }
  if (target.kind === 'sonic') {
    const { sonic } = target
    let dropFlag = false
    sonic.on('drop', () => {
      dropFlag = true
    })
    sonic.on('write', (n: number) => {
      if (abandoned) return
      pendingBytes -= n
      let left = n + headDone
      while (head < queue.length && left >= (queue[head] as number)) {
        left -= queue[head] as number
        head++
        pendingLines--
        stats.written++
      }
      headDone = left
      if (head > 1024 && head * 2 > queue.length) {
        queue.splice(0, head)
        head = 0
      }
      if (pendingLines === 0) {
        queue.length = head = headDone = pendingBytes = 0
        settle()
      }
    })
    let lastError: unknown
    sonic.on('error', (error: unknown) => {
      // pino re-emits the errors of its destinations: handle each once.
      if (error === lastError) return
      lastError = error
      const state = sonic as unknown as { fd: number; destroyed: boolean }
      if (state.fd < 0) {
        // Never opened: nothing can be written, and pino's exit hook must not try to flush it.
        broken = true
        state.destroyed = true
      } else {
        // A write failed (ENOSPC, EIO…): what it held is counted as failed below. pino's exit hook
        // would flush it synchronously, and sonic-boom's flushSync retries such errors forever,
        // so the process could never exit: skip that exit-time flush (as pino does for EPIPE).
        ;(sonic as unknown as { flushSync: () => void }).flushSync = () => {}
      }
      failPending(error)
    })
    adapter = {
      write(line) {
        dropFlag = false
        const bytes = Buffer.byteLength(line)
        sonic.write(line)
        if (dropFlag) return dropped()
        queue.push(bytes)
        pendingBytes += bytes
        pendingLines++
      },
    }
  } else {
    const { stream } = target
    stream.on?.('error', () => {
      // Failures reach the write callbacks; the listener keeps an 'error' event from crashing the process.
    })
    adapter = {
      write(line) {
        if (typeof stream.writableLength === 'number' && stream.writableLength > options.maxBufferBytes) return dropped()
        pendingLines++
        stream.write(line, (error) => {
          if (abandoned) return
          pendingLines--
          if (error) {
            stats.failed++
            report(hooks, new DecisionLogError('ERR_DECISION_LOG_WRITE_FAILED', `${name} sink: write failed: ${error.message}`, { cause: error, sink: name }))
          } else stats.written++
          settle()
        })
      },
    }
  }

  const logger = pino(
    {
      base: { type: OPA_DECISION_LOG_TYPE },
      timestamp: false,
      formatters: { level: (label: string) => ({ level: label }) },
    },
    adapter,
  )

  function flush(): Promise<void> {
    if (pendingLines === 0) return Promise.resolve()
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, options.flushTimeoutMs)
      function done(): void {
        clearTimeout(timer)
        const i = waiters.indexOf(done)
        if (i >= 0) waiters.splice(i, 1)
        resolve()
      }
      waiters.push(done)
    })
  }

  async function doClose(): Promise<void> {
    await flush()
    await end()
    // What the destination has not confirmed by now (flushTimeoutMs passed) is lost: count it, as
    // the HTTP sink does, so that written + dropped + failed always adds up after close().
    if (pendingLines > 0) {
      const left = pendingLines
      abandoned = true
      stats.failed += left
      queue.length = head = headDone = pendingBytes = pendingLines = 0
      report(hooks, new DecisionLogError('ERR_DECISION_LOG_WRITE_FAILED', `${name} sink: ${left} record(s) not confirmed written before close (${options.flushTimeoutMs} ms)`, { sink: name }))
      settle()
    }
  }

  async function end(): Promise<void> {
    if (target.kind === 'sonic' && !broken) {
      const { sonic } = target
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, options.flushTimeoutMs)
        const finish = (): void => {
          clearTimeout(timer)
          resolve()
        }
        sonic.once('close', finish)
        sonic.once('error', finish)
        try {
          sonic.end()
        } catch {
          finish()
        }
      })
      // A destination whose writes failed (e.g. ENOSPC) never closes by itself: release it, or
      // pino's exit hook would call sonic-boom's flushSync, which retries a non-EAGAIN error forever
      // and keeps the process from exiting.
      try {
        if (!(sonic as unknown as { destroyed: boolean }).destroyed) sonic.destroy()
      } catch {
        // Already closing.
      }
    } else if (target.kind === 'writable' && target.end && typeof target.stream.end === 'function') {
      const { stream } = target
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, options.flushTimeoutMs)
        try {
          stream.end?.(() => {
            clearTimeout(timer)
            resolve()
          })
        } catch {
          clearTimeout(timer)
          resolve()
        }
      })
    }
  }

  return {
    name,
    write(record: DecisionRecord): void {
      if (closed) {
        stats.dropped++
        return
      }
      if (broken) {
        stats.failed++
        return
      }
      try {
        logger.info(record, 'Decision Log')
      } catch (error) {
        stats.failed++
        report(hooks, new DecisionLogError('ERR_DECISION_LOG_WRITE_FAILED', `${name} sink: ${(error as Error)?.message ?? String(error)}`, { cause: error, sink: name }))
      }
    },
    flush,
    close(): Promise<void> {
      closed = true
      closing ??= doClose().catch(() => undefined)
      return closing
    },
    stats: () => ({ ...stats }),
    reopen(): void {
      if (target.kind !== 'sonic' || closed) return
      try {
        target.sonic.reopen()
      } catch (error) {
        report(hooks, new DecisionLogError('ERR_DECISION_LOG_WRITE_FAILED', `${name} sink: reopen failed: ${(error as Error).message}`, { cause: error, sink: name }))
      }
    },
  }
}

/**
 * Validates the shared options, filling in defaults.
 *
 * @throws {TypeError} naming the option.
 * @example
 * ```ts
 * lineSinkOptions({}, 'sinks.stdout') // { maxBufferBytes: 16777216, flushTimeoutMs: 5000 }
 * ```
 */
export function lineSinkOptions(options: LineSinkOptions, optionName: string): Required<LineSinkOptions> {
  const check = (v: unknown, key: string, fallback: number): number => {
    if (v === undefined) return fallback
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw new TypeError(`${optionName}.${key} must be a positive integer`)
    return v
  }
  return {
    maxBufferBytes: check(options.maxBufferBytes, 'maxBufferBytes', 16 * 1024 * 1024),
    flushTimeoutMs: check(options.flushTimeoutMs, 'flushTimeoutMs', 5000),
  }
}

/**
 * Creates an asynchronous SonicBoom destination (what `pino.destination({ sync: false })` makes),
 * bounded to `maxBufferBytes` of unwritten data.
 *
 * @example
 * ```ts
 * const dest = sonicDestination(1, 16 * 1024 * 1024) // stdout
 * ```
 */
export function sonicDestination(dest: number | string, maxBufferBytes: number): SonicBoom {
  return pino.destination({ dest, sync: false, append: true, mkdir: typeof dest === 'string', maxLength: maxBufferBytes, minLength: 0 })
}
