/**
 * Issue 11.6: a value under a secret-named key is redacted whole, whatever its type and wherever it
 * sits; a private JWK is a secret whatever its key; errors are logged as text, never as `{}`.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { errorText, isPrivateJwk, createRedactor, UNREADABLE } from '../../src/decision-log/redact.ts'

const redact = createRedactor()
const SECRET = '[REDACTED:secret_field]'
const JWK = '[REDACTED:private_jwk]'

describe('redactor: secret-named keys hide their whole value', () => {
  it('objects, arrays of objects, null-prototype objects, nested arrays: replaced whole, leaves never logged', () => {
    const nullProto = Object.assign(Object.create(null) as Record<string, unknown>, { value: 'np-leaf-1' })
    const input = {
      password: { value: 'pw-leaf-1', previous: ['pw-leaf-2'] },
      private_key: { kty: 'RSA', d: 'jwk-leaf-1' },
      credentials: { user: 'al', pin: 4711 },
      client_secret: [{ id: 1, value: 'cs-leaf-1' }],
      api_key: nullProto,
      rows: [[{ token_secret: { nested: { deeper: 'ts-leaf-1' } } }]],
      empty: { secret: {} },
    }
    const out = redact(input, { pathPrefix: '/input' })
    assert.deepEqual(out.value, {
      password: SECRET,
      private_key: SECRET,
      credentials: SECRET,
      client_secret: SECRET,
      api_key: SECRET,
      rows: [[{ token_secret: SECRET }]],
      empty: { secret: SECRET },
    })
    assert.equal(out.redacted, 7, 'one redaction per hidden value, not per leaf')
    assert.deepEqual(out.paths.masked, ['/input/password', '/input/private_key', '/input/credentials', '/input/client_secret', '/input/api_key', '/input/rows/0/0/token_secret', '/input/empty/secret'])
    assert.doesNotMatch(JSON.stringify(out.value), /leaf|4711/)
  })

  it('any case and separator: Password, PASSWORD, client-secret, clientSecret, privateKey, PRIVATE_KEY, api_key, X-Api-Key, OPENAI_API_KEY', () => {
    const names = ['Password', 'PASSWORD', 'client-secret', 'clientSecret', 'ClientSecret', 'privateKey', 'PRIVATE_KEY', 'private-key', 'api_key', 'apiKey', 'X-Api-Key', 'OPENAI_API_KEY', 'dbPassword', 'Credentials', 'refresh_token', 'connectionString']
    for (const name of names) {
      const out = redact({ [name]: { a: 'leaf-value' } })
      assert.deepEqual(out.value, { [name]: SECRET }, name)
    }
  })

  it('numbers, bigints, binaries and Dates under a secret name are hidden too; null, booleans and empty strings carry nothing and stay', () => {
    const out = redact({ pin_password: 1234, big_secret: 12n, key_secret: Buffer.from('raw-bytes'), passphrase: new Date(0), password: null, secret: false, api_key: '' })
    assert.deepEqual(out.value, { pin_password: SECRET, big_secret: SECRET, key_secret: SECRET, passphrase: SECRET, password: null, secret: false, api_key: '' })
    assert.equal(out.redacted, 4)
  })

  it('NaN and Infinity under a secret name are hidden like any number', () => {
    assert.deepEqual(redact({ password: Number.NaN, secret: Number.POSITIVE_INFINITY }).value, { password: SECRET, secret: SECRET })
  })

  it('a { name, value } pair whose name is secret hides an object value whole', () => {
    const out = redact({ env: [{ name: 'DB_PASSWORD', value: { primary: 'p1', replica: 'p2' } }, { name: 'LOG_LEVEL', value: { level: 'debug' } }] })
    assert.deepEqual(out.value, { env: [{ name: 'DB_PASSWORD', value: SECRET }, { name: 'LOG_LEVEL', value: { level: 'debug' } }] })
  })

  it('is not fooled into hiding descriptive names (the value stays readable)', () => {
    const v = { password_hint: { text: 'pet' }, api_key_id: { id: 'k-1' }, token_type: ['Bearer'], public_key: { kty: 'EC', x: 'x', y: 'y' }, max_tokens: 10 }
    assert.equal(redact(v).value, v)
  })

  it('with secretKeys: false, objects under secret names are walked (the option still means what it says)', () => {
    const r = createRedactor({ secretKeys: false })
    const v = { password: { hint: 'pet' } }
    assert.equal(r(v).value, v)
  })

  it('holds for any value under any secret key variant at any depth (property)', () => {
    let marker = 0
    const leaf = fc.oneof(
      fc.constant(null).map(() => `LEAK${marker++}X`),
      fc.integer({ min: 1, max: 1000 }).map((n) => 7_000_000 + n),
    )
    const tree = fc.letrec<{ node: unknown }>((tie) => ({
      node: fc.oneof({ depthSize: 'small', withCrossShrink: true }, leaf, fc.array(tie('node'), { maxLength: 3 }), fc.dictionary(fc.constantFrom('a', 'b', 'value', 'name', 'kty'), tie('node'), { maxKeys: 3 })),
    })).node
    const secretName = fc.constantFrom('password', 'Password', 'CLIENT_SECRET', 'client-secret', 'privateKey', 'private_key', 'api_key', 'apiKey', 'credentials', 'AccessToken', 'x-secret')
    const path = fc.array(fc.oneof(fc.constantFrom('args', 'data', 'items'), fc.nat({ max: 2 })), { maxLength: 4 })
    fc.assert(
      fc.property(tree, secretName, path, (value, name, segments) => {
        let doc: unknown = { [name]: value }
        for (const seg of segments.reverse()) doc = typeof seg === 'number' ? Array.from({ length: seg + 1 }, (_, i) => (i === seg ? doc : 'filler')) : { [seg]: doc }
        const text = JSON.stringify(redact(doc).value) ?? ''
        assert.doesNotMatch(text, /LEAK\d+X|700\d{4}/)
      }),
      { seed: 20261130, numRuns: 300 },
    )
  })
})

describe('redactor: private JWKs are secrets whatever their key', () => {
  const rsa = { kty: 'RSA', n: 'modulus', e: 'AQAB', d: 'priv-exp', p: 'p1', q: 'q1', dp: 'dp1', dq: 'dq1', qi: 'qi1' }
  it('RSA, EC, OKP, oct and AKP private keys are replaced whole, under neutral keys and inside JWKS arrays', () => {
    const input = {
      config: { signing: rsa },
      jwks: { keys: [{ kty: 'EC', crv: 'P-256', x: 'x1', y: 'y1' }, { kty: 'EC', crv: 'P-256', x: 'x2', y: 'y2', d: 'ec-d' }] },
      okp: { kty: 'OKP', crv: 'Ed25519', x: 'x3', d: 'okp-d' },
      mac: { kty: 'oct', k: 'hmac-key' },
      pq: { kty: 'AKP', alg: 'ML-DSA-44', pub: 'pub', priv: 'seed' },
      partial: { kty: 'RSA', n: 'm', e: 'AQAB', qi: 'only-crt' },
      multi: { kty: 'RSA', n: 'm', e: 'AQAB', oth: [{ r: 'r', d: 'd', t: 't' }] },
    }
    const out = redact(input, { pathPrefix: '/input' })
    assert.deepEqual(out.value, {
      config: { signing: JWK },
      jwks: { keys: [{ kty: 'EC', crv: 'P-256', x: 'x1', y: 'y1' }, JWK] },
      okp: JWK,
      mac: JWK,
      pq: JWK,
      partial: JWK,
      multi: JWK,
    })
    assert.equal(out.redacted, 7)
    assert.deepEqual(out.paths.masked, ['/input/config/signing', '/input/jwks/keys/1', '/input/okp', '/input/mac', '/input/pq', '/input/partial', '/input/multi'])
  })

  it('public JWKs, and objects that merely have a "d" or a non-string kty, are kept', () => {
    const v = { pub: { kty: 'RSA', n: 'm', e: 'AQAB' }, dims: { d: 3, w: 4 }, odd: { kty: 7, d: 'x' } }
    assert.equal(redact(v).value, v)
    assert.equal(isPrivateJwk({ kty: 'EC', x: 'x', y: 'y' }), false)
    assert.equal(isPrivateJwk([] as object), false)
    assert.equal(isPrivateJwk({ d: 'x' }), false)
    assert.equal(isPrivateJwk(Object.assign(Object.create(null) as object, { kty: 'oct', k: 'x' })), true)
  })

  it('a private JWK (or JWKS) in JSON text has its private members replaced; the rest of the text stays', () => {
    const text = JSON.stringify({ keys: [{ kty: 'EC', crv: 'P-256', x: 'xx', y: 'yy', d: 'ec-private' }, { kty: 'RSA', n: 'nn', e: 'AQAB', d: 'r\\"sa', p: 'pp', oth: [{ d: 'o' }] }] })
    const out = redact({ body: text }, { pathPrefix: '/input' })
    const body = (out.value as { body: string }).body
    assert.doesNotMatch(body, /ec-private|r\\\\"sa|"pp"/)
    assert.match(body, /"x":"xx"/)
    assert.equal((body.match(/\[REDACTED:private_jwk\]/g) ?? []).length, 4)
    assert.equal(out.redacted, 4)
    assert.deepEqual(out.paths.masked, ['/input/body'])
    const plain = { body: '{"d": "not a jwk"}' }
    assert.equal(redact(plain).value, plain, 'without "kty" a "d" member is ordinary data')
  })
})

describe('redactor: errors are logged as their text', () => {
  it('an Error becomes "name [code]: message; cause: …" with secrets redacted, at most three causes', () => {
    const inner = Object.assign(new RangeError('wasm memory limit'), { code: 'ERR_WASM' })
    const e = new Error('evaluation failed for ghp_0123456789abcdefghijABCDEFGHIJ012345', { cause: new Error('mid', { cause: inner }) })
    const out = redact({ error: e, list: [new TypeError('t')] })
    assert.deepEqual(out.value, {
      error: 'Error: evaluation failed for [REDACTED:github_token]; cause: Error: mid; cause: RangeError [ERR_WASM]: wasm memory limit',
      list: ['TypeError: t'],
    })
    let deep: Error = new Error('level 0')
    for (let i = 1; i <= 6; i++) deep = new Error(`level ${i}`, { cause: deep })
    assert.equal(errorText(deep), 'Error: level 6; cause: Error: level 5; cause: Error: level 4; cause: Error: level 3')
    assert.equal(errorText(new Error('x', { cause: 'plain reason' })), 'Error: x; cause: plain reason')
    assert.equal(errorText(new Error('x', { cause: { why: 'object' } })), 'Error: x; cause: {"why":"object"}')
    assert.equal(errorText(new Error('x', { cause: 42n })), 'Error: x; cause: [UNREADABLE]')
    assert.equal(errorText(new Error('x', { cause: null })), 'Error: x')
  })

  it('an Error under a secret name is hidden whole; a hostile Error is [UNREADABLE]', () => {
    assert.deepEqual(redact({ secret: new Error('pw') }).value, { secret: SECRET })
    const hostile = new Error('x')
    Object.defineProperty(hostile, 'message', {
      get() {
        throw new Error('no')
      },
    })
    assert.equal(errorText(hostile), UNREADABLE)
  })
})
