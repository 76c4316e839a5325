/**
 * A bounded in-memory `EventStore` for the SDK's `StreamableHTTPServerTransport`: what lets a client
 * of a stdio upstream resume an SSE stream with `Last-Event-ID` after a dropped connection. One
 * store per session; the oldest events are forgotten first once `maxEvents` or `maxBytes` is
 * reached (a resumption from before them then replays nothing and starts fresh).
 *
 * @module
 */
import type { EventStore } from '@modelcontextprotocol/sdk/server/streamableHttp.js'
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js'

/** Options of {@link BoundedEventStore}. */
export interface BoundedEventStoreOptions {
  /** Most events kept. Default 1000. */
  maxEvents?: number
  /** Most bytes of serialised messages kept. Default 8 MiB. */
  maxBytes?: number
}

interface StoredEvent {
  id: string
  streamId: string
  message: JSONRPCMessage
  bytes: number
}

/**
 * @example
 * ```ts
 * const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: randomUUID, eventStore: new BoundedEventStore() })
 * ```
 */
export class BoundedEventStore implements EventStore {
  readonly #events: StoredEvent[] = []
  readonly #maxEvents: number
  readonly #maxBytes: number
  #bytes = 0
  #seq = 0

  constructor(options: BoundedEventStoreOptions = {}) {
    this.#maxEvents = options.maxEvents ?? 1000
    this.#maxBytes = options.maxBytes ?? 8 * 1024 * 1024
    if (!Number.isSafeInteger(this.#maxEvents) || this.#maxEvents <= 0) throw new TypeError('options.maxEvents must be a positive integer')
    if (!Number.isSafeInteger(this.#maxBytes) || this.#maxBytes <= 0) throw new TypeError('options.maxBytes must be a positive integer')
  }

  /** Events held now. */
  get size(): number {
    return this.#events.length
  }

  async storeEvent(streamId: string, message: JSONRPCMessage): Promise<string> {
    const id = `${streamId}_${++this.#seq}`
    const bytes = JSON.stringify(message).length
    this.#events.push({ id, streamId, message, bytes })
    this.#bytes += bytes
    while (this.#events.length > this.#maxEvents || (this.#bytes > this.#maxBytes && this.#events.length > 1)) {
      const dropped = this.#events.shift() as StoredEvent
      this.#bytes -= dropped.bytes
    }
    return id
  }

  async getStreamIdForEventId(eventId: string): Promise<string | undefined> {
    return this.#events.find((e) => e.id === eventId)?.streamId ?? streamOf(eventId)
  }

  async replayEventsAfter(lastEventId: string, { send }: { send: (eventId: string, message: JSONRPCMessage) => Promise<void> }): Promise<string> {
    const streamId = streamOf(lastEventId)
    if (streamId === undefined) throw new Error('unknown event id')
    const at = this.#events.findIndex((e) => e.id === lastEventId)
    // Forgotten (or never stored): replay what this stream still has after it, by sequence.
    const seq = Number(lastEventId.slice(streamId.length + 1))
    const after = at !== -1 ? this.#events.slice(at + 1) : this.#events.filter((e) => Number(e.id.slice(e.streamId.length + 1)) > seq)
    for (const event of after) if (event.streamId === streamId) await send(event.id, event.message)
    return streamId
  }
}

/** The stream id an event id was made for (`<streamId>_<seq>`). */
function streamOf(eventId: string): string | undefined {
  const cut = eventId.lastIndexOf('_')
  if (cut <= 0 || !/^\d+$/.test(eventId.slice(cut + 1))) return undefined
  return eventId.slice(0, cut)
}
