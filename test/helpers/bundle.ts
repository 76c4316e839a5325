/**
 * Builds real WASM bundles for tests with the real `opa` CLI (through `buildBundle`), cached per
 * content in a temporary folder for the life of the test process.
 */
import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { buildBundle } from '../../src/policy/build.ts'
import type { Principal } from '../../src/verify/principal.ts'
import { tempDir } from './temp.ts'

let dir: string | undefined

/** Writes `data` as data.json, builds a bundle with the library (+ extra Rego folders) and returns its path. */
export async function buildTestBundle(data: unknown, options: { include?: string[]; revision?: string } = {}): Promise<string> {
  dir ??= await tempDir('mcp-authz-test-')
  const key = createHash('sha256').update(JSON.stringify([data, options])).digest('hex').slice(0, 16)
  const out = join(dir, `${key}.tar.gz`)
  if (existsSync(out)) return out
  const dataPath = join(dir, `${key}.json`)
  await writeFile(dataPath, JSON.stringify(data))
  await buildBundle({ data: dataPath, out, ...(options.include ? { include: options.include } : {}), ...(options.revision ? { revision: options.revision } : {}) })
  return out
}

/** A configuration exercising every concern, shared by the engine tests. */
export const testData = {
  mcp_authz: {
    resource: 'https://mcp.example.com/mcp',
    server_name: 'Test notes',
    authorization_servers: ['https://as.example.com'],
    issuers: { 'https://as.example.com': { tenant: 'acme' }, 'https://other.example.com': {} },
    defaults: { read_scope: 'notes:read', write_scope: 'notes:write' },
    methods: { 'tasks/get': { scopes: ['tasks:read'] }, 'resources/subscribe': { allow: false } },
    tools: {
      notes_read: { scopes: ['notes:read'] },
      notes_write: {
        scopes: ['notes:write'],
        arguments: {
          title: { required: true, max_length: 10 },
          folder: { enum: ['personal', 'work'] },
          path: { pattern: '^/notes/' },
          limit: { min: 1, max: 100 },
          sudo: { forbidden: true },
        },
      },
      notes_delete: { scopes: ['notes:write'], roles: ['admin'] },
      partner_sync: { clients: ['partner-app'], tenants: ['acme'] },
      disabled: { allow: false },
    },
    resources: [
      { prefix: 'notes://', scopes: ['notes:read'] },
      { prefix: 'notes://private/', scopes: ['notes:private'] },
    ],
    prompts: { summarize: { scopes: ['notes:read'], arguments: { style: { enum: ['short', 'long'] } } } },
  },
}

/** A verified JWT principal that `testData` trusts (issuer, tenant, audience), with the read scope. */
export const testPrincipal: Principal = {
  subject: 'alice',
  clientId: 'notes-app',
  issuer: 'https://as.example.com',
  tenant: 'acme',
  audience: ['https://mcp.example.com/mcp'],
  scopes: ['notes:read'],
  authMethod: 'jwt',
  tokenId: 't1',
  claims: {},
}
