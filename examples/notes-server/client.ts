/**
 * A client for the notes example using the SDK's own OAuth support (client_credentials against the
 * development issuer): `node examples/notes-server/client.ts [clientId] [scopes…]`, e.g.
 * `node examples/notes-server/client.ts reader notes:read`.
 *
 * @module
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { ClientCredentialsProvider } from '@modelcontextprotocol/sdk/client/auth-extensions.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'

const url = new URL(process.env.NOTES_URL ?? 'http://127.0.0.1:3000/mcp')
const [clientId = 'reader', ...scopes] = process.argv.slice(2)
const provider = new ClientCredentialsProvider({ clientId, clientSecret: 'dev-secret', scope: (scopes.length ? scopes : ['notes:read']).join(' '), expectedIssuer: process.env.NOTES_ISSUER ?? `${url.origin}/dev-issuer` })
const client = new Client({ name: 'notes-example-client', version: '1.0.0' })
await client.connect(new StreamableHTTPClientTransport(url, { authProvider: provider }))
console.log('tools:', (await client.listTools()).tools.map((t) => t.name).join(', '))
for (const [name, args] of [['notes_write', { title: 'hello', body: 'from the example client' }], ['notes_read', { title: 'hello' }]] as const) {
  try {
    const result = await client.callTool({ name, arguments: args })
    console.log(`${name}:`, JSON.stringify(result.content))
  } catch (err) {
    console.log(`${name}: refused —`, (err as Error).message)
  }
}
await client.close()
