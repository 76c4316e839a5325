import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { classifyKey, compileScanner, customPatterns, looksLikeSecretValue, SECRET_PATTERNS, shannonEntropy } from '../../src/decision-log/patterns.ts'
import { createRedactor } from '../../src/decision-log/redact.ts'
import { chars, growth, makeJwt, makePem, mixed } from './helpers.ts'

const scanner = compileScanner(SECRET_PATTERNS)
const scan = (text: string): string => scanner.scan(text).text
const redact = createRedactor()

/** Ordinary values that no pattern may touch, in strings or under neutral keys. */
const ORDINARY = [
  'hello',
  'create_note',
  'Groceries: milk, eggs and bread',
  '550e8400-e29b-41d4-a716-446655440000',
  'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
  'a94a8fe5ccb19ba61c4c0873d391e987982fbbd3',
  'a94a8fe',
  '2025-11-25T10:00:00.123Z',
  '/home/alice/projects/notes/README.md',
  'C:\\Users\\alice\\notes.txt',
  'https://example.com/docs/page?id=42&lang=en#section-2',
  'https://user@example.com/repo.git',
  'http://localhost:8080/mcp',
  'mailto:alice@example.com',
  'alice@example.com',
  'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIH0o1nLq2x8t3pN8k6fQf0r2b5Yy5cM5gYkR8J3sVbqx alice@laptop',
  'The Bearer scheme is described in RFC 6750',
  'Basic authentication is disabled',
  'token-based auth',
  'pk_live_51H8example0publishable0key',
  'sk-learn-tutorial-notes-and-more',
  'xoxo-gossip-girl-season',
  'eyJ is how base64 JSON starts',
  'AKIAEXAMPLE',
  'ghp_short',
  'notes:read notes:write',
  'fp:3f1a9c0d2b4e6f8a1c3e5d7b',
]

