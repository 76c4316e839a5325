/**
 * The conformance target server over stdio (the same SDK `Server` as test/conformance/server.ts), so
 * the conformance suite can run through the proxy's stdio bridge: `node test/proxy/conformance-stdio.ts`.
 */
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js'
import { createConformanceServer } from '../conformance/server.ts'

await createConformanceServer().connect(new StdioServerTransport())
