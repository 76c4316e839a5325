/**
 * Shared pieces of the hardening suites (issue 8): fuzzing parameters, a typed-refusal helper, a
 * bounded "no hang" guard and the summary line every suite prints.
 *
 * Fuzzing is reproducible: a fixed seed (`FUZZ_SEED`) and a small number of runs by default
 * (`FUZZ_RUNS`); run longer locally with e.g. `FUZZ_RUNS=20000 node --test test/hardening/*.test.ts`.
 *
 * @module
 */
import assert from 'node:assert/strict'
import { TokenVerificationError } from '../../src/verify/index.ts'

/** fast-check parameters: fixed seed, bounded runs. */
export const FUZZ = {
  seed: Number(process.env.FUZZ_SEED ?? 20261123),
  numRuns: Number(process.env.FUZZ_RUNS ?? 200),
} as const

/** Settles `promise` and returns what it rejected with (fails the test when it resolves). */
export async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    (value) => assert.fail(`expected a rejection, got ${JSON.stringify(value)?.slice(0, 200)}`),
    (err: unknown) => err,
  )
}

/** Asserts a typed 401 refusal and returns its code. */
export async function refusedWith(promise: Promise<unknown>): Promise<string> {
  const err = await rejection(promise)
  assert.ok(err instanceof TokenVerificationError, `expected a TokenVerificationError, got ${String(err)}`)
  assert.equal(err.status, 401)
  return err.code
}

/**
 * Runs `work` and fails when it takes longer than `limitMs` (a generous "no hang" bound, never a
 * latency assertion): the work is raced against a timer that is always cleared.
 */
export async function noHang<T>(work: Promise<T>, limitMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const hang = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not settle within ${limitMs} ms (hang)`)), limitMs)
  })
  try {
    return await Promise.race([work, hang])
  } finally {
    clearTimeout(timer)
  }
}

/** Prints the one summary line of a suite (collected in CI output). */
export function summary(suite: string, parts: Record<string, string | number>): void {
  console.log(`hardening/${suite}: ${Object.entries(parts).map(([k, v]) => `${k} ${v}`).join(', ')}`)
}

/** Prints the summary line once every test of the file has run (the counts are read then). */
export function summaryAtExit(suite: string, parts: () => Record<string, string | number>): void {
  process.once('exit', () => summary(suite, parts()))
}
