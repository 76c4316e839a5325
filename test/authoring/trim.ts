/**
 * A local input-trimming helper for the analysis property: keeps only the given paths of an input
 * (every object on the way to a kept path stays, so "exists" checks see what they saw before). An
 * empty path keeps everything. The engine's own trimming (src/authz.ts) must keep at least this.
 */
export function trimInput(input: unknown, paths: readonly string[][]): unknown {
  if (paths.some((p) => p.length === 0)) return input
  const out: Record<string, unknown> = {}
  for (const path of paths) {
    let src: unknown = input
    let dst: Record<string, unknown> = out
    for (const [i, key] of path.entries()) {
      if (src === null || typeof src !== 'object' || Array.isArray(src) || !Object.hasOwn(src, key)) break
      const value = (src as Record<string, unknown>)[key]
      if (i === path.length - 1 || value === null || typeof value !== 'object' || Array.isArray(value)) {
        dst[key] = structuredClone(value)
        break
      }
      const next = dst[key]
      dst[key] = next !== undefined && typeof next === 'object' && next !== null ? next : {}
      dst = dst[key] as Record<string, unknown>
      src = value
    }
  }
  return out
}
