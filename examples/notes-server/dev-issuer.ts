/**
 * A development-only OAuth issuer for the notes example, so `node examples/notes-server/main.ts`
 * works without an external authorization server: RFC 8414 metadata, a JWKS, and a
 * `client_credentials` token endpoint issuing RFC 9068 JWT access tokens (`typ: at+jwt`) for the
 * resource named by RFC 8707 `resource`. Any client id, secret `dev-secret`; the client id `admin`
 * also gets `roles: ["admin"]`. Never use outside local development.
 *
 * @module
 */
import { randomUUID } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { exportJWK, generateKeyPair, SignJWT } from 'jose'

export async function createDevIssuer(issuer: string, resource: string, scopes: readonly string[]) {
  const { privateKey, publicKey } = await generateKeyPair('ES256')
  const jwk = { ...(await exportJWK(publicKey)), kid: 'dev-1', alg: 'ES256', use: 'sig' }
  const path = new URL(issuer).pathname.replace(/\/+$/, '')
  const json = (res: ServerResponse, status: number, body: unknown) => res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify(body))
  const metadata = {
    issuer,
    // Required by RFC 8414 clients (the SDK's schema); the endpoint only answers an error.
    authorization_endpoint: `${issuer}/authorize`,
    token_endpoint: `${issuer}/token`,
    jwks_uri: `${issuer}/jwks`,
    grant_types_supported: ['client_credentials'],
    token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
    scopes_supported: scopes,
    response_types_supported: ['code'],
  }
  /** Answers the issuer's paths; `false` for any other path. */
  return async function handle(req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    const url = new URL(req.url ?? '/', 'http://localhost')
    const p = url.pathname
    if (p === `/.well-known/oauth-authorization-server${path}` || p === `${path}/.well-known/oauth-authorization-server` || p === `${path}/.well-known/openid-configuration`) return json(res, 200, metadata), true
    if (p === `${path}/jwks`) return json(res, 200, { keys: [jwk] }), true
    if (p === `${path}/authorize`) return json(res, 400, { error: 'unsupported_response_type', error_description: 'the development issuer only supports client_credentials' }), true
    if (p !== `${path}/token`) return false
    if (req.method !== 'POST') return json(res, 405, { error: 'invalid_request' }), true
    const chunks: Buffer[] = []
    let size = 0
    for await (const c of req) {
      size += (c as Buffer).length
      if (size > 16_384) return json(res, 413, { error: 'invalid_request' }), true
      chunks.push(c as Buffer)
    }
    const form = new URLSearchParams(Buffer.concat(chunks).toString('utf8'))
    let clientId = form.get('client_id')
    let secret = form.get('client_secret')
    const basic = /^Basic (.+)$/i.exec(req.headers.authorization ?? '')
    if (basic?.[1]) [clientId, secret] = Buffer.from(basic[1], 'base64').toString('utf8').split(':').map(decodeURIComponent) as [string, string]
    if (form.get('grant_type') !== 'client_credentials') return json(res, 400, { error: 'unsupported_grant_type' }), true
    if (!clientId || secret !== 'dev-secret') return json(res, 401, { error: 'invalid_client' }), true
    if (form.get('resource') !== resource) return json(res, 400, { error: 'invalid_target' }), true
    const granted = (form.get('scope') ?? scopes.join(' ')).split(' ').filter((s) => scopes.includes(s))
    const token = await new SignJWT({ scope: granted.join(' '), client_id: clientId, ...(clientId === 'admin' ? { roles: ['admin'] } : {}) })
      .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: 'dev-1' })
      .setIssuer(issuer).setSubject(clientId).setAudience(resource).setIssuedAt().setExpirationTime('10m').setJti(randomUUID())
      .sign(privateKey)
    return json(res, 200, { access_token: token, token_type: 'Bearer', expires_in: 600, scope: granted.join(' ') }), true
  }
}
