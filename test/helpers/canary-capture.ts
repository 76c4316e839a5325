/**
 * Capture for the canary test: every log line (decision-log sinks, app loggers, the process's own
 * stdout / stderr), every response body and header seen by a capturing `fetch`, and the secrets
 * (tokens, client secrets, Authorization header values, planted fixtures) none of them may contain.
 * Leaks are reported by label and location only, never with the secret itself.
 */
import { Writable } from 'node:stream'

/** One captured piece of text and where it came from. */
export interface Captured {
  source: string
  text: string
}

/** One exchange seen by the capturing fetch. */
export interface Exchange {
  url: string
  method: string
  status: number
  headers: Headers
  /** Grows while the body streams in (SSE streams stay open until the client closes them). */
  body: string
  /** Resolves when the body has ended (or failed). */
  done: Promise<void>
}

/** A leak: which secret, where. */
export interface Leak {
  secret: string
  where: string
}

const MIN_SECRET_LENGTH = 12

/** Collects log lines, response bodies and secrets; scans the former for the latter. */
export class CanaryCapture {
  readonly lines: Captured[] = []
  readonly exchanges: Exchange[] = []
  readonly #secrets = new Map<string, string>() // value → label
  readonly #restore: Array<() => void> = []
  #partial = new Map<string, string>()

  /** Registers a secret (and its distinctive parts: a JWT's signature, a Basic credential's base64). */
  secret(label: string, value: string): void {
    if (typeof value !== 'string' || value.length < MIN_SECRET_LENGTH) throw new Error(`secret ${label} is too short to scan for`)
    if (!this.#secrets.has(value)) this.#secrets.set(value, label)
    const jws = /^([\w-]+)\.([\w-]*)\.([\w-]+)$/.exec(value)
    if (jws !== null && (jws[3] ?? '').length >= MIN_SECRET_LENGTH) this.#secrets.set(jws[3] as string, `${label} (signature)`)
    if (jws !== null && (jws[2] ?? '').length >= MIN_SECRET_LENGTH) this.#secrets.set(jws[2] as string, `${label} (payload)`)
    const scheme = /^(?:Bearer|Basic)\s+(\S+)$/i.exec(value)
    if (scheme !== null && (scheme[1] ?? '').length >= MIN_SECRET_LENGTH && !this.#secrets.has(scheme[1] as string)) this.secret(`${label} (credential)`, scheme[1] as string)
  }

  /** Registers every token in a token-endpoint response body. */
  tokensFrom(label: string, body: string): void {
    try {
      const json = JSON.parse(body) as Record<string, unknown>
      for (const k of ['access_token', 'refresh_token', 'id_token']) if (typeof json[k] === 'string') this.secret(`${label} ${k}`, json[k] as string)
    } catch {
      // not JSON: nothing to register
    }
  }

  get secretCount(): number {
    return this.#secrets.size
  }

  /** Records one line of log output. */
  line(source: string, text: string): void {
    this.lines.push({ source, text })
  }

  /** A writable stream whose lines are recorded under `source`. */
  stream(source: string): Writable {
    let rest = ''
    return new Writable({
      write: (chunk: Buffer | string, _enc, cb) => {
        rest += chunk.toString()
        const parts = rest.split('\n')
        rest = parts.pop() ?? ''
        for (const p of parts) if (p !== '') this.line(source, p)
        cb()
      },
      final: (cb) => {
        if (rest !== '') this.line(source, rest)
        rest = ''
        cb()
      },
    })
  }

  /** Tees everything written to process.stdout / process.stderr into the capture, until {@link restore}. */
  captureStdio(): void {
    const capture = this
    for (const name of ['stdout', 'stderr'] as const) {
      const target = process[name]
      const original = target.write
      const source = `process.${name}`
      target.write = function (this: NodeJS.WriteStream, chunk: unknown, ...rest: unknown[]) {
        try {
          capture.#chunk(source, typeof chunk === 'string' ? chunk : Buffer.isBuffer(chunk) || chunk instanceof Uint8Array ? Buffer.from(chunk).toString('latin1') : String(chunk))
        } catch {
          // capture never breaks output
        }
        return (original as (...a: unknown[]) => boolean).call(this, chunk, ...rest)
      } as typeof target.write
      this.#restore.push(() => {
        target.write = original
      })
    }
  }

  #chunk(source: string, text: string): void {
    const parts = ((this.#partial.get(source) ?? '') + text).split('\n')
    this.#partial.set(source, parts.pop() ?? '')
    for (const p of parts) if (p !== '') this.line(source, p)
  }

  /** Stops capturing stdio (flushing partial lines). */
  restore(): void {
    for (const r of this.#restore.splice(0)) r()
    for (const [source, rest] of this.#partial) if (rest !== '') this.line(source, rest)
    this.#partial = new Map()
  }

  /**
   * A `fetch` that records every request's `Authorization` value as a secret, every token-endpoint
   * answer's tokens as secrets, and every response (status, headers, body as it streams).
   * `onResponse` sees each response before the caller does.
   */
  fetch(options: { tokenEndpoints?: () => string[]; onResponse?: (res: Response, url: string) => void } = {}): typeof fetch {
    return async (input, init) => {
      const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url
      const headers = new Headers(init?.headers ?? (input instanceof Request ? input.headers : undefined))
      const auth = headers.get('authorization')
      if (auth !== null && auth.length >= MIN_SECRET_LENGTH) this.secret(`Authorization header to ${new URL(url).pathname}`, auth)
      const res = await fetch(input, init)
      options.onResponse?.(res, url)
      const exchange: Exchange = { url, method: init?.method ?? (input instanceof Request ? input.method : 'GET'), status: res.status, headers: res.headers, body: '', done: Promise.resolve() }
      this.exchanges.push(exchange)
      const isTokenEndpoint = options.tokenEndpoints?.().some((t) => url.split('?')[0] === t) ?? false
      if (res.body !== null) {
        const copy = res.clone()
        exchange.done = (async () => {
          const decoder = new TextDecoder()
          try {
            const reader = (copy.body as ReadableStream<Uint8Array>).getReader()
            for (;;) {
              const { done, value } = await reader.read()
              if (done) break
              exchange.body += decoder.decode(value, { stream: true })
            }
          } catch {
            // aborted stream (client closed): keep what arrived
          }
          exchange.body += decoder.decode()
          if (isTokenEndpoint) this.tokensFrom(`token endpoint answer`, exchange.body)
        })()
        if (isTokenEndpoint) await exchange.done
      }
      return res
    }
  }

  /** Scans `texts` for every registered secret. */
  scan(texts: Iterable<Captured>): Leak[] {
    const leaks: Leak[] = []
    for (const { source, text } of texts) {
      for (const [value, label] of this.#secrets) if (text.includes(value)) leaks.push({ secret: label, where: source })
    }
    return leaks
  }
}

/** Decision ids a response carries: the `mcp-authz-decision-id` header, `decision_id` anywhere in JSON or SSE `data:` payloads. */
export function decisionIdsOf(exchange: Pick<Exchange, 'headers' | 'body'>): string[] {
  const ids = new Set<string>()
  const header = exchange.headers.get('mcp-authz-decision-id')
  if (header !== null) ids.add(header)
  const payloads = /^\s*[[{]/.test(exchange.body) ? [exchange.body] : exchange.body.split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5))
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(walk)
    else if (v !== null && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) {
        if (k === 'decision_id' && typeof x === 'string') ids.add(x)
        else walk(x)
      }
    }
  }
  for (const p of payloads) {
    try {
      walk(JSON.parse(p))
    } catch {
      // not JSON
    }
  }
  return [...ids]
}
