/**
 * Runs the notes server: `node examples/notes-server/main.ts` from the repository root (after
 * `npm run setup`). Its policy is `data.json` for the configured resource and issuers, loaded into
 * the prebuilt policy library (no `opa` needed), unless a bundle is given. Configured by environment
 * and an optional JSON file (`NOTES_CONFIG`): see `config.ts` and README.md.
 *
 * Logs one decision record per decision (JSON lines on stdout, redacted) and every handler failure
 * (stderr, with the decision id); frees sessions that end or go idle; stops on SIGINT / SIGTERM.
 *
 * @module
 */
import { createAuthz } from '../../src/authz.ts'
import { createDecisionLogger } from '../../src/decision-log/index.ts'
import { scopesNamed } from '../../src/enforce/metadata.ts'
import { createTokenVerifier, type VerifierConfig } from '../../src/verify/index.ts'
import { loadNotesConfig, notesPolicyData } from './config.ts'
import { createDevIssuer } from './dev-issuer.ts'
import { startNotesServer } from './server.ts'

async function main(): Promise<void> {
  const config = await loadNotesConfig()
  const log = createDecisionLogger({ labels: { service: 'notes-example' } })
  const authz = await createAuthz({
    // data.json for this server's resource and issuers, loaded into the prebuilt policy library (no opa needed).
    ...(config.bundle !== undefined ? { bundle: config.bundle } : { data: (await notesPolicyData(config)) as Record<string, unknown> }),
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
}

main().catch((err: unknown) => {
  console.error(`notes server: ${err instanceof Error ? err.message : String(err)}`)
  process.exit(1)
})