const POSITIVE: { name: string; text: string; expected: string }[] = (() => {
  const jwt = makeJwt()
  const pem = makePem()
  const ghp = `ghp_${chars(36)}`
  const pat = `github_pat_11ABCDEFG0${chars(12)}_${chars(59)}`
  const openai = `sk-proj-${mixed(60)}`
  const classic = `sk-${mixed(20)}T3BlbkFJ${mixed(20)}`
  const anthropic = `sk-ant-api03-${chars(93, 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_')}AA`
  const google = `AIzaSy${chars(33, 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_')}`
  return [
    { name: 'jwt alone', text: jwt, expected: '[REDACTED:jwt]' },
    { name: 'jwt in a sentence', text: `token was ${jwt}, expired`, expected: 'token was [REDACTED:jwt], expired' },
    { name: 'jwt in a query string', text: `https://x.example/cb?assertion=${jwt}&state=1`, expected: 'https://x.example/cb?assertion=[REDACTED:jwt]&state=1' },
    { name: 'jwt after token= (assignment wins, secret gone either way)', text: `https://x.example/cb?id_token=${jwt}&state=1`, expected: 'https://x.example/cb?id_token=[REDACTED:secret_assignment]&state=1' },
    { name: 'unsigned jwt', text: `${jwt.split('.').slice(0, 2).join('.')}.`, expected: '[REDACTED:jwt]' },
    { name: 'bearer', text: 'Authorization: Bearer abc123def456ghi789', expected: 'Authorization: Bearer [REDACTED:bearer]' },
    { name: 'bearer lower case with jwt', text: `bearer ${jwt}`, expected: 'bearer [REDACTED:bearer]' },
    { name: 'bearer with padding', text: 'BEARER mF_9.B5f-4.1JqM==', expected: 'BEARER [REDACTED:bearer]' },
    { name: 'basic auth header', text: `Authorization: Basic ${Buffer.from('alice:s3cr3t-pass').toString('base64')}`, expected: 'Authorization: Basic [REDACTED:basic_auth]' },
    { name: 'pem rsa', text: pem, expected: '[REDACTED:private_key]' },
    { name: 'pem inside text', text: `key:\n${makePem(undefined, 'PRIVATE KEY')}\nend`, expected: 'key:\n[REDACTED:private_key]\nend' },
    { name: 'pem openssh', text: makePem(undefined, 'OPENSSH PRIVATE KEY'), expected: '[REDACTED:private_key]' },
    { name: 'pem encrypted', text: makePem(undefined, 'ENCRYPTED PRIVATE KEY'), expected: '[REDACTED:private_key]' },
    { name: 'pem pgp', text: makePem(undefined, 'PGP PRIVATE KEY BLOCK'), expected: '[REDACTED:private_key]' },
    { name: 'pem without END (truncated)', text: `-----BEGIN EC PRIVATE KEY-----\n${chars(64)}`, expected: '[REDACTED:private_key]' },
    { name: 'pem with JSON-escaped newlines', text: `"-----BEGIN RSA PRIVATE KEY-----\\n${chars(64)}\\n-----END RSA PRIVATE KEY-----"`, expected: '"[REDACTED:private_key]"' },
    { name: 'url credentials', text: 'https://alice:s3cr3t@example.com/path?q=1', expected: 'https://[REDACTED:url_credentials]@example.com/path?q=1' },
    { name: 'url credentials with @ in password', text: 'postgres://app:p@ss:w0rd@db:5432/main', expected: 'postgres://[REDACTED:url_credentials]@db:5432/main' },
    { name: 'url credentials, empty user', text: 'redis://:hunter2@cache:6379', expected: 'redis://[REDACTED:url_credentials]@cache:6379' },
    { name: 'aws access key id', text: 'AKIAIOSFODNN7EXAMPLE', expected: '[REDACTED:aws_access_key_id]' },
    { name: 'aws session key id', text: 'id=ASIAY34FZKBOKMUTVV7A;', expected: 'id=[REDACTED:aws_access_key_id];' },
    { name: 'aws secret env', text: 'AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY', expected: 'AWS_SECRET_ACCESS_KEY=[REDACTED:aws_secret_access_key]' },
    { name: 'aws secret json', text: '{"aws_secret_access_key": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}', expected: '{"aws_secret_access_key": "[REDACTED:aws_secret_access_key]"}' },
    { name: 'github classic', text: `git clone https://x:${ghp}@github.com/o/r`, expected: 'git clone https://[REDACTED:url_credentials]@github.com/o/r' },
    { name: 'github ghp alone', text: ghp, expected: '[REDACTED:github_token]' },
    { name: 'github gho', text: `gho_${chars(36)}`, expected: '[REDACTED:github_token]' },
    { name: 'github ghu', text: `ghu_${chars(36)}`, expected: '[REDACTED:github_token]' },
    { name: 'github ghs', text: `ghs_${chars(36)}`, expected: '[REDACTED:github_token]' },
    { name: 'github ghr', text: `ghr_${chars(36)}`, expected: '[REDACTED:github_token]' },
    { name: 'github fine-grained', text: pat, expected: '[REDACTED:github_token]' },
    { name: 'gitlab', text: `glpat-${chars(20)}`, expected: '[REDACTED:gitlab_token]' },
    { name: 'slack bot', text: 'xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx', expected: '[REDACTED:slack_token]' },
    { name: 'slack user', text: 'token xoxp-1234-5678-91011-abcdef0123', expected: 'token [REDACTED:slack_token]' },
    { name: 'slack webhook', text: 'https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX', expected: 'https://hooks.slack.com/services/[REDACTED:slack_webhook]' },
    { name: 'stripe live', text: `sk_live_${chars(24)}`, expected: '[REDACTED:stripe_key]' },
    { name: 'stripe test', text: `sk_test_${chars(24)}`, expected: '[REDACTED:stripe_key]' },
    { name: 'stripe restricted', text: `rk_live_${chars(24)}`, expected: '[REDACTED:stripe_key]' },
    { name: 'anthropic', text: anthropic, expected: '[REDACTED:anthropic_key]' },
    { name: 'openai project', text: openai, expected: '[REDACTED:openai_key]' },
    { name: 'openai classic', text: `OPENAI_API_KEY=${classic}`, expected: 'OPENAI_API_KEY=[REDACTED:secret_assignment]' },
    { name: 'openai classic alone', text: classic, expected: '[REDACTED:openai_key]' },
    { name: 'google api key', text: `key: ${google}`, expected: 'key: [REDACTED:google_api_key]' },
    { name: 'npm token', text: `//registry.npmjs.org/:_authToken=npm_${chars(36)}`, expected: '//registry.npmjs.org/:_authToken=[REDACTED:secret_assignment]' },
    { name: 'npm token alone', text: `npm_${chars(36)}`, expected: '[REDACTED:npm_token]' },
    { name: 'sendgrid', text: `SG.${chars(22)}.${chars(43)}`, expected: '[REDACTED:sendgrid_key]' },
    { name: 'password assignment', text: 'mysql -u root --password=Sup3rS3cret!', expected: 'mysql -u root --password=[REDACTED:secret_assignment]' },
    { name: 'json text password', text: '{"user":"al","password":"correct horse"}', expected: '{"user":"al","password":"[REDACTED:secret_assignment] horse"}' },
    { name: 'client_secret in form body', text: 'grant_type=client_credentials&client_secret=s3cr3tvalue&scope=a', expected: 'grant_type=client_credentials&client_secret=[REDACTED:secret_assignment]&scope=a' },
    { name: 'azure connection string', text: 'DefaultEndpointsProtocol=https;AccountName=acme;AccountKey=abc123def456==;EndpointSuffix=core.windows.net', expected: 'DefaultEndpointsProtocol=https;AccountName=acme;AccountKey=[REDACTED:secret_assignment];EndpointSuffix=core.windows.net' },
  ]
})()

