/**
 * One stdio MCP server process: spawned without a shell, with an environment built from an
 * allowlist (the proxy's secrets stay out), speaking newline-delimited JSON-RPC on stdin/stdout
 * (MCP stdio transport). Lines are bounded; stderr is read and handed to a callback, bounded too.
 *
 * Stopping is graceful then forceful: stdin is closed (an MCP stdio server exits on EOF), then
 * SIGTERM, then SIGKILL. Every child still alive when the proxy's process exits is killed
 * (`process.on('exit')`), and one that outlives a SIGKILLed proxy sees EOF on stdin.
 *
 * @module
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { StringDecoder } from 'node:string_decoder'

/** Options of {@link spawnStdioServer}. */
export interface StdioServerOptions {
  /** Program to run (no shell). Required. */
  command: string
  /** Its arguments. Default none. */
  args?: readonly string[]
  /** Its whole environment. Default: empty. */
  env?: Record<string, string>
  /** Working folder. Default: the proxy's. */
  cwd?: string
  /** Longest stdout line (one JSON-RPC message), bytes; a longer one kills the process. Default 16 MiB. */
  maxLineBytes?: number
  /** Receives each parsed JSON-RPC message. Required. */
  onMessage: (message: unknown) => void
  /** Receives each stderr line (truncated to 4096 characters). Default: dropped. */
  onStderr?: (line: string) => void
  /** Called once when the process is gone (exit, spawn failure or kill). */
  onExit?: (info: { code: number | null; signal: NodeJS.Signals | null; error?: Error }) => void
  /** Time between each stop step (EOF → SIGTERM → SIGKILL), ms. Default 2000. */
  stopGraceMs?: number
  /** Most bytes queued on stdin (the process does not read); beyond, {@link StdioServer.send} refuses. Default 16 MiB. */
  maxQueuedBytes?: number
}

/** A running stdio server. */
export interface StdioServer {
  readonly pid: number | undefined
  /** Whether the process is still there. */
  readonly alive: boolean
  /** Writes one message as a line; `false` when the process is gone or does not keep up. */
  send(message: unknown): boolean
  /** Stops the process (EOF, then SIGTERM, then SIGKILL); resolves when it is gone. */
  stop(): Promise<void>
}

const live = new Set<ChildProcessWithoutNullStreams>()
let exitHookInstalled = false

function installExitHook(): void {
  if (exitHookInstalled) return
  exitHookInstalled = true
  // Synchronous, last chance: no child outlives the proxy's process.
  process.on('exit', () => {
    for (const child of live) {
      try {
        child.kill('SIGKILL')
      } catch {
        // already gone
      }
    }
  })
}

/**
 * Children alive now, in this process (for tests and metrics).
 *
 * @example
 * ```ts
 * await proxy.close(); liveChildren() // 0
 * ```
 */
export function liveChildren(): number {
  return live.size
}

/**
 * Spawns one stdio MCP server.
 *
 * @example
 * ```ts
 * const server = spawnStdioServer({ command: 'python', args: ['server.py'], onMessage: (m) => relay(m) })
 * server.send({ jsonrpc: '2.0', id: 1, method: 'ping' })
 * await server.stop()
 * ```
 */
export function spawnStdioServer(options: StdioServerOptions): StdioServer {
  if (typeof options?.command !== 'string' || options.command === '') throw new TypeError('options.command must be a non-empty string')
  if (typeof options.onMessage !== 'function') throw new TypeError('options.onMessage must be a function')
  const maxLine = options.maxLineBytes ?? 16 * 1024 * 1024
  const maxQueued = options.maxQueuedBytes ?? 16 * 1024 * 1024
  const grace = options.stopGraceMs ?? 2000
  installExitHook()
  const child = spawn(options.command, [...(options.args ?? [])], {
    cwd: options.cwd,
    env: options.env ?? {},
    stdio: ['pipe', 'pipe', 'pipe'],
    shell: false,
    windowsHide: true,
  })
  live.add(child)
  let exited = false
  let exitInfo: { code: number | null; signal: NodeJS.Signals | null; error?: Error } | undefined
  const exitWaiters: Array<() => void> = []
  const finish = (info: { code: number | null; signal: NodeJS.Signals | null; error?: Error }) => {
    if (exited) return
    exited = true
    exitInfo = info
    live.delete(child)
    for (const w of exitWaiters.splice(0)) w()
    options.onExit?.(info)
  }
  child.once('exit', (code, signal) => finish({ code, signal }))
  child.once('error', (error) => {
    // Spawn failure (ENOENT, EACCES): there will be no 'exit'.
    if (child.pid === undefined) finish({ code: null, signal: null, error })
  })
  child.stdin.on('error', () => undefined) // EPIPE when the process is gone: seen as its exit
  child.stdout.on('error', () => undefined)
  child.stderr.on('error', () => undefined)

  lines(child.stdout, maxLine, (line) => {
    const text = line.trim()
    if (text === '') return
    let message: unknown
    try {
      message = JSON.parse(text)
    } catch {
      options.onStderr?.(`(stdout line that is not JSON ignored: ${text.slice(0, 200)})`)
      return
    }
    options.onMessage(message)
  }, () => {
    options.onStderr?.(`(stdout line longer than ${maxLine} bytes: process stopped)`)
    child.kill('SIGKILL')
  })
  lines(child.stderr, 4096, (line) => options.onStderr?.(line), () => undefined, true)

  let stopping: Promise<void> | undefined
  const gone = () => new Promise<void>((resolve) => (exited ? resolve() : exitWaiters.push(resolve)))
  const waitOrTimeout = (ms: number) =>
    new Promise<boolean>((resolve) => {
      if (exited) return resolve(true)
      const timer = setTimeout(() => resolve(false), ms)
      exitWaiters.push(() => {
        clearTimeout(timer)
        resolve(true)
      })
    })

  return {
    get pid() {
      return child.pid
    },
    get alive() {
      return !exited
    },
    send(message) {
      if (exited || stopping !== undefined || !child.stdin.writable) return false
      if (child.stdin.writableLength > maxQueued) return false
      child.stdin.write(`${JSON.stringify(message)}\n`)
      return true
    },
    stop() {
      stopping ??= (async () => {
        if (exited) return
        child.stdin.end()
        if (await waitOrTimeout(grace)) return
        child.kill('SIGTERM')
        if (await waitOrTimeout(grace)) return
        child.kill('SIGKILL')
        await gone()
      })()
      return stopping.then(() => {
        void exitInfo
      })
    },
  }
}

/** Splits a byte stream into UTF-8 lines, bounded; `truncate` cuts long lines instead of failing. */
function lines(stream: NodeJS.ReadableStream, max: number, onLine: (line: string) => void, onTooLong: () => void, truncate = false): void {
  const decoder = new StringDecoder('utf8')
  let buffer = ''
  let dropping = false
  stream.on('data', (chunk: Buffer) => {
    buffer += decoder.write(chunk)
    let nl = buffer.indexOf('\n')
    while (nl !== -1) {
      const line = buffer.slice(0, nl)
      buffer = buffer.slice(nl + 1)
      if (dropping) dropping = false
      else onLine(truncate ? line.slice(0, max) : line)
      nl = buffer.indexOf('\n')
    }
    if (buffer.length > max) {
      if (truncate) {
        if (!dropping) onLine(buffer.slice(0, max))
        dropping = true
        buffer = ''
      } else {
        buffer = ''
        onTooLong()
      }
    }
  })
}
