/**
 * `mcp-authz build`: compile the policy library, your Rego and your policy data into a bundle.
 *
 * @module
 */
import { existsSync } from 'node:fs'
import type { Command } from 'commander'
import { buildBundle } from '../policy/build.ts'
import { PolicyError } from '../policy/errors.ts'
import { UsageError } from './errors.ts'

/** The policy data file when none is given: `data.json`, `data.yaml` or `data.yml` in the current folder. */
export function defaultDataFile(folder = '.'): string | undefined {
  return ['data.json', 'data.yaml', 'data.yml'].map((f) => `${folder}/${f}`).find((f) => existsSync(f))
}

/** Where `build` writes and `eval` looks for the bundle when none is named (relative to the current folder). */
export const DEFAULT_BUNDLE = 'build/bundle.tar.gz'

/** Adds `build`. */
export function registerBuild(program: Command): void {
  program
    .command('build')
    .description('Check and compile the policy library, your Rego (--include) and your policy data into a WASM bundle (opa build -t wasm)')
    .option('-d, --data <file>', 'policy data, JSON or YAML (default: data.json, data.yaml or data.yml in the current folder)')
    .option('-o, --out <file>', 'bundle to write', DEFAULT_BUNDLE)
    .option('-i, --include <path...>', 'your Rego folders or files (package mcp.authz.custom); *_test.rego files are left out', [])
    .option('--revision <rev>', 'bundle revision (default: a hash of the Rego and the data)')
    .option('--signing-key <pem>', 'sign the bundle (.signatures.json) with this PEM private key')
    .option('--signing-alg <alg>', 'signing algorithm (RS256, ES256, …)', 'RS256')
    .option('-q, --quiet', 'print nothing on success')
    .addHelpText('after', '\nPrints {"bundle", "revision", "input_refs", "builtins"} on success. Exit codes: 0 built, 2 bad data, Rego, builtin or usage (every problem listed with its file:line).')
    .action(async (opts: { data?: string; out: string; include: string[]; revision?: string; signingKey?: string; signingAlg: string; quiet?: boolean }) => {
      const data = opts.data ?? defaultDataFile()
      if (data === undefined) throw new UsageError('build needs the policy data: --data <file> (no data.json, data.yaml or data.yml in the current folder)')
      const { revision, out, analysis } = await buildBundle({
        data,
        out: opts.out,
        include: opts.include,
        ...(opts.revision ? { revision: opts.revision } : {}),
        ...(opts.signingKey ? { signingKey: opts.signingKey, signingAlg: opts.signingAlg } : {}),
      }).catch((err: unknown) => {
        // Policy data alone needs no build (and no opa): say so to whoever is building only to get a bundle.
        if (err instanceof PolicyError && err.code === 'ERR_OPA_MISSING' && opts.include.length === 0 && opts.signingKey === undefined) {
          throw new PolicyError('ERR_OPA_MISSING', `${err.message}\nPolicy data alone needs no build: createAuthz({ data: '${data}' }), bundle: { data: ${data} } in the configuration, or mcp-authz eval --data ${data}.`, { cause: err })
        }
        throw err
      })
      if (!opts.quiet) process.stdout.write(`${JSON.stringify({ bundle: out, revision, input_refs: analysis.inputRefs.map((p) => (p.length === 0 ? 'input' : `input.${p.join('.')}`)), builtins: analysis.builtins })}\n`)
    })
}
