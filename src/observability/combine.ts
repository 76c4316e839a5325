/**
 * One `onDecision` for several consumers of decision events — the decision logger, Prometheus
 * metrics, OpenTelemetry — each called in turn, each isolated from the others' failures.
 *
 * @module
 */
import type { DecisionEvent } from '../decision-log/record.ts'

/** A consumer of decision events, e.g. `logger.log`, `metrics.observeDecision`, an OpenTelemetry hook. */
export type DecisionConsumer = (event: DecisionEvent) => unknown

/** Options of {@link combineDecisionConsumers} (pass as the last argument). */
export interface CombineOptions {
  /** Called with what a consumer threw and its position among the arguments; what it throws is ignored. Default: nothing (the error is swallowed). */
  onError?: (error: unknown, index: number) => void
}

function isOptions(value: unknown): value is CombineOptions {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/**
 * Combines consumers into one `onDecision` callback. Each consumer gets every event, in the order
 * given; one that throws does not keep the others from running, and nothing is thrown to the
 * engine. `undefined`, `null` and `false` entries are skipped, so optional consumers can be written
 * inline.
 *
 * @throws {TypeError} when a consumer is not a function.
 * @example
 * ```ts
 * const logger = createDecisionLogger({ sinks: [{ type: 'stdout' }] })
 * const metrics = createServerMetrics()
 * const authz = await createAuthz({
 *   bundle: 'bundle.tar.gz',
 *   onDecision: combineDecisionConsumers(metrics.observeDecision, createOtelDecisionHook({ logger })),
 * })
 * ```
 */
export function combineDecisionConsumers(...consumers: Array<DecisionConsumer | CombineOptions | undefined | null | false>): (event: DecisionEvent) => void {
  const last = consumers.at(-1)
  const options: CombineOptions = isOptions(last) ? (consumers.pop() as CombineOptions) : {}
  const onError = options.onError
  if (onError !== undefined && typeof onError !== 'function') throw new TypeError('onError must be a function')
  const list: Array<[DecisionConsumer, number]> = []
  for (const [i, c] of consumers.entries()) {
    if (c === undefined || c === null || c === false) continue
    if (typeof c !== 'function') throw new TypeError(`consumers[${i}] must be a function (event) => void`)
    list.push([c, i])
  }
  return (event) => {
    for (const [consume, i] of list) {
      try {
        consume(event)
      } catch (error) {
        try {
          onError?.(error, i)
        } catch {
          // Never into the decision path.
        }
      }
    }
  }
}