describe('secret patterns', () => {
  for (const p of POSITIVE) {
    it(`redacts: ${p.name}`, () => {
      assert.equal(scan(p.text), p.expected)
    })
  }

  it('has a positive example for every built-in pattern', () => {
    const covered = new Set(POSITIVE.flatMap((p) => [...p.expected.matchAll(/\[REDACTED:([a-z_]+)\]/g)].map((m) => m[1])))
    for (const pattern of SECRET_PATTERNS) assert.ok(covered.has(pattern.name), `no positive example for ${pattern.name}`)
  })

  for (const text of ORDINARY) {
    it(`keeps ordinary text: ${JSON.stringify(text).slice(0, 60)}`, () => {
      assert.equal(scan(text), text)
      const value = { note: text, id: text, list: [text, { description: text }], [text]: 1 }
      assert.equal(redact(value).value, value, 'same reference when nothing changed')
    })
  }

  it('needs a boundary before a prefix (no match inside longer words)', () => {
    assert.equal(scan(`xghp_${chars(36)}`).startsWith('xghp_'), true)
    assert.equal(scan(`XAKIAIOSFODNN7EXAMPLE`), 'XAKIAIOSFODNN7EXAMPLE')
    assert.equal(scan(`AKIAIOSFODNN7EXAMPLEX`), 'AKIAIOSFODNN7EXAMPLEX')
  })

  it('keeps look-alikes that fail validation', () => {
    // eyJ… segments whose header is not a JOSE header
    const fake = `${Buffer.from('{"hello":"world!!"}').toString('base64url')}.abcdefgh.ijklmnop`
    assert.equal(scan(fake), fake)
    // Basic followed by base64 of something without a colon
    const basic = `Basic ${Buffer.from('justaword').toString('base64')}`
    assert.equal(scan(basic), basic)
    // slack-shaped without digits
    assert.equal(scan('xoxb-abcdefghijklmnop'), 'xoxb-abcdefghijklmnop')
    // sk- slug with no upper case
    assert.equal(scan('sk-abcdefghijklmnopqrstuvwxyz0123'), 'sk-abcdefghijklmnopqrstuvwxyz0123')
  })

  it('counts and names what it replaced', () => {
    const r = scanner.scan(`a AKIAIOSFODNN7EXAMPLE b ghp_${chars(36)} c`)
    assert.equal(r.count, 2)
    assert.deepEqual(r.kinds, ['aws_access_key_id', 'github_token'])
  })

  it('is fast on long ordinary text and long near-misses (no catastrophic backtracking)', () => {
    // Each shape at n and 16 n units: linear work grows about 16×, quadratic backtracking 256× or
    // more. A ratio in the same run, not a wall-clock bound, so a loaded machine does not fail it.
    const shapes: Array<[string, (n: number) => string, number]> = [
      ['plain', (n) => 'a'.repeat(n), 100_000],
      ['eyJ', (n) => 'eyJ'.repeat(n), 25_000],
      ['Bearer', (n) => 'Bearer '.repeat(n), 12_500],
      ['url', (n) => `https://${'a:'.repeat(n)}`, 50_000],
      ['pem', (n) => `-----BEGIN RSA PRIVATE KEY-----${'A'.repeat(n)}`, 100_000],
      ['password=', (n) => 'password='.repeat(n), 12_500],
      ['aws', (n) => `${'aws'.repeat(n)}secret`, 25_000],
    ]
    for (const [name, make, maxN] of shapes) {
      const ratio = growth(make, 1000, scan, maxN)
      assert.ok(ratio < 64, `${name}: 16× the input cost ${ratio.toFixed(1)}× the time`)
    }
  })
})

