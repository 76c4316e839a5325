/**
 * The configuration file of `mcp-authz serve` / `check`: one YAML or JSON document, validated with
 * zod. This schema is the one source of truth: `schemas/config.schema.json` is generated from it
 * (`mcp-authz config-schema`), so editors can complete the file.
 *
 * @module
 */
import { z } from 'zod'
import { isLoopbackHost } from '../net/loopback.ts'

const SHA256_HEX = /^(sha256:)?[0-9a-f]{64}$/

/**
 * Where the policy comes from, and whether it must be signed: a bundle file (`path`), a remote
 * bundle (`url`), or policy data alone (`data`), loaded into the prebuilt policy library — no `opa`
 * and no build step, for policies written as data only.
 */
export const bundleSchema = z
  .strictObject({
    path: z.string().min(1).optional().describe('Local bundle file (mcp-authz build output). Watched and reloaded on change. Exactly one of path, url and data.'),
    url: z.url({ protocol: /^https?$/ }).optional().describe('Remote bundle URL, polled with ETag / If-None-Match (OPA bundle protocol). Exactly one of path, url and data.'),
    data: z
      .string()
      .min(1)
      .optional()
      .describe('Local policy data file (JSON, or YAML for .yaml / .yml) loaded into the prebuilt policy library: no opa and no build step (custom Rego needs mcp-authz build and path). Watched and reloaded on change. Exactly one of path, url and data.'),
    watch: z.boolean().default(true).describe('Reload the local bundle or data file when it changes. Default true.'),
    pollIntervalSeconds: z.number().positive().max(86400).default(30).describe('Polling interval of a remote bundle, seconds. Default 30.'),
    timeoutMs: z.number().int().positive().max(600000).default(10000).describe('Timeout of one bundle download, ms. Default 10000.'),
    maxBytes: z.number().int().positive().default(16 * 1024 * 1024).describe('Largest bundle (or data file) accepted, bytes. Default 16 MiB.'),
    signing: z
      .strictObject({
        publicKey: z.string().min(1).optional().describe('PEM public key (or a path to a PEM file) that verifies .signatures.json.'),
        algorithm: z.enum(['RS256', 'RS384', 'RS512', 'PS256', 'ES256', 'ES384', 'ES512', 'EdDSA']).default('RS256').describe('JWS algorithm of the signature. Default RS256.'),
        required: z.boolean().default(true).describe('Refuse unsigned bundles. Default true when signing is configured.'),
      })
      .optional()
      .describe('Signed bundles (.signatures.json as written by opa build --signing-key). Not with data.'),
  })
  .check((ctx) => {
    const v = ctx.value
    if ([v.path, v.url, v.data].filter((s) => s !== undefined).length !== 1) ctx.issues.push({ code: 'custom', input: v, message: 'give exactly one of bundle.path, bundle.url and bundle.data', path: [] })
    if (v.data !== undefined && v.signing !== undefined) ctx.issues.push({ code: 'custom', input: v, message: 'signing verifies bundles (.signatures.json): bundle.data is a plain data file, sign a bundle instead (mcp-authz build --signing-key, then bundle.path)', path: ['signing'] })
    if (v.signing?.required === true && v.signing.publicKey === undefined) ctx.issues.push({ code: 'custom', input: v, message: 'signing.required needs signing.publicKey', path: ['signing', 'publicKey'] })
  })

/** The HTTP endpoint. */
export const serverSchema = z.strictObject({
  host: z.string().min(1).default('127.0.0.1').describe('Interface to listen on. Default 127.0.0.1. Anything beyond loopback requires apiKeyHashes.'),
  port: z.number().int().min(0).max(65535).default(8181).describe('Port. Default 8181.'),
  apiKeyHashes: z
    .array(z.string().regex(SHA256_HEX, 'must be a hex SHA-256 digest (optionally prefixed sha256:)'))
    .default([])
    .describe('SHA-256 (hex) of the API keys callers present as Authorization: Bearer <key> or x-api-key. Required beyond loopback.'),
  bodyLimit: z.number().int().positive().max(64 * 1024 * 1024).default(1024 * 1024).describe('Largest request body, bytes. Default 1 MiB.'),
  requestTimeoutMs: z.number().int().positive().max(600000).default(10000).describe('Time limit for one request, ms. Default 10000.'),
  devIssuer: z.boolean().default(false).describe('Serve the development issuer JWKS at /dev-issuer/jwks (development only).'),
})

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,128}$/
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/

