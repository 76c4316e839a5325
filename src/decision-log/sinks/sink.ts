/**
 * The sink contract: where records go. A sink accepts a record synchronously and without blocking,
 * does its I/O in the background, and reports trouble through counters and an `onError` hook,
 * never by throwing into the decision path.
 *
 * @module
 */
import type { DecisionLogError } from '../errors.ts'
import type { DecisionRecord } from '../record.ts'

/** Counters of a sink, in records. */
export interface SinkStats {
  /** Records written (stream sinks: handed to the OS; HTTP: acknowledged by the collector). */
  written: number
  /** Records refused because the sink's bounded buffer was full or the sink was closed. */
  dropped: number
  /** Records accepted but lost: write errors, or uploads that failed for good. */
  failed: number
}

/** Where records go. */
export interface DecisionLogSink {
  /** Name in stats and errors (`stdout`, `file`, `http`, or custom). */
  readonly name: string
  /** Accepts a record. Never blocks on I/O, never throws. */
  write(record: DecisionRecord): void
  /** Resolves once what was accepted before the call has been written or has failed. Never rejects. */
  flush(): Promise<void>
  /** Flushes, then releases the sink's resources; later writes are dropped. Never rejects. */
  close(): Promise<void>
  /** Current counters. */
  stats(): SinkStats
}

/** Hooks every built-in sink accepts (not JSON: passed in code). */
export interface SinkHooks {
  /** Called with every sink error; exceptions it throws are ignored. Default: none. */
  onError?: (error: DecisionLogError) => void
}

/** Calls `onError`, swallowing what it throws. */
export function report(hooks: SinkHooks | undefined, error: DecisionLogError): void {
  try {
    hooks?.onError?.(error)
  } catch {
    // A broken error hook must not break logging either.
  }
}

/** Checks an optional positive integer option. */
export function intOption(value: unknown, name: string, fallback: number, min = 1): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) throw new TypeError(`${name} must be an integer >= ${min}`)
  return value
}
