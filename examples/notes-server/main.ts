/**
 * Runs the notes server: `node examples/notes-server/main.ts` from the repository root (after
 * `npm run setup`, which provides the pinned `opa` that builds the policy bundle). Configured by
 * environment and an optional JSON file (`NOTES_CONFIG`): see `config.ts` and README.md.
 *
 * Logs one decision record per decision (JSON lines on stdout, redacted) and every handler failure
 * (stderr, with the decision id); frees sessions that end or go idle; stops on SIGINT / SIGTERM.
 *
 * @module
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createAuthz } from '../../src/authz.ts'
import { createDecisionLogger } from '../../src/decision-log/index.ts'
import { scopesNamed } from '../../src/enforce/metadata.ts'
import { buildBundle } from '../../src/policy/build.ts'
import { createTokenVerifier, type VerifierConfig } from '../../src/verify/index.ts'
import { loadNotesConfig, notesPolicyData } from './config.ts'
import { createDevIssuer } from './dev-issuer.ts'
import { startNotesServer } from './server.ts'

async function main(): Promise<void> {
  const config = await loadNotesConfig()
  let bundle = config.bundle
  let scratch: string | undefined
  if (bundle === undefined) {
    // The policy of data.json for this server's resource and issuers, compiled with the pinned opa.
    scratch = await mkdtemp(join(tmpdir(), 'mcp-authz-notes-'))
    const data = join(scratch, 'data.json')
    await writeFile(data, JSON.stringify(await notesPolicyData(config)))
    bundle = join(scratch, 'bundle.tar.gz')
    await buildBundle({ data, out: bundle })
  }
  const log = createDecisionLogger({ labels: { service: 'notes-example' } })
  try {
    const authz = await createAuthz({
      bundle,
      resource: config.resource,
      verifier: createTokenVerifier(config.verifier as unknown as VerifierConfig),
      onDecision: (event) => log.log(event),
    })
    const fallback = config.devIssuer !== undefined ? await createDevIssuer(config.devIssuer, authz.resource, scopesNamed(authz.bundle.config)) : undefined
    const server = await startNotesServer(authz, {
      host: config.host,
      port: config.port,
      ...(fallback !== undefined ? { fallback } : {}),
      ...(config.idleTimeoutMs !== undefined ? { idleTimeoutMs: config.idleTimeoutMs } : {}),
    })
    // Stdout carries the decision records; people read stderr.
    console.error(`notes server: ${server.url}\nmetadata:     ${authz.resourceMetadataUrl}\nissuers:      ${Object.keys(config.issuers).join(', ')}${config.devIssuer !== undefined ? `\ndev issuer:   ${config.devIssuer} (client_credentials, secret "dev-secret"; DEVELOPMENT ONLY)` : ''}`)
    const stop = () => {
      void server
        .close()
        .then(() => log.close())
        .then(() => process.exit(0))
    }
    process.once('SIGINT', stop)
    process.once('SIGTERM', stop)
  } finally {
    // The bundle is loaded into memory: the scratch folder is not needed any more.
    if (scratch !== undefined) await rm(scratch, { recursive: true, force: true })
  }
}

main().catch((err: unknown) => {
  console.error(`notes server: ${err instanceof Error ? err.message : String(err)}`)
  process.exit(1)
})
