/**
 * What every benchmark scenario shares: one policy configuration (the engine tests' `testData`,
 * declared cacheable), the bundle built from it with the real `opa` CLI, principals, messages,
 * and the baselines (a hand-written JS check and the same rules in Cedar) that must agree with the
 * WASM policy on every case in {@link CASES}.
 *
 * @module
 */
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { buildBundle } from '../src/policy/build.ts'
import { testData } from '../test/helpers/bundle.ts'
import { tempDir } from '../test/helpers/temp.ts'
import type { Principal } from '../src/verify/principal.ts'

export const RESOURCE = 'https://mcp.example.com/mcp'
export const ISSUER = 'https://as.example.com'
export const TENANT = 'acme'

/** The engine tests' configuration, plus `decision_cache: true` (the library has no time or randomness rules). */
export const benchData = {
  mcp_authz: { ...testData.mcp_authz, server_name: 'Bench notes', decision_cache: true },
}

/** Builds the bench bundle into a temporary folder (the real `opa build -t wasm`), removed when the process exits. */
export async function buildBenchBundle(data: unknown = benchData): Promise<{ bundle: string; dataFile: string; dir: string }> {
  const dir = await tempDir('mcp-authz-bench-')
  const dataFile = join(dir, 'data.json')
  await writeFile(dataFile, JSON.stringify(data))
  const bundle = join(dir, 'bundle.tar.gz')
  await buildBundle({ data: dataFile, out: bundle, revision: 'bench' })
  return { bundle, dataFile, dir }
}

/** A verified JWT principal as the verifier produces it. */
export const alice: Principal = {
  subject: 'alice',
  clientId: 'notes-app',
  issuer: ISSUER,
  tenant: TENANT,
  audience: [RESOURCE],
  scopes: ['notes:read'],
  authMethod: 'jwt',
  expiresAt: Math.floor(Date.now() / 1000) + 24 * 3600,
  issuedAt: Math.floor(Date.now() / 1000),
  tokenId: 'bench-t1',
  claims: {},
}

/** The typical decision: `tools/call` of a tool with a scope rule and no argument rules. */
export const typicalCall = { jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'notes_read', arguments: { query: 'groceries' } } } as const

/** About 2 KB of tool arguments (some of them secrets, for the redactor). */
export function twoKbArguments(): Record<string, unknown> {
  const args: Record<string, unknown> = {
    title: 'groceries',
    folder: 'personal',
    path: '/notes/2026/groceries',
    limit: 20,
    api_key: 'sk_live_0123456789abcdefghijklmnop',
    github: 'ghp_0123456789abcdefghijABCDEFGHIJ012345',
    nested: { user: 'alice@example.com', session_token: 'eyJhbGciOiJIUzI1NiJ9.e30.ZRrHA1JJJW8opsbCGfG_HACGpVUMN_a9IV7pAx_Zmeo' },
  }
  for (let i = 0; JSON.stringify(args).length < 2048; i++) args[`line_${i}`] = `buy item number ${i} from the shop on the corner, twice`
  return args
}

/** A `tools/call` of a tool with argument rules, carrying ~2 KB of arguments (they reach the policy). */
export function twoKbCall(): Record<string, unknown> {
  const args = twoKbArguments()
  args.title = 'groceries'
  return { jsonrpc: '2.0', id: 8, method: 'tools/call', params: { name: 'notes_write', arguments: args } }
}

/** 200 tools for list filtering: a mix of configured, unlisted, read-only and disabled ones. */
export function twoHundredTools(): Array<{ name: string; annotations?: Record<string, unknown> }> {
  const tools: Array<{ name: string; annotations?: Record<string, unknown> }> = [{ name: 'notes_read' }, { name: 'notes_write' }, { name: 'notes_delete' }, { name: 'partner_sync' }, { name: 'disabled' }]
  for (let i = tools.length; i < 200; i++) tools.push(i % 2 === 0 ? { name: `tool_${i}`, annotations: { readOnlyHint: true } } : { name: `tool_${i}` })
  return tools
}

/** Cases on which the JS baseline, Cedar and the WASM policy must agree. */
export interface AgreementCase {
  name: string
  principal: Principal
  tool: string
  allow: boolean
}

const p = (over: Partial<Principal>): Principal => ({ ...alice, ...over })

