/**
 * fast-check generators for the property tests of the decision hot path: random policy data (every
 * kind of rule the data schema allows), principals with every contract field varied, JSON-RPC
 * messages of every MCP method kind, and whole policy inputs with the per-call noise (ids, time,
 * context, `_meta`, unread claims) that the engine may leave out or answer from a table.
 */
import fc from 'fast-check'
import type { Principal } from '../../src/contracts/principal.ts'
import type { PolicyInput } from '../../src/policy/decision.ts'

export const RESOURCE = 'https://mcp.example.com/mcp'
export const ISSUERS = ['https://as.example.com', 'https://other.example.com', 'https://evil.example.com'] as const
export const TOOLS = ['notes_read', 'notes_write', 'notes_delete', 'partner_sync', 'disabled', 'unlisted'] as const
export const PROMPTS = ['summarize', 'draft', 'unlisted_prompt'] as const
export const URIS = ['notes://a', 'notes://private/x', 'notes://privatex', 'file:///srv/a', 'other://y'] as const
export const SCOPES = ['notes:read', 'notes:write', 'notes:private', 'tasks:read'] as const

const scope = fc.constantFrom(...SCOPES)
const someOf = <T>(values: readonly T[]) => fc.uniqueArray(fc.constantFrom(...values), { maxLength: values.length })

/** A `rule` of the data schema (allow, scopes, clients, roles, tenants), each part optional. */
const rule = fc.record(
  {
    allow: fc.boolean(),
    scopes: fc.uniqueArray(scope, { maxLength: 2 }),
    clients: someOf(['notes-app', 'partner-app']),
    roles: someOf(['admin', 'editor']),
    tenants: someOf(['acme', 'globex']),
  },
  { requiredKeys: [], noNullPrototype: true },
)

const argumentCondition = fc.record(
  {
    required: fc.boolean(),
    forbidden: fc.boolean(),
    enum: fc.uniqueArray(fc.constantFrom('work', 'personal', 1, true), { minLength: 1, maxLength: 3 }),
    pattern: fc.constantFrom('^/notes/', '^a'),
    min: fc.integer({ min: -2, max: 5 }),
    max: fc.integer({ min: 0, max: 50 }),
    max_length: fc.integer({ min: 0, max: 6 }),
  },
  { requiredKeys: [], noNullPrototype: true },
)

const itemRule = fc.tuple(rule, fc.option(fc.dictionary(fc.constantFrom('title', 'path', 'limit', 'sudo'), argumentCondition, { maxKeys: 3, noNullPrototype: true }), { nil: undefined })).map(([r, args]) => (args === undefined ? r : { ...r, arguments: args }))

/** Random but schema-valid `data` for the shipped library. */
export const policyData = fc
  .record({
    tenantPin: fc.option(fc.constantFrom('acme', 'globex'), { nil: undefined }),
    defaults: fc.record(
      {
        read_scope: fc.constantFrom('notes:read', 'mcp:read'),
        write_scope: fc.constantFrom('notes:write', 'mcp:write'),
        unlisted_tools: fc.constantFrom('deny', 'by_annotation'),
        unlisted_resources: fc.constantFrom('deny', 'allow'),
        unlisted_prompts: fc.constantFrom('deny', 'allow'),
        roles_claim: fc.constantFrom('roles', 'groups'),
      },
      { requiredKeys: [], noNullPrototype: true },
    ),
    tools: fc.dictionary(fc.constantFrom(...TOOLS.filter((t) => t !== 'unlisted')), itemRule, { maxKeys: 5, noNullPrototype: true }),
    prompts: fc.dictionary(fc.constantFrom('summarize', 'draft'), itemRule, { maxKeys: 2, noNullPrototype: true }),
    resources: fc.array(fc.tuple(fc.constantFrom('notes://', 'notes://private', 'notes://private/', 'file:///srv/'), rule).map(([prefix, r]) => ({ prefix, ...r })), { maxLength: 3 }),
    methods: fc.dictionary(fc.constantFrom('tasks/get', 'tools/call', 'resources/subscribe', 'prompts/get', 'completion/complete'), rule, { maxKeys: 2, noNullPrototype: true }),
  })
  .map(({ tenantPin, ...rest }) => ({
    mcp_authz: {
      resource: RESOURCE,
      server_name: 'Property notes',
      issuers: { [ISSUERS[0]]: tenantPin === undefined ? {} : { tenant: tenantPin }, [ISSUERS[1]]: {} },
      ...rest,
    },
  }))

const argValue = fc.oneof(fc.constantFrom('work', 'personal', '/notes/a', '/etc/passwd', 'abc', 'x'.repeat(7)), fc.integer({ min: -3, max: 60 }), fc.boolean(), fc.constant(null), fc.array(fc.string({ maxLength: 3 }), { maxLength: 3 }))

/** Tool or prompt arguments. */
export const toolArguments = fc.dictionary(fc.constantFrom('title', 'path', 'limit', 'sudo', 'query'), argValue, { maxKeys: 4, noNullPrototype: true })

/** `_meta` of a request, sometimes absent. */
const meta = fc.option(fc.dictionary(fc.constantFrom('progressToken', 'dryRun', 'trace'), fc.oneof(fc.string({ maxLength: 4 }), fc.boolean(), fc.integer()), { noNullPrototype: true }), { nil: undefined })

