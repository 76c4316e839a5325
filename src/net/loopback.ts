/**
 * Loopback hosts: where plain `http` and unauthenticated listeners are tolerated. One definition,
 * shared by configuration checks, the verifier's URL rules and every surface.
 *
 * @module
 */

/**
 * Whether a host name or address (as in a URL's `hostname`, or a listen host) names this machine
 * only: `localhost`, `127.0.0.0/8`, `::1` (with or without brackets).
 *
 * @example
 * ```ts
 * isLoopbackHost('127.0.0.1') // true
 * isLoopbackHost('[::1]')     // true
 * isLoopbackHost('0.0.0.0')   // false: every interface
 * ```
 */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase()
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h)
}
