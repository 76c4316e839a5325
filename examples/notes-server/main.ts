/**
 * Runs the notes server: `node examples/notes-server/main.ts` (from the repository root, after
 * `npm run build` made `build/bundle.tar.gz` from examples/quickstart/data.json). See README.md.
 *
 * Environment: `MCP_AUTHZ_BUNDLE` (default `build/bundle.tar.gz`); `NOTES_DEV_ISSUER=0` to not serve
 * the built-in development issuer (then each issuer's keys are read from `<issuer>/jwks`).
 *
 * @module
 */
import { createAuthz } from '../../src/authz.ts'
import { scopesNamed } from '../../src/enforce/metadata.ts'
import { createTokenVerifier } from '../../src/verify/index.ts'
import { createDevIssuer } from './dev-issuer.ts'
import { startNotesServer } from './server.ts'

const bundle = process.env.MCP_AUTHZ_BUNDLE ?? 'build/bundle.tar.gz'
const { config } = (await createAuthz({ bundle })).bundle
const verifier = createTokenVerifier({
  audience: config.resource,
  issuers: Object.entries(config.issuers).map(([issuer, { tenant }]) => ({
    issuer,
    jwksUri: `${issuer.replace(/\/+$/, '')}/jwks`,
    claims: ['roles'],
    ...(tenant ? { tenant } : {}),
  })),
})
const authz = await createAuthz({ bundle, verifier })
const origin = new URL(authz.resource).origin
const devIssuer = Object.keys(config.issuers).find((i) => i.startsWith(`${origin}/`))
const fallback = process.env.NOTES_DEV_ISSUER !== '0' && devIssuer ? await createDevIssuer(devIssuer, authz.resource, scopesNamed(config)) : undefined
const server = await startNotesServer(authz, { port: Number(new URL(authz.resource).port || 3000), host: process.env.HOST ?? '127.0.0.1', ...(fallback ? { fallback } : {}) })
console.log(`notes server: ${server.url}\nmetadata:     ${authz.resourceMetadataUrl}${fallback ? `\ndev issuer:   ${devIssuer} (client_credentials, secret "dev-secret")` : ''}`)
const stop = () => void server.close().then(() => process.exit(0))
process.once('SIGINT', stop)
process.once('SIGTERM', stop)
