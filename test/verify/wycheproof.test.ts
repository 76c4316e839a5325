/**
 * Wycheproof JSON Web Crypto vectors (C2SP/wycheproof, `testvectors_v1/json_web_*`), run through
 * the verifier's signature path: the test's key (or key set) is loaded exactly as an issuer's
 * configured JWKS would be (vetting included), then the vector goes through `verifyCompactJws`
 * — header policy, vetted keys, jose. The vectors' payloads are not JWT claim sets, so the
 * claim stage cannot run on them; every `invalid` vector also goes through `verify()`, which
 * must refuse it with a typed error.
 *
 * Every `invalid` vector must be refused. A `valid` vector may be refused only if it is listed
 * in {@link VALID_REFUSED_BY_POLICY} with the reason; the list must stay exact.
 */
import assert from 'node:assert/strict'
import { existsSync, readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { describe, it } from 'node:test'
import { SUPPORTED_ALGORITHMS } from '../../src/verify/config.ts'
import { createTokenVerifier, TokenVerificationError } from '../../src/verify/index.ts'
import { verifyCompactJws } from '../../src/verify/jws.ts'
import { createLocalKeySet } from '../../src/verify/key-set.ts'
import type { KeySet } from '../../src/verify/key-set.ts'

const DIR = process.env.WYCHEPROOF_DIR ?? resolve(import.meta.dirname, '../../../shared/corpora/wycheproof')
const FILES = ['json_web_signature_test.json', 'json_web_key_test.json', 'json_web_crypto_test.json'] as const

const HMAC = 'symmetric (HMAC) keys are never accepted: an HS* key would let anyone holding it mint tokens'
const PINNED = 'the key is pinned to alg PS256 but the token uses PS384 (algorithms are pinned per key)'
const ES521 = 'the key names alg "ES521", which is no JWS algorithm (ES512 is), so the key is refused'
const JWE = 'JWE: access tokens are JWS; the verifier never decrypts'

/** `valid` vectors the verifier refuses on purpose, by `<file>#<tcId>`. */
const VALID_REFUSED_BY_POLICY: Record<string, string> = {
  'json_web_signature_test.json#1': HMAC,
  'json_web_signature_test.json#346': PINNED,
  'json_web_signature_test.json#347': ES521,
  'json_web_signature_test.json#348': HMAC,
  'json_web_signature_test.json#350': PINNED,
  'json_web_signature_test.json#351': ES521,
  'json_web_signature_test.json#352': HMAC,
  'json_web_signature_test.json#357': HMAC,
  'json_web_signature_test.json#358': HMAC,
  'json_web_signature_test.json#359': HMAC,
  'json_web_signature_test.json#372': HMAC,
  'json_web_signature_test.json#373': HMAC,
  'json_web_signature_test.json#376': HMAC,
  'json_web_signature_test.json#377': HMAC,
  'json_web_key_test.json#2': HMAC,
  'json_web_key_test.json#13': HMAC,
  'json_web_key_test.json#14': HMAC,
  'json_web_key_test.json#15': HMAC,
  'json_web_crypto_test.json#1': HMAC,
  'json_web_crypto_test.json#48': HMAC,
  'json_web_crypto_test.json#50': JWE,
  'json_web_crypto_test.json#67': JWE,
}

interface Vector {
  file: string
  tcId: number
  comment: string
  result: 'valid' | 'invalid' | 'acceptable'
  token: string
  group: { comment: string; public?: Record<string, unknown>; private?: Record<string, unknown> }
}

function loadVectors(): Vector[] {
  const vectors: Vector[] = []
  for (const file of FILES) {
    const json = JSON.parse(readFileSync(resolve(DIR, file), 'utf8')) as {
      testGroups: Array<Vector['group'] & { tests: Array<{ tcId: number; comment: string; result: Vector['result']; jws?: unknown; jwe?: unknown }> }>
    }
    for (const group of json.testGroups) {
      for (const t of group.tests) {
        const raw = t.jws ?? t.jwe
        vectors.push({ file, tcId: t.tcId, comment: t.comment, result: t.result, token: typeof raw === 'string' ? raw : JSON.stringify(raw), group })
      }
    }
  }
  return vectors
}

/** The group's key material as an issuer JWKS: the public key(s) when given, else what the group has. */
function keySetOf(group: Vector['group']): KeySet | string {
  const material = group.public ?? group.private ?? {}
  const jwks = Array.isArray(material.keys) ? material : { keys: [material] }
  try {
    return createLocalKeySet(jwks, SUPPORTED_ALGORITHMS, 'wycheproof')
  } catch (err) {
    return `key set refused: ${(err as Error).message}`
  }
}

async function outcome(v: Vector, keys: KeySet | string): Promise<{ accepted: boolean; why: string }> {
  if (typeof keys === 'string') return { accepted: false, why: keys }
  try {
    await verifyCompactJws(v.token, keys, { algorithms: SUPPORTED_ALGORITHMS, requireTyp: false })
    return { accepted: true, why: 'accepted' }
  } catch (err) {
    assert.ok(err instanceof TokenVerificationError, `${v.file}#${v.tcId}: untyped error ${String(err)}`)
    return { accepted: false, why: `${err.code}: ${err.message}` }
  }
}

describe('Wycheproof JSON Web Crypto vectors', { skip: existsSync(DIR) ? false : `corpus not found at ${DIR} (set WYCHEPROOF_DIR)` }, () => {
  it('refuses every invalid vector; refuses valid ones only where the policy list says why', async () => {
    const vectors = loadVectors()
    const keySets = new Map<Vector['group'], KeySet | string>()
    const invalidAccepted: string[] = []
    const validRefused = new Map<string, string>()
    let invalidRefused = 0
    let validAccepted = 0
    let acceptable = 0
    for (const v of vectors) {
      if (!keySets.has(v.group)) keySets.set(v.group, keySetOf(v.group))
      const { accepted, why } = await outcome(v, keySets.get(v.group) as KeySet | string)
      const id = `${v.file}#${v.tcId}`
      if (v.result === 'invalid') {
        if (accepted) invalidAccepted.push(`${id} (${v.group.comment} / ${v.comment})`)
        else invalidRefused++
      } else if (v.result === 'valid') {
        if (accepted) validAccepted++
        else validRefused.set(id, why)
      } else {
        acceptable++
      }
    }
    assert.deepEqual(invalidAccepted, [], 'invalid vectors accepted')
    assert.deepEqual(
      [...validRefused.keys()].sort(),
      Object.keys(VALID_REFUSED_BY_POLICY).sort(),
      `valid vectors refused vs. the policy list:\n${[...validRefused].map(([id, why]) => `${id}: ${why}`).join('\n')}`,
    )
    assert.ok(invalidRefused > 400, 'the corpus was read')
    console.log(
      `wycheproof: ${invalidRefused} invalid refused, ${validAccepted} valid accepted, ${validRefused.size} valid refused by policy (listed)` +
        (acceptable > 0 ? `, ${acceptable} acceptable` : ''),
    )
  })

  it('refuses every invalid vector through verify() too, always with a typed error', async () => {
    const verifier = createTokenVerifier({
      audience: 'https://mcp.example.test/mcp',
      issuers: [{ issuer: 'https://wycheproof.example', jwks: { keys: [{ kty: 'EC', crv: 'P-256', x: '04N0xi21hshyvBp7I167sbE_bXqyqkAPfefdklMO7wY', y: 'UI8exy-C06a7DUnjIdENkxeFtHM4-l_41LqEw9nVgmw' }] } }],
    })
    const invalid = loadVectors().filter((v) => v.result === 'invalid')
    for (const v of invalid) {
      await assert.rejects(verifier.verify(v.token), (err: unknown) => err instanceof TokenVerificationError && err.status === 401, `${v.file}#${v.tcId}`)
    }
  })
})
