/**
 * Bundles in operation: a local bundle file watched and reloaded, a remote bundle polled over HTTP
 * with `ETag` / `If-None-Match` / `304 Not Modified` as in OPA's bundle protocol, or a policy data
 * file (JSON / YAML) watched and loaded into the prebuilt policy library. Every new bundle is
 * verified (signature, when configured) and activated atomically through `load()`; on any failure
 * the last good bundle keeps serving and the failure is reported.
 *
 * @module
 */
import { createHash } from 'node:crypto'
import { watch, type FSWatcher } from 'node:fs'
import { readFile, stat } from 'node:fs/promises'
import { basename, dirname } from 'node:path'
import { PolicyError } from './errors.ts'
import { parsePolicyData } from './library.ts'

/** Something that activates bundle bytes, or policy data for the prebuilt library, atomically (an `Authz`). */
export interface BundleTarget {
  load(source: Uint8Array | { data: Record<string, unknown> }): Promise<{ revision: string }>
}

/** Options of {@link createBundleLoader}. */
export interface LoaderOptions {
  /** Where bundles are activated. Required. */
  target: BundleTarget
  /** Local bundle file to watch. Exactly one of `path`, `url` and `data`. */
  path?: string
  /** Remote bundle URL to poll. Exactly one of `path`, `url` and `data`. */
  url?: string
  /**
   * Local policy data file (JSON, or YAML for `.yaml` / `.yml`) to watch: each version is loaded
   * into the prebuilt policy library (`load({ data })`, no `opa` needed). Exactly one of `path`,
   * `url` and `data`; `verify` does not apply.
   */
  data?: string
  /** Watch the local file. Default `true`. */
  watch?: boolean
  /** Debounce of file-change events, ms. Default 250. */
  debounceMs?: number
  /** Polling interval, ms. Default 30000. */
  pollIntervalMs?: number
  /** Timeout of one download, ms. Default 10000. */
  timeoutMs?: number
  /** Largest bundle (or data file) accepted, bytes. Default 16 MiB. */
  maxBytes?: number
  /** Extra headers for the bundle server (e.g. `authorization`). */
  headers?: Record<string, string>
  /** Checks bundle bytes before activation (signature verification); throws to refuse. */
  verify?: (bytes: Uint8Array) => Promise<void>
  /** The bundle (or data file) already serving (given to `createAuthz`) and its ETag, so it is not loaded twice. */
  initial?: { bytes: Uint8Array; etag?: string }
  /** Called after each activation. */
  onActivate?: (revision: string) => void
  /** Called on each refused or failed reload (the previous bundle keeps serving). */
  onError?: (err: Error, reason: 'download' | 'signature' | 'load') => void
}

/** A running loader. */
export interface BundleLoader {
  /** Fetches / reads once now (activating when changed). Resolves to the activated revision, or undefined when unchanged. Throws on failure. */
  refresh(): Promise<string | undefined>
  /** Starts watching or polling. */
  start(): void
  /** Stops watching and polling; pending timers are cleared. */
  stop(): void
  /** The last ETag seen from the bundle server. */
  readonly etag: string | undefined
}

async function readLimited(body: ReadableStream<Uint8Array> | null, maxBytes: number, signal: AbortSignal): Promise<Uint8Array> {
  if (body === null) return new Uint8Array()
  const chunks: Uint8Array[] = []
  let size = 0
  const reader = body.getReader()
  try {
    for (;;) {
      if (signal.aborted) throw new PolicyError('ERR_BUNDLE_INVALID', 'bundle download timed out')
      let chunk: Awaited<ReturnType<typeof reader.read>>
      try {
        chunk = await reader.read()
      } catch (cause) {
        // The timeout (or a reset) while the body streams in: the same typed error as before the headers.
        throw new PolicyError('ERR_BUNDLE_INVALID', `bundle download failed: ${(cause as Error).message}`, { cause })
      }
      const { done, value } = chunk
      if (done) break
      size += value.byteLength
      if (size > maxBytes) throw new PolicyError('ERR_BUNDLE_TOO_LARGE', `bundle is larger than ${maxBytes} bytes`)
      chunks.push(value)
    }
  } finally {
    await reader.cancel().catch(() => undefined)
  }
  return Buffer.concat(chunks)
}

/**
 * Downloads a bundle with the OPA bundle protocol. Returns `undefined` on `304 Not Modified`.
 *
 * @throws {PolicyError} `ERR_BUNDLE_INVALID` (HTTP error, timeout) or `ERR_BUNDLE_TOO_LARGE`.
 * @example
 * ```ts
 * const got = await fetchBundle('http://127.0.0.1:8888/bundle.tar.gz', { etag })
 * if (got) await authz.load(got.bytes)
 * ```
 */
