/**
 * A notes MCP server protected by mcp-authz: three tools (notes_read, notes_write, notes_delete),
 * a `notes://{title}` resource, a `summarize_notes` prompt; Streamable HTTP with sessions bound to
 * the principal that opened them. Notes are kept per principal (issuer + subject), in memory.
 *
 * @module
 */
import { randomUUID } from 'node:crypto'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { McpServer, ResourceTemplate } from '@modelcontextprotocol/sdk/server/mcp.js'
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js'
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js'
import { z } from 'zod'
import type { Authz } from '../../src/authz.ts'
import { getPrincipal, mcpAuthzHandler, principalKey, protect } from '../../src/mcp/index.ts'

type Note = { title: string; body: string; folder: string }
const books = new Map<string, Map<string, Note>>()

function notebook(): Map<string, Note> {
  const principal = getPrincipal()
  if (principal === undefined) throw new Error('no principal') // protect() guarantees one
  const key = principalKey(principal)
  let book = books.get(key)
  if (book === undefined) books.set(key, (book = new Map()))
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
    notebook().set(title, { title, body, folder })
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
  close(): Promise<void>
}

/**
 * Serves the protected notes server over Streamable HTTP (one transport and server per session).
 * The resource URI in the bundle decides the path; `port` 0 picks a free port.
 */
export async function startNotesServer(
  authz: Authz,
  options: { host?: string; port?: number; fallback?: (req: IncomingMessage, res: ServerResponse) => Promise<boolean> } = {},
): Promise<RunningNotesServer> {
  const transports = new Map<string, StreamableHTTPServerTransport>()
  const handler = mcpAuthzHandler({
    authz,
    rootMetadata: true,
    fallback: async (req, res) => {
      if (!(await options.fallback?.(req, res))) res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not_found"}')
    },
    handle: async (req, res, body) => {
      const sessionId = req.headers['mcp-session-id']
      let transport = typeof sessionId === 'string' ? transports.get(sessionId) : undefined
      if (transport === undefined) {
        if (req.method !== 'POST' || !isInitializeRequest(body)) {
          res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: -32001, message: 'Session not found' } }))
          return
        }
        const created = new StreamableHTTPServerTransport({ sessionIdGenerator: randomUUID, onsessioninitialized: (id) => void transports.set(id, created) })
        created.onclose = () => {
          if (created.sessionId !== undefined) transports.delete(created.sessionId)
        }
        await protect(createNotesServer(), authz).connect(created)
        transport = created
      }
      await transport.handleRequest(req, res, body)
    },
  })
  const http = createServer((req, res) => void handler(req, res))
  await new Promise<void>((resolve) => http.listen(options.port ?? 0, options.host ?? '127.0.0.1', resolve))
  const { port } = http.address() as AddressInfo
  const path = new URL(authz.resource).pathname
  return {
    url: `http://${options.host ?? '127.0.0.1'}:${port}${path}`,
    async close() {
      for (const t of transports.values()) await t.close().catch(() => {})
      http.closeAllConnections()
      await new Promise<void>((resolve) => http.close(() => resolve()))
    },
  }
}
