/**
 * `protect(server, authz)`: per-request authorization inside an `@modelcontextprotocol/sdk` server,
 * whatever the transport (stdio included), with list results filtered to what the caller may use
 * and {@link getPrincipal} available to every handler.
 *
 * Hook: the protocol's request-handler table (`Protocol._requestHandlers`, a `Map` the SDK reads
 * with `get(method)` for each incoming request) is replaced by a `Map` subclass whose `get` wraps
 * the handler. Handlers registered before or after `protect` (McpServer registers its tools/list
 * etc. lazily), and the `fallbackRequestHandler`, are all guarded; `setRequestHandler` stays the
 * SDK's own.
 *
 * Handlers receive the request as it was decided: a resource URI sent in another spelling reaches
 * them in the canonical form the policy decided on (`new URL(uri).href`, see `action/resource-uri.ts`).
 *
 * @module
 */
import { AsyncLocalStorage } from 'node:async_hooks'
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js'
import type { Server } from '@modelcontextprotocol/sdk/server/index.js'
import { McpError } from '@modelcontextprotocol/sdk/types.js'
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js'
import type { Authz, ListItem } from '../authz.ts'
import { classifyMessage } from '../action/classify.ts'
import { JsonRpcErrorCode } from '../action/errors.ts'
import type { Principal } from '../contracts/principal.ts'

/** Options of {@link protect}. */
export interface ProtectOptions {
  /**
   * Principal of requests that carry none (stdio, or HTTP without the mcp-authz HTTP layer): the
   * local user or an API key configured by the operator. Default: none — such requests are denied.
   */
  principal?: Principal | (() => Principal | undefined)
  /** Transport recorded for requests without `authInfo`. Default `'stdio'`. */
  transport?: string
  /** Annotations of a tool by name. Default: the registered tools' annotations (McpServer), else those seen in `tools/list` results. */
  toolAnnotations?: (name: string) => Record<string, unknown> | undefined
}

type Handler = (request: { method: string; id?: string | number; params?: Record<string, unknown> }, extra: { authInfo?: AuthInfo; requestId?: unknown }) => Promise<unknown>

const principalStore = new AsyncLocalStorage<Principal>()

/**
 * The principal of the request being handled, inside any tool / resource / prompt handler of a
 * protected server; `undefined` outside one.
 *
 * @example
 * ```ts
 * server.registerTool('whoami', {}, async () => ({ content: [{ type: 'text', text: getPrincipal()?.subject ?? 'nobody' }] }))
 * ```
 */
export function getPrincipal(): Principal | undefined {
  return principalStore.getStore()
}

// protect() tells the HTTP layer of the same engine where tool annotations come from.
const annotationSources = new WeakMap<Authz, (name: string) => Record<string, unknown> | undefined>()

/** @internal The tool annotation lookup registered by {@link protect} for an engine. */
export function registeredToolAnnotations(authz: Authz): ((name: string) => Record<string, unknown> | undefined) | undefined {
  return annotationSources.get(authz)
}

function isMcpServer(server: McpServer | Server): server is McpServer {
  return typeof (server as McpServer).registerTool === 'function' && (server as McpServer).server !== undefined
}

/** The annotations an `McpServer` registered for its tools. */
export function toolAnnotationsOf(server: McpServer): (name: string) => Record<string, unknown> | undefined {
  return (name) => {
    const tools = (server as unknown as { _registeredTools?: Record<string, { annotations?: Record<string, unknown> }> })._registeredTools
    return tools?.[name]?.annotations
  }
}

const LISTS: Record<string, { field: string; kind: 'tool' | 'resource' | 'prompt' }> = {
  'tools/list': { field: 'tools', kind: 'tool' },
  'resources/list': { field: 'resources', kind: 'resource' },
  'resources/templates/list': { field: 'resourceTemplates', kind: 'resource' },
  'prompts/list': { field: 'prompts', kind: 'prompt' },
}

/**
 * Guards every incoming request of an `McpServer` or low-level `Server`. Denials become JSON-RPC
 * errors (never `isError` results) with the decision id in `error.data`.
 *
 * @example
 * ```ts
 * const server = new McpServer({ name: 'notes', version: '1.0.0' })
 * protect(server, authz, { principal: localUser }) // stdio: the principal comes from configuration
 * ```
 */
