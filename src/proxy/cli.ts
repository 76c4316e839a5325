/**
 * The `mcp-authz proxy` command: runs the authorizing reverse proxy described by the `proxy`
 * section of a configuration file. Registered by `src/cli/main.ts`.
 *
 * @module
 */
import { dirname, resolve } from 'node:path'
import type { Command } from 'commander'
import { loadConfig } from '../config/load.ts'
import { ConfigError } from '../config/errors.ts'
import { startProxy } from './start.ts'

/**
 * Adds `proxy` to the program.
 *
 * @example
 * ```ts
 * registerProxyCommand(program) // mcp-authz proxy --config proxy.yaml
 * ```
 */
export function registerProxyCommand(program: Command): void {
  program
    .command('proxy')
    .description('Run the authorizing reverse proxy: every MCP call to the upstream server (Streamable HTTP URL or stdio command) verified, decided, enforced and logged')
    .requiredOption('-c, --config <file>', 'configuration file with a proxy section (YAML or JSON; see schemas/config.schema.json)')
    .option('--log-level <level>', 'log level (fatal, error, warn, info, debug)', 'info')
    .addHelpText('after', '\nSee docs/proxy.md. Stops gracefully on SIGTERM / SIGINT (stdio processes stopped). Exit codes: 0 stopped, 1 unexpected, 2 bad configuration or bundle.')
    .action(async (opts: { config: string; logLevel: string }) => {
      const config = await loadConfig(opts.config)
      if (config.proxy === undefined) throw new ConfigError('ERR_CONFIG_INVALID', `configuration ${opts.config} is invalid:\n  $.proxy: required by mcp-authz proxy`, [{ path: '$.proxy', message: 'required by mcp-authz proxy' }])
      let running
      try {
        running = await startProxy(config, { baseDir: dirname(resolve(opts.config)), handleSignals: true, logger: { level: opts.logLevel } })
      } catch (err) {
        if (err instanceof TypeError) throw new ConfigError('ERR_CONFIG_INVALID', err.message, [{ path: '$.proxy', message: err.message }])
        throw err
      }
      const upstream = config.proxy.upstream.url ?? `stdio: ${config.proxy.upstream.command}`
      process.stdout.write(`${JSON.stringify({ listening: running.url, mcp: `${running.url}${running.proxy.guard.path}`, upstream, revision: running.authz.bundle.revision, resource: running.authz.resource })}\n`)
    })
}
