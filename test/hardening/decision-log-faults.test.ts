/**
 * Decision-log sinks that fail while decisions are being made, end to end (`createAuthz` →
 * `onDecision` → `createDecisionLogger` → sinks): a collector that is down, one that hangs, a
 * stdout-like stream that never drains, a file that cannot be written, a custom sink that throws,
 * an `onDecision` hook that throws. Properties:
 *
 * - decisions are not delayed: `decide()` returns before any sink I/O (proved by ordering — every
 *   decision of a burst is made before the collector sees its first request — and by decisions
 *   completing while an upload hangs), and the decisions are the same as without a logger;
 * - what cannot be kept is counted (`stats().dropped` / `failed`), memory stays bounded by the
 *   sinks' buffers, and `close()` finishes within its timeout.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { Writable } from 'node:stream'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { after, before, describe, it } from 'node:test'
import { createAuthz, type Authz } from '../../src/authz.ts'
import { createDecisionLogger, type DecisionLogger } from '../../src/decision-log/index.ts'
import type { DecisionLogSink } from '../../src/decision-log/sinks/sink.ts'
import type { Principal } from '../../src/verify/index.ts'
import { buildTestBundle, testData, testPrincipal } from '../helpers/bundle.ts'
import { closedPortUrl, startLoopback, type LoopbackServer } from '../helpers/verify-loopback.ts'
import { noHang, summaryAtExit } from './helpers.ts'
import { tempDir } from '../helpers/temp.ts'

const alice: Principal = testPrincipal
const MESSAGES = [
  { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'notes_read', arguments: {} } },
  { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'notes_write', arguments: { title: 'x' } } },
  { jsonrpc: '2.0', id: 3, method: 'resources/read', params: { uri: 'notes://private/a' } },
  { jsonrpc: '2.0', id: 4, method: 'tools/list' },
]
const FAST_RETRY = { maxAttempts: 3, minDelayMs: 5, maxDelayMs: 20 }

let bundle: string
let reference: Authz
const faults: string[] = []
summaryAtExit('decision-log-faults', () => ({ faults: faults.length, cases: faults.join(', ') }))

/** The decision without any logger, to compare against. */
const expected = (i: number) => {
  const r = reference.decide(alice, MESSAGES[i % MESSAGES.length])
  return { allow: r.allow, status: r.status, reasons: r.reasons.map((x) => x.code) }
}

async function withLogger(logger: DecisionLogger): Promise<Authz> {
  return createAuthz({ bundle, onDecision: (e) => void logger.log(e) })
}

function decideMany(authz: Authz, n: number, order?: string[]): void {
  for (let i = 0; i < n; i++) {
    const r = authz.decide(alice, MESSAGES[i % MESSAGES.length])
    order?.push('decided')
    assert.deepEqual({ allow: r.allow, status: r.status, reasons: r.reasons.map((x) => x.code) }, expected(i))
  }
}

before(async () => {
  bundle = await buildTestBundle(testData)
  reference = await createAuthz({ bundle })
})

