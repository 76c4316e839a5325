import assert from 'node:assert/strict'
import { readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { after, before, describe, it } from 'node:test'
import type { DecisionLogError } from '../../src/decision-log/errors.ts'
import { buildDecisionRecord, type DecisionRecord } from '../../src/decision-log/record.ts'
import { createFileSink } from '../../src/decision-log/sinks/file.ts'
import { createStdoutSink } from '../../src/decision-log/sinks/stdout.ts'
import { createLineSink, OPA_DECISION_LOG_TYPE, sonicDestination } from '../../src/decision-log/sinks/stream.ts'
import { sampleEvent, waitFor } from './helpers.ts'
import { tempDir } from '../helpers/temp.ts'

function record(i: number): DecisionRecord {
  return buildDecisionRecord(sampleEvent({ decisionId: `d-${i}` }))
}

/** A writable that keeps what it gets. */
function capture(): Writable & { text(): string } {
  const chunks: string[] = []
  const w = new Writable({
    write(chunk: Buffer, _enc, cb) {
      chunks.push(chunk.toString('utf8'))
      cb()
    },
  }) as Writable & { text(): string }
  w.text = () => chunks.join('')
  return w
}

function lines(text: string): Record<string, unknown>[] {
  return text
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => JSON.parse(l) as Record<string, unknown>)
}

describe('stdout sink (pino)', () => {
  it('writes one JSON line per record, shaped like OPA console decision logs', async () => {
    const out = capture()
    const sink = createStdoutSink({ destination: out })
    for (let i = 0; i < 3; i++) sink.write(record(i))
    await sink.flush()
    const parsed = lines(out.text())
    assert.equal(parsed.length, 3)
    assert.equal(out.text().split('\n').length, 4, 'newline-terminated lines')
    for (const [i, line] of parsed.entries()) {
      assert.equal(line.decision_id, `d-${i}`)
      assert.equal(line.level, 'info')
      assert.equal(line.msg, 'Decision Log')
      assert.equal(line.type, OPA_DECISION_LOG_TYPE)
      assert.deepEqual(line.result, record(i).result)
      assert.deepEqual(line.mcp, record(i).mcp)
    }
    assert.deepEqual(sink.stats(), { written: 3, dropped: 0, failed: 0 })
    await sink.close()
    assert.equal(out.writableEnded, false, 'a caller stream is not ended unless asked')
    sink.write(record(9))
    assert.deepEqual(sink.stats(), { written: 3, dropped: 1, failed: 0 })
  })

  it('write() returns before the stream has written', async () => {
    let release: (() => void) | undefined
    const slow = new Writable({
      write(_chunk, _enc, cb) {
        release = cb
      },
    })
    const sink = createStdoutSink({ destination: slow, flushTimeoutMs: 2000 })
    sink.write(record(1))
    assert.deepEqual(sink.stats(), { written: 0, dropped: 0, failed: 0 })
    const flushed = sink.flush()
    let done = false
    void flushed.then(() => (done = true))
    await new Promise((r) => setImmediate(r))
    assert.equal(done, false, 'flush waits for the stream')
    release?.()
    await flushed
    assert.equal(sink.stats().written, 1)
  })

  it('drops and counts records past maxBufferBytes instead of growing, and flush stays bounded', async () => {
    const stuck = new Writable({ highWaterMark: 1, write() {} })
    const errors: DecisionLogError[] = []
    const sink = createStdoutSink({ destination: stuck, maxBufferBytes: 2000, flushTimeoutMs: 50 }, { onError: (e) => errors.push(e) })
    for (let i = 0; i < 20; i++) sink.write(record(i))
    const s = sink.stats()
    assert.ok(s.dropped > 0 && s.dropped < 20, `dropped ${s.dropped}`)
    assert.equal(errors.filter((e) => e.code === 'ERR_DECISION_LOG_BUFFER_FULL').length, 1, 'reported once per episode')
    await sink.flush()
    await sink.close()
  })

  it('after close(), every record is accounted for: what a stuck stream never confirmed counts as failed, and a late confirmation does not count twice', async () => {
    const callbacks: Array<() => void> = []
    const stuck = new Writable({
      highWaterMark: 1 << 20,
      write(_chunk, _enc, cb) {
        callbacks.push(cb)
      },
    })
    const errors: DecisionLogError[] = []
    const sink = createStdoutSink({ destination: stuck, flushTimeoutMs: 20 }, { onError: (e) => errors.push(e) })
    for (let i = 0; i < 5; i++) sink.write(record(i))
    await sink.close()
    assert.deepEqual(sink.stats(), { written: 0, dropped: 0, failed: 5 })
    assert.match(errors.at(-1)?.message ?? '', /5 record\(s\) not confirmed written before close/)
    for (const cb of callbacks.splice(0)) cb()
    await new Promise((r) => setImmediate(r))
    assert.deepEqual(sink.stats(), { written: 0, dropped: 0, failed: 5 }, 'late confirmations are not counted again')
  })

  it('counts write errors and reports them, never throwing', async () => {
    const broken = new Writable({
      write(_c, _e, cb) {
        cb(new Error('EPIPE'))
      },
    })
    const errors: DecisionLogError[] = []
    const sink = createStdoutSink({ destination: broken }, { onError: (e) => errors.push(e) })
    assert.doesNotThrow(() => sink.write(record(1)))
    await sink.flush()
    assert.deepEqual(sink.stats(), { written: 0, dropped: 0, failed: 1 })
    assert.equal(errors[0]?.code, 'ERR_DECISION_LOG_WRITE_FAILED')
    assert.equal(errors[0]?.sink, 'stdout')
    const throwing = createStdoutSink({
      destination: {
        write() {
          throw new Error('boom')
        },
      },
    })
    assert.doesNotThrow(() => throwing.write(record(1)))
    assert.equal(throwing.stats().failed, 1)
  })

  it('ends the destination on close when asked', async () => {
    const out = capture()
    const sink = createStdoutSink({ destination: out, endDestination: true })
    sink.write(record(1))
    await sink.close()
    assert.equal(out.writableEnded, true)
    assert.equal(lines(out.text()).length, 1)
  })

  it('rejects bad options with a TypeError naming the option', () => {
    assert.throws(() => createStdoutSink({ fd: 3 as never }), { name: 'TypeError', message: /sinks\.stdout\.fd/ })
    assert.throws(() => createStdoutSink({ maxBufferBytes: 0 }), { name: 'TypeError', message: /sinks\.stdout\.maxBufferBytes/ })
    assert.throws(() => createStdoutSink({ destination: {} as never }), { name: 'TypeError', message: /sinks\.stdout\.destination/ })
  })
})

