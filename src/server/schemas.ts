/**
 * JSON Schemas of the decision endpoint's routes (Fastify validates bodies and serializes
 * responses from them).
 *
 * @module
 */

const reason = { type: 'object', properties: { code: { type: 'string' }, message: { type: 'string' } }, required: ['code', 'message'] } as const
const jsonRpcError = {
  type: 'object',
  properties: { code: { type: 'integer' }, message: { type: 'string' }, data: { type: 'object', additionalProperties: true } },
  required: ['code', 'message'],
} as const
export const errorResponse = { type: 'object', properties: { error: { type: 'string' }, message: { type: 'string' } }, required: ['error', 'message'] } as const

// No length bounds here: any string is a credential to decide on (an empty or over-long one is a
// recorded 401 invalid_token with its challenge, not a 400); the verifier bounds its length first
// and the body limit bounds the request.
const token = { type: 'string', description: 'The bearer token the MCP client presented (without "Bearer ").' } as const

export const decideSchema = {
  body: {
    type: 'object',
    additionalProperties: false,
    required: ['message'],
    properties: {
      token,
      message: { type: ['object', 'string'], description: 'The JSON-RPC request (object or its JSON text).' },
      context: {
        type: 'object',
        additionalProperties: false,
        properties: {
          transport: { type: 'string', maxLength: 64 },
          requestId: { type: 'string', maxLength: 256 },
          annotations: { type: 'object', additionalProperties: true },
        },
      },
    },
  },
  response: {
    200: {
      type: 'object',
      properties: {
        decision_id: { type: 'string' },
        allow: { type: 'boolean' },
        status: { type: 'integer', enum: [200, 400, 401, 403] },
        reasons: { type: 'array', items: reason },
        required_scopes: { type: 'array', items: { type: 'string' } },
        www_authenticate: { type: 'string' },
        jsonrpc_error: jsonRpcError,
        enforcement: { type: 'string', enum: ['enforced', 'shadow'] },
        revision: { type: 'string' },
      },
      required: ['decision_id', 'allow', 'status', 'reasons', 'required_scopes'],
    },
    '4xx': errorResponse,
  },
} as const

const listItem = {
  type: 'object',
  additionalProperties: false,
  properties: {
    name: { type: 'string', maxLength: 1024 },
    uri: { type: 'string', maxLength: 4096 },
    uriTemplate: { type: 'string', maxLength: 4096 },
    annotations: { type: 'object', additionalProperties: true },
  },
} as const

export const visibleSchema = {
  body: {
    type: 'object',
    additionalProperties: false,
    required: ['kind', 'items'],
    properties: { token, kind: { type: 'string', enum: ['tool', 'resource', 'prompt'] }, items: { type: 'array', maxItems: 10000, items: listItem } },
  },
  response: {
    200: {
      type: 'object',
      properties: {
        decision_id: { type: 'string' },
        status: { type: 'integer', enum: [200, 400, 401, 403] },
        items: { type: 'array', items: { type: 'string' }, description: 'Keys (names, or URIs for resources) of the visible items.' },
        www_authenticate: { type: 'string' },
      },
      required: ['decision_id', 'status', 'items'],
    },
    '4xx': errorResponse,
  },
} as const

export const dataApiSchema = {
  body: {
    type: 'object',
    required: ['input'],
    properties: { input: { type: 'object', description: 'The policy input {principal, action, server, context}.' } },
  },
  response: {
    200: {
      type: 'object',
      properties: {
        decision_id: { type: 'string' },
        result: { type: 'object', properties: { allow: { type: 'boolean' }, reasons: { type: 'array', items: reason }, required_scopes: { type: 'array', items: { type: 'string' } } }, required: ['allow', 'reasons', 'required_scopes'] },
      },
      required: ['result'],
    },
    '4xx': errorResponse,
  },
} as const

export const healthSchema = {
  response: { 200: { type: 'object', properties: { status: { type: 'string' } }, required: ['status'] } },
} as const

export const readySchema = {
  response: {
    '2xx': { type: 'object', properties: { status: { type: 'string' }, revision: { type: 'string' }, loaded_at: { type: 'string' } }, required: ['status'] },
    503: { type: 'object', properties: { status: { type: 'string' }, message: { type: 'string' } }, required: ['status'] },
  },
} as const