describe('decision-log sink faults never delay or change decisions; losses are counted', () => {
  let collector: LoopbackServer
  before(async () => {
    collector = await startLoopback()
  })
  after(() => collector.close())

  it('collector down (closed port): decisions go on, the bounded buffer drops and counts, close() is bounded', async () => {
    const logger = createDecisionLogger({ sinks: [{ type: 'http', url: `${await closedPortUrl()}/logs`, bufferMaxRecords: 50, flushIntervalMs: 5, closeTimeoutMs: 300, retry: FAST_RETRY }] })
    const authz = await withLogger(logger)
    decideMany(authz, 400)
    let s = logger.stats()
    assert.equal(s.events, 400)
    assert.equal(s.logged, 400)
    assert.ok(s.dropped >= 350, `dropped ${s.dropped}`)
    await noHang(logger.close(), 20_000, 'close() against a dead collector')
    s = logger.stats()
    assert.equal(s.written, 0)
    assert.equal(s.dropped + s.failed, 400, `every record is either dropped or failed: ${JSON.stringify(s)}`)
    faults.push('collector down')
  })

  it('collector answering 500: retried, then counted as failed; decisions unaffected', async () => {
    collector.handle((_req, res) => void res.writeHead(500).end())
    const logger = createDecisionLogger({ sinks: [{ type: 'http', url: `${collector.url}/logs`, flushIntervalMs: 5, closeTimeoutMs: 1000, retry: FAST_RETRY }] })
    const authz = await withLogger(logger)
    decideMany(authz, 40)
    await noHang(logger.close(), 20_000, 'close() against a failing collector')
    const s = logger.stats()
    assert.equal(s.written, 0)
    assert.equal(s.failed + s.dropped, 40)
    faults.push('collector 500')
  })

  it('collector hanging: every decision of a burst is made before any upload starts, and decisions continue while the upload hangs', async () => {
    const order: string[] = []
    const held: Array<() => void> = []
    collector.handle(
      (_req, res) =>
        new Promise<void>((resolve) => {
          order.push('received')
          held.push(() => {
            res.writeHead(204).end()
            resolve()
          })
        }),
    )
    const logger = createDecisionLogger({ sinks: [{ type: 'http', url: `${collector.url}/logs`, batchMaxRecords: 10, flushIntervalMs: 1, timeoutMs: 30_000, bufferMaxRecords: 1000, closeTimeoutMs: 2000 }] })
    const authz = await withLogger(logger)
    const before = collector.requests.length
    decideMany(authz, 200, order)
    assert.equal(collector.requests.length, before, 'no upload happened during the decisions')
    assert.deepEqual([...new Set(order)], ['decided'], 'decide() returned before any sink I/O')
    // Let the first upload start and hang; decisions made meanwhile are not delayed by it.
    await noHang(
      (async () => {
        while (held.length === 0) await new Promise((r) => setTimeout(r, 5))
      })(),
      20_000,
      'the first upload',
    )
    const decidedWhileHanging = order.length
    for (let i = 0; i < 50; i++) {
      decideMany(authz, 4, order)
      await new Promise((r) => setImmediate(r))
    }
    assert.equal(order.length - decidedWhileHanging, 200, 'decisions continue while the upload hangs')
    assert.equal(held.length, 1, 'one upload at a time; it is still hanging')
    const hanging = logger.stats()
    assert.equal(hanging.written, 0)
    assert.equal(hanging.logged, 400)
    // Release: everything buffered is delivered.
    const release = setInterval(() => held.splice(0).forEach((f) => f()), 5)
    try {
      await noHang(logger.flush(), 20_000, 'flush after the collector recovers')
    } finally {
      clearInterval(release)
    }
    assert.equal(logger.stats().written, 400)
    await logger.close()
    faults.push('collector hanging')
  })

  it('a stdout-like stream that never drains: records beyond maxBufferBytes are dropped and counted', async () => {
    const stalled = new Writable({ highWaterMark: 1024, write: () => {} }) // never calls back: stuck forever
    const logger = createDecisionLogger({ sinks: [{ type: 'stdout', maxBufferBytes: 64 * 1024, flushTimeoutMs: 100 }] }, { stdout: stalled })
    const authz = await withLogger(logger)
    decideMany(authz, 500)
    const s = logger.stats()
    assert.equal(s.logged, 500)
    assert.ok(s.dropped > 0, `dropped ${s.dropped}`)
    await noHang(logger.close(), 20_000, 'close() on a stalled stream')
    faults.push('stream stalled')
  })

  it('a file sink that cannot open fails fast; one whose writes fail (disk full) counts failures, decisions unaffected', async () => {
    const dir = await tempDir('mcp-authz-hardening-log-')
    assert.throws(() => createDecisionLogger({ sinks: [{ type: 'file', path: dir }] }), 'a directory in place of the file is refused at creation')
    const errors: string[] = []
    const logger = createDecisionLogger({ sinks: [{ type: 'file', path: '/dev/full', flushTimeoutMs: 500 }] }, { onError: (e) => errors.push(e.code) })
    const authz = await withLogger(logger)
    decideMany(authz, 50)
    await noHang(logger.close(), 20_000, 'close() on a full disk')
    const s = logger.stats()
    assert.equal(s.logged, 50)
    assert.equal(s.written, 0, JSON.stringify(s))
    assert.equal(s.failed + s.dropped, 50, JSON.stringify(s))
    assert.ok(errors.length > 0)
    faults.push('file cannot open', 'disk full')
  })

  it('a process whose decision-log file hit a write error still exits, with or without close() (regression)', { skip: !existsSync('/dev/full') && 'needs /dev/full' }, async () => {
    const logger = pathToFileURL(fileURLToPath(new URL('../../src/decision-log/index.ts', import.meta.url))).href
    const script = (close: boolean) => `
      import { createDecisionLogger } from ${JSON.stringify(logger)}
      const logger = createDecisionLogger({ sinks: [{ type: 'file', path: '/dev/full', flushTimeoutMs: 200 }] })
      const event = { decisionId: 'x', timestamp: new Date(), path: 'mcp/authz/decision', input: undefined, result: { allow: false, reasons: [], required_scopes: [] }, revision: 'r', metrics: { total_ns: 1 }, enforcement: 'enforced' }
      for (let i = 0; i < 20; i++) logger.log(event)
      // Wait (bounded) for the write error to have happened, rather than sleeping and hoping.
      for (const until = Date.now() + 15000; logger.stats().failed < 20 && Date.now() < until; ) await new Promise((r) => setTimeout(r, 10))
      ${close ? 'await logger.close()' : ''}
      console.log(JSON.stringify(logger.stats()))`
    for (const close of [true, false]) {
      const started = Date.now()
      const { code, stdout } = await new Promise<{ code: number | null; stdout: string }>((resolve) => {
        const child = execFile(process.execPath, ['--input-type=module', '-e', script(close)], { timeout: 30_000 }, (_err, out) => resolve({ code: child.exitCode, stdout: out }))
      })
      assert.equal(code, 0, `the process ${close ? 'with' : 'without'} close() did not exit by itself (killed after ${Date.now() - started} ms)`)
      assert.equal(JSON.parse(stdout.trim()).failed, 20)
    }
    faults.push('exit after write error')
  })

  it('a custom sink that throws and an onDecision hook that throws: decisions unaffected, errors reported', async () => {
    const errors: string[] = []
    const throwing: DecisionLogSink = {
      name: 'broken',
      write() {
        throw new Error('sink exploded')
      },
      flush: async () => {},
      close: async () => {},
      stats: () => ({ written: 0, dropped: 0, failed: 0 }),
    }
    const logger = createDecisionLogger({ sinks: [] }, { sinks: [throwing], onError: (e) => errors.push(e.code) })
    const authz = await withLogger(logger)
    decideMany(authz, 20)
    assert.equal(errors.length, 20)
    assert.ok(errors.every((c) => c === 'ERR_DECISION_LOG_WRITE_FAILED'))
    const hostile = await createAuthz({
      bundle,
      onDecision: () => {
        throw new Error('hook exploded')
      },
    })
    decideMany(hostile, 20)
    faults.push('sink throws', 'onDecision throws')
  })
})
