/**
 * What the node:http, Express and Fastify adapters share: the options that name what serves an
 * allowed request (`handle`, or `sessions` from `createMcpSessions`), and the guard built to match
 * (bound sessions and tool annotations shared with the sessions helper).
 *
 * @module
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js'
import type { McpErrorHandler } from './errors.ts'
import { createMcpHttpGuard, type McpHttpGuard, type McpHttpOptions } from './http.ts'
import type { McpSessions } from './sessions.ts'

/** What receives an allowed request: typically `(req, res, body) => transport.handleRequest(req, res, body)`. */
export type McpRequestHandler = (req: IncomingMessage & { auth?: AuthInfo }, res: ServerResponse, body: unknown) => unknown

/** Options every adapter takes besides {@link McpHttpOptions}. */
export interface McpAdapterOptions extends McpHttpOptions {
  /**
   * The sessions helper (`createMcpSessions`) that serves allowed requests: a transport per session
   * (or per request when stateless). Give this or `handle`.
   */
  sessions?: McpSessions
  /** Receives every allowed request, with `req.auth` and the parsed body, when you manage transports yourself. Give this or `sessions`. */
  handle?: McpRequestHandler
  /** Receives every failure of the handler (never swallowed). Default: a line on stderr with the decision id. */
  onError?: McpErrorHandler
}

/** The guard and the handler an adapter runs. */
export interface AdapterParts {
  guard: McpHttpGuard
  /** `undefined` for an Express guard used without a handler (the next route handler serves). */
  handle: McpRequestHandler | undefined
  maxBodyBytes: number
  onError: McpErrorHandler | undefined
}

/** Validates the adapter options and builds its guard. `handlerRequired`: whether `handle` or `sessions` must be given. */
export function adapterParts(options: McpAdapterOptions, handlerRequired: boolean): AdapterParts {
  if (options === null || typeof options !== 'object') throw new TypeError('options must be an object')
  const { sessions, handle } = options
  if (handle !== undefined && typeof handle !== 'function') throw new TypeError('options.handle must be a function')
  if (options.onError !== undefined && typeof options.onError !== 'function') throw new TypeError('options.onError must be a function')
  if (sessions !== undefined && handle !== undefined) throw new TypeError('options.handle and options.sessions are exclusive: give one')
  if (handlerRequired && sessions === undefined && handle === undefined) throw new TypeError('options.sessions (createMcpSessions) or options.handle is required')
  if (sessions === undefined) return { guard: createMcpHttpGuard(options), handle, maxBodyBytes: options.maxBodyBytes ?? 1_048_576, onError: options.onError }
  if (typeof sessions.handle !== 'function' || typeof sessions.toolAnnotations !== 'function') throw new TypeError('options.sessions must come from createMcpSessions()')
  if (sessions.authz !== options.authz) throw new TypeError('options.sessions was created with another authz than options.authz')
  if (options.sessionBinding !== undefined && sessions.bindings !== undefined && options.sessionBinding !== sessions.bindings) {
    throw new TypeError('options.sessionBinding cannot differ from the bindings of options.sessions')
  }
  const guard = createMcpHttpGuard({
    ...options,
    ...(sessions.bindings !== undefined ? { sessionBinding: sessions.bindings } : {}),
    toolAnnotations: options.toolAnnotations ?? ((name) => sessions.toolAnnotations(name)),
  })
  return { guard, handle: sessions.handle, maxBodyBytes: options.maxBodyBytes ?? 1_048_576, onError: options.onError ?? sessions.onError }
}
