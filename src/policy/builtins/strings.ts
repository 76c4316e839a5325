/**
 * String builtins OPA does not compile into WebAssembly: `strings.any_prefix_match`,
 * `strings.any_suffix_match`, `strings.count`, `indexof_n`. (`sprintf` is in sprintf.ts.)
 *
 * @module
 */
import { OperandError, str, strings } from './values.ts'

const reverse = (s: string) => [...s].reverse().join('')

function anyStartsWithAny(strs: string[], prefixes: string[]): boolean {
  return strs.some((s) => prefixes.some((p) => s.startsWith(p)))
}

export const stringBuiltins = {
  'strings.any_prefix_match': { fn: (a: unknown, b: unknown) => anyStartsWithAny(strings(a, 1), strings(b, 2)) },
  'strings.any_suffix_match': { fn: (a: unknown, b: unknown) => anyStartsWithAny(strings(a, 1).map(reverse), strings(b, 2).map(reverse)) },
  'strings.count': {
    fn: (s: unknown, sub: unknown) => {
      const base = str(s, 1)
      const search = str(sub, 2)
      // Go's strings.Count: an empty substring counts rune boundaries.
      if (search === '') return [...base].length + 1
      let n = 0
      for (let i = base.indexOf(search); i >= 0; i = base.indexOf(search, i + search.length)) n++
      return n
    },
  },
  indexof_n: {
    fn: (s: unknown, sub: unknown) => {
      const base = [...str(s, 1)]
      const search = [...str(sub, 2)]
      if (search.length === 0) throw new OperandError('empty search character')
      const out: number[] = []
      for (let i = 0; i + search.length <= base.length; i++) if (search.every((c, j) => base[i + j] === c)) out.push(i)
      return out
    },
  },
}
