/**
 * Classifies one JSON-RPC 2.0 message into an {@link Action}, or refuses it with the JSON-RPC
 * error it deserves. Every method of MCP 2025-11-25 is mapped; anything else is kind `other` and
 * still goes to the policy (default deny), never skipped.
 *
 * @module
 */
import { z } from 'zod'
import type { Action, ActionKind } from './action.ts'
import { JsonRpcErrorCode, type JsonRpcError } from './errors.ts'
import { jsonDepthExceeds, resolveLimits, valueExceeds, type MessageLimits } from './limits.ts'
import { canonicalResourceIdentifier, canonicalResourceTemplate } from './resource-uri.ts'

/** A JSON-RPC id as MCP allows it (string or integer; never null for requests). */
export type JsonRpcId = string | number

/** A message that passed validation. */
export interface Classified {
  ok: true
  action: Action
  /**
   * The parsed message, to hand on to the MCP transport without parsing twice. Resource
   * identifiers in it are the canonical ones the action carries (a copy is made when they differ
   * from what was sent; the caller's object is never modified), so the server resolves exactly what
   * was decided.
   */
  message: Record<string, unknown>
}

/** A message refused before any decision, with the error to answer (HTTP 400 on Streamable HTTP). */
export interface Refused {
  ok: false
  error: JsonRpcError
  /** The request id when it could be read, else null (JSON-RPC § 5). */
  id: JsonRpcId | null
}

const id = z.union([z.string().max(256), z.number().int().safe()])
const params = z.record(z.string(), z.unknown())
const request = z.object({ jsonrpc: z.literal('2.0'), id, method: z.string().min(1).max(256), params: params.optional() })
const notification = z.object({ jsonrpc: z.literal('2.0'), method: z.string().min(1).max(256), params: params.optional() })
const response = z.union([
  z.object({ jsonrpc: z.literal('2.0'), id, result: z.unknown() }),
  z.object({ jsonrpc: z.literal('2.0'), id: id.nullable(), error: z.object({ code: z.number().int(), message: z.string() }).loose() }),
])

const LIST_METHODS = new Set(['tools/list', 'resources/list', 'resources/templates/list', 'prompts/list'])
const SESSION_METHODS = new Set(['initialize', 'ping', 'logging/setLevel'])
const RESOURCE_METHODS = new Set(['resources/read', 'resources/subscribe', 'resources/unsubscribe'])

/** A JSON-RPC id exactly as the `id` schema accepts it, else null. */
function readId(v: unknown): JsonRpcId | null {
  if (typeof v === 'string') return v.length <= 256 ? v : null
  return typeof v === 'number' && Number.isSafeInteger(v) ? v : null
}

/**
 * Whether the `request` (or `notification`) schema surely accepts a message, checked by hand on
 * the shape nearly every message has: the same checks zod makes, made without zod (which costs
 * about a microsecond per message). Anything this does not accept is left to zod, so the answers
 * — refusals and their messages included — are zod's (test/action/classify-fast.property.test.ts).
 */
function plainlyValid(value: Record<string, unknown>, isRequest: boolean): boolean {
  if (value.jsonrpc !== '2.0') return false
  if (isRequest && readId(value.id) === null) return false
  const method = value.method
  if (typeof method !== 'string' || method.length === 0 || method.length > 256) return false
  const params = value.params
  // A plain object with no symbol keys and no `constructor` of its own is what z.record accepts.
  return params === undefined || (typeof params === 'object' && params !== null && Object.getPrototypeOf(params) === Object.prototype && !Object.hasOwn(params, 'constructor') && Object.getOwnPropertySymbols(params).length === 0)
}

