/**
 * The `stdout` sink: one JSON line per record on standard output (or standard error, or any
 * writable stream), written asynchronously through pino so a decision never waits for the terminal
 * or the pipe. Lines look like OPA's console decision logs:
 * `{"level":"info","type":"openpolicyagent.org/decision_logs",…record…,"msg":"Decision Log"}`.
 *
 * @module
 */
import { createLineSink, lineSinkOptions, sonicDestination, type LineDestination, type LineSink, type LineSinkOptions } from './stream.ts'
import type { SinkHooks } from './sink.ts'

/** Options of {@link createStdoutSink}. JSON-serialisable apart from `destination`. */
export interface StdoutSinkOptions extends LineSinkOptions {
  /** File descriptor: `1` (stdout) or `2` (stderr). Default `1`. Ignored with `destination`. */
  fd?: 1 | 2
  /** Write to this stream instead (tests, embedding). Not closed by `close()` unless `endDestination`. Default: none. */
  destination?: LineDestination
  /** End `destination` on `close()`. Default `false`. */
  endDestination?: boolean
  /** Name in stats and errors. Default `'stdout'`. */
  name?: string
}

/**
 * Creates the stdout sink.
 *
 * @throws {TypeError} naming the option when options are invalid.
 * @example
 * ```ts
 * const sink = createStdoutSink()
 * sink.write(record) // returns at once; the line is written in the background
 * await sink.close()
 * ```
 */
export function createStdoutSink(options: StdoutSinkOptions = {}, hooks?: SinkHooks): LineSink {
  const optionName = 'sinks.stdout'
  const shared = lineSinkOptions(options, optionName)
  const name = options.name ?? 'stdout'
  if (options.destination !== undefined) {
    if (typeof options.destination?.write !== 'function') throw new TypeError(`${optionName}.destination must be a writable stream`)
    return createLineSink(name, { kind: 'writable', stream: options.destination, end: options.endDestination === true }, shared, hooks)
  }
  const fd = options.fd ?? 1
  if (fd !== 1 && fd !== 2) throw new TypeError(`${optionName}.fd must be 1 or 2`)
  return createLineSink(name, { kind: 'sonic', sonic: sonicDestination(fd, shared.maxBufferBytes) }, shared, hooks)
}
