/**
 * `regex.split`, `regex.find_n` and `regex.replace` with Go's RE2 syntax and semantics, run on
 * JavaScript's engine after translating the pattern: `\s` is `[\t\n\f\r ]`, `\A` / `\z` anchor the
 * text, `(?P<name>…)` is a named group, leading `(?i)` / `(?s)` / `(?m)` become flags, POSIX
 * classes (`[[:alpha:]]`) and `\Q…\E` are expanded. What RE2 rejects (look-around,
 * back-references, repeat counts above 1000) is rejected, so the call is undefined as in OPA.
 *
 * @module
 */
import { int, OperandError, str } from './values.ts'

const POSIX: Record<string, string> = {
  alnum: '0-9A-Za-z',
  alpha: 'A-Za-z',
  ascii: '\\x00-\\x7F',
  blank: '\\t ',
  cntrl: '\\x00-\\x1F\\x7F',
  digit: '0-9',
  graph: '!-~',
  lower: 'a-z',
  print: ' -~',
  punct: '!-\\/:-@\\[-`{-~',
  space: '\\t\\n\\v\\f\\r ',
  upper: 'A-Z',
  word: '0-9A-Za-z_',
  xdigit: '0-9A-Fa-f',
}

const JS_SYNTAX = new Set(['^', '$', '\\', '.', '*', '+', '?', '(', ')', '[', ']', '{', '}', '|', '/'])
const escapeLiteral = (c: string) => (JS_SYNTAX.has(c) || c === '-' ? `\\${c}` : c)

const cache = new Map<string, RegExp>()

/** Translates an RE2 pattern to a JavaScript RegExp (flags `u`, plus `g` for iteration). */
export function re2(pattern: string): RegExp {
  const hit = cache.get(pattern)
  if (hit !== undefined) {
    hit.lastIndex = 0
    return hit
  }
  let flags = 'gu'
  let i = 0
  const lead = /^\(\?([imsU]+)\)/.exec(pattern)
  if (lead !== null) {
    const f = lead[1] as string
    if (f.includes('U')) throw new OperandError('ungreedy flag not supported')
    if (f.includes('i')) flags += 'i'
    if (f.includes('m')) flags += 'm'
    if (f.includes('s')) flags += 's'
    i = lead[0].length
  }
  let out = ''
  let inClass = false
  for (; i < pattern.length; i++) {
    const c = pattern[i] as string
    if (c === '\\') {
      const n = pattern[i + 1]
      if (n === undefined) throw new OperandError('trailing backslash')
      i++
      if (n === 'Q') {
        const end = pattern.indexOf('\\E', i + 1)
        const lit = pattern.slice(i + 1, end < 0 ? undefined : end)
        out += [...lit].map(escapeLiteral).join('')
        i = end < 0 ? pattern.length : end + 1
        continue
      }
      if (n >= '1' && n <= '9') throw new OperandError('back-references are not RE2')
      if (n === 'k') throw new OperandError('back-references are not RE2')
      if (n === 's') out += inClass ? '\\t\\n\\f\\r ' : '[\\t\\n\\f\\r ]'
      else if (n === 'S') out += inClass ? (() => { throw new OperandError('\\S in a class is not supported') })() : '[^\\t\\n\\f\\r ]'
      else if (n === 'A') out += inClass ? 'A' : '(?<![\\s\\S])'
      else if (n === 'z') out += inClass ? 'z' : '(?![\\s\\S])'
      else if ((n === 'p' || n === 'P') && pattern[i + 1] !== '{') {
        out += `\\${n}{${pattern[i + 1]}}`
        i++
      } else if ('dDwWbBfnrtvpP'.includes(n)) out += `\\${n}`
      else if (n === 'x') {
        if (pattern[i + 1] === '{') {
          const end = pattern.indexOf('}', i)
          out += `\\u{${pattern.slice(i + 2, end)}}`
          i = end
        } else out += '\\x'
      } else if (n === 'a') out += '\\x07'
      else if (n >= '0' && n <= '7') {
        let oct = n
        while (oct.length < 3 && pattern[i + 1] !== undefined && pattern[i + 1]! >= '0' && pattern[i + 1]! <= '7') oct += pattern[++i]
        out += `\\u{${parseInt(oct, 8).toString(16)}}`
      } else if (/[A-Za-z0-9]/.test(n)) throw new OperandError(`invalid escape \\${n}`)
      else out += escapeLiteral(n)
      continue
    }
    if (inClass) {
      if (c === '[' && pattern[i + 1] === ':') {
        const end = pattern.indexOf(':]', i + 2)
        const name = pattern.slice(i + 2, end)
        const negated = name.startsWith('^')
        const cls = POSIX[negated ? name.slice(1) : name]
        if (end < 0 || cls === undefined || negated) throw new OperandError('unsupported character class')
        out += cls
        i = end + 1
        continue
      }
      if (c === ']') inClass = false
      out += c === '[' ? '\\[' : c
      continue
    }
    if (c === '[') {
      inClass = true
      out += c
      if (pattern[i + 1] === '^') out += pattern[++i]
      if (pattern[i + 1] === ']') {
        out += '\\]'
        i++
      }
      continue
    }
    if (c === '(' && pattern[i + 1] === '?') {
      const rest = pattern.slice(i + 2)
      if (rest.startsWith('P<')) {
        out += '(?<'
        i += 3
        continue
      }
      if (rest.startsWith('<') && !rest.startsWith('<=') && !rest.startsWith('<!')) {
        out += '(?<'
        i += 2
        continue
      }
      if (rest.startsWith(':')) {
        out += '(?:'
        i += 2
        continue
      }
      const group = /^([ims]*)(-[ims]*)?:/.exec(rest)
      if (group !== null) {
        out += `(?${group[0]}`
        i += 1 + group[0].length
        continue
      }
      throw new OperandError('unsupported group')
    }
    if (c === '{') {
      const m = /^\{(\d+)(,(\d*))?\}/.exec(pattern.slice(i))
      if (m !== null) {
        if (Number(m[1]) > 1000 || (m[3] !== undefined && m[3] !== '' && Number(m[3]) > 1000)) throw new OperandError('repeat count too large')
        if (m[3] !== undefined && m[3] !== '' && Number(m[3]) < Number(m[1])) throw new OperandError('invalid repeat count')
        out += m[0]
        i += m[0].length - 1
        continue
      }
      out += '\\{'
      continue
    }
    if (c === '}') {
      out += '\\}'
      continue
    }
    out += c
  }
  let re: RegExp
  try {
    re = new RegExp(out, flags)
  } catch (cause) {
    throw new OperandError(`invalid regular expression: ${(cause as Error).message}`)
  }
  if (cache.size >= 100) cache.delete(cache.keys().next().value as string)
  cache.set(pattern, re)
  return re
}

