/**
 * Honouring the caller's `AbortSignal` on work that may be shared with other callers (a JWKS
 * refresh, a coalesced introspection request): the caller stops waiting, the work goes on.
 *
 * @module
 */
import { TokenVerificationError } from './errors.ts'

/**
 * Settles like `work`, or rejects with `ERR_VERIFICATION_ABORTED` as soon as `signal` aborts.
 *
 * @example
 * ```ts
 * const principal = await raceAbort(introspect(token), request.signal)
 * ```
 */
export function raceAbort<T>(work: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return work
  if (signal.aborted) {
    work.catch(() => {})
    return Promise.reject(new TokenVerificationError('ERR_VERIFICATION_ABORTED', 'verification aborted by the caller'))
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => {
      work.catch(() => {})
      reject(new TokenVerificationError('ERR_VERIFICATION_ABORTED', 'verification aborted by the caller'))
    }
    signal.addEventListener('abort', onAbort, { once: true })
    work.then(
      (value) => {
        signal.removeEventListener('abort', onAbort)
        resolve(value)
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort)
        reject(err)
      },
    )
  })
}