export function protect<S extends McpServer | Server>(server: S, authz: Authz, options: ProtectOptions = {}): S {
  const low = (isMcpServer(server) ? server.server : server) as unknown as { _requestHandlers: Map<string, Handler>; fallbackRequestHandler?: Handler }
  if (!(low._requestHandlers instanceof Map)) throw new TypeError('server is not an @modelcontextprotocol/sdk Server or McpServer')
  if (low._requestHandlers instanceof GuardedHandlers) throw new TypeError('server is already protected')
  const seen = new Map<string, Record<string, unknown>>()
  const registered = isMcpServer(server) ? toolAnnotationsOf(server) : undefined
  const annotationsOf = (name: string) => options.toolAnnotations?.(name) ?? registered?.(name) ?? seen.get(name)
  annotationSources.set(authz, annotationsOf)

  const staticPrincipal = () => (typeof options.principal === 'function' ? options.principal() : options.principal)

  const guard = (method: string, handler: Handler): Handler =>
    async (request, extra) => {
      const fromHttp = extra.authInfo?.extra?.principal as Principal | undefined
      const principal = fromHttp ?? staticPrincipal()
      if (principal === undefined) throw new McpError(JsonRpcErrorCode.Forbidden, 'Forbidden', { reason: 'no principal' })
      // The HTTP layer already decided this very message (same request id); do not decide twice.
      const decidedOverHttp = fromHttp !== undefined && extra.authInfo?.extra?.decisionId !== undefined && extra.authInfo.extra.requestId === request.id
      // The handler gets the request as decided: resource identifiers in their canonical form.
      let decided = request
      let decisionId = decidedOverHttp ? String(extra.authInfo?.extra?.decisionId) : undefined
      if (!decidedOverHttp) {
        const name = method === 'tools/call' && typeof request.params?.name === 'string' ? request.params.name : undefined
        const annotations = name === undefined ? undefined : annotationsOf(name)
        const result = authz.decide(principal, { jsonrpc: '2.0', ...request }, { transport: fromHttp ? 'http' : (options.transport ?? 'stdio'), ...(annotations ? { annotations } : {}) })
        if (!result.allow) {
          const error = result.jsonRpcError
          if (error !== undefined) throw new McpError(error.code, error.message, error.data)
          const data: Record<string, unknown> = { decision_id: result.decisionId }
          if (result.status === 403 && result.requiredScopes.length > 0) Object.assign(data, { error: 'insufficient_scope', scope: result.requiredScopes.join(' ') })
          throw new McpError(JsonRpcErrorCode.Forbidden, 'Forbidden', data)
        }
        decided = withParamsOf(request, result.message)
        decisionId = result.decisionId
      } else if (NAMES_RESOURCES.has(method)) {
        // The HTTP guard handed the transport its canonical message; make sure of it all the same.
        const classified = classifyMessage({ jsonrpc: '2.0', ...request })
        if (!classified.ok) throw new McpError(classified.error.code, classified.error.message)
        decided = withParamsOf(request, classified.message)
      }
      const output = await principalStore.run(principal, () => handler(decided, extra))
      const list = LISTS[method]
      if (list === undefined || output === null || typeof output !== 'object') return output
      const items = (output as Record<string, unknown>)[list.field]
      if (!Array.isArray(items)) return output
      if (list.kind === 'tool') for (const t of items as Array<{ name?: unknown; annotations?: Record<string, unknown> }>) if (typeof t.name === 'string' && t.annotations) seen.set(t.name, t.annotations)
      const transport = fromHttp ? 'http' : (options.transport ?? 'stdio')
      return { ...output, [list.field]: authz.visible(principal, list.kind, items as ListItem[], { transport, ...(decisionId !== undefined ? { decisionId } : {}) }) }
    }

  const wrapped = new WeakMap<Handler, Handler>()
  const wrap = (method: string, handler: Handler): Handler => {
    let w = wrapped.get(handler)
    if (w === undefined) wrapped.set(handler, (w = guard(method, handler)))
    return w
  }
  low._requestHandlers = new GuardedHandlers(low._requestHandlers, wrap, () => low.fallbackRequestHandler)
  return server
}

/** Methods whose params carry a resource identifier that classification may canonicalise. */
const NAMES_RESOURCES = new Set(['resources/read', 'resources/subscribe', 'resources/unsubscribe', 'completion/complete'])

/** `request` with the params of the classified message when classification rewrote them. */
function withParamsOf<R extends { params?: Record<string, unknown> }>(request: R, message: Record<string, unknown> | undefined): R {
  const params = message?.params as Record<string, unknown> | undefined
  return params === undefined || params === request.params ? request : { ...request, params }
}

/** The handler table: a plain Map for the SDK, except that `get` answers with guarded handlers. */
class GuardedHandlers extends Map<string, Handler> {
  readonly #wrap: (method: string, h: Handler) => Handler
  readonly #fallback: () => Handler | undefined
  constructor(entries: Map<string, Handler>, wrap: (method: string, h: Handler) => Handler, fallback: () => Handler | undefined) {
    super(entries)
    this.#wrap = wrap
    this.#fallback = fallback
  }
  override get(method: string): Handler | undefined {
    const handler = super.get(method) ?? this.#fallback()
    return handler === undefined ? undefined : this.#wrap(method, handler)
  }
}
