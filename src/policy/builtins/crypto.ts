/**
 * Digest builtins: `crypto.md5`, `crypto.sha1`, `crypto.sha256` (hex of the UTF-8 bytes),
 * `crypto.hmac.md5|sha1|sha256|sha512` (hex), and `crypto.hmac.equal` (constant-time).
 *
 * @module
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto'
import { str } from './values.ts'

const digest = (alg: string) => ({ fn: (x: unknown) => createHash(alg).update(str(x, 1), 'utf8').digest('hex') })
const hmac = (alg: string) => ({ fn: (x: unknown, key: unknown) => createHmac(alg, Buffer.from(str(key, 2), 'utf8')).update(str(x, 1), 'utf8').digest('hex') })

export const cryptoBuiltins = {
  'crypto.md5': digest('md5'),
  'crypto.sha1': digest('sha1'),
  'crypto.sha256': digest('sha256'),
  'crypto.hmac.md5': hmac('md5'),
  'crypto.hmac.sha1': hmac('sha1'),
  'crypto.hmac.sha256': hmac('sha256'),
  'crypto.hmac.sha512': hmac('sha512'),
  'crypto.hmac.equal': {
    fn: (a: unknown, b: unknown) => {
      const x = Buffer.from(str(a, 1), 'utf8')
      const y = Buffer.from(str(b, 2), 'utf8')
      return x.length === y.length && timingSafeEqual(x, y)
    },
  },
}
