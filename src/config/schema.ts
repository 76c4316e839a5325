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

/** Where the policy bundle comes from, and whether it must be signed. */
export const bundleSchema = z
  .strictObject({
    path: z.string().min(1).optional().describe('Local bundle file (mcp-authz build output). Watched and reloaded on change.'),
    url: z.url({ protocol: /^https?$/ }).optional().describe('Remote bundle URL, polled with ETag / If-None-Match (OPA bundle protocol).'),
    watch: z.boolean().default(true).describe('Reload the local bundle when the file changes. Default true.'),
    pollIntervalSeconds: z.number().positive().max(86400).default(30).describe('Polling interval of a remote bundle, seconds. Default 30.'),
    timeoutMs: z.number().int().positive().max(600000).default(10000).describe('Timeout of one bundle download, ms. Default 10000.'),
    maxBytes: z.number().int().positive().default(16 * 1024 * 1024).describe('Largest bundle accepted, bytes. Default 16 MiB.'),
    signing: z
      .strictObject({
        publicKey: z.string().min(1).optional().describe('PEM public key (or a path to a PEM file) that verifies .signatures.json.'),
        algorithm: z.enum(['RS256', 'RS384', 'RS512', 'PS256', 'ES256', 'ES384', 'ES512', 'EdDSA']).default('RS256').describe('JWS algorithm of the signature. Default RS256.'),
        required: z.boolean().default(true).describe('Refuse unsigned bundles. Default true when signing is configured.'),
      })
      .optional()
      .describe('Signed bundles (.signatures.json as written by opa build --signing-key).'),
  })
  .check((ctx) => {
    const v = ctx.value
    if ((v.path === undefined) === (v.url === undefined)) ctx.issues.push({ code: 'custom', input: v, message: 'give exactly one of bundle.path and bundle.url', path: [] })
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
})
  .check((ctx) => {
    const { server, devIssuer } = ctx.value
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
