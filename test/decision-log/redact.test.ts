import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { CIRCULAR, createRedactor, TRUNCATED, UNREADABLE } from '../../src/decision-log/redact.ts'
import { chars, growth, makeJwt, makePem } from './helpers.ts'

const redact = createRedactor()

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value)
    for (const v of Object.values(value)) deepFreeze(v)
  }
  return value
}

describe('redactor: structure', () => {
  it('scans nested arrays and objects at any depth', () => {
    const jwt = makeJwt()
    const input = { a: [{ b: [[{ c: `x ${jwt} y` }]] }], d: { e: { f: { g: ['AKIAIOSFODNN7EXAMPLE', 'ok'] } } } }
    const out = redact(input, { pathPrefix: '/input' })
    assert.deepEqual(out.value, { a: [{ b: [[{ c: 'x [REDACTED:jwt] y' }]] }], d: { e: { f: { g: ['[REDACTED:aws_access_key_id]', 'ok'] } } } })
    assert.equal(out.redacted, 2)
    assert.deepEqual(out.paths.masked, ['/input/a/0/b/0/0/c', '/input/d/e/f/g/0'])
  })

  it('scans keys, and keeps keys unique', () => {
    const ghp = `ghp_${chars(36)}`
    const out = redact({ [ghp]: 1, [`ghp_${chars(36)}`]: 2, ok: 3 })
    assert.deepEqual(out.value, { '[REDACTED:github_token]': 1, '[REDACTED:github_token]#2': 2, ok: 3 })
    assert.equal(JSON.stringify(out.value).includes('ghp_'), false)
  })

  it('replaces values under secret key names whole (strings, numbers, arrays), at any depth', () => {
    const out = redact({ user: 'al', password: 'correct horse battery staple', nested: { client_secret: 'abc', pin: 1234, apiKey: 987654 }, passwords: ['a1', 'b2'], password_hint: 'pet name' })
    assert.deepEqual(out.value, {
      user: 'al',
      password: '[REDACTED:secret_field]',
      nested: { client_secret: '[REDACTED:secret_field]', pin: 1234, apiKey: '[REDACTED:secret_field]' },
      passwords: '[REDACTED:secret_field]',
      password_hint: 'pet name',
    })
  })

  it('leaves empty, boolean and null values under secret names alone', () => {
    const v = { password: '', secret: true, token: null, api_key: false }
    assert.equal(redact(v).value, v)
  })

  it('judges { name, value } pairs by the name (env lists)', () => {
    const out = redact({ env: [{ name: 'DATABASE_PASSWORD', value: 'pw-123' }, { name: 'LOG_LEVEL', value: 'debug' }, { key: 'AWS_SECRET_ACCESS_KEY', value: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' }] })
    assert.deepEqual(out.value, {
      env: [{ name: 'DATABASE_PASSWORD', value: '[REDACTED:secret_field]' }, { name: 'LOG_LEVEL', value: 'debug' }, { key: 'AWS_SECRET_ACCESS_KEY', value: '[REDACTED:aws_secret_access_key]' }],
    })
  })

  it('extra secret key names are configurable, secret-key rule can be turned off', () => {
    assert.deepEqual(createRedactor({ extraSecretKeys: ['x-hub-signature'] })({ xHubSignature: 'abc' }).value, { xHubSignature: '[REDACTED:secret_field]' })
    const v = { password: 'pw' }
    assert.equal(createRedactor({ secretKeys: false })(v).value, v)
  })

  it('strips headers and authorization keys wherever they are, case-insensitively', () => {
    const input = { headers: { authorization: 'Bearer x' }, nested: [{ Authorization: 'Basic y', Cookie: 'sid=1', keep: 1 }], 'Set-Cookie': 'a=b' }
    const out = redact(input, { pathPrefix: '/input' })
    assert.deepEqual(out.value, { nested: [{ keep: 1 }] })
    assert.equal(out.stripped, 4)
    assert.deepEqual(out.paths.erased, ['/input/headers', '/input/nested/0/Authorization', '/input/nested/0/Cookie', '/input/Set-Cookie'])
    assert.deepEqual(createRedactor({ stripKeys: ['x-secret'] })({ 'X-Secret': 1, headers: 2 }).value, { headers: 2 })
  })

  it('escapes reported pointers (RFC 6901)', () => {
    const out = redact({ 'a/b': { 'c~d': 'AKIAIOSFODNN7EXAMPLE' } }, { pathPrefix: '/input' })
    assert.deepEqual(out.paths.masked, ['/input/a~1b/c~0d'])
  })

  it('returns the same reference when nothing changed, and never mutates its input', () => {
    const clean = deepFreeze({ a: 'x', b: [1, 2, { c: 'hello there', d: null, e: true }] })
    assert.equal(redact(clean).value, clean)
    const dirty = deepFreeze({ keep: { same: [1, 2] }, secret: { password: 'pw', list: ['AKIAIOSFODNN7EXAMPLE'] }, headers: { a: 1 } })
    const before = structuredClone(dirty)
    const out = redact(dirty).value as typeof dirty
    assert.deepEqual(dirty, before)
    assert.equal(out.keep, dirty.keep, 'unchanged subtrees are shared, not copied')
    assert.notEqual(out.secret, dirty.secret)
  })

  it('handles toJSON values, binaries, bigints and non-JSON values without throwing', () => {
    const out = redact({ when: new Date('2025-01-02T03:04:05.000Z'), url: new URL('https://u:p@example.com/x'), buf: Buffer.from('abc'), big: 12n, f: () => 1, u: undefined })
    assert.deepEqual(out.value, { when: '2025-01-02T03:04:05.000Z', url: 'https://[REDACTED:url_credentials]@example.com/x', buf: '[BINARY 3 bytes]', big: '12', f: (out.value as { f: unknown }).f, u: undefined })
  })

  it('keeps a key named __proto__ as data', () => {
    const input = JSON.parse('{"__proto__": {"password": "pw"}, "a": 1}') as Record<string, unknown>
    const out = redact(input).value as Record<string, unknown>
    assert.equal(Object.getPrototypeOf(out), Object.prototype)
    assert.deepEqual(Object.getOwnPropertyDescriptor(out, '__proto__')?.value, { password: '[REDACTED:secret_field]' })
  })

  it('never throws: throwing getters and proxies become [UNREADABLE]', () => {
    const evil = { get boom(): string {
      throw new Error('no')
    } }
    assert.equal(redact(evil).value, UNREADABLE)
    const proxy = new Proxy({}, { ownKeys() {
      throw new Error('no')
    } })
    assert.equal(redact({ a: proxy }).value, UNREADABLE)
    const badJson = { toJSON() {
      throw new Error('no')
    } }
    assert.deepEqual(redact({ a: badJson }).value, { a: UNREADABLE })
  })
})

describe('redactor: bounds', () => {
  it('cuts nesting at maxDepth (10 000 levels of objects and arrays) without recursion trouble', () => {
    let deep: unknown = 'AKIAIOSFODNN7EXAMPLE'
    for (let i = 0; i < 10_000; i++) deep = i % 2 === 0 ? { a: deep } : [deep]
    const out = redact(deep)
    const text = JSON.stringify(out.value)
    assert.ok(text.includes(TRUNCATED))
    assert.equal(text.includes('AKIA'), false)
    assert.ok(out.truncated >= 1)
    let depth = 0
    for (let v: unknown = out.value; typeof v === 'object' && v !== null; v = Array.isArray(v) ? v[0] : (v as { a: unknown }).a) depth++
    assert.equal(depth, 32)
    assert.deepEqual(createRedactor({ maxDepth: 3 })({ a: { b: { c: { d: 1 } } } }).value, { a: { b: { c: TRUNCATED } } })
  })

  it('cuts a 100 000-element array at maxNodes', () => {
    const big = Array.from({ length: 100_000 }, (_, i) => (i === 99_999 ? 'AKIAIOSFODNN7EXAMPLE' : i))
    const out = redact(big)
    const arr = out.value as unknown[]
    assert.ok(arr.length <= 10_001)
    assert.equal(arr.at(-1), TRUNCATED)
    assert.equal(arr[0], 0)
    const small = createRedactor({ maxNodes: 5 })({ a: 1, b: 2, c: 3, d: 4, e: 5, f: 6, g: 7 }).value
    assert.deepEqual(small, { a: 1, b: 2, c: 3, d: 4, [TRUNCATED]: '3 more keys' })
  })

  it('cuts a 10 MB string to maxStringLength, secrets at its start redacted, the rest gone', () => {
    const huge = `${makeJwt()} ${'x'.repeat(10 * 1024 * 1024)} ghp_${chars(36)}`
    const out = redact({ body: huge })
    const body = (out.value as { body: string }).body
    assert.ok(body.startsWith('[REDACTED:jwt] xxx'))
    assert.ok(body.endsWith(`…${TRUNCATED}`))
    assert.ok(body.length < 8300)
    assert.equal(body.includes('ghp_'), false)
    assert.equal(out.truncated, 1)
  })

  it('costs the same for a 0.5 MB and an 8 MB string: only the kept part is scanned (ratio in one run)', () => {
    const ratio = growth((n) => ({ body: 'x y '.repeat(n) }), 128 * 1024, (v) => redact(v), 128 * 1024)
    assert.ok(ratio < 4, `16× the input cost ${ratio.toFixed(1)}× the time (a full scan would be about 16×)`)
  })

  it('cuts a PEM key split by the length bound', () => {
    const pem = makePem()
    const out = createRedactor({ maxStringLength: 100 })({ k: pem }).value as { k: string }
    assert.equal(out.k, `[REDACTED:private_key]…${TRUNCATED}`)
  })

  it('bounds the total string length per call', () => {
    const r = createRedactor({ maxStringLength: 100, maxTotalStringLength: 250 })
    const out = r({ a: 'a'.repeat(100), b: 'b'.repeat(100), c: 'c'.repeat(100), d: 'd'.repeat(100) }).value as Record<string, string>
    assert.equal(out.a, 'a'.repeat(100))
    assert.equal(out.b, 'b'.repeat(100))
    assert.equal(out.c, `${'c'.repeat(50)}…${TRUNCATED}`)
    assert.equal(out.d, TRUNCATED)
  })

  it('cuts very long keys', () => {
    const key = 'k'.repeat(20_000)
    const out = createRedactor({ maxStringLength: 64 })({ [key]: 1 }).value as Record<string, number>
    assert.deepEqual(Object.keys(out), [`${'k'.repeat(64)}…${TRUNCATED}`])
  })

  it('breaks cycles and keeps shared (acyclic) references', () => {
    const a: Record<string, unknown> = { name: 'a', password: 'pw' }
    a.self = a
    a.list = [a, { back: a }]
    const shared = { v: 1 }
    const out = redact({ a, x: shared, y: shared }).value as { a: Record<string, unknown>; x: unknown; y: unknown }
    assert.equal(out.a.self, CIRCULAR)
    assert.deepEqual(out.a.list, [CIRCULAR, { back: CIRCULAR }])
    assert.equal(out.x, shared)
    assert.equal(out.y, shared)
    assert.doesNotThrow(() => JSON.stringify(out))
  })

  it('budgets are per call (a big call does not starve the next one)', () => {
    const r = createRedactor({ maxNodes: 10 })
    r(Array.from({ length: 100 }, (_, i) => i))
    assert.deepEqual(r({ a: 1, b: 2 }).value, { a: 1, b: 2 })
  })

  it('rejects bad bounds with a TypeError naming the option', () => {
    assert.throws(() => createRedactor({ maxDepth: 0 }), { name: 'TypeError', message: /redaction\.maxDepth/ })
    assert.throws(() => createRedactor({ maxDepth: 100_000 }), { name: 'TypeError', message: /redaction\.maxDepth/ })
    assert.throws(() => createRedactor({ maxNodes: 1.5 }), { name: 'TypeError', message: /redaction\.maxNodes/ })
    assert.throws(() => createRedactor({ maxStringLength: 1_048_577 }), { name: 'TypeError', message: /redaction\.maxStringLength must be an integer between 1 and 1048576/ })
    assert.doesNotThrow(() => createRedactor({ maxStringLength: 1_048_576 }))
    assert.throws(() => createRedactor({ entropy: { threshold: -1 } }), { name: 'TypeError', message: /redaction\.entropy\.threshold/ })
    assert.throws(() => createRedactor({ stripKeys: 'headers' as never }), { name: 'TypeError', message: /redaction\.stripKeys/ })
  })
})