describe('custom patterns', () => {
  it('are applied with the built-ins and named in the placeholder', () => {
    const r = createRedactor({ customPatterns: [{ name: 'acme_key', pattern: 'acme_[a-z0-9]{16}' }, { name: 'ticket', pattern: '(?<keep>TICKET-)\\d{6}', flags: 'i' }] })
    assert.deepEqual(r({ a: 'use acme_0123456789abcdef now', b: 'ticket-123456' }).value, { a: 'use [REDACTED:acme_key] now', b: 'ticket-[REDACTED:ticket]' })
  })

  it('reject bad options with a TypeError naming the option', () => {
    assert.throws(() => customPatterns([{ name: 'bad name', pattern: 'x' }]), { name: 'TypeError', message: /redaction\.customPatterns\[0\]\.name/ })
    assert.throws(() => customPatterns([{ name: 'x', pattern: '(' }]), { name: 'TypeError', message: /customPatterns\[0\]\.pattern/ })
    assert.throws(() => createRedactor({ customPatterns: [{ name: 'x', pattern: '(a)\\1' }] }), { name: 'TypeError', message: /back-references/ })
    assert.throws(() => createRedactor({ patterns: ['nope' as never] }), { name: 'TypeError', message: /redaction\.patterns/ })
  })

  it('built-in patterns can be narrowed or turned off', () => {
    const onlyJwt = createRedactor({ patterns: ['jwt'], secretKeys: false, entropy: false })
    assert.deepEqual(onlyJwt({ a: 'AKIAIOSFODNN7EXAMPLE' }).value, { a: 'AKIAIOSFODNN7EXAMPLE' })
    const none = createRedactor({ patterns: false, secretKeys: false, entropy: false })
    const v = { a: makeJwt() }
    assert.equal(none(v).value, v)
  })
})