const id = fc.oneof(fc.integer({ min: 0, max: 1000 }), fc.string({ minLength: 1, maxLength: 6 }))

/** A JSON-RPC message of every MCP kind the classifier knows (requests, notifications, completions, unknown methods). */
export const message = fc.oneof(
  fc.record({ id, name: fc.constantFrom(...TOOLS), arguments: fc.option(toolArguments, { nil: undefined }), _meta: meta }).map(({ id, ...p }) => ({ jsonrpc: '2.0', id, method: 'tools/call', params: strip(p) })),
  fc.record({ id, name: fc.constantFrom(...PROMPTS), arguments: fc.option(toolArguments, { nil: undefined }), _meta: meta }).map(({ id, ...p }) => ({ jsonrpc: '2.0', id, method: 'prompts/get', params: strip(p) })),
  fc.record({ id, uri: fc.constantFrom(...URIS), method: fc.constantFrom('resources/read', 'resources/subscribe'), _meta: meta }).map(({ id, method, ...p }) => ({ jsonrpc: '2.0', id, method, params: strip(p) })),
  fc.record({ id, name: fc.constantFrom(...PROMPTS) }).map(({ id, name }) => ({ jsonrpc: '2.0', id, method: 'completion/complete', params: { ref: { type: 'ref/prompt', name }, argument: { name: 'a', value: 'b' } } })),
  fc.record({ id, method: fc.constantFrom('tools/list', 'resources/list', 'prompts/list', 'ping', 'initialize', 'tasks/get', 'sampling/unknown') }).map(({ id, method }) => ({ jsonrpc: '2.0', id, method })),
  fc.constantFrom('notifications/initialized', 'notifications/cancelled', 'tools/call').map((method) => ({ jsonrpc: '2.0', method })),
)

function strip<T extends Record<string, unknown>>(o: T): T {
  for (const k of Object.keys(o)) if (o[k] === undefined) delete o[k]
  return o
}

/** A principal with every field of the contract varied, and claims the library never reads. */
export const principal = fc
  .record({
    subject: fc.constantFrom('alice', 'bob'),
    clientId: fc.option(fc.constantFrom('notes-app', 'partner-app'), { nil: undefined }),
    issuer: fc.constantFrom(...ISSUERS),
    tenant: fc.option(fc.constantFrom('acme', 'globex'), { nil: undefined }),
    audience: someOf([RESOURCE, 'https://x.example.com']),
    scopes: fc.subarray([...SCOPES]),
    authMethod: fc.constantFrom('jwt', 'introspection', 'api_key', 'static'),
    expiresAt: fc.option(fc.integer({ min: 1, max: 4_000_000_000 }), { nil: undefined }),
    issuedAt: fc.option(fc.integer({ min: 1, max: 4_000_000_000 }), { nil: undefined }),
    tokenId: fc.string({ minLength: 1, maxLength: 8 }),
    claims: fc.record(
      {
        roles: fc.oneof(someOf(['admin', 'editor', 'viewer']), fc.constantFrom('admin', 'viewer admin', 7)),
        groups: someOf(['admin', 'ops']),
        department: fc.constantFrom('ops', 'sales'),
        email: fc.constant('alice@example.com'),
      },
      { requiredKeys: [], noNullPrototype: true },
    ),
  })
  .map((p) => strip({ ...p }) as unknown as Principal)

/** Tool annotations as a server supplies them, sometimes none. */
export const annotations = fc.option(fc.record({ readOnlyHint: fc.boolean(), title: fc.constant('T') }, { requiredKeys: [], noNullPrototype: true }), { nil: undefined })

/** A whole policy input, as the engine builds it or a Data API caller sends it (every optional field varied). */
export const policyInput: fc.Arbitrary<PolicyInput> = fc
  .record({
    principal,
    method: fc.constantFrom('tools/call', 'prompts/get', 'resources/read', 'resources/subscribe', 'completion/complete', 'tools/list', 'ping', 'tasks/get', 'x/unknown'),
    name: fc.option(fc.constantFrom(...TOOLS, ...PROMPTS), { nil: undefined }),
    uri: fc.option(fc.constantFrom(...URIS), { nil: undefined }),
    arguments: fc.option(toolArguments, { nil: undefined }),
    meta,
    annotations,
    id: fc.option(id, { nil: undefined }),
    transport: fc.constantFrom('http', 'stdio'),
    requestId: fc.option(fc.string({ maxLength: 6 }), { nil: undefined }),
    time: fc.integer({ min: 1, max: 2 ** 52 }),
  })
  .map((r) => {
    const kind = r.method === 'tools/call' ? 'tool' : r.method === 'prompts/get' || r.method === 'completion/complete' ? 'prompt' : r.method.startsWith('resources/') ? 'resource' : r.method === 'tools/list' ? 'list' : r.method === 'ping' ? 'session' : 'other'
    const action = strip({ method: r.method, kind, name: r.name, uri: r.uri, arguments: r.arguments, meta: r.meta, annotations: r.annotations, id: r.id }) as PolicyInput['action']
    return {
      principal: r.principal,
      action,
      server: { resource: RESOURCE, name: 'Property notes' },
      context: strip({ time_ns: r.time, transport: r.transport, request_id: r.requestId }) as PolicyInput['context'],
    }
  })
