/**
 * A notes MCP server protected by mcp-authz: three tools (notes_read, notes_write, notes_delete),
 * a `notes://{title}` resource, a `summarize_notes` prompt; Streamable HTTP with a transport per
 * session, each bound to the principal that opened it. Notes are kept per principal (issuer +
 * subject + tenant), in memory.
 *
 * @module
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { McpServer, ResourceTemplate } from '@modelcontextprotocol/sdk/server/mcp.js'
import { z } from 'zod'
import type { Authz } from '../../src/authz.ts'
import { createMcpSessions, getPrincipal, mcpAuthzHandler, principalKey, type McpErrorHandler, type McpSessions } from '../../src/mcp/index.ts'

type Note = { title: string; body: string; folder: string }
/** Notebooks by principal, least recently used first; in memory, so bounded like everything else. */
const books = new Map<string, Map<string, Note>>()
const MAX_NOTEBOOKS = 10_000
const MAX_NOTES = 100

function notebook(): Map<string, Note> {
  const principal = getPrincipal()
  if (principal === undefined) throw new Error('no principal') // protect() guarantees one
  const key = principalKey(principal)
  let book = books.get(key)
  if (book !== undefined) books.delete(key)
  else if (books.size >= MAX_NOTEBOOKS) books.delete(books.keys().next().value as string)
  books.set(key, (book ??= new Map()))
  return book
}

const text = (t: string) => ({ content: [{ type: 'text' as const, text: t }] })

/** The MCP server itself, unaware of authorization apart from `getPrincipal()`. */
export function createNotesServer(): McpServer {
  const server = new McpServer({ name: 'notes', version: '1.0.0' })
  server.registerTool('notes_read', {
    description: 'Read one note, or list the titles of all notes',
    inputSchema: { title: z.string().optional() },
    annotations: { readOnlyHint: true },
  }, async ({ title }) => {
    const book = notebook()
    if (title === undefined) return text([...book.keys()].join('\n'))
    const note = book.get(title)
    return note ? text(note.body) : { ...text(`no note titled ${title}`), isError: true }
  })
  server.registerTool('notes_write', {
    description: 'Create or replace a note',
    inputSchema: { title: z.string(), body: z.string().default(''), folder: z.string().default('personal') },
    annotations: { readOnlyHint: false, destructiveHint: false },
  }, async ({ title, body, folder }) => {
    const book = notebook()
    if (!book.has(title) && book.size >= MAX_NOTES) return { ...text(`notebook full (${MAX_NOTES} notes): delete one first`), isError: true }
    book.set(title, { title, body, folder })
    return text(`saved ${title}`)
  })
  server.registerTool('notes_delete', {
    description: 'Delete a note',
    inputSchema: { title: z.string() },
    annotations: { destructiveHint: true },
  }, async ({ title }) => text(notebook().delete(title) ? `deleted ${title}` : `no note titled ${title}`))
  server.registerResource('note', new ResourceTemplate('notes://{title}', {
    list: async () => ({ resources: [...notebook().values()].map((n) => ({ uri: `notes://${encodeURIComponent(n.title)}`, name: n.title })) }),
  }), { description: 'One note', mimeType: 'text/plain' }, async (uri, { title }) => ({
    contents: [{ uri: uri.href, text: notebook().get(decodeURIComponent(String(title)))?.body ?? '' }],
  }))
  server.registerPrompt('summarize_notes', { description: 'Summarize my notes', argsSchema: { folder: z.string().optional() } }, async ({ folder }) => ({
    messages: [{ role: 'user', content: { type: 'text', text: `Summarize these notes:\n${[...notebook().values()].filter((n) => folder === undefined || n.folder === folder).map((n) => `# ${n.title}\n${n.body}`).join('\n')}` } }],
  }))
  return server
}

/** A running notes server. */
export interface RunningNotesServer {
  /** The MCP endpoint, e.g. `http://127.0.0.1:3000/mcp`. */
  url: string
  /** The sessions (open count, bindings for metrics). */
  sessions: McpSessions
  /** Stops listening and closes every session. */
  close(): Promise<void>
}

/** Options of {@link startNotesServer}. */
export interface NotesServerOptions {
  /** Address to listen on. Default `127.0.0.1`. */
  host?: string
  /** Port; 0 picks a free one. Default 0. */
  port?: number
  /** Answers paths other than the MCP endpoint and its metadata (e.g. the development issuer); `false` when it did not. */
  fallback?: (req: IncomingMessage, res: ServerResponse) => Promise<boolean>
  /** A session idle this long is freed, ms. Default 1800000 (30 min). */
  idleTimeoutMs?: number
  /** Receives handler failures. Default: a line on stderr with the decision id. */
  onError?: McpErrorHandler
}

/**
 * Serves the protected notes server over Streamable HTTP: one server and transport per session,
 * owned by `createMcpSessions` (freed on DELETE, when idle, and beyond 32 per principal). The
 * resource URI in the bundle decides the path.
 */
export async function startNotesServer(authz: Authz, options: NotesServerOptions = {}): Promise<RunningNotesServer> {
  const sessions = createMcpSessions({
    authz,
    createServer: createNotesServer,
    ...(options.idleTimeoutMs !== undefined ? { idleTimeoutMs: options.idleTimeoutMs } : {}),
    ...(options.onError !== undefined ? { onError: options.onError } : {}),
  })
  const handler = mcpAuthzHandler({
    authz,
    sessions,
    rootMetadata: true,
    fallback: async (req, res) => {
      if (!(await options.fallback?.(req, res))) res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not_found"}\n')
    },
  })
  const http = createServer((req, res) => void handler(req, res))
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject)
    http.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
      http.off('error', reject)
      resolve()
    })
  })
  const { port } = http.address() as AddressInfo
  const path = new URL(authz.resource).pathname
  const host = options.host ?? '127.0.0.1'
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}${path}`,
    sessions,
    async close() {
      await sessions.close()
      http.closeAllConnections()
      await new Promise<void>((resolve) => http.close(() => resolve()))
    },
  }
}