describe('file sink', () => {
  let dir: string
  before(async () => {
    dir = await tempDir('mcp-authz-dl-')
  })
  after(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it('appends JSON lines asynchronously, creating the directory', async () => {
    const path = join(dir, 'a', 'b', 'decisions.jsonl')
    const sink = createFileSink({ path })
    for (let i = 0; i < 5; i++) sink.write(record(i))
    await sink.close()
    assert.deepEqual(sink.stats(), { written: 5, dropped: 0, failed: 0 })
    const first = lines(await readFile(path, 'utf8'))
    assert.deepEqual(
      first.map((l) => l.decision_id),
      ['d-0', 'd-1', 'd-2', 'd-3', 'd-4'],
    )
    const again = createFileSink({ path })
    again.write(record(5))
    await again.flush()
    assert.equal(again.stats().written, 1)
    await again.close()
    assert.equal(lines(await readFile(path, 'utf8')).length, 6, 'appended, not truncated')
  })

  it('a file that cannot be opened fails fast at creation with a typed error', async () => {
    const blocker = join(dir, 'not-a-dir')
    await writeFile(blocker, 'x')
    assert.throws(() => createFileSink({ path: join(blocker, 'x.jsonl') }), { name: 'DecisionLogError', code: 'ERR_DECISION_LOG_WRITE_FAILED' })
  })

  it('a destination that fails to open later counts failures and never throws (nor crashes at exit)', async () => {
    const blocker = join(dir, 'not-a-dir-2')
    await writeFile(blocker, 'x')
    const errors: DecisionLogError[] = []
    const sink = createLineSink('file', { kind: 'sonic', sonic: sonicDestination(join(blocker, 'x.jsonl'), 1 << 20) }, { maxBufferBytes: 1 << 20, flushTimeoutMs: 30_000 }, { onError: (e) => errors.push(e) })
    sink.write(record(1))
    sink.write(record(2))
    await sink.flush()
    await waitFor(() => sink.stats().failed === 2, 15_000, 'the open failure to be counted')
    sink.write(record(3))
    assert.deepEqual(sink.stats(), { written: 0, dropped: 0, failed: 3 })
    assert.equal(errors.length, 1)
    assert.equal(errors[0]?.code, 'ERR_DECISION_LOG_WRITE_FAILED')
    const start = Date.now()
    await sink.close()
    // flushTimeoutMs is 30 s: a close() that waited for this stream would take that long.
    assert.ok(Date.now() - start < 10_000, 'close does not wait for a stream that never opened')
  })

  it('reopen() follows a rotation', async () => {
    const path = join(dir, 'rotate.jsonl')
    const sink = createFileSink({ path })
    sink.write(record(1))
    await sink.flush()
    await rm(path)
    sink.reopen()
    sink.write(record(2))
    await sink.close()
    assert.deepEqual(
      lines(await readFile(path, 'utf8')).map((l) => l.decision_id),
      ['d-2'],
    )
  })

  it('rejects a missing path with a TypeError', () => {
    assert.throws(() => createFileSink({} as never), { name: 'TypeError', message: /sinks\.file\.path/ })
  })
})