describe('key names', () => {
  const cases: [string, 'secret' | 'maybe' | 'none'][] = [
    ['password', 'secret'],
    ['db_password', 'secret'],
    ['DB_PASSWORD', 'secret'],
    ['smtpPassword', 'secret'],
    ['passwords', 'secret'],
    ['client_secret', 'secret'],
    ['clientSecret', 'secret'],
    ['api_key', 'secret'],
    ['apiKey', 'secret'],
    ['x-api-key', 'secret'],
    ['OPENAI_API_KEY', 'secret'],
    ['access_token', 'secret'],
    ['refreshToken', 'secret'],
    ['id_token', 'secret'],
    ['oauth_token', 'secret'],
    ['private_key', 'secret'],
    ['AWS_SECRET_ACCESS_KEY', 'secret'],
    ['signingKey', 'secret'],
    ['passphrase', 'secret'],
    ['connection_string', 'secret'],
    ['token', 'maybe'],
    ['key', 'maybe'],
    ['auth', 'maybe'],
    ['session', 'maybe'],
    ['pwd', 'maybe'],
    ['credentials', 'secret'],
    ['signature', 'maybe'],
    ['password_hash', 'maybe'],
    ['api_key_id', 'none'],
    ['tokenId', 'none'],
    ['token_type', 'none'],
    ['password_hint', 'none'],
    ['secret_name', 'none'],
    ['max_tokens', 'none'],
    ['nextPageToken', 'none'],
    ['page_token', 'none'],
    ['cache_key', 'none'],
    ['idempotencyKey', 'none'],
    ['public_key', 'none'],
    ['authMethod', 'none'],
    ['author', 'none'],
    ['keyword', 'none'],
    ['monkey', 'none'],
    ['title', 'none'],
    ['sha256', 'none'],
    ['', 'none'],
  ]
  for (const [key, expected] of cases) {
    it(`${JSON.stringify(key)} is ${expected}`, () => assert.equal(classifyKey(key), expected))
  }
})

describe('entropy rule', () => {
  it('computes Shannon entropy in bits per character', () => {
    assert.equal(shannonEntropy(''), 0)
    assert.equal(shannonEntropy('aaaa'), 0)
    assert.equal(shannonEntropy('abcd'), 2)
    assert.ok(Math.abs(shannonEntropy('aabb') - 1) < 1e-9)
    assert.ok(shannonEntropy('✓✓✗✗') > 0.99)
  })

  it('flags long random values and keeps ordinary ones', () => {
    assert.equal(looksLikeSecretValue(mixed(24)), true)
    assert.equal(looksLikeSecretValue('9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08'), true) // under a secret-ish key hex can be a key
    assert.equal(looksLikeSecretValue('short1A'), false)
    assert.equal(looksLikeSecretValue('aaaaaaaaaaaaaaaaaaaaaaaaaaaa1'), false)
    assert.equal(looksLikeSecretValue('this is a long sentence with spaces'), false)
    assert.equal(looksLikeSecretValue('oauth-client-credentials-flow'), false)
    assert.equal(looksLikeSecretValue('2025-11-25T10:00:00.123+01:00'), false)
    assert.equal(looksLikeSecretValue('https://example.com/a/b/c/d/e/f'), false)
    assert.equal(looksLikeSecretValue('/var/lib/app/keys/server-2025.json'), false)
    assert.equal(looksLikeSecretValue('session:user:12345:profile'), false)
    assert.equal(looksLikeSecretValue('projects/acme-prod/locations/us/keyRings/ring1'), false)
    assert.equal(looksLikeSecretValue('wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY'), true)
    assert.equal(looksLikeSecretValue(`${mixed(16)}-${mixed(16)}`), true)
  })

  it('applies under maybe-secret keys only', () => {
    const value = mixed(32)
    const out = redact({ token: value, session_key: value, note: value, page_token: value, commit: 'a94a8fe5ccb19ba61c4c0873d391e987982fbbd3' }).value
    assert.deepEqual(out, { token: '[REDACTED:high_entropy]', session_key: '[REDACTED:high_entropy]', note: value, page_token: value, commit: 'a94a8fe5ccb19ba61c4c0873d391e987982fbbd3' })
  })

  it('hex digests and UUIDs under non-secret keys survive', () => {
    const v = { sha256: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', id: '550e8400-e29b-41d4-a716-446655440000', commit: 'a94a8fe5ccb19ba61c4c0873d391e987982fbbd3', etag: 'W/"5f0c2a9b8e7d"' }
    assert.equal(redact(v).value, v)
  })

  it('thresholds are configurable', () => {
    const strict = createRedactor({ entropy: { minLength: 8, threshold: 2 } })
    assert.deepEqual(strict({ token: 'aB3dE5gH' }).value, { token: '[REDACTED:high_entropy]' })
    const off = createRedactor({ entropy: false })
    const v = { token: mixed(32) }
    assert.equal(off(v).value, v)
  })
})
