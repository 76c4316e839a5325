/**
 * The standalone decision endpoint: {@link buildServer} (Fastify app from an `Authz`),
 * {@link startServer} (everything from a configuration), metrics, caller authentication and the
 * development issuer.
 *
 * @module
 */
export { buildServer } from './app.ts'
export type { ServerOptions } from './app.ts'
export { startServer, verifierConfigFor } from './start.ts'
export type { RunningServer, StartOptions } from './start.ts'
export { createServerMetrics } from '../observability/prometheus.ts'
export type { MetricsOptions, ServerMetrics } from '../observability/prometheus.ts'
export { hashApiKey, isLoopbackHost } from './auth.ts'
export { DEV_ISSUER, DEV_ISSUER_DIR, ensureDevIssuer, mintDevToken } from '../runtime/dev-issuer.ts'
export type { DevIssuerKeys, MintOptions } from '../runtime/dev-issuer.ts'
export { createBundleLoader, fetchBundle } from '../policy/loader.ts'
export type { BundleLoader, BundleTarget, LoaderOptions } from '../policy/loader.ts'
export { createSignatureVerifier, bundleFileHash } from '../policy/signature.ts'
export type { SignatureOptions } from '../policy/signature.ts'
