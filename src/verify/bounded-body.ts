/**
 * Reading an HTTP response body with a hard size limit, so a hostile or broken JWKS /
 * introspection endpoint cannot make the verifier buffer an unbounded body.
 *
 * @module
 */

/** Thrown by {@link readBoundedBody} when the body exceeds the limit. */
export class BodyTooLargeError extends Error {
  constructor(limit: number) {
    super(`response body exceeds ${limit} bytes`)
    this.name = 'BodyTooLargeError'
  }
}

/**
 * Reads at most `maxBytes` of `response`'s body and decodes it as UTF-8. Beyond the limit (by
 * `Content-Length` or while streaming) the body is cancelled and {@link BodyTooLargeError} thrown.
 *
 * @example
 * ```ts
 * const text = await readBoundedBody(await fetch(url), 262144)
 * ```
 */
export async function readBoundedBody(response: Response, maxBytes: number): Promise<string> {
  const declared = Number(response.headers.get('content-length'))
  if (Number.isFinite(declared) && declared > maxBytes) {
    await response.body?.cancel().catch(() => {})
    throw new BodyTooLargeError(maxBytes)
  }
  if (response.body === null) return ''
  const reader = response.body.getReader()
  const chunks: Uint8Array[] = []
  let total = 0
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    total += value.byteLength
    if (total > maxBytes) {
      await reader.cancel().catch(() => {})
      throw new BodyTooLargeError(maxBytes)
    }
    chunks.push(value)
  }
  return new TextDecoder('utf-8', { fatal: true }).decode(Buffer.concat(chunks))
}
