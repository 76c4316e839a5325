/**
 * The `file` sink: appends one JSON line per record to a file, asynchronously (pino's SonicBoom
 * destination), creating the directory if needed. Same line format as the stdout sink. Call
 * `reopen()` after a log rotation moved the file.
 *
 * @module
 */
import { closeSync, mkdirSync, openSync } from 'node:fs'
import { dirname } from 'node:path'
import { DecisionLogError } from '../errors.ts'
import { createLineSink, lineSinkOptions, sonicDestination, type LineSink, type LineSinkOptions } from './stream.ts'
import type { SinkHooks } from './sink.ts'

/** Options of {@link createFileSink}. JSON-serialisable. */
export interface FileSinkOptions extends LineSinkOptions {
  /** File to append to. Required. */
  path: string
  /** Name in stats and errors. Default `'file'`. */
  name?: string
}

/**
 * Creates the file sink. The file is opened once, synchronously, to fail fast at start-up when it
 * cannot be written; afterwards every error is reported through `onError` and counted, never thrown.
 *
 * @throws {TypeError} naming the option when options are invalid.
 * @throws {DecisionLogError} `ERR_DECISION_LOG_WRITE_FAILED` when the file cannot be created or opened for appending.
 * @example
 * ```ts
 * const sink = createFileSink({ path: '/var/log/mcp-authz/decisions.jsonl' })
 * process.on('SIGHUP', () => sink.reopen())
 * ```
 */
export function createFileSink(options: FileSinkOptions, hooks?: SinkHooks): LineSink {
  const optionName = 'sinks.file'
  if (typeof options !== 'object' || options === null) throw new TypeError(`${optionName} must be an object`)
  if (typeof options.path !== 'string' || options.path.length === 0) throw new TypeError(`${optionName}.path must be a non-empty string`)
  const shared = lineSinkOptions(options, optionName)
  try {
    mkdirSync(dirname(options.path), { recursive: true })
    closeSync(openSync(options.path, 'a'))
  } catch (cause) {
    throw new DecisionLogError('ERR_DECISION_LOG_WRITE_FAILED', `${optionName}: cannot append to ${options.path}: ${(cause as Error).message}`, { cause, sink: options.name ?? 'file' })
  }
  return createLineSink(options.name ?? 'file', { kind: 'sonic', sonic: sonicDestination(options.path, shared.maxBufferBytes) }, shared, hooks)
}
