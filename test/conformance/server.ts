/**
 * This project's conformance target: a low-level SDK `Server` implementing every active server
 * scenario of `@modelcontextprotocol/conformance` (tools incl. progress / sampling / elicitation /
 * logging, resources incl. subscriptions and templates, prompts, completions, SSE polling), served
 * over Streamable HTTP with Host validation. `protect: true` wraps it with `protect()` and the HTTP
 * guard, with an anonymous principal (the suite sends no credentials).
 *
 * Run by hand: `node test/conformance/server.ts [--protected] [port]`.
 *
 * @module
 */
import { randomUUID } from 'node:crypto'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Server } from '@modelcontextprotocol/sdk/server/index.js'
import { StreamableHTTPServerTransport, type EventStore } from '@modelcontextprotocol/sdk/server/streamableHttp.js'
import {
  CallToolRequestSchema, CompleteRequestSchema, CreateMessageResultSchema, ElicitResultSchema, GetPromptRequestSchema,
  isInitializeRequest, ListPromptsRequestSchema, ListResourcesRequestSchema, ListResourceTemplatesRequestSchema,
  ListToolsRequestSchema, McpError, ReadResourceRequestSchema, SetLevelRequestSchema, SubscribeRequestSchema, UnsubscribeRequestSchema,
  type JSONRPCMessage,
} from '@modelcontextprotocol/sdk/types.js'
import type { Authz } from '../../src/authz.ts'
import { mcpAuthzHandler, protect } from '../../src/mcp/index.ts'
import type { Principal } from '../../src/verify/principal.ts'