export const CASES: AgreementCase[] = [
  { name: 'typical allow', principal: alice, tool: 'notes_read', allow: true },
  { name: 'missing scope', principal: p({ scopes: [] }), tool: 'notes_read', allow: false },
  { name: 'untrusted issuer', principal: p({ issuer: 'https://evil.example.com' }), tool: 'notes_read', allow: false },
  { name: 'wrong tenant', principal: p({ tenant: 'globex' }), tool: 'notes_read', allow: false },
  { name: 'wrong audience', principal: p({ audience: ['https://other.example.com/mcp'] }), tool: 'notes_read', allow: false },
  { name: 'client allowlist deny', principal: p({ scopes: ['notes:read', 'notes:write'] }), tool: 'partner_sync', allow: false },
  { name: 'client allowlist allow', principal: p({ clientId: 'partner-app', scopes: ['notes:read', 'notes:write'] }), tool: 'partner_sync', allow: true },
  { name: 'disabled tool', principal: p({ scopes: ['notes:read', 'notes:write'] }), tool: 'disabled', allow: false },
  { name: 'write scope', principal: p({ scopes: ['notes:read', 'notes:write'] }), tool: 'notes_delete', allow: false },
]

/** The floor: the same rules for `tools/call` hand-written in JS (issuer, audience, tenant, allowlists, scopes). */
export function createJsCheck(data: typeof benchData = benchData) {
  const cfg = data.mcp_authz
  const issuers = cfg.issuers as Record<string, { tenant?: string }>
  const tools = cfg.tools as Record<string, { scopes?: string[]; clients?: string[]; roles?: string[]; tenants?: string[]; allow?: boolean }>
  const write = cfg.defaults.write_scope
  return function jsCheck(principal: Principal, tool: string): boolean {
    const federated = principal.authMethod === 'jwt' || principal.authMethod === 'introspection'
    const iss = issuers[principal.issuer]
    if (federated && iss === undefined) return false
    if (iss?.tenant !== undefined && principal.tenant !== iss.tenant) return false
    if (federated && !principal.audience.includes(cfg.resource)) return false
    const rule = tools[tool]
    if (rule?.allow === false) return false
    if (rule?.clients !== undefined && (principal.clientId === undefined || !rule.clients.includes(principal.clientId))) return false
    if (rule?.tenants !== undefined && (principal.tenant === undefined || !rule.tenants.includes(principal.tenant))) return false
    if (rule?.roles !== undefined) {
      const roles = principal.claims.roles
      if (!Array.isArray(roles) || !roles.some((r) => rule.roles?.includes(r as string))) return false
    }
    const scopes = rule?.scopes ?? [write]
    for (const s of scopes) if (!principal.scopes.includes(s)) return false
    return true
  }
}

/** The same rules in Cedar (for `tools/call`): identity in the context, one permit per tool rule. */
export const CEDAR_POLICIES = `
permit (principal, action == Action::"tools/call", resource == Tool::"notes_read")
when { context.scopes.contains("notes:read") };

permit (principal, action == Action::"tools/call", resource == Tool::"notes_write")
when { context.scopes.contains("notes:write") };

permit (principal, action == Action::"tools/call", resource == Tool::"notes_delete")
when { context.scopes.contains("notes:write") && context.roles.contains("admin") };

permit (principal, action == Action::"tools/call", resource == Tool::"partner_sync")
when { context.scopes.contains("notes:write") && context.clientId == "partner-app" && context.tenant == "acme" };

forbid (principal, action, resource)
unless { context.issuer == "${ISSUER}" || context.issuer == "https://other.example.com" };

forbid (principal, action, resource)
when { context.issuer == "${ISSUER}" && context.tenant != "acme" };

forbid (principal, action, resource)
unless { context.audience.contains("${RESOURCE}") };
`

/** The Cedar request for a principal calling a tool. */
export function cedarRequest(principal: Principal, tool: string) {
  const roles = principal.claims.roles
  return {
    principal: { type: 'User', id: principal.subject },
    action: { type: 'Action', id: 'tools/call' },
    resource: { type: 'Tool', id: tool },
    context: {
      issuer: principal.issuer,
      tenant: principal.tenant ?? '',
      clientId: principal.clientId ?? '',
      audience: principal.audience,
      scopes: principal.scopes,
      roles: Array.isArray(roles) ? (roles as string[]) : [],
    },
    entities: [],
  }
}

/** A `tools/call` message for a tool. */
export function callMessage(tool: string, id = 1): Record<string, unknown> {
  return { jsonrpc: '2.0', id, method: 'tools/call', params: { name: tool, arguments: tool === 'notes_write' ? { title: 'x' } : {} } }
}
