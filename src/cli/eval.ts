/**
 * `mcp-authz eval`: decide one call the way the server would, written the short way
 * (`--sub alice --scopes "fs:read" --tool fs_read --args '{"path": "/etc/passwd"}'`) or in full
 * (`--principal` / `--message` JSON, `--token` with a verifier configuration, or a raw `--input`),
 * and print the decision with the exact policy input it was evaluated on; `--explain` names the
 * Rego rule (file:line, METADATA title) behind each reason, custom rules included.
 *
 * @module
 */
import { existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import type { Command } from 'commander'
import { createAuthz, type Authz } from '../authz.ts'
import type { Principal } from '../contracts/principal.ts'
import { loadConfig } from '../config/load.ts'
import type { Config } from '../config/schema.ts'
import type { BundleAnalysis } from '../policy/analysis.ts'
import type { Reason } from '../policy/decision.ts'
import { schemaProblems } from '../schemas.ts'
import { reasonSources } from '../server/cli.ts'
import { ensureDevIssuer } from '../runtime/dev-issuer.ts'
import { firstPolicy, verifierConfigFor } from '../runtime/engine.ts'
import { defaultDataFile, DEFAULT_BUNDLE } from './build.ts'
import { EXIT, UsageError } from './errors.ts'
import { messageFromShorthand, principalFromShorthand, ShorthandError } from './shorthand.ts'

/** Reads a JSON argument given inline, as `@file`, or as a path to an existing file. */
export async function jsonArg(value: string, what: string): Promise<unknown> {
  const path = value.startsWith('@') ? value.slice(1) : existsSync(value) ? value : undefined
  const text = path !== undefined ? await readFile(path, 'utf8') : value
  try {
    return JSON.parse(text)
  } catch {
    throw new UsageError(`${what} is not valid JSON (give inline JSON, @file or a file path)`)
  }
}

/** One reason and the rules that can produce it. */
export interface Explanation {
  code: string
  message: string
  /** The rule kind (`deny`). */
  rule?: string
  package?: string
  file?: string
  line?: number
  title?: string
  /** Other rules that produce the same code (file:line). */
  other_rules?: string[]
  /** When no rule of the bundle produces this code. */
  note?: string
}

/** Names the rule behind each reason from the bundle's own analysis (custom rules included). */
export async function explainReasons(reasons: readonly Reason[], analysis: BundleAnalysis | undefined): Promise<Explanation[]> {
  if (analysis === undefined) {
    // A bundle built without mcp-authz build: only the shipped library's rules can be named.
    const sources = await reasonSources()
    return reasons.map((r) => {
      const s = sources.get(r.code)
      return s !== undefined ? { code: r.code, message: r.message, rule: s.rule, package: 'mcp.authz', file: s.file, line: s.line, title: s.code } : { code: r.code, message: r.message, note: 'the bundle has no analysis (built without mcp-authz build): only the library\'s rules can be named' }
    })
  }
  return reasons.map((r) => {
    const rules = analysis.rules.filter((x) => x.code === r.code).sort((a, b) => Number(b.title !== undefined) - Number(a.title !== undefined))
    const first = rules[0]
    if (first === undefined) {
      const note = r.code === 'policy_error' ? 'the policy failed to evaluate: the message says where' : r.code === 'invalid_token' ? 'the credential was refused before the policy ran' : 'no rule of the bundle has this code as a literal (a computed code?)'
      return { code: r.code, message: r.message, note }
    }
    return {
      code: r.code,
      message: r.message,
      rule: 'deny',
      package: first.package,
      file: first.file,
      line: first.line,
      ...(first.title !== undefined ? { title: first.title } : {}),
      ...(rules.length > 1 ? { other_rules: rules.slice(1).map((x) => `${x.file}:${x.line}`) } : {}),
    }
  })
}

interface EvalOptions {
  bundle?: string
  data?: string
  config?: string
  principal?: string
  token?: string
  sub?: string
  scopes?: string
  tenant?: string
  roles?: string
  client?: string
  issuer?: string
  message?: string
  tool?: string
  prompt?: string
  uri?: string
  method?: string
  args?: string
  params?: string
  input?: string
  annotations?: string
  exitCode?: boolean
  explain?: boolean
}

const PRINCIPAL_FLAGS = ['sub', 'scopes', 'tenant', 'roles', 'client', 'issuer'] as const
const MESSAGE_FLAGS = ['tool', 'prompt', 'uri', 'method', 'args', 'params'] as const

async function principalOf(opts: EvalOptions, authz: Authz): Promise<Principal | undefined> {
  const shorthand = PRINCIPAL_FLAGS.filter((k) => opts[k] !== undefined)
  const given = [opts.principal !== undefined, opts.token !== undefined, shorthand.length > 0].filter(Boolean).length
  if (given > 1) throw new UsageError('give the principal one way: --principal JSON, --token, or --sub/--scopes/--tenant/--roles/--client/--issuer')
  if (opts.token !== undefined) return undefined
  if (opts.principal !== undefined) {
    const principal = await jsonArg(opts.principal, '--principal')
    const problems = schemaProblems('principal', principal)
    if (problems.length > 0) throw new UsageError(`--principal is not a principal: ${problems.map((p) => `${p.path} ${p.message}`).join('; ')}`)
    return principal as Principal
  }
  if (shorthand.length === 0) throw new UsageError('eval needs a principal: --sub/--scopes/--tenant/--roles/--client (the rest defaults from the policy data), --principal JSON, or --token with --config')
  try {
    return principalFromShorthand({ ...(opts.sub !== undefined ? { sub: opts.sub } : {}), ...(opts.scopes !== undefined ? { scopes: opts.scopes } : {}), ...(opts.tenant !== undefined ? { tenant: opts.tenant } : {}), ...(opts.roles !== undefined ? { roles: opts.roles } : {}), ...(opts.client !== undefined ? { client: opts.client } : {}), ...(opts.issuer !== undefined ? { issuer: opts.issuer } : {}) }, authz.bundle.config, 'eval')
  } catch (err) {
    throw err instanceof ShorthandError ? new UsageError(err.message) : err
  }
}

async function messageOf(opts: EvalOptions): Promise<unknown> {
  const shorthand = MESSAGE_FLAGS.filter((k) => opts[k] !== undefined)
  if (opts.message !== undefined && shorthand.length > 0) throw new UsageError('give the message one way: --message JSON, or --tool/--prompt/--uri/--method')
  if (opts.message !== undefined) return jsonArg(opts.message, '--message')
  if (shorthand.length === 0) throw new UsageError('eval needs a message: --tool NAME [--args JSON], --prompt NAME, --uri URI, --method NAME [--params JSON], or --message JSON')
  const args = opts.args !== undefined ? await jsonArg(opts.args, '--args') : undefined
  const params = opts.params !== undefined ? await jsonArg(opts.params, '--params') : undefined
  try {
    return messageFromShorthand({ ...(opts.tool !== undefined ? { tool: opts.tool } : {}), ...(opts.prompt !== undefined ? { prompt: opts.prompt } : {}), ...(opts.uri !== undefined ? { uri: opts.uri } : {}), ...(opts.method !== undefined ? { method: opts.method } : {}), ...(args !== undefined ? { args: args as Record<string, unknown> } : {}), ...(params !== undefined ? { params: params as Record<string, unknown> } : {}) })
  } catch (err) {
    throw err instanceof ShorthandError ? new UsageError(err.message) : err
  }
}

/** The policy to evaluate: `--bundle`, `--data`, the `--config` policy, else `build/bundle.tar.gz`, else the data file here. */
async function policyOf(opts: EvalOptions, config: Config | undefined): Promise<{ bundle: string | Uint8Array } | { data: string | Record<string, unknown> }> {
  if (opts.bundle !== undefined && opts.data !== undefined) throw new UsageError('give the policy one way: --bundle <file> or --data <file>')
  if (opts.bundle !== undefined) return { bundle: opts.bundle }
  if (opts.data !== undefined) return { data: opts.data }
  if (config !== undefined) {
    const first = await firstPolicy(config)
    return first.data !== undefined ? { data: first.data } : { bundle: first.bytes }
  }
  if (existsSync(DEFAULT_BUNDLE)) return { bundle: DEFAULT_BUNDLE }
  const data = defaultDataFile()
  if (data !== undefined) return { data }
  throw new UsageError(`eval needs a policy: --bundle <file> (mcp-authz build output) or --data <file> (policy data; no ${DEFAULT_BUNDLE}, data.json, data.yaml or data.yml in the current folder)`)
}

/** Adds `eval`. */
export function registerEval(program: Command): void {
  program
    .command('eval')
    .description('Decide one call against a bundle and print the decision with the exact policy input it was evaluated on')
    .option('-b, --bundle <file>', 'bundle to evaluate (default: the --config policy, else build/bundle.tar.gz when it exists, else the policy data file here)')
    .option('-d, --data <file>', 'policy data (JSON or YAML) to evaluate with the shipped policy library, no build and no opa needed (default when there is no bundle: data.json, data.yaml or data.yml in the current folder)')
    .option('-c, --config <file>', 'server configuration: its bundle, and its verifier for --token')
    .option('--sub <subject>', 'principal subject (default: user)')
    .option('--scopes <scopes>', 'principal scopes, space- or comma-separated')
    .option('--tenant <tenant>', 'principal tenant (default: the tenant the issuer is pinned to)')
    .option('--roles <roles>', 'roles, space- or comma-separated (put in the roles claim)')
    .option('--client <id>', 'OAuth client id')
    .option('--issuer <iss>', 'issuer (default: the policy data\'s first trusted issuer)')
    .option('-p, --principal <json>', 'a full normalized principal: inline JSON, @file or a path')
    .option('-t, --token <token>', 'a bearer token, verified with the --config verifier as the server would')
    .option('--tool <name>', 'call this tool (tools/call)')
    .option('--prompt <name>', 'get this prompt (prompts/get)')
    .option('--uri <uri>', 'read this resource (resources/read)')
    .option('--method <method>', 'send this JSON-RPC method')
    .option('--args <json>', 'tool or prompt arguments (JSON object)')
    .option('--params <json>', 'params of --method (JSON object)')
    .option('-m, --message <json>', 'a full JSON-RPC message: inline JSON, @file or a path')
    .option('--input <json>', 'a raw policy input {principal, action, server, context} instead of a principal and a message')
    .option('--annotations <json>', 'tool annotations known to the server, e.g. {"readOnlyHint":true}')
    .option('--exit-code', 'exit with 3 when the decision is a deny')
    .option('--explain', 'name the Rego rule (file:line, METADATA title) behind each reason')
    .addHelpText('after', '\nExample:\n  mcp-authz eval --sub alice --scopes "fs:read" --tool fs_read --args \'{"path": "/home/bob/x"}\' --explain\n\nExit codes: 0 decided, 2 bad usage or bundle, 3 denied (with --exit-code).')
    .action(async (opts: EvalOptions) => {
      const config = opts.config !== undefined ? await loadConfig(opts.config) : undefined
      const policy = await policyOf(opts, config)
      if (opts.token !== undefined && config === undefined) throw new UsageError('--token needs --config (the verifier configuration the server uses)')
      // The token is verified as the server would: the configuration's verifier settings, the bundle's trust facts.
      const devJwks = opts.token !== undefined && config?.devIssuer !== undefined ? (await ensureDevIssuer(config.devIssuer.dir)).jwks : undefined
      const authz = await createAuthz({ ...policy, transport: 'cli', ...(opts.token !== undefined && config !== undefined ? { verifier: verifierConfigFor(config, devJwks) } : {}) })
      let output: Record<string, unknown>
      let allowed: boolean
      let reasons: Reason[]
      if (opts.input !== undefined) {
        if ([opts.principal, opts.token, opts.message, ...PRINCIPAL_FLAGS.map((k) => opts[k]), ...MESSAGE_FLAGS.map((k) => opts[k])].some((v) => v !== undefined)) throw new UsageError('--input replaces the principal and the message: give one or the other')
        const input = await jsonArg(opts.input, '--input')
        const problems = schemaProblems('input', input)
        if (problems.length > 0) throw new UsageError(`--input is not a policy input: ${problems.map((p) => `${p.path} ${p.message}`).join('; ')}`)
        const d = authz.evaluate(input as never)
        output = { decision_id: d.decisionId, revision: d.revision, allow: d.allow, reasons: d.reasons, required_scopes: d.required_scopes, input }
        allowed = d.allow
        reasons = d.reasons
      } else {
        const principal = await principalOf(opts, authz)
        const message = await messageOf(opts)
        const annotations = opts.annotations === undefined ? undefined : ((await jsonArg(opts.annotations, '--annotations')) as Record<string, unknown>)
        const context = annotations ? { annotations } : {}
        const r = principal !== undefined ? authz.decide(principal, message, context) : await authz.check(opts.token, message, context)
        output = {
          decision_id: r.decisionId,
          revision: r.revision,
          allow: r.allow,
          status: r.status,
          reasons: r.reasons,
          required_scopes: r.requiredScopes,
          ...(r.wwwAuthenticate ? { www_authenticate: r.wwwAuthenticate } : {}),
          ...(r.jsonRpcError ? { jsonrpc_error: r.jsonRpcError } : {}),
          ...(r.input !== undefined ? { input: r.input } : {}),
        }
        allowed = r.allow
        reasons = r.reasons
      }
      if (opts.explain) output.explain = await explainReasons(reasons, authz.bundle.analysis)
      process.stdout.write(`${JSON.stringify(output, null, 2)}\n`)
      if (opts.exitCode && !allowed) process.exitCode = EXIT.denied
    })
}
