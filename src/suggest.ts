/**
 * "Did you mean …?" for names a user mistyped (data keys, package names).
 *
 * @module
 */

/** Levenshtein distance, bounded (returns `max + 1` as soon as it exceeds `max`). */
export function editDistance(a: string, b: string, max = 3): number {
  if (Math.abs(a.length - b.length) > max) return max + 1
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i)
  for (let i = 1; i <= a.length; i++) {
    const cur = [i]
    let best = i
    for (let j = 1; j <= b.length; j++) {
      const v = Math.min((prev[j] as number) + 1, (cur[j - 1] as number) + 1, (prev[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1))
      cur.push(v)
      best = Math.min(best, v)
    }
    if (best > max) return max + 1
    prev = cur
  }
  return prev[b.length] as number
}

/**
 * The closest candidate to a mistyped name, when one is close enough (distance ≤ 2, or ≤ 1 for
 * short names; a candidate the name is a prefix or plural of counts as close).
 *
 * @example
 * ```ts
 * didYouMean('tool', ['tools', 'prompts', 'resources']) // 'tools'
 * ```
 */
export function didYouMean(name: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined
  let bestDistance = Number.POSITIVE_INFINITY
  const lower = name.toLowerCase()
  for (const c of candidates) {
    const cl = c.toLowerCase()
    let d = editDistance(lower, cl, 3)
    if (Math.min(cl.length, lower.length) >= 3 && (cl.startsWith(lower) || lower.startsWith(cl))) d = Math.min(d, 1)
    const limit = Math.max(c.length, name.length) <= 4 ? 1 : 2
    if (d <= limit && d < bestDistance) {
      best = c
      bestDistance = d
    }
  }
  return best
}