/** Go's Regexp.FindAllString(s, n): successive matches; an empty match right after a match is not reported. */
function findAll(re: RegExp, s: string, n: number): Array<{ index: number; end: number; text: string }> {
  const out: Array<{ index: number; end: number; text: string }> = []
  let pos = 0
  let prevMatchEnd = -1
  while ((n < 0 || out.length < n) && pos <= s.length) {
    re.lastIndex = pos
    const m = re.exec(s)
    if (m === null) break
    const start = m.index
    const end = start + m[0].length
    let accept = true
    if (end === pos) {
      if (start === prevMatchEnd) accept = false
      pos += pos < s.length && (s.codePointAt(pos) as number) > 0xffff ? 2 : 1
    } else pos = end
    prevMatchEnd = end
    if (accept) out.push({ index: start, end, text: m[0] })
  }
  return out
}

/** Go's Regexp.Expand template: $1, ${1}, $name, ${name}, $$. */
function expand(template: string, m: RegExpExecArray): string {
  return template.replace(/\$(\$|\{([A-Za-z0-9_]+)\}|([A-Za-z0-9_]+))/g, (_all, dollar: string, braced?: string, bare?: string) => {
    if (dollar === '$') return '$'
    const name = braced ?? bare ?? ''
    if (/^\d+$/.test(name)) return m[Number(name)] ?? ''
    return m.groups?.[name] ?? ''
  })
}

export const regexBuiltins = {
  'regex.split': {
    fn: (pattern: unknown, s: unknown) => {
      const re = re2(str(pattern, 1))
      const text = str(s, 2)
      // Go's Regexp.Split(s, -1).
      if (text === '') return ['']
      const out: string[] = []
      let beg = 0
      let end = 0
      for (const m of findAll(re, text, -1)) {
        end = m.index
        if (m.end !== 0) out.push(text.slice(beg, end))
        beg = m.end
      }
      if (end !== text.length) out.push(text.slice(beg))
      return out
    },
  },
  'regex.find_n': {
    fn: (pattern: unknown, s: unknown, n: unknown) => {
      const count = Number(int(n, 3))
      return findAll(re2(str(pattern, 1)), str(s, 2), count < 0 ? -1 : count).map((m) => m.text)
    },
  },
  'regex.replace': {
    fn: (base: unknown, pattern: unknown, value: unknown) => {
      const src = str(base, 1)
      const re = re2(str(pattern, 2))
      const template = str(value, 3)
      // Go's Regexp.ReplaceAllString: no second replacement for an empty match right after a match.
      let out = ''
      let lastMatchEnd = 0
      let searchPos = 0
      while (searchPos <= src.length) {
        re.lastIndex = searchPos
        const m = re.exec(src)
        if (m === null) break
        const start = m.index
        const end = start + m[0].length
        out += src.slice(lastMatchEnd, start)
        if (end > lastMatchEnd || start === 0) out += expand(template, m)
        lastMatchEnd = end
        const width = searchPos < src.length ? ((src.codePointAt(searchPos) as number) > 0xffff ? 2 : 1) : 1
        searchPos = searchPos + width > end ? searchPos + width : end
      }
      return out + src.slice(lastMatchEnd)
    },
  },
}
