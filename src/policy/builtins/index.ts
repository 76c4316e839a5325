/**
 * The builtins the runtime provides to compiled policies, and why the others are refused.
 *
 * OPA compiles most builtins into the WebAssembly module itself (`startswith`, `regex.match`,
 * `net.cidr_contains`, `object.get`, `json.*`, `base64.*`, …); a module imports the rest, and
 * evaluating one the runtime does not provide would fail every call. The runtime provides the
 * commonly used ones here, each checked against `opa eval` on the same operands
 * (test/authoring/builtins.test.ts); a bundle importing any other is refused at build and at load,
 * naming the builtin and where the policy calls it.
 *
 * @module
 */
import type { RuntimeBuiltin } from '../wasm.ts'
import { cryptoBuiltins } from './crypto.ts'
import { encodingBuiltins } from './encoding.ts'
import { netBuiltins } from './net.ts'
import { regexBuiltins } from './regex.ts'
import { sprintf } from './sprintf.ts'
import { stringBuiltins } from './strings.ts'
import { timeBuiltins } from './time.ts'
import { unitsBuiltins } from './units.ts'
import { yamlBuiltins } from './yaml.ts'

/** Every builtin the runtime provides to a compiled policy, by name. */
export const RUNTIME_BUILTINS: Readonly<Record<string, RuntimeBuiltin>> = Object.freeze({
  sprintf: { fn: sprintf, raw: true },
  ...timeBuiltins,
  ...stringBuiltins,
  ...regexBuiltins,
  ...netBuiltins,
  ...cryptoBuiltins,
  ...unitsBuiltins,
  ...encodingBuiltins,
  ...yamlBuiltins,
})

/** Builtins whose result depends on more than their operands (time, randomness, the network). */
export const NONDETERMINISTIC_BUILTINS: ReadonlySet<string> = new Set([
  'time.now_ns',
  'rand.intn',
  'uuid.rfc4122',
  'http.send',
  'net.lookup_ip_addr',
  'opa.runtime',
  'io.jwt.decode_verify',
  'crypto.x509.parse_and_verify_certificates',
  'crypto.x509.parse_and_verify_certificates_with_options',
])

/** Why a builtin is not provided (shown with the refusal). */
export function unsupportedReason(name: string): string {
  if (name === 'http.send' || name === 'net.lookup_ip_addr' || name.startsWith('providers.')) return 'a policy may not reach the network: pass what it needs in the policy data or have the server put it in the input'
  if (name === 'opa.runtime' || name === 'trace' || name === 'print') return 'there is no OPA runtime here'
  if (name === 'rand.intn' || name === 'uuid.rfc4122') return 'decisions must be reproducible'
  return 'the mcp-authz runtime does not provide it (see docs/authoring.md, "Builtins")'
}
