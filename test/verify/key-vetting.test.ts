/**
 * Key vetting: which JWKS members survive, which are refused and why.
 */
import assert from 'node:assert/strict'
import { generateKeyPairSync } from 'node:crypto'
import { describe, it } from 'node:test'
import type { JWK } from 'jose'
import { hasRocaFingerprint, SUPPORTED_ALGORITHMS, vetJwks } from '../../src/verify/index.ts'
import type { JwsAlgorithm } from '../../src/verify/index.ts'

function rsaJwk(bits = 2048): JWK {
  return generateKeyPairSync('rsa', { modulusLength: bits }).publicKey.export({ format: 'jwk' }) as JWK
}
function ecJwk(curve = 'P-256'): JWK {
  return generateKeyPairSync('ec', { namedCurve: curve }).publicKey.export({ format: 'jwk' }) as JWK
}

function reasonFor(jwk: Record<string, unknown>, algorithms: readonly JwsAlgorithm[] = SUPPORTED_ALGORITHMS): string | undefined {
  const vetted = vetJwks({ keys: [jwk] }, algorithms)
  assert.ok(vetted !== undefined)
  return vetted.rejected[0]?.reason
}

describe('key vetting', () => {
  const rsa = rsaJwk()
  const ec = ecJwk()

  it('keeps sound public keys, reduced to verification members', () => {
    const vetted = vetJwks({ keys: [{ ...rsa, kid: 'r', alg: 'RS256', use: 'sig', x5c: ['MII…'], ext: true }, { ...ec, kid: 'e', key_ops: ['verify'] }] }, SUPPORTED_ALGORITHMS)
    assert.deepEqual(vetted?.rejected, [])
    assert.deepEqual(vetted?.jwks.keys, [
      { kty: 'RSA', n: rsa.n, e: rsa.e, kid: 'r', alg: 'RS256', use: 'sig' },
      { kty: 'EC', crv: 'P-256', x: ec.x, y: ec.y, kid: 'e', key_ops: ['verify'] },
    ])
  })

  it('returns undefined for something that is not a JWKS', () => {
    for (const input of [null, 'keys', [], {}, { keys: {} }]) assert.equal(vetJwks(input, SUPPORTED_ALGORITHMS), undefined)
  })

  const cases: Array<[string, Record<string, unknown>, RegExp, JwsAlgorithm[]?]> = [
    ['symmetric keys', { kty: 'oct', k: 'c2VjcmV0' }, /symmetric/],
    ['private key material', { ...ec, d: 'AAAA' }, /private key member "d"/],
    ['use: enc', { ...ec, use: 'enc' }, /use is "enc"/],
    ['key_ops without verify', { ...ec, key_ops: ['encrypt'] }, /key_ops does not include "verify"/],
    ['an alg that does not fit the key', { ...ec, alg: 'RS256' }, /alg "RS256" does not fit a EC key/],
    ['an alg outside the allowlist', { ...ec, alg: 'ES256' }, /alg ES256 is not an accepted algorithm/, ['RS256']],
    ['a key type with no allowed algorithm', ec, /no accepted algorithm for a EC key/, ['RS256']],
    ['RSA e = 3', { ...rsa, e: 'Aw' }, /exponent is not 65537/],
    ['RSA e = 1', { ...rsa, e: 'AQ' }, /exponent is not 65537/],
    ['RSA with an oversized exponent', { ...rsa, e: 'AQABAQABAQAB' }, /exponent is not 65537/],
    ['RSA 1024 bits', rsaJwk(1024), /1024 bits, fewer than 2048/],
    ['RSA over 8192 bits', { ...rsa, n: Buffer.concat([Buffer.from([0x80]), Buffer.alloc(1100, 1)]).toString('base64url') }, /more than 8192/],
    ['an even RSA modulus', { ...rsa, n: Buffer.concat([Buffer.from([0x80]), Buffer.alloc(255, 2)]).toString('base64url') }, /modulus is even/],
    ['non-base64url members', { ...rsa, n: `${rsa.n as string}===` }, /without valid n \/ e/],
    ['EC coordinates of the wrong length', { ...ec, x: (ec.x as string).slice(2) }, /wrong length/],
    ['an EC point off the curve', { ...ec, y: Buffer.alloc(32, 7).toString('base64url') }, /does not import/],
    ['an unknown curve', { ...ec, crv: 'secp256k1' }, /no accepted algorithm|unsupported curve/],
    ['an unknown key type', { kty: 'AKP', pub: 'AAAA' }, /unsupported key type/],
    ['a kid that is not a string', { ...ec, kid: 7 }, /kid is not a string/],
  ]
  for (const [name, jwk, reason, algorithms] of cases) {
    it(`refuses ${name}`, () => {
      assert.match(reasonFor(jwk, algorithms) ?? 'accepted', reason)
    })
  }

  it('refuses every key of an ambiguous kid', () => {
    const vetted = vetJwks({ keys: [{ ...ec, kid: 'same' }, { ...ecJwk(), kid: 'same' }, { ...rsa, kid: 'other' }] }, SUPPORTED_ALGORITHMS)
    assert.deepEqual(vetted?.jwks.keys.map((k) => k.kid), ['other'])
    assert.deepEqual(vetted?.rejected.map((r) => [r.kid, r.reason]), [
      ['same', 'kid is shared by several keys (ambiguous)'],
      ['same', 'kid is shared by several keys (ambiguous)'],
    ])
  })

  it('does not flag healthy RSA moduli as ROCA', () => {
    for (let i = 0; i < 4; i++) assert.equal(hasRocaFingerprint(Buffer.from(rsaJwk().n as string, 'base64url')), false)
  })

  it('flags a modulus built like an RSALib (ROCA) one', () => {
    // N ≡ 65537^a (mod every small prime tested) is the fingerprint; a CRT-free way to get one:
    // any power of 65537 larger than the product of the tested primes.
    const n = 65537n ** 40n
    assert.equal(hasRocaFingerprint(Buffer.from(n.toString(16).padStart(Math.ceil(n.toString(16).length / 2) * 2, '0'), 'hex')), true)
  })
})