export async function fetchBundle(
  url: string,
  options: { etag?: string; timeoutMs?: number; maxBytes?: number; headers?: Record<string, string> } = {},
): Promise<{ bytes: Uint8Array; etag?: string } | undefined> {
  const signal = AbortSignal.timeout(options.timeoutMs ?? 10_000)
  const headers: Record<string, string> = { accept: 'application/gzip, application/octet-stream', ...options.headers }
  if (options.etag !== undefined) headers['if-none-match'] = options.etag
  let res: Response
  try {
    res = await fetch(url, { headers, signal, redirect: 'error' })
  } catch (cause) {
    throw new PolicyError('ERR_BUNDLE_INVALID', `bundle download from ${url} failed: ${(cause as Error).message}`, { cause })
  }
  if (res.status === 304) {
    await res.body?.cancel()
    return undefined
  }
  if (res.status !== 200) {
    await res.body?.cancel()
    throw new PolicyError('ERR_BUNDLE_INVALID', `bundle server answered ${res.status} for ${url}`)
  }
  const maxBytes = options.maxBytes ?? 16 * 1024 * 1024
  const length = Number(res.headers.get('content-length') ?? NaN)
  if (length > maxBytes) {
    await res.body?.cancel()
    throw new PolicyError('ERR_BUNDLE_TOO_LARGE', `bundle is larger than ${maxBytes} bytes`)
  }
  const bytes = await readLimited(res.body, maxBytes, signal)
  const etag = res.headers.get('etag') ?? undefined
  return etag === undefined ? { bytes } : { bytes, etag }
}

/**
 * Creates a loader for a local or remote bundle. Call `refresh()` once for the first bundle (or
 * give the first bundle to `createAuthz` yourself), then `start()`.
 *
 * @example
 * ```ts
 * const loader = createBundleLoader({ target: authz, url: 'https://bundles.example.com/mcp.tar.gz', pollIntervalMs: 30_000 })
 * loader.start()
 * ```
 */
export function createBundleLoader(options: LoaderOptions): BundleLoader {
  if ([options.path, options.url, options.data].filter((s) => s !== undefined).length !== 1) throw new TypeError('give exactly one of path, url and data')
  if (options.data !== undefined && options.verify !== undefined) throw new TypeError('verify checks bundle signatures: it does not apply to a data file')
  const file = options.path ?? options.data
  const tooLarge = () => new PolicyError('ERR_BUNDLE_TOO_LARGE', `${options.data !== undefined ? `policy data ${options.data}` : 'bundle'} is larger than ${options.maxBytes} bytes`)
  const pollIntervalMs = options.pollIntervalMs ?? 30_000
  if (!(pollIntervalMs > 0)) throw new TypeError('pollIntervalMs must be positive')
  let etag: string | undefined = options.initial?.etag
  let lastHash: string | undefined = options.initial === undefined ? undefined : createHash('sha256').update(options.initial.bytes).digest('hex')
  let timer: NodeJS.Timeout | undefined
  let watcher: FSWatcher | undefined
  let running: Promise<string | undefined> | undefined
  let stopped = true

  async function activate(bytes: Uint8Array): Promise<string | undefined> {
    const hash = createHash('sha256').update(bytes).digest('hex')
    if (hash === lastHash) return undefined
    if (options.verify !== undefined) {
      try {
        await options.verify(bytes)
      } catch (err) {
        options.onError?.(err as Error, 'signature')
        throw err
      }
    }
    let active
    try {
      active = await options.target.load(options.data === undefined ? bytes : { data: parsePolicyData(Buffer.from(bytes).toString('utf8'), options.data) })
    } catch (err) {
      options.onError?.(err as Error, 'load')
      throw err
    }
    lastHash = hash
    options.onActivate?.(active.revision)
    return active.revision
  }

  async function once(): Promise<string | undefined> {
    let bytes: Uint8Array
    let newEtag: string | undefined
    try {
      if (file !== undefined) {
        // Bounded before reading: a file that grew huge is refused without being read.
        if (options.maxBytes !== undefined && (await stat(file)).size > options.maxBytes) throw tooLarge()
        bytes = await readFile(file)
      } else {
        const got = await fetchBundle(options.url as string, {
          ...(etag !== undefined ? { etag } : {}),
          ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
          ...(options.maxBytes !== undefined ? { maxBytes: options.maxBytes } : {}),
          ...(options.headers !== undefined ? { headers: options.headers } : {}),
        })
        if (got === undefined) return undefined
        bytes = got.bytes
        newEtag = got.etag
      }
    } catch (err) {
      options.onError?.(err as Error, 'download')
      throw err
    }
    if (options.maxBytes !== undefined && bytes.byteLength > options.maxBytes) {
      const err = tooLarge()
      options.onError?.(err, 'download')
      throw err
    }
    const revision = await activate(bytes)
    // Remember the ETag only once the bundle it names is active, so a refused bundle is retried.
    etag = newEtag
    return revision
  }

  function refresh(): Promise<string | undefined> {
    // One refresh at a time: a second caller shares the one in flight.
    running ??= once().finally(() => {
      running = undefined
    })
    return running
  }

  function schedule(): void {
    if (stopped) return
    timer = setTimeout(() => {
      refresh()
        .catch(() => undefined)
        .finally(schedule)
    }, pollIntervalMs)
    timer.unref()
  }

  return {
    refresh,
    start() {
      if (!stopped) return
      stopped = false
      if (options.url !== undefined) return schedule()
      if (options.watch === false) return
      const name = basename(file as string)
      let debounce: NodeJS.Timeout | undefined
      // Watch the folder: a file replaced by rename (the safe way to publish) keeps being seen.
      watcher = watch(dirname(file as string), { persistent: false }, (_event, changed) => {
        if (changed !== null && changed !== name) return
        clearTimeout(debounce)
        debounce = setTimeout(() => void refresh().catch(() => undefined), options.debounceMs ?? 250)
        debounce.unref()
      })
      watcher.on('error', (err) => options.onError?.(err, 'download'))
    },
    stop() {
      stopped = true
      clearTimeout(timer)
      watcher?.close()
      watcher = undefined
    },
    get etag() {
      return etag
    },
  }
}
