// Minimal types for the parts of oidc-provider (v9, untyped) that test/helpers/authorization-server.ts uses.
declare module 'oidc-provider' {
  import type { IncomingMessage, ServerResponse } from 'node:http'

  export class Provider {
    constructor(issuer: string, configuration?: Record<string, unknown>)
    readonly issuer: string
    callback(): (req: IncomingMessage, res: ServerResponse) => void
    on(event: string, listener: (...args: unknown[]) => void): this
  }

  type OidcError = new (description?: string, detail?: string) => Error
  export const errors: { InvalidTarget: OidcError; InvalidScope: OidcError } & Record<string, OidcError>

  export default Provider
}
