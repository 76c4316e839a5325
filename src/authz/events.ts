/**
 * Decision events: one per decision, handed to `onDecision` (the decision log, metrics, tracing).
 * A consumer that throws never breaks a decision.
 *
 * @module
 */
import { performance } from 'node:perf_hooks'
import type { DecisionEvent } from '../decision-log/record.ts'
import type { Reason } from '../policy/decision.ts'

/** Nanoseconds since a `performance.now()` reading. */
export function nsSince(started: number): number {
  return Math.round((performance.now() - started) * 1e6)
}

/** An event's timings: verification (when it happened) plus everything since `started`. */
export function timings(started: number, verifyNs: number | undefined): DecisionEvent['metrics'] {
  return verifyNs === undefined ? { total_ns: nsSince(started) } : { verify_ns: verifyNs, total_ns: nsSince(started) + verifyNs }
}

/** What every event of one engine shares, filled in by {@link Recorder.record}. */
export type EventBody = Omit<DecisionEvent, 'timestamp' | 'path' | 'revision'> & { path?: string }

/** Emits decision events with the shared fields filled in. */
export class Recorder {
  readonly #onDecision: ((event: DecisionEvent) => void) | undefined
  readonly #revision: () => string
  readonly #transport: string

  /**
   * @param onDecision the consumer (`AuthzConfig.onDecision`); none means events are not built at all.
   * @param revision the revision of the bundle serving now.
   * @param transport the engine's default transport.
   */
  constructor(onDecision: ((event: DecisionEvent) => void) | undefined, revision: () => string, transport: string) {
    this.#onDecision = onDecision
    this.#revision = revision
    this.#transport = transport
  }

  /** Whether events are consumed at all (without a consumer, callers need not build them). */
  get active(): boolean {
    return this.#onDecision !== undefined
  }

  /** Records one decision event (path defaults to the decision entrypoint). */
  record(event: EventBody): void {
    if (this.#onDecision === undefined) return
    try {
      this.#onDecision({ path: 'mcp/authz/decision', ...event, timestamp: new Date(), revision: this.#revision() })
    } catch {
      // The decision log must never break a decision.
    }
  }

  /** Records a call refused before any policy input existed (bad credential, malformed message). */
  refusal(decisionId: string, httpStatus: number, reasons: Reason[], error: { code: string; message: string }, metrics: DecisionEvent['metrics'], transport: string | undefined): void {
    this.record({
      decisionId,
      input: undefined,
      result: { allow: false, reasons, required_scopes: [] },
      metrics,
      enforcement: 'enforced',
      wouldAllow: false,
      httpStatus,
      error,
      transport: transport ?? this.#transport,
    })
  }
}
