#!/usr/bin/env node
/**
 * The `mcp-authz` command line. Exit codes: 0 success; 1 unexpected failure; 2 bad usage, bad
 * configuration or bad policy data; 3 `eval --exit-code` and the decision was a deny.
 *
 * @module
 */
import { readFile } from 'node:fs/promises'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { Command, CommanderError } from 'commander'
import { createAuthz } from '../authz.ts'
import { AuthzError } from '../errors.ts'
import { buildBundle } from '../policy/build.ts'
import { PolicyError } from '../policy/errors.ts'
import { schemaProblems } from '../schemas.ts'
import type { Principal } from '../contracts/principal.ts'
import { ConfigError } from '../config/errors.ts'
import { reasonSources, registerServerCommands } from '../server/cli.ts'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const DEFAULT_DATA = `${ROOT}examples/quickstart/data.json`
const DEFAULT_BUNDLE = 'build/bundle.tar.gz'

/** Reads a JSON argument given inline, as `@file`, or as a path to an existing file. */
async function jsonArg(value: string, what: string): Promise<unknown> {
  const path = value.startsWith('@') ? value.slice(1) : existsSync(value) ? value : undefined
  const text = path !== undefined ? await readFile(path, 'utf8') : value
  try {
    return JSON.parse(text)
  } catch {
    throw new UsageError(`${what} is not valid JSON (give inline JSON, @file or a file path)`)
  }
}

class UsageError extends Error {}

function fail(err: unknown): never {
  if (err instanceof UsageError) {
    process.stderr.write(`mcp-authz: ${err.message}\n`)
    process.exit(2)
  }
  if (err instanceof PolicyError && (err.code === 'ERR_DATA_INVALID' || err.code === 'ERR_OPA_BUILD' || err.code.startsWith('ERR_BUNDLE'))) {
    process.stderr.write(`mcp-authz: ${err.message}\n`)
    process.exit(2)
  }
  if (err instanceof ConfigError) {
    process.stderr.write(`mcp-authz: ${err.message}\n`)
    process.exit(2)
  }
  if (err instanceof PolicyError && err.code === 'ERR_POLICY_LOAD') {
    process.stderr.write(`mcp-authz: ${err.message}\n`)
    process.exit(2)
  }
  if (err instanceof AuthzError) {
    process.stderr.write(`mcp-authz: ${err.code}: ${err.message}\n`)
    process.exit(1)
  }
  process.stderr.write(`mcp-authz: unexpected error: ${err instanceof Error ? err.message : String(err)}\n`)
  process.exit(1)
}

const program = new Command()
program.name('mcp-authz').description('Policy-driven, per-tool authorization for MCP servers').exitOverride()

program
  .command('build')
  .description('Compile the policy library (+ your Rego) and a data.json into a WASM bundle with opa build')
  .option('-d, --data <file>', 'policy data (validated against schemas/data.schema.json)', DEFAULT_DATA)
  .option('-o, --out <file>', 'bundle to write', DEFAULT_BUNDLE)
  .option('-i, --include <path...>', 'extra Rego folders or files (e.g. your mcp.authz.custom package)', [])
  .option('--revision <rev>', 'bundle revision (default: content hash)')
  .option('--signing-key <pem>', 'sign the bundle (.signatures.json) with this PEM private key (opa build --bundle --signing-key)')
  .option('--signing-alg <alg>', 'signing algorithm (RS256, ES256, …)', 'RS256')
  .option('-q, --quiet', 'print nothing on success')
  .action(async (opts: { data: string; out: string; include: string[]; revision?: string; signingKey?: string; signingAlg: string; quiet?: boolean }) => {
    const { revision, out } = await buildBundle({
      data: opts.data,
      out: opts.out,
      include: opts.include,
      ...(opts.revision ? { revision: opts.revision } : {}),
      ...(opts.signingKey ? { signingKey: opts.signingKey, signingAlg: opts.signingAlg } : {}),
    })
    if (!opts.quiet) process.stdout.write(`${JSON.stringify({ bundle: out, revision })}\n`)
  })

program
  .command('eval')
  .description('Decide one call: a principal and a JSON-RPC message (or a raw policy input) against a bundle')
  .option('-b, --bundle <file>', 'bundle to evaluate', DEFAULT_BUNDLE)
  .option('-p, --principal <json>', 'normalized principal: inline JSON, @file or a path')
  .option('-m, --message <json>', 'JSON-RPC message: inline JSON, @file or a path')
  .option('--input <json>', 'raw policy input {principal, action, server, context} instead of --principal/--message')
  .option('--annotations <json>', 'tool annotations known to the server, e.g. {"readOnlyHint":true}')
  .option('--exit-code', 'exit with 3 when the decision is a deny')
  .option('--explain', 'also show, for each reason, the Rego rule (METADATA title) that produced it')
  .action(async (opts: { bundle: string; principal?: string; message?: string; input?: string; annotations?: string; exitCode?: boolean; explain?: boolean }) => {
    const authz = await createAuthz({ bundle: opts.bundle, transport: 'cli' })
    let output: Record<string, unknown>
    let allowed: boolean
    if (opts.input !== undefined) {
      const input = await jsonArg(opts.input, '--input')
      const problems = schemaProblems('input', input)
      if (problems.length > 0) throw new UsageError(`--input is not a policy input: ${problems.map((p) => `${p.path} ${p.message}`).join('; ')}`)
      const { PolicyEngine } = await import('../policy/engine.ts')
      const engine = new PolicyEngine()
      await engine.load(await readFile(opts.bundle))
      const decision = engine.evaluate(input as never)
      output = { revision: engine.active?.revision, ...decision }
      allowed = decision.allow
    } else {
      if (opts.principal === undefined || opts.message === undefined) throw new UsageError('eval needs --principal and --message, or --input')
      const principal = await jsonArg(opts.principal, '--principal')
      const problems = schemaProblems('principal', principal)
      if (problems.length > 0) throw new UsageError(`--principal is not a principal: ${problems.map((p) => `${p.path} ${p.message}`).join('; ')}`)
      const message = await jsonArg(opts.message, '--message')
      const annotations = opts.annotations === undefined ? undefined : ((await jsonArg(opts.annotations, '--annotations')) as Record<string, unknown>)
      const r = authz.decide(principal as Principal, message, annotations ? { annotations } : {})
      output = {
        decision_id: r.decisionId,
        revision: r.revision,
        allow: r.allow,
        status: r.status,
        reasons: r.reasons,
        required_scopes: r.requiredScopes,
        ...(r.wwwAuthenticate ? { www_authenticate: r.wwwAuthenticate } : {}),
        ...(r.jsonRpcError ? { jsonrpc_error: r.jsonRpcError } : {}),
        ...(r.action ? { action: r.action } : {}),
      }
      allowed = r.allow
    }
    if (opts.explain) {
      const sources = await reasonSources()
      const reasons = (output.reasons ?? []) as Array<{ code: string }>
      output.explain = reasons.map((r) => sources.get(r.code) ?? { code: r.code, rule: '(not in the policy library: a custom rule?)' })
    }
    process.stdout.write(`${JSON.stringify(output, null, 2)}\n`)
    if (opts.exitCode && !allowed) process.exitCode = 3
  })

registerServerCommands(program)
;(await import('../proxy/cli.ts')).registerProxyCommand(program)

try {
  await program.parseAsync(process.argv)
} catch (err) {
  if (err instanceof CommanderError) process.exit(err.exitCode === 0 ? 0 : 2)
  fail(err)
}