function refuse(code: number, message: string, requestId: JsonRpcId | null = null): Refused {
  return { ok: false, error: { code, message }, id: requestId }
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

/** Reads `params.name` (tools/call, prompts/get) with the arguments and `_meta` that go with it. */
function named(
  kind: 'tool' | 'prompt',
  method: string,
  p: Record<string, unknown>,
  maxArguments: number,
): Omit<Action, 'id'> | string {
  if (typeof p.name !== 'string' || p.name.length === 0) return `${method} requires params.name`
  const action: Omit<Action, 'id'> = { method, kind, name: p.name }
  if (p.arguments !== undefined) {
    if (!isPlainObject(p.arguments)) return `${method} params.arguments must be an object`
    if (Object.keys(p.arguments).length > maxArguments) return `${method} has more than ${maxArguments} arguments`
    action.arguments = p.arguments
  }
  return action
}

/** A mapped method: the action, and the params to hand on when canonicalisation changed them. */
interface Mapped {
  action: Omit<Action, 'id'>
  params?: Record<string, unknown>
}

function mapMethod(method: string, p: Record<string, unknown>, isRequest: boolean, l: Readonly<Required<MessageLimits>>): Mapped | string {
  if (!isRequest) return { action: { method, kind: 'notification' } }
  if (method === 'tools/call' || method === 'prompts/get') {
    const action = named(method === 'tools/call' ? 'tool' : 'prompt', method, p, l.maxArguments)
    return typeof action === 'string' ? action : { action }
  }
  if (RESOURCE_METHODS.has(method)) {
    if (typeof p.uri !== 'string' || p.uri.length === 0) return `${method} requires params.uri`
    const canonical = canonicalResourceIdentifier(p.uri, { maxLength: l.maxStringLength })
    if (!canonical.ok) return `${method} params.uri ${canonical.message}`
    const mapped: Mapped = { action: { method, kind: 'resource', uri: canonical.uri } }
    if (canonical.uri !== p.uri) mapped.params = { ...p, uri: canonical.uri }
    return mapped
  }
  if (method === 'completion/complete') {
    // A completion reveals values of a prompt's or resource's arguments: decide it as that item.
    const ref = p.ref
    if (isPlainObject(ref) && ref.type === 'ref/prompt' && typeof ref.name === 'string' && ref.name.length > 0) return { action: { method, kind: 'prompt', name: ref.name } }
    if (isPlainObject(ref) && ref.type === 'ref/resource' && typeof ref.uri === 'string') {
      const canonical = canonicalResourceTemplate(ref.uri, { maxLength: l.maxStringLength })
      if (!canonical.ok) return `${method} params.ref.uri ${canonical.message}`
      const mapped: Mapped = { action: { method, kind: 'resource', uri: canonical.uri } }
      if (canonical.uri !== ref.uri) mapped.params = { ...p, ref: { ...ref, uri: canonical.uri } }
      return mapped
    }
    return `${method} requires params.ref of type ref/prompt or ref/resource`
  }
  let kind: ActionKind = 'other'
  if (LIST_METHODS.has(method)) kind = 'list'
  else if (SESSION_METHODS.has(method)) kind = 'session'
  return { action: { method, kind } }
}

/**
 * Classifies a JSON-RPC message given as text, bytes or an already parsed value.
 *
 * Malformed input is refused with the right JSON-RPC error: -32700 for invalid JSON or JSON beyond
 * the {@link MessageLimits}, -32600 for anything that is not one JSON-RPC 2.0 request, notification
 * or response (batches included: MCP 2025-11-25 has none; a message with both a method and a
 * result or error is neither), -32602 for an MCP method whose params miss what authorization needs
 * or carry a resource URI without an honest canonical form (see `./resource-uri.ts`). Resource URIs
 * are decided, and handed on in `message`, in the canonical form the server resolves them by.
 * Never throws.
 *
 * @example
 * ```ts
 * const c = classifyMessage('{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"notes_write","arguments":{"title":"x"}}}')
 * if (c.ok) c.action // { method: 'tools/call', kind: 'tool', name: 'notes_write', arguments: { title: 'x' }, id: 1 }
 * ```
 */
export function classifyMessage(body: string | Uint8Array | unknown, limits?: MessageLimits): Classified | Refused {
  const l = resolveLimits(limits)
  let value: unknown = body
  try {
    if (typeof body === 'string' || body instanceof Uint8Array) {
      const byteLength = typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength
      if (byteLength > l.maxBytes) return refuse(JsonRpcErrorCode.ParseError, `Parse error: message exceeds ${l.maxBytes} bytes`)
      const text = typeof body === 'string' ? body : new TextDecoder('utf-8', { fatal: true }).decode(body)
      if (jsonDepthExceeds(text, l.maxDepth)) return refuse(JsonRpcErrorCode.ParseError, `Parse error: nesting deeper than ${l.maxDepth}`)
      value = JSON.parse(text)
    }
  } catch {
    return refuse(JsonRpcErrorCode.ParseError, 'Parse error: invalid JSON')
  }
  const exceeded = valueExceeds(value, l.maxDepth, l.maxStringLength)
  if (exceeded === 'depth') return refuse(JsonRpcErrorCode.ParseError, `Parse error: nesting deeper than ${l.maxDepth}`)
  if (exceeded === 'string') return refuse(JsonRpcErrorCode.ParseError, `Parse error: a string is longer than ${l.maxStringLength}`)
  if (Array.isArray(value)) return refuse(JsonRpcErrorCode.InvalidRequest, 'Invalid Request: batches are not supported')
  if (!isPlainObject(value)) return refuse(JsonRpcErrorCode.InvalidRequest, 'Invalid Request: not a JSON-RPC 2.0 message')

  const requestId = readId(value.id)

  // JSON-RPC 2.0 § 4-5: a request or notification has a method and no result/error; a response
  // has a result or an error and no method. A message with both is neither (the SDK's strict
  // schemas refuse it too), so it is refused rather than decided as one and handled as the other.
  if ('method' in value && ('result' in value || 'error' in value)) {
    return refuse(JsonRpcErrorCode.InvalidRequest, 'Invalid Request: a message with a method carries no result or error', requestId)
  }
  if (!('method' in value) && ('result' in value || 'error' in value)) {
    const r = response.safeParse(value)
    if (!r.success) return refuse(JsonRpcErrorCode.InvalidRequest, 'Invalid Request: malformed JSON-RPC response', requestId)
    const action: Action = { method: 'response', kind: 'response' }
    if (requestId !== null) action.id = requestId
    return { ok: true, action, message: value }
  }

  const isRequest = 'id' in value
  if (!plainlyValid(value, isRequest) && !(isRequest ? request : notification).safeParse(value).success) {
    return refuse(JsonRpcErrorCode.InvalidRequest, 'Invalid Request: not a JSON-RPC 2.0 request or notification', requestId)
  }
  // The params as sent (zod's parse is a filtered copy): what the policy reads is what the server gets.
  const p = (isPlainObject(value.params) ? value.params : {}) as Record<string, unknown>
  const mapped = mapMethod(value.method as string, p, isRequest, l)
  if (typeof mapped === 'string') return refuse(JsonRpcErrorCode.InvalidParams, `Invalid params: ${mapped}`, requestId)
  const action: Action = mapped.action
  if (isPlainObject(p._meta)) action.meta = p._meta
  if (isRequest && requestId !== null) action.id = requestId
  return { ok: true, action, message: mapped.params === undefined ? value : { ...value, params: mapped.params } }
}