/** What the proxy forwards to: a Streamable HTTP URL, or a stdio command spawned per session. */
export const upstreamSchema = z
  .strictObject({
    url: z.url({ protocol: /^https?$/ }).optional().describe('Streamable HTTP endpoint of the upstream MCP server (e.g. http://127.0.0.1:9000/mcp). Exactly one of url and command.'),
    command: z.string().min(1).optional().describe('Program of a stdio MCP server, spawned once per MCP session (no shell). Exactly one of url and command.'),
    args: z.array(z.string()).default([]).describe('Arguments of command. Default none.'),
    env: z.record(z.string().regex(ENV_NAME), z.string()).default({}).describe('Environment of the spawned process (added to the inherited variables). Default none.'),
    inheritEnv: z
      .array(z.string().regex(ENV_NAME))
      .default(['PATH', 'HOME', 'LANG', 'LC_ALL', 'TZ', 'TMPDIR', 'SYSTEMROOT'])
      .describe("Variables of the proxy's own environment passed to the process; nothing else is (so the proxy's secrets stay out). Default PATH, HOME, LANG, LC_ALL, TZ, TMPDIR, SYSTEMROOT."),
    cwd: z.string().min(1).optional().describe("Working folder of the process (relative to the configuration file). Default: the proxy's."),
    maxProcesses: z.number().int().positive().max(10000).default(16).describe('Most stdio processes (= MCP sessions) alive at once; one more initialize gets 503. Default 16.'),
    idleTimeoutSeconds: z.number().positive().max(86400).default(300).describe('A stdio session with no request for this long is ended and its process stopped, seconds. Default 300.'),
    headers: z.record(z.string().regex(HEADER_NAME), z.string()).default({}).describe('Static headers sent upstream on every request (a static credential, e.g. x-api-key). Never the client\'s. Default none.'),
    headersFromEnv: z
      .record(z.string().regex(HEADER_NAME), z.string().regex(ENV_NAME))
      .default({})
      .describe('Static headers whose values are read from environment variables at start (header → variable), to keep secrets out of the file. Default none.'),
    timeoutMs: z.number().int().positive().max(3600000).default(60000).describe('Longest wait for the upstream to start answering a request (connect + response headers; a JSON answer as a whole), ms. Default 60000.'),
    streamIdleTimeoutMs: z.number().int().positive().max(86400000).default(600000).describe('An upstream SSE stream silent for this long is closed (the client may resume with Last-Event-ID), ms. Default 600000.'),
    maxMessageBytes: z.number().int().positive().max(256 * 1024 * 1024).default(16 * 1024 * 1024).describe('Largest upstream message accepted: a JSON answer, one SSE event, one stdio line, bytes. Default 16 MiB.'),
  })
  .check((ctx) => {
    const v = ctx.value
    if ((v.url === undefined) === (v.command === undefined)) ctx.issues.push({ code: 'custom', input: v, message: 'give exactly one of proxy.upstream.url and proxy.upstream.command', path: [] })
  })

/** The signed assertion of the principal that the proxy sends upstream instead of the client's token. */
export const assertionSchema = z.strictObject({
  header: z.string().regex(HEADER_NAME).default('mcp-authz-assertion').describe('Request header carrying the assertion (a compact JWS). Default mcp-authz-assertion.'),
  issuer: z.string().min(1).optional().describe("The assertion's iss. Default: the origin of the resource URI."),
  audience: z.string().min(1).optional().describe("The assertion's aud. Default: the upstream URL (or the command for stdio)."),
  ttlSeconds: z.number().int().min(1).max(60).default(60).describe('Lifetime of one assertion, seconds (at most 60). Default 60.'),
  privateKey: z.string().min(1).optional().describe('ES256 private key (PKCS#8 PEM, or a path to one) that signs assertions, so that every replica signs with the same key. Default: a key generated at start.'),
  jwksPath: z.string().regex(/^\/[A-Za-z0-9._~/-]*$/).default('/.well-known/jwks.json').describe('Path the public keys are served at (JWKS). Default /.well-known/jwks.json.'),
})

