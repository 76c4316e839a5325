/**
 * The endpoint's commands of the `mcp-authz` CLI: `serve`, `check`, `token`, `config-schema`,
 * `bench`, and the `explainReasons` helper behind `eval --explain`. Registered by `src/cli/main.ts`.
 *
 * @module
 */
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { readdir, readFile, writeFile } from 'node:fs/promises'
import { join, relative } from 'node:path'
import type { Command } from 'commander'
import { createAuthz, TrustError } from '../authz.ts'
import { ConfigError } from '../config/errors.ts'
import { loadConfig, ENV_OVERRIDES, envName } from '../config/load.ts'
import { configJsonSchema } from '../config/schema.ts'
import { firstPolicy } from '../runtime/engine.ts'
import { createSignatureVerifier } from '../policy/signature.ts'
import { LIBRARY_DIR } from '../policy/build.ts'
import { DEV_ISSUER, DEV_ISSUER_DIR, ensureDevIssuer, mintDevToken } from '../runtime/dev-issuer.ts'
import { createTokenVerifier } from '../verify/index.ts'
import { startServer, verifierConfigFor } from './start.ts'

/** Where a reason code comes from in the Rego library (its `# METADATA` title). */
export interface ReasonSource {
  code: string
  rule: string
  file: string
  line: number
  description?: string
}

/** Reads the `# METADATA` blocks of the policy library: reason code (title) → rule and location. */
export async function reasonSources(dirs: readonly string[] = [LIBRARY_DIR]): Promise<Map<string, ReasonSource>> {
  const out = new Map<string, ReasonSource>()
  for (const dir of dirs) {
    const entries = await readdir(dir, { withFileTypes: true, recursive: true }).catch(() => [])
    for (const e of entries) {
      if (!e.isFile() || !e.name.endsWith('.rego') || e.name.endsWith('_test.rego')) continue
      const path = join(e.parentPath, e.name)
      const lines = (await readFile(path, 'utf8')).split('\n')
      for (let i = 0; i < lines.length; i++) {
        if (lines[i]?.trim() !== '# METADATA') continue
        let title: string | undefined
        let description: string | undefined
        let j = i + 1
        for (; j < lines.length && lines[j]?.startsWith('#'); j++) {
          const m = /^#\s*(title|description):\s*(.*)$/.exec(lines[j] as string)
          if (m?.[1] === 'title') title = m[2]?.trim()
          if (m?.[1] === 'description') description = m[2]?.trim()
        }
        const rule = /^([A-Za-z_][\w.]*)/.exec(lines[j] ?? '')?.[1]
        if (title !== undefined && rule !== undefined && !out.has(title)) {
          out.set(title, { code: title, rule, file: relative(process.cwd(), path), line: j + 1, ...(description ? { description } : {}) })
        }
      }
    }
  }
  return out
}