const PNG = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=='
function wav(): string {
  const b = Buffer.alloc(46)
  b.write('RIFF', 0); b.writeUInt32LE(38, 4); b.write('WAVE', 8); b.write('fmt ', 12); b.writeUInt32LE(16, 16)
  b.writeUInt16LE(1, 20); b.writeUInt16LE(1, 22); b.writeUInt32LE(8000, 24); b.writeUInt32LE(16000, 28); b.writeUInt16LE(2, 32); b.writeUInt16LE(16, 34)
  b.write('data', 36); b.writeUInt32LE(2, 40)
  return b.toString('base64')
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const text = (t: string) => ({ content: [{ type: 'text', text: t }] })
const empty = { type: 'object' as const, properties: {} }

export const TOOLS = [
  { name: 'test_simple_text', description: 'Returns simple text', inputSchema: empty },
  { name: 'test_image_content', description: 'Returns an image', inputSchema: empty },
  { name: 'test_audio_content', description: 'Returns audio', inputSchema: empty },
  { name: 'test_embedded_resource', description: 'Returns an embedded resource', inputSchema: empty },
  { name: 'test_multiple_content_types', description: 'Returns mixed content', inputSchema: empty },
  { name: 'test_tool_with_logging', description: 'Logs while running', inputSchema: empty },
  { name: 'test_error_handling', description: 'Always fails', inputSchema: empty },
  { name: 'test_tool_with_progress', description: 'Reports progress', inputSchema: empty },
  { name: 'test_sampling', description: 'Asks the client to sample', inputSchema: { type: 'object' as const, properties: { prompt: { type: 'string' } }, required: ['prompt'] } },
  { name: 'test_elicitation', description: 'Asks the user', inputSchema: { type: 'object' as const, properties: { message: { type: 'string' } }, required: ['message'] } },
  { name: 'test_elicitation_sep1034_defaults', description: 'Elicitation with defaults', inputSchema: empty },
  { name: 'test_elicitation_sep1330_enums', description: 'Elicitation with enums', inputSchema: empty },
  { name: 'test_reconnection', description: 'Closes the SSE stream mid-call', inputSchema: empty },
  {
    name: 'json_schema_2020_12_tool',
    description: 'Tool with JSON Schema 2020-12 features',
    inputSchema: {
      $schema: 'https://json-schema.org/draft/2020-12/schema',
      type: 'object' as const,
      $defs: { address: { type: 'object', properties: { street: { type: 'string' }, city: { type: 'string' } } } },
      properties: { name: { type: 'string' }, address: { $ref: '#/$defs/address' } },
      additionalProperties: false,
    },
  },
]

export const RESOURCES = [
  { uri: 'test://static-text', name: 'static-text', description: 'Static text', mimeType: 'text/plain' },
  { uri: 'test://static-binary', name: 'static-binary', description: 'Static PNG', mimeType: 'image/png' },
  { uri: 'test://watched-resource', name: 'watched-resource', description: 'Subscribable resource', mimeType: 'text/plain' },
]

export const PROMPTS = [
  { name: 'test_simple_prompt', description: 'A simple prompt' },
  { name: 'test_prompt_with_arguments', description: 'A prompt with arguments', arguments: [{ name: 'arg1', description: 'First test argument', required: true }, { name: 'arg2', description: 'Second test argument', required: true }] },
  { name: 'test_prompt_with_embedded_resource', description: 'A prompt embedding a resource', arguments: [{ name: 'resourceUri', description: 'URI of the resource to embed', required: true }] },
  { name: 'test_prompt_with_image', description: 'A prompt with an image' },
]

type Extra = Parameters<Parameters<Server['setRequestHandler']>[1]>[1]

async function callTool(name: string, args: Record<string, unknown>, extra: Extra): Promise<Record<string, unknown>> {
  switch (name) {
    case 'test_simple_text': return text('This is a simple text response for testing.')
    case 'test_image_content': return { content: [{ type: 'image', data: PNG, mimeType: 'image/png' }] }
    case 'test_audio_content': return { content: [{ type: 'audio', data: wav(), mimeType: 'audio/wav' }] }
    case 'test_embedded_resource': return { content: [{ type: 'resource', resource: { uri: 'test://embedded-resource', mimeType: 'text/plain', text: 'This is an embedded resource content.' } }] }
    case 'test_multiple_content_types': return { content: [
      { type: 'text', text: 'Multiple content types test:' },
      { type: 'image', data: PNG, mimeType: 'image/png' },
      { type: 'resource', resource: { uri: 'test://mixed-content-resource', mimeType: 'application/json', text: JSON.stringify({ test: 'data', value: 123 }) } },
    ] }
    case 'test_tool_with_logging': {
      for (const [i, message] of ['Tool execution started', 'Tool processing data', 'Tool execution completed'].entries()) {
        if (i > 0) await sleep(50)
        await extra.sendNotification({ method: 'notifications/message', params: { level: 'info', data: message } })
      }
      return text('Logging tool completed')
    }
    case 'test_error_handling': return { ...text('This tool intentionally returns an error for testing'), isError: true }
    case 'test_tool_with_progress': {
      const token = extra._meta?.progressToken
      for (const progress of [0, 50, 100]) {
        if (progress > 0) await sleep(50)
        if (token !== undefined) await extra.sendNotification({ method: 'notifications/progress', params: { progressToken: token, progress, total: 100 } })
      }
      return text('Progress tool completed')
    }
    case 'test_sampling': {
      const r = await extra.sendRequest({ method: 'sampling/createMessage', params: { messages: [{ role: 'user', content: { type: 'text', text: String(args.prompt ?? '') } }], maxTokens: 100 } }, CreateMessageResultSchema)
      const content = r.content as { type?: string; text?: string }
      return text(`LLM response: ${content.type === 'text' ? content.text : JSON.stringify(content)}`)
    }
    case 'test_elicitation': {
      const r = await extra.sendRequest({ method: 'elicitation/create', params: { message: String(args.message ?? ''), requestedSchema: { type: 'object', properties: { username: { type: 'string', description: "User's response" }, email: { type: 'string', description: "User's email address" } }, required: ['username', 'email'] } } }, ElicitResultSchema)
      return text(`User response: action=${r.action}, content=${JSON.stringify(r.content ?? {})}`)
    }
    case 'test_elicitation_sep1034_defaults': {
      const r = await extra.sendRequest({ method: 'elicitation/create', params: { message: 'Please review and update the form fields with defaults', requestedSchema: { type: 'object', properties: {
        name: { type: 'string', description: 'User name', default: 'John Doe' },
        age: { type: 'integer', description: 'User age', default: 30 },
        score: { type: 'number', description: 'User score', default: 95.5 },
        status: { type: 'string', description: 'User status', enum: ['active', 'inactive', 'pending'], default: 'active' },
        verified: { type: 'boolean', description: 'Verification status', default: true },
      } } } }, ElicitResultSchema)
      return text(`Elicitation completed: action=${r.action}, content=${JSON.stringify(r.content ?? {})}`)
    }
    case 'test_elicitation_sep1330_enums': {
      const r = await extra.sendRequest({ method: 'elicitation/create', params: { message: 'Please select options from the enum fields', requestedSchema: { type: 'object', properties: {
        untitledSingle: { type: 'string', description: 'Untitled single-select', enum: ['option1', 'option2', 'option3'] },
        titledSingle: { type: 'string', description: 'Titled single-select', oneOf: [{ const: 'value1', title: 'First Option' }, { const: 'value2', title: 'Second Option' }, { const: 'value3', title: 'Third Option' }] },
        legacyEnum: { type: 'string', description: 'Legacy titled enum', enum: ['opt1', 'opt2', 'opt3'], enumNames: ['Option One', 'Option Two', 'Option Three'] },
        untitledMulti: { type: 'array', description: 'Untitled multi-select', items: { type: 'string', enum: ['option1', 'option2', 'option3'] } },
        titledMulti: { type: 'array', description: 'Titled multi-select', items: { anyOf: [{ const: 'value1', title: 'First Choice' }, { const: 'value2', title: 'Second Choice' }, { const: 'value3', title: 'Third Choice' }] } },
      } } } } as never, ElicitResultSchema)
      return text(`Elicitation completed: action=${r.action}, content=${JSON.stringify(r.content ?? {})}`)
    }
    case 'test_reconnection': {
      await sleep(50)
      extra.closeSSEStream?.()
      await sleep(200)
      return text('Reconnection test completed')
    }
    case 'json_schema_2020_12_tool': return text(`Received: ${JSON.stringify(args)}`)
    default: throw new McpError(-32602, `Unknown tool: ${name}`)
  }
}

function readResource(uri: string): Record<string, unknown> {
  if (uri === 'test://static-text') return { contents: [{ uri, mimeType: 'text/plain', text: 'This is the content of the static text resource.' }] }
  if (uri === 'test://static-binary') return { contents: [{ uri, mimeType: 'image/png', blob: PNG }] }
  if (uri === 'test://watched-resource') return { contents: [{ uri, mimeType: 'text/plain', text: 'Watched resource content' }] }
  const m = /^test:\/\/template\/([^/]+)\/data$/.exec(uri)
  if (m) return { contents: [{ uri, mimeType: 'application/json', text: JSON.stringify({ id: m[1], templateTest: true, data: `Data for ID: ${m[1]}` }) }] }
  throw new McpError(-32002, `Resource not found: ${uri}`)
}

function getPrompt(name: string, args: Record<string, string>): Record<string, unknown> {
  switch (name) {
    case 'test_simple_prompt': return { messages: [{ role: 'user', content: { type: 'text', text: 'This is a simple prompt for testing.' } }] }
    case 'test_prompt_with_arguments': return { messages: [{ role: 'user', content: { type: 'text', text: `Prompt with arguments: arg1='${args.arg1}', arg2='${args.arg2}'` } }] }
    case 'test_prompt_with_embedded_resource': return { messages: [
      { role: 'user', content: { type: 'resource', resource: { uri: args.resourceUri, mimeType: 'text/plain', text: 'Embedded resource content for testing.' } } },
      { role: 'user', content: { type: 'text', text: 'Please process the embedded resource above.' } },
    ] }
    case 'test_prompt_with_image': return { messages: [
      { role: 'user', content: { type: 'image', data: PNG, mimeType: 'image/png' } },
      { role: 'user', content: { type: 'text', text: 'Please analyze the image above.' } },
    ] }
    default: throw new McpError(-32602, `Unknown prompt: ${name}`)
  }
}

/** The MCP server, one per session. */
export function createConformanceServer(): Server {
  const server = new Server({ name: 'mcp-authz-conformance', version: '1.0.0' }, {
    capabilities: { tools: { listChanged: true }, resources: { subscribe: true, listChanged: true }, prompts: { listChanged: true }, logging: {}, completions: {} },
  })
  const subscriptions = new Set<string>()
  server.setRequestHandler(ListToolsRequestSchema, async () => ({ tools: TOOLS }))
  server.setRequestHandler(CallToolRequestSchema, async (req, extra) => callTool(req.params.name, req.params.arguments ?? {}, extra) as never)
  server.setRequestHandler(ListResourcesRequestSchema, async () => ({ resources: RESOURCES }))
  server.setRequestHandler(ListResourceTemplatesRequestSchema, async () => ({ resourceTemplates: [{ uriTemplate: 'test://template/{id}/data', name: 'template', description: 'Templated data', mimeType: 'application/json' }] }))
  server.setRequestHandler(ReadResourceRequestSchema, async (req) => readResource(req.params.uri) as never)
  server.setRequestHandler(SubscribeRequestSchema, async (req) => (subscriptions.add(req.params.uri), {}))
  server.setRequestHandler(UnsubscribeRequestSchema, async (req) => (subscriptions.delete(req.params.uri), {}))
  server.setRequestHandler(ListPromptsRequestSchema, async () => ({ prompts: PROMPTS }))
  server.setRequestHandler(GetPromptRequestSchema, async (req) => getPrompt(req.params.name, req.params.arguments ?? {}) as never)
  server.setRequestHandler(CompleteRequestSchema, async () => ({ completion: { values: [], total: 0, hasMore: false } }))
  server.setRequestHandler(SetLevelRequestSchema, async () => ({}))
  return server
}

/** Resumability for SSE polling (SEP-1699): events kept in memory per stream. */
class MemoryEventStore implements EventStore {
  readonly #events = new Map<string, { streamId: string; message: JSONRPCMessage }>()
  async storeEvent(streamId: string, message: JSONRPCMessage): Promise<string> {
    const id = `${streamId}_${randomUUID()}`
    this.#events.set(id, { streamId, message })
    return id
  }
  async getStreamIdForEventId(eventId: string): Promise<string | undefined> {
    return this.#events.get(eventId)?.streamId
  }
  async replayEventsAfter(lastEventId: string, { send }: { send: (eventId: string, message: JSONRPCMessage) => Promise<void> }): Promise<string> {
    const streamId = this.#events.get(lastEventId)?.streamId ?? ''
    let after = false
    for (const [id, e] of this.#events) {
      if (id === lastEventId) { after = true; continue }
      if (after && e.streamId === streamId) await send(id, e.message)
    }
    return streamId
  }
}

const LOCAL_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]'])
function localHost(value: string | undefined): boolean {
  if (value === undefined) return false
  try {
    return LOCAL_HOSTS.has(new URL(value.includes('://') ? value : `http://${value}`).hostname)
  } catch {
    return false
  }
}

