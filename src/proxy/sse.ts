/**
 * A streaming Server-Sent Events rewriter: parses the upstream's `text/event-stream` line by line
 * (LF, CRLF or CR endings, as the WHATWG SSE parser accepts), and for each event whose `data` is a
 * JSON-RPC message lets a function replace it (list filtering). Event ids, event types, `retry`
 * and comments pass unchanged, so `Last-Event-ID` resumption works end to end; events left alone
 * pass byte for byte (line endings normalised to LF). Data that is not JSON (MCP sends only JSON-RPC
 * messages; an empty `data:` priming event is kept) is dropped, never passed unfiltered. Used with `stream.pipeline`, so backpressure
 * from the client reaches the upstream socket.
 *
 * Bounded: an event (or a line) larger than `maxEventBytes` fails the stream with
 * {@link SseEventTooLarge} — what cannot be parsed cannot be filtered, so it is not passed on.
 *
 * @module
 */
import { Transform, type TransformCallback } from 'node:stream'
import { StringDecoder } from 'node:string_decoder'

/** Thrown (as the stream's error) when one event exceeds the bound. */
export class SseEventTooLarge extends Error {
  readonly code = 'ERR_PROXY_SSE_EVENT_TOO_LARGE'
  constructor(max: number) {
    super(`an upstream SSE event exceeds ${max} bytes`)
  }
}

/** Options of {@link SseRewriter}. */
export interface SseRewriterOptions {
  /**
   * Called with each event's parsed JSON `data`; returns the message to send instead (a different
   * object re-serialises the event), or the same value to pass the event unchanged. Required.
   */
  map: (message: unknown) => unknown
  /** Largest event accepted, bytes (all its lines). Default 16 MiB. */
  maxEventBytes?: number
}

const LINE_BREAK = /[\r\n]/g

/**
 * The rewriting transform.
 *
 * @example
 * ```ts
 * await pipeline(upstreamResponse, new SseRewriter({ map: (m) => filterMessage(authz, principal, m) }), clientResponse)
 * ```
 */
export class SseRewriter extends Transform {
  readonly #map: (message: unknown) => unknown
  readonly #max: number
  #decoder = new StringDecoder('utf8')
  #buffer = ''
  #lines: string[] = []
  #eventBytes = 0
  #lastEventId: string | undefined
  #events = 0
  #dropped = 0

  constructor(options: SseRewriterOptions) {
    super()
    if (typeof options?.map !== 'function') throw new TypeError('options.map must be a function')
    this.#map = options.map
    this.#max = options.maxEventBytes ?? 16 * 1024 * 1024
    if (!Number.isSafeInteger(this.#max) || this.#max <= 0) throw new TypeError('options.maxEventBytes must be a positive integer')
  }

  /** The last `id:` seen (the client's resumption point), if any. */
  get lastEventId(): string | undefined {
    return this.#lastEventId
  }

  /** Data that was not JSON, dropped (the event's other fields passed). */
  get dropped(): number {
    return this.#dropped
  }

  /** Events passed on so far. */
  get events(): number {
    return this.#events
  }

  /**
   * Forgets an event received only in part (the upstream died mid-event): it is never passed on,
   * since a truncated message cannot be filtered. Call before writing a closing event.
   */
  discardPartial(): void {
    this.#decoder = new StringDecoder('utf8')
    this.#buffer = ''
    this.#lines = []
    this.#eventBytes = 0
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#buffer += this.#decoder.write(chunk)
    callback(this.#drain(false))
  }

  override _flush(callback: TransformCallback): void {
    this.#buffer += this.#decoder.end()
    // An event without its closing blank line is incomplete: the SSE parser would discard it too.
    callback(this.#drain(true))
  }

  #drain(final: boolean): Error | undefined {
    const text = this.#buffer
    let start = 0
    LINE_BREAK.lastIndex = 0
    for (let m = LINE_BREAK.exec(text); m !== null; m = LINE_BREAK.exec(text)) {
      const i = m.index
      let next = i + 1
      if (text[i] === '\r') {
        // CRLF may be split across chunks: wait for the next one before deciding.
        if (i + 1 === text.length && !final) break
        if (text[i + 1] === '\n') next = i + 2
      }
      const error = this.#line(text.slice(start, i))
      if (error !== undefined) return error
      start = next
      LINE_BREAK.lastIndex = next
    }
    this.#buffer = text.slice(start)
    // A line that never ends is bounded too.
    if (this.#buffer.length > 0 && this.#eventBytes + this.#buffer.length > this.#max / 3 && this.#eventBytes + Buffer.byteLength(this.#buffer) > this.#max) return new SseEventTooLarge(this.#max)
    return undefined
  }

  #line(line: string): Error | undefined {
    if (line === '') {
      this.#dispatch()
      return undefined
    }
    this.#eventBytes += Buffer.byteLength(line) + 1
    if (this.#eventBytes > this.#max) return new SseEventTooLarge(this.#max)
    this.#lines.push(line)
    return undefined
  }

  #dispatch(): void {
    const lines = this.#lines
    this.#lines = []
    this.#eventBytes = 0
    if (lines.length === 0) return
    const data: string[] = []
    let firstData = -1
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i] as string
      if (line.startsWith(':')) continue
      const colon = line.indexOf(':')
      const field = colon === -1 ? line : line.slice(0, colon)
      let value = colon === -1 ? '' : line.slice(colon + 1)
      if (value.startsWith(' ')) value = value.slice(1)
      if (field === 'data') {
        if (firstData === -1) firstData = i
        data.push(value)
      } else if (field === 'id' && !value.includes('\0')) {
        this.#lastEventId = value
      }
    }
    let out = lines
    if (firstData !== -1) {
      const text = data.join('\n')
      let message: unknown
      try {
        message = text.trim() === '' ? undefined : JSON.parse(text)
      } catch {
        // Not JSON to us, maybe JSON to a laxer client parser (NaN, …): what cannot be filtered is not
        // passed. The event's id and type stay, so resumption points are kept.
        out = lines.filter((line) => !(line === 'data' || line.startsWith('data:')))
        this.#dropped++
      }
      if (message !== undefined) {
        const replaced = this.#map(message)
        if (replaced !== message) {
          // JSON.stringify never emits a raw line break, so one data line carries the whole message.
          out = []
          for (let i = 0; i < lines.length; i++) {
            const line = lines[i] as string
            if (i === firstData) out.push(`data: ${JSON.stringify(replaced)}`)
            else if (!(line === 'data' || line.startsWith('data:'))) out.push(line)
          }
        }
      }
    }
    this.#events++
    this.push(`${out.join('\n')}\n\n`)
  }
}