/** Adds the endpoint's commands to the program. */
export function registerServerCommands(program: Command): void {
  program
    .command('serve')
    .description('Run the decision endpoint (POST /v1/decide, /v1/visible, /v1/data/mcp/authz/decision, GET /health, /ready, /metrics)')
    .requiredOption('-c, --config <file>', 'configuration file (YAML or JSON; see schemas/config.schema.json)')
    .option('--log-level <level>', 'log level (fatal, error, warn, info, debug)', 'info')
    .addHelpText('after', `\nEnvironment overrides: ${ENV_OVERRIDES.map(envName).join(', ')}.\nStops gracefully on SIGTERM / SIGINT. Exit codes: 0 stopped, 1 unexpected, 2 bad configuration or bundle.`)
    .action(async (opts: { config: string; logLevel: string }) => {
      const config = await loadConfig(opts.config)
      let running: Awaited<ReturnType<typeof startServer>>
      try {
        running = await startServer(config, { handleSignals: true, logger: { level: opts.logLevel } })
      } catch (err) {
        // A verifier the configuration cannot build is a configuration error (exit 2), not a crash.
        if (err instanceof TypeError && /verifier|^"/.test(err.message)) throw new ConfigError('ERR_CONFIG_INVALID', `configuration ${opts.config} has problems:\n  $.verifier: ${err.message}`, [{ path: '$.verifier', message: err.message }])
        throw err
      }
      process.stdout.write(`${JSON.stringify({ listening: running.url, revision: running.authz.bundle.revision, resource: running.authz.resource })}\n`)
    })

  program
    .command('check')
    .description('Validate a configuration and its policy bundle (and verifier settings) without starting; lists every problem')
    .requiredOption('-c, --config <file>', 'configuration file (YAML or JSON)')
    .addHelpText('after', '\nExit codes: 0 valid, 2 invalid (every problem printed, by path).')
    .action(async (opts: { config: string }) => {
      const config = await loadConfig(opts.config)
      const problems: Array<{ path: string; message: string }> = []
      let authz: Awaited<ReturnType<typeof createAuthz>> | undefined
      {
        try {
          const first = await firstPolicy(config)
          if (config.bundle.signing?.publicKey !== undefined) {
            const verify = await createSignatureVerifier({ publicKey: config.bundle.signing.publicKey, algorithm: config.bundle.signing.algorithm, required: config.bundle.signing.required })
            await verify(first.bytes)
          }
          const devJwks = config.devIssuer !== undefined ? (await ensureDevIssuer(config.devIssuer.dir)).jwks : undefined
          // The verifier is derived from the policy's trust facts, as serve does: a disagreement is a problem here too.
          authz = await createAuthz({ ...(first.data !== undefined ? { data: first.data } : { bundle: first.bytes }), ...(config.resource !== undefined ? { resource: config.resource } : {}), verifier: verifierConfigFor(config, devJwks) })
        } catch (err) {
          const e = err as { problems?: Array<{ path: string; message: string }>; message: string }
          if (err instanceof TrustError) problems.push(...err.problems.map((p) => ({ path: p.path.startsWith('verifier') ? `$.${p.path}` : `bundle ${p.path}`, message: p.message })))
          else if (err instanceof TypeError) problems.push({ path: '$.verifier', message: e.message })
          else if (e.problems !== undefined && e.problems.length > 0) problems.push(...e.problems.map((p) => ({ path: `bundle ${p.path}`, message: p.message })))
          else problems.push({ path: '$.bundle', message: e.message })
        }
      }
      const resource = authz?.resource ?? config.resource
      if (authz === undefined && config.verifier !== undefined) {
        // No bundle to derive trust from: still check the verifier's own settings.
        try {
          createTokenVerifier({ ...verifierConfigFor(config), audience: resource ?? 'https://resource.invalid/' })
        } catch (err) {
          problems.push({ path: '$.verifier', message: (err as Error).message })
        }
      }
      if (problems.length > 0) throw new ConfigError('ERR_CONFIG_INVALID', `configuration ${opts.config} has problems:\n${problems.map((p) => `  ${p.path}: ${p.message}`).join('\n')}`, problems)
      process.stdout.write(`${JSON.stringify({ ok: true, config: opts.config, resource, bundle: config.bundle.path ?? config.bundle.url ?? config.bundle.data })}\n`)
    })

  program
    .command('token')
    .description(`DEVELOPMENT ONLY: mint an access token (ES256, at+jwt) from the local development issuer ${DEV_ISSUER}, whose keys are created under ${DEV_ISSUER_DIR}/`)
    .option('--aud <uri>', 'audience: the protected resource URI', 'http://127.0.0.1:8181/mcp')
    .option('-s, --scope <scopes>', 'space-separated scopes', '')
    .option('--sub <subject>', 'subject', 'dev-user')
    .option('--client-id <id>', 'client id', 'dev-client')
    .option('--ttl <seconds>', 'lifetime in seconds', '3600')
    .option('--roles <roles>', 'comma-separated roles claim')
    .option('--dir <folder>', 'folder of the development issuer keys', DEV_ISSUER_DIR)
    .addHelpText('after', '\nPrints the token on stdout. Trust the issuer with `devIssuer: {}` in the configuration. Never use in production.')
    .action(async (opts: { aud: string; scope: string; sub: string; clientId: string; ttl: string; roles?: string; dir: string }) => {
      const ttl = Number(opts.ttl)
      if (!Number.isInteger(ttl) || ttl <= 0) throw new ConfigError('ERR_CONFIG_INVALID', '--ttl must be a positive integer (seconds)', [{ path: '--ttl', message: 'must be a positive integer' }])
      const token = await mintDevToken({
        audience: opts.aud,
        scope: opts.scope,
        subject: opts.sub,
        clientId: opts.clientId,
        ttlSeconds: ttl,
        dir: opts.dir,
        ...(opts.roles ? { claims: { roles: opts.roles.split(',').map((r) => r.trim()) } } : {}),
      })
      process.stdout.write(`${token}\n`)
    })

  program
    .command('config-schema')
    .description('Print (or write) the JSON Schema of the configuration file, generated from its zod schema')
    .option('-o, --out <file>', 'write to this file instead of stdout')
    .action(async (opts: { out?: string }) => {
      const text = `${JSON.stringify(configJsonSchema(), null, 2)}\n`
      if (opts.out !== undefined) await writeFile(opts.out, text)
      else process.stdout.write(text)
    })

  program
    .command('bench')
    .description('Run the benchmarks (npm run bench), when the project has them')
    .action(() => {
      const root = new URL('../../', import.meta.url)
      if (!existsSync(new URL('scripts/bench.sh', root))) {
        process.stderr.write('mcp-authz: no benchmarks in this installation (scripts/bench.sh is missing)\n')
        process.exitCode = 2
        return
      }
      const r = spawnSync('npm', ['run', 'bench'], { stdio: 'inherit', cwd: root })
      process.exitCode = r.status ?? 1
    })
}