/** The authorizing reverse proxy (`mcp-authz proxy`). */
export const proxySchema = z.strictObject({
  host: z.string().min(1).default('127.0.0.1').describe('Interface to listen on. Default 127.0.0.1.'),
  port: z.number().int().min(0).max(65535).default(8080).describe('Port. Default 8080.'),
  path: z.string().regex(/^\/[A-Za-z0-9._~!$&'()*+,;=:@/-]*$/).optional().describe('Path of the MCP endpoint. Default: the path of the resource URI.'),
  allowedHosts: z
    .array(z.string().min(1))
    .optional()
    .describe('Host names accepted in Host / Origin headers (DNS rebinding protection). Default: the resource URI\'s host, plus localhost names when listening on loopback.'),
  maxBodyBytes: z.number().int().positive().max(64 * 1024 * 1024).default(1024 * 1024).describe('Largest request body, bytes. Default 1 MiB.'),
  rootMetadata: z.boolean().default(false).describe('Also serve the RFC 9728 metadata at /.well-known/oauth-protected-resource. Default false.'),
  upstream: upstreamSchema,
  assertion: assertionSchema.optional().describe('Send a short-lived signed assertion of the principal upstream (ES256 JWT; keys at jwksPath). Default: no assertion.'),
})

/** The whole configuration file. */
export const configSchema = z.strictObject({
  $schema: z.string().optional(),
  resource: z.url({ protocol: /^https?$/ }).optional().describe("The protected MCP server's resource URI; must match the bundle's. Default: the bundle's."),
  bundle: bundleSchema,
  verifier: z.looseObject({}).optional().describe('Token verification: passed to createTokenVerifier (issuers, introspection, apiKeys, caches…).'),
  devIssuer: z
    .strictObject({
      dir: z.string().min(1).default('.mcp-authz/dev-issuer').describe('Folder holding the development issuer keys.'),
    })
    .optional()
    .describe('Trust the local development issuer (mcp-authz token). DEVELOPMENT ONLY.'),
  decisionLog: z.looseObject({}).optional().describe('Decision log: passed to createDecisionLogger.'),
  shadow: z
    .union([z.boolean(), z.strictObject({ tools: z.array(z.string()).optional(), methods: z.array(z.string()).optional() })])
    .default(false)
    .describe('Shadow mode: decide and log but let calls through (globally or for some tools/methods).'),
  limits: z.record(z.string(), z.number().int().positive()).optional().describe('Message limits (see MessageLimits).'),
  decisionCache: z
    .strictObject({
      max: z.number().int().positive().optional().describe('Most decisions kept. Default 10000.'),
      maxBytes: z.number().int().positive().optional().describe('Most bytes kept, keys and decisions together. Default 33554432 (32 MiB).'),
      maxEntryBytes: z.number().int().positive().optional().describe('Largest entry cached, bytes; decisions on larger inputs are not cached. Default 16384.'),
    })
    .optional()
    .describe('Decision cache (used only for bundles whose data declares decision_cache: true). Default off.'),
  engine: z
    .strictObject({ initialMemoryPages: z.number().int().min(2).optional(), maximumMemoryPages: z.number().int().max(65536).optional() })
    .optional()
    .describe('WASM memory limits.'),
  server: serverSchema.prefault({}),
  proxy: proxySchema.optional().describe('The authorizing reverse proxy (mcp-authz proxy): listen address, MCP path, upstream, identity sent upstream.'),
})
  .check((ctx) => {
    const { server, devIssuer, proxy } = ctx.value
    if (proxy !== undefined && typeof proxy.host === 'string' && !isLoopbackHost(proxy.host) && (devIssuer !== undefined || server?.devIssuer)) {
      ctx.issues.push({ code: 'custom', input: devIssuer, path: ['devIssuer'], message: 'the development issuer is development only: not allowed when proxy.host is beyond loopback' })
    }
    if (typeof server?.host !== 'string' || isLoopbackHost(server.host)) return
    if (!Array.isArray(server.apiKeyHashes) || server.apiKeyHashes.length === 0) ctx.issues.push({ code: 'custom', input: server, path: ['server', 'apiKeyHashes'], message: `required when server.host (${server.host}) is beyond loopback` })
    if (devIssuer !== undefined || server.devIssuer) ctx.issues.push({ code: 'custom', input: devIssuer, path: ['devIssuer'], message: 'the development issuer is development only: not allowed when server.host is beyond loopback' })
  })

/** A validated configuration, defaults applied. */
export type Config = z.output<typeof configSchema>

/** The JSON Schema of the configuration file, for editors. */
export function configJsonSchema(): Record<string, unknown> {
  return { ...z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any' }), $id: 'https://mcp-authz.dev/schemas/config.schema.json', title: 'mcp-authz configuration' }
}
