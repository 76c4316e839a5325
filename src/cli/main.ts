#!/usr/bin/env node
/**
 * The `mcp-authz` command line. Exit codes: 0 success; 1 unexpected failure, or a failing test;
 * 2 bad usage, configuration, bundle, policy or policy data (every problem listed); 3 `eval
 * --exit-code` and the decision was a deny.
 *
 * @module
 */
import { Command, CommanderError } from 'commander'
import { registerServerCommands } from '../server/cli.ts'
import { registerBuild } from './build.ts'
import { describeFailure, EXIT } from './errors.ts'
import { registerEval } from './eval.ts'
import { registerTest } from './test.ts'

const program = new Command()
program.name('mcp-authz').description('Policy-driven, per-tool authorization for MCP servers').exitOverride()

registerBuild(program)
registerEval(program)
registerTest(program)
registerServerCommands(program)
;(await import('../proxy/cli.ts')).registerProxyCommand(program)

try {
  await program.parseAsync(process.argv)
} catch (err) {
  if (err instanceof CommanderError) process.exit(err.exitCode === 0 ? EXIT.ok : EXIT.usage)
  const { code, message } = describeFailure(err)
  process.stderr.write(`mcp-authz: ${message}\n`)
  process.exit(code)
}
