/**
 * Keys and tokens for the verification tests: honest tokens minted with jose, and the raw
 * building blocks (base64url segments, hand-made signatures) attack tokens are made of.
 *
 * @module
 */
import { createHash, generateKeyPairSync, sign as nodeSign } from 'node:crypto'
import type { KeyObject } from 'node:crypto'
import { exportJWK, generateKeyPair, SignJWT } from 'jose'
import type { CryptoKey, JWK, JWTPayload } from 'jose'

/** A signing key with its public JWK. */
export interface TestKey {
  kid: string
  alg: string
  privateKey: CryptoKey | KeyObject
  publicJwk: JWK
}

/** Generates a key (`RS*`/`PS*` 2048-bit unless told, `ES*`, `EdDSA`) and its public JWK with `kid`, `alg`, `use: sig`. */
export async function makeKey(alg: string, kid: string, options: { modulusLength?: number; withAlg?: boolean } = {}): Promise<TestKey> {
  const rsa = alg.startsWith('RS') || alg.startsWith('PS')
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true, ...(rsa ? { modulusLength: options.modulusLength ?? 2048 } : {}) })
  const publicJwk: JWK = { ...(await exportJWK(publicKey)), kid, use: 'sig', ...(options.withAlg === false ? {} : { alg }) }
  return { kid, alg, privateKey, publicJwk }
}

/** An RSA key of any size (jose refuses to make < 2048-bit ones), signing with node:crypto. */
export function makeRawRsaKey(modulusLength: number, kid: string): { kid: string; privateKey: KeyObject; publicJwk: JWK } {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength })
  return { kid, privateKey, publicJwk: { ...(publicKey.export({ format: 'jwk' }) as JWK), kid, alg: 'RS256', use: 'sig' } }
}

/** `{ keys: [...] }` of the given keys' public JWKs. */
export function jwksOf(...keys: Array<{ publicJwk: JWK }>): { keys: JWK[] } {
  return { keys: keys.map((k) => k.publicJwk) }
}

/** base64url of a JSON value or bytes. */
export function b64(value: unknown): string {
  return (value instanceof Uint8Array ? Buffer.from(value) : Buffer.from(JSON.stringify(value))).toString('base64url')
}

/** Assembles a compact JWS from a header, a payload and raw signature bytes (or a ready segment). */
export function compact(header: Record<string, unknown>, payload: Record<string, unknown> | string, signature: Uint8Array | string = ''): string {
  const p = typeof payload === 'string' ? payload : b64(payload)
  const s = typeof signature === 'string' ? signature : Buffer.from(signature).toString('base64url')
  return `${b64(header)}.${p}.${s}`
}

/** RS256 signature computed with node:crypto (any key size). */
export function rs256(signingInput: string, privateKey: KeyObject): Buffer {
  return nodeSign('sha256', Buffer.from(signingInput), privateKey)
}

/** HS256 over the signing input with an arbitrary secret (algorithm-confusion attacks). */
export async function hs256(signingInput: string, secret: Uint8Array): Promise<Buffer> {
  const key = await crypto.subtle.importKey('raw', secret, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign'])
  return Buffer.from(await crypto.subtle.sign('HMAC', key, Buffer.from(signingInput)))
}

/** The EMSA-PKCS1-v1_5 encoding of SHA-256(input) for a modulus of `k` bytes (a valid "signature" when e = 1). */
export function pkcs1Sha256Encoding(input: string, k: number): Buffer {
  const digestInfo = Buffer.concat([Buffer.from('3031300d060960864801650304020105000420', 'hex'), createHash('sha256').update(input).digest()])
  return Buffer.concat([Buffer.from([0, 1]), Buffer.alloc(k - digestInfo.length - 3, 0xff), Buffer.from([0]), digestInfo])
}

/** Claims of a valid RFC 9068 access token for `audience` from `issuer`, issued now. */
export function accessClaims(issuer: string, audience: string | string[], overrides: JWTPayload = {}, nowSec = Math.floor(Date.now() / 1000)): JWTPayload {
  return {
    iss: issuer,
    sub: 'user-1',
    aud: audience,
    client_id: 'client-1',
    scope: 'notes:read notes:write',
    iat: nowSec,
    exp: nowSec + 300,
    jti: `jti-${Math.random().toString(36).slice(2)}`,
    ...overrides,
  }
}

/** Signs claims with jose (`typ: at+jwt` and the key's `kid` unless the header says otherwise). */
export async function mint(key: TestKey, claims: JWTPayload, header: Record<string, unknown> = {}): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'at+jwt', ...header }).sign(key.privateKey)
}

/**
 * Signs any header and payload with a test key via WebCrypto — for tokens jose refuses to
 * produce (unknown `crit`, `b64: false`, nested `cty`…), so only the verifier's rule is at stake.
 */
export async function signWith(key: TestKey, header: Record<string, unknown>, payload: Record<string, unknown> | string): Promise<string> {
  const input = `${b64(header)}.${typeof payload === 'string' ? payload : b64(payload)}`
  const bits = key.alg.slice(2)
  const algorithm = key.alg.startsWith('RS')
    ? { name: 'RSASSA-PKCS1-v1_5' }
    : key.alg.startsWith('PS')
      ? { name: 'RSA-PSS', saltLength: Number(bits) / 8 }
      : key.alg.startsWith('ES')
        ? { name: 'ECDSA', hash: `SHA-${bits}` }
        : { name: 'Ed25519' }
  const signature = await crypto.subtle.sign(algorithm, key.privateKey as CryptoKey, Buffer.from(input))
  return `${input}.${Buffer.from(signature).toString('base64url')}`
}
