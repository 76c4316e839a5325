/**
 * The soak's memory check (`plateau.ts`) tells a GC sawtooth from a leak: synthetic series shaped
 * like the readings that failed the old two-point check (11.9) pass, the same series with a leak
 * added fail. (A real run with an injected leak: `test/soak/README.md`.)
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { plateau, type MemorySample } from './plateau.ts'

const MiB = 1048576
/** Readings every 0.5 s for `seconds`: `base + saw(t) + leak·t + noise`. */
function series(seconds: number, f: (t: number) => number): MemorySample[] {
  let seed = 7
  const noise = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31 - 0.5) * 2 * MiB
  return Array.from({ length: seconds * 2 + 1 }, (_, i) => ({ t: i / 2, bytes: f(i / 2) + noise() }))
}
/** A sawtooth between `low` and `high`: climbs for `period` seconds, drops at each collection. */
const saw = (low: number, high: number, period: number) => (t: number) => low + ((t % period) / period) * (high - low)
const RSS = { floorBytes: 64 * MiB, fraction: 0.25 }
const LIVE = { floorBytes: 2 * MiB, fraction: 0.05 }

describe('soak memory check: plateau, not two points of a sawtooth', () => {
  it('an RSS sawtooth between 380 and 415 MiB passes, whatever phase the run ends in', () => {
    for (const period of [2.3, 3.7, 7.1, 13]) {
      const v = plateau(series(90, saw(380 * MiB, 415 * MiB, period)), RSS)
      assert.ok(v.ok, `period ${period} s: growth ${(v.growth / MiB).toFixed(1)} MiB`)
    }
  })

  it('the readings that failed the old check (207.5 → 335.2 MiB: a low point, then a high one) pass', () => {
    const samples = series(10, (t) => (t < 1 ? 207.5 * MiB : saw(250 * MiB, 335 * MiB, 3)(t)))
    assert.ok(plateau(samples, RSS).ok)
  })

  it('growth during warm-up (first half) then a plateau passes', () => {
    assert.ok(plateau(series(10, (t) => (t < 4 ? (40 + 5 * t) * MiB : 60 * MiB)), LIVE).ok)
  })

  it('the same sawtooth with a leak under it fails (RSS bounds are coarse: live memory is the fine check)', () => {
    const leak = 40 * MiB // per second
    const v = plateau(series(20, (t) => saw(380 * MiB, 415 * MiB, 3.7)(t) + leak * t), RSS)
    assert.equal(v.ok, false, `growth ${(v.growth / MiB).toFixed(1)} MiB, limit ${(v.limit / MiB).toFixed(1)} MiB`)
  })

  it('live memory after GC: flat passes, a leak of 1 MiB/s fails', () => {
    assert.ok(plateau(series(10, () => 45 * MiB), LIVE).ok)
    const v = plateau(series(10, (t) => 45 * MiB + MiB * t), LIVE)
    assert.equal(v.ok, false)
    assert.ok(Math.abs(v.slope - MiB) < 0.3 * MiB, `the fitted slope is the leak rate (${(v.slope / MiB).toFixed(2)} MiB/s)`)
    assert.equal(v.n, 11)
  })

  it('refuses to conclude from too few readings', () => {
    assert.throws(() => plateau([{ t: 0, bytes: 1 }, { t: 1, bytes: 2 }], LIVE), /too few samples/)
    assert.throws(() => plateau([], LIVE), /no samples/)
  })
})
