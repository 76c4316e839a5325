/**
 * An embedded MCP server with everything an operator looks at: the decision log, Prometheus metrics
 * on their own loopback port, OpenTelemetry spans and metrics (when the host registers an SDK), and
 * the policy bundle reloaded when its file changes. `docs/observability.md` shows this file with
 * package imports (`mcp-authz`, `mcp-authz/server`); a test runs it.
 *
 * @module
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js'
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js'
import { z } from 'zod'
import { combineDecisionConsumers, createAuthz, createDecisionLogger, createOtelDecisionHook, mcpAuthzHandler, protect, type CredentialVerifier } from '../../src/index.ts'
import { createBundleLoader, createServerMetrics } from '../../src/server/index.ts'

export interface ObservedServerOptions {
  /** The policy bundle (`mcp-authz build` output); reloaded when the file changes. */
  bundlePath: string
  /** Turns bearer tokens into principals (`createTokenVerifier(...)`). */
  verifier: CredentialVerifier
  /** Decision-log file; stdout when absent. */
  logFile?: string
  /** MCP port (0: any free port). Metrics get their own port on 127.0.0.1. */
  port?: number
  metricsPort?: number
}

export async function startObservedServer(options: ObservedServerOptions) {
  // 1. Consumers of decisions: the decision log, Prometheus metrics, OpenTelemetry.
  const logger = createDecisionLogger({ sinks: [options.logFile ? { type: 'file', path: options.logFile } : { type: 'stdout' }] })
  const metrics = createServerMetrics()
  const otel = createOtelDecisionHook({ logger }) // logs each decision itself and times the log
  const authz = await createAuthz({
    bundle: options.bundlePath,
    verifier: options.verifier,
    onDecision: combineDecisionConsumers(metrics.observeDecision, otel),
  })

  // 2. Hot reload: a new bundle file is verified and activated atomically; a bad one is refused.
  const loader = createBundleLoader({
    target: authz,
    path: options.bundlePath,
    onActivate: (revision) => {
      metrics.bundleActivated(revision)
      otel.bundleActivated(revision)
    },
    onError: (_error, reason) => {
      metrics.reloadFailed(reason)
      otel.reloadFailed(reason)
    },
  })
  metrics.bundleActivated(authz.bundle.revision)
  otel.bundleActivated(authz.bundle.revision)
  loader.start()

  // 3. The MCP server (stateless: a server and a transport per request), guarded.
  const mcpServer = () => {
    const server = new McpServer({ name: 'notes', version: '1.0.0' })
    server.registerTool('notes_read', { inputSchema: { title: z.string().optional() } }, async ({ title }) => ({ content: [{ type: 'text', text: `note ${title ?? '(all)'}` }] }))
    server.registerTool('notes_write', { inputSchema: { title: z.string() } }, async ({ title }) => ({ content: [{ type: 'text', text: `saved ${title}` }] }))
    return protect(server, authz)
  }
  const handler = mcpAuthzHandler({
    authz,
    handle: async (req, res, body) => {
      const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined })
      res.on('close', () => void transport.close())
      await mcpServer().connect(transport)
      await transport.handleRequest(req, res, body)
    },
  })
  const mcpHttp = createServer((req, res) => void handler(req, res))

  // 4. Prometheus scrapes 127.0.0.1:<metricsPort>/metrics, away from the public MCP port.
  const metricsHttp = createServer(async (req, res) => {
    if (req.url !== '/metrics') return void res.writeHead(404).end()
    res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(await metrics.registry.metrics())
  })

  const listen = (server: Server, port: number, host: string) =>
    new Promise<number>((resolve) => server.listen(port, host, () => resolve((server.address() as AddressInfo).port)))
  const port = await listen(mcpHttp, options.port ?? 0, '127.0.0.1')
  const metricsPort = await listen(metricsHttp, options.metricsPort ?? 0, '127.0.0.1')
  return {
    authz,
    url: `http://127.0.0.1:${port}${new URL(authz.resource).pathname}`,
    metricsUrl: `http://127.0.0.1:${metricsPort}/metrics`,
    async close() {
      loader.stop()
      for (const server of [mcpHttp, metricsHttp]) {
        server.closeAllConnections()
        await new Promise((resolve) => server.close(resolve))
      }
      await logger.close()
    },
  }
}