/** Options of {@link startConformanceServer}. */
export interface ConformanceServerOptions {
  port?: number
  /** Guard with mcp-authz: `protect()` + the HTTP guard, letting an anonymous principal through. */
  authz?: Authz
  anonymous?: Principal
}

export async function startConformanceServer(options: ConformanceServerOptions = {}): Promise<{ url: string; close(): Promise<void> }> {
  const transports = new Map<string, StreamableHTTPServerTransport>()
  const eventStore = new MemoryEventStore()
  const handle = async (req: IncomingMessage, res: ServerResponse, body: unknown) => {
    const sessionId = req.headers['mcp-session-id']
    let transport = typeof sessionId === 'string' ? transports.get(sessionId) : undefined
    if (transport === undefined) {
      if (req.method !== 'POST' || !isInitializeRequest(body)) {
        res.writeHead(typeof sessionId === 'string' ? 404 : 400, { 'content-type': 'application/json' }).end(JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: -32000, message: 'Bad Request: no valid session' } }))
        return
      }
      const created = new StreamableHTTPServerTransport({ sessionIdGenerator: randomUUID, eventStore, retryInterval: 100, onsessioninitialized: (id) => void transports.set(id, created) })
      created.onclose = () => {
        if (created.sessionId !== undefined) transports.delete(created.sessionId)
      }
      const server = createConformanceServer()
      if (options.authz) protect(server, options.authz)
      await server.connect(created)
      transport = created
    }
    await transport.handleRequest(req, res, body)
  }
  const guarded = options.authz ? mcpAuthzHandler({ authz: options.authz, handle, ...(options.anonymous ? { dangerouslyAllowAnonymous: options.anonymous } : {}) }) : undefined
  const http = createServer(async (req, res) => {
    // DNS rebinding protection for a localhost server: Host (and Origin, when sent) must be local.
    if (!localHost(req.headers.host) || (req.headers.origin !== undefined && !localHost(req.headers.origin))) {
      res.writeHead(403, { 'content-type': 'application/json' }).end(JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: -32000, message: 'Forbidden: invalid Host or Origin' } }))
      return
    }
    if (guarded) return void guarded(req, res)
    if (new URL(req.url ?? '/', 'http://localhost').pathname !== '/mcp') return void res.writeHead(404).end()
    let body: unknown
    if (req.method === 'POST') {
      const chunks: Buffer[] = []
      for await (const c of req) chunks.push(c as Buffer)
      try { body = JSON.parse(Buffer.concat(chunks).toString('utf8')) } catch { body = undefined }
    }
    await handle(req, res, body).catch(() => { if (!res.headersSent) res.writeHead(500).end() })
  })
  await new Promise<void>((resolve) => http.listen(options.port ?? 0, '127.0.0.1', resolve))
  const { port } = http.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}/mcp`,
    async close() {
      for (const t of transports.values()) await t.close().catch(() => {})
      http.closeAllConnections()
      await new Promise<void>((resolve) => http.close(() => resolve()))
    },
  }
}

if (import.meta.main) {
  const port = Number(process.argv.find((a) => /^\d+$/.test(a)) ?? 3000)
  const s = await startConformanceServer({ port })
  console.log(`conformance server (unprotected): ${s.url}`)
}
