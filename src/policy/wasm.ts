/**
 * Instantiates a policy compiled by `opa build -t wasm` (OPA's WebAssembly ABI 1.2) and evaluates
 * it on the ABI's one-call fast path (`opa_eval`). It replaces the loader of
 * `@open-policy-agent/opa-wasm` for one reason: the builtins the module imports (those OPA does not
 * compile into WebAssembly, such as `time.weekday` or `sprintf`) must be the runtime's own
 * implementations, checked against `opa eval`, and a module importing one the runtime lacks must be
 * refused before it serves — never fail each call with `[object Object]`.
 *
 * A builtin that fails (bad operand, unparsable date) makes its expression undefined, as OPA does
 * without `--strict-builtin-errors`. A runtime error of the policy itself (`opa_abort`: conflicting
 * values, out of memory) throws {@link WasmEvalError} with OPA's message, `file:row:col` included.
 *
 * @module
 */
import { parseValue, toRegoText } from './builtins/values.ts'

/** A builtin implemented by the runtime: decoded arguments in, a value (or undefined) out. */
export type BuiltinFunction = (...args: any[]) => unknown

/** What a builtin may ask about the evaluation it runs in. */
export interface EvalContext {
  /** `time.now_ns()` for this evaluation: one value for the whole evaluation, as in OPA. */
  nowNs(): bigint
}

/** A runtime builtin: its function and whether it wants its arguments as raw JSON text. */
export interface RuntimeBuiltin {
  fn: BuiltinFunction
  /** Receive each argument as its Rego value text (`opa_value_dump`: sets and number kinds kept) instead of a decoded value. */
  raw?: boolean
  /** Receives the evaluation context as its first argument. */
  context?: boolean
}

/** A policy runtime error (OPA's `opa_abort`), or a builtin the runtime does not provide. */
export class WasmEvalError extends Error {}

/** The part of the WebAssembly API used here (typed locally: the project's lib has no DOM types). */
interface WasmMemory {
  readonly buffer: ArrayBuffer
  grow(pages: number): number
}
interface WasmApi {
  compile(bytes: Uint8Array): Promise<object>
  instantiate(module: object, imports: object): Promise<{ exports: object }>
  Memory: new (descriptor: { initial: number; maximum?: number }) => WasmMemory
}
const WebAssemblyApi = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly

interface Exports {
  memory: WasmMemory
  opa_malloc(size: number): number
  opa_json_parse(addr: number, len: number): number
  opa_value_parse(addr: number, len: number): number
  opa_json_dump(addr: number): number
  opa_value_dump(addr: number): number
  opa_heap_ptr_get(): number
  opa_heap_ptr_set(addr: number): void
  opa_eval(reserved: number, entrypoint: number, data: number, input: number, inputLen: number, heap: number, format: number): number
  builtins(): number
  entrypoints(): number
  opa_wasm_abi_version?: { value: unknown }
  opa_wasm_abi_minor_version?: { value: unknown }
}

const decoder = new TextDecoder()
const encoder = new TextEncoder()
const PAGE = 64 * 1024

/** The result set of a plain allow, as `opa_json_dump` writes it (keys sorted). */
const ALLOW_RESULT_SET = '[{"result":{"allow":true,"reasons":[],"required_scopes":[]}}]'
const ALLOW_BYTES = encoder.encode(`${ALLOW_RESULT_SET}\0`)

/** Options of {@link loadWasmPolicy}. */
export interface WasmPolicyOptions {
  /** Initial memory in 64 KiB pages. Required. */
  initialPages: number
  /** Maximum memory in 64 KiB pages. Required. */
  maximumPages: number
  /** The builtins the runtime provides, by name. A module importing another one is refused. */
  builtins: Readonly<Record<string, RuntimeBuiltin>>
}

/** A module importing builtins the runtime does not provide. */
export class MissingBuiltinsError extends Error {
  readonly builtins: string[]
  constructor(builtins: string[]) {
    super(`the policy needs builtins this runtime cannot execute: ${builtins.join(', ')}`)
    this.builtins = builtins
  }
}

/**
 * A loaded policy module: `evaluate` and `setData`, with the `entrypoints` and the imported
 * `builtins` the module declares.
 */
export class WasmPolicy {
  /** Entrypoint ids by path (`mcp/authz/decision` → 0). */
  readonly entrypoints: Readonly<Record<string, number>>
  /** Names of the builtins the module imports (the ones OPA did not compile into it), sorted. */
  readonly builtins: readonly string[]
  /** The module's memory (exposed for memory-growth tests and metrics). */
  readonly mem: WasmMemory
  readonly #exports: Exports
  readonly #baseHeap: number
  #dataAddr: number
  #dataHeap: number
  #now: bigint | undefined
  #nowHint: number | undefined
  #view: Uint8Array

  /** @internal Use {@link loadWasmPolicy}. */
  constructor(exports: Exports, memory: WasmMemory, builtins: string[]) {
    this.#exports = exports
    this.mem = memory
    this.#view = new Uint8Array(memory.buffer)
    this.builtins = builtins
    this.entrypoints = this.#dump(exports.entrypoints()) as Record<string, number>
    this.#dataAddr = this.#load(encoder.encode('{}'), false)
    this.#baseHeap = exports.opa_heap_ptr_get()
    this.#dataHeap = this.#baseHeap
  }

  /** Loads the data document (replaces the previous one). */
  setData(data: unknown): void {
    this.#exports.opa_heap_ptr_set(this.#baseHeap)
    this.#dataAddr = this.#load(encoder.encode(JSON.stringify(data)), false)
    this.#dataHeap = this.#exports.opa_heap_ptr_get()
  }

  /**
   * Evaluates one entrypoint on an input (an object, or its JSON text / UTF-8 bytes) and returns the
   * result set (`[{ result }]`, or `[]` when undefined). `nowNs` fixes `time.now_ns()`; default: the
   * input's `context.time_ns` when it is a number, else the clock at the first call.
   *
   * @throws {WasmEvalError} on a policy runtime error; `RangeError` when memory would exceed its maximum.
   */
  evaluate(input: unknown, entrypoint: number | string = 0, nowNs?: bigint): unknown {
    const text = this.evaluateText(input, entrypoint, nowNs)
    // The most common answer of all, decoded without a parse (the same value JSON.parse would give).
    if (text === ALLOW_RESULT_SET) return [{ result: { allow: true, reasons: [], required_scopes: [] } }]
    return JSON.parse(text)
  }

  /** {@link evaluate}, returning the result set as JSON text (numbers exact to the digit). */
  evaluateText(input: unknown, entrypoint: number | string = 0, nowNs?: bigint): string {
    const id = typeof entrypoint === 'number' ? entrypoint : this.entrypoints[entrypoint]
    if (id === undefined) throw new WasmEvalError(`entrypoint ${String(entrypoint)} is not in this policy`)
    const at = this.#dataHeap
    let length: number
    // Text is encoded straight into the module's memory: no intermediate buffer, no copy.
    if (typeof input === 'string') length = this.#writeText(input, at)
    else {
      let bytes: Uint8Array
      if (input instanceof ArrayBuffer) bytes = new Uint8Array(input)
      else if (input instanceof Uint8Array) bytes = input
      else bytes = encoder.encode(JSON.stringify(input))
      this.#reserve(at + bytes.byteLength).set(bytes, at)
      length = bytes.byteLength
    }
    this.#now = nowNs
    this.#nowHint = typeof input === 'object' && input !== null && !(input instanceof ArrayBuffer) && !(input instanceof Uint8Array) ? timeHint(input) : undefined
    try {
      const ret = this.#exports.opa_eval(0, id, this.#dataAddr, length === 0 ? 0 : at, length, at + length, 0)
      return this.#matches(ret, ALLOW_BYTES) ? ALLOW_RESULT_SET : this.#string(ret)
    } finally {
      this.#now = undefined
      this.#nowHint = undefined
    }
  }

  /** A view of the whole memory, current after any growth (growth detaches the previous buffer). */
  #bytes(): Uint8Array {
    if (this.#view.byteLength === 0 || this.#view.buffer !== this.mem.buffer) this.#view = new Uint8Array(this.mem.buffer)
    return this.#view
  }

  /** The memory view, grown first when it is shorter than `end` bytes. */
  #reserve(end: number): Uint8Array {
    const missing = end - this.mem.buffer.byteLength
    if (missing > 0) this.mem.grow(Math.ceil(missing / PAGE))
    return this.#bytes()
  }

  /** Writes `text` as UTF-8 at `at`, growing memory only when the text does not fit; returns its length in bytes. */
  #writeText(text: string, at: number): number {
    let view = this.#bytes()
    let { read, written } = encoder.encodeInto(text, view.subarray(at))
    if (read < text.length) {
      // At most 3 bytes per UTF-16 code unit left.
      view = this.#reserve(at + written + 3 * (text.length - read))
      written += encoder.encodeInto(text.slice(read), view.subarray(at + written)).written
    }
    return written
  }

  /** Whether the NUL-terminated string at `addr` is exactly `expected` (which includes its NUL). */
  #matches(addr: number, expected: Uint8Array): boolean {
    const view = this.#bytes()
    if (addr + expected.length > view.length) return false
    for (let i = 0; i < expected.length; i++) if (view[addr + i] !== expected[i]) return false
    return true
  }

  /** @internal `time.now_ns()` of the evaluation running now. */
  nowNs(): bigint {
    if (this.#now === undefined) this.#now = this.#nowHint !== undefined ? BigInt(Math.round(this.#nowHint)) : BigInt(Date.now()) * 1_000_000n
    return this.#now
  }

  /** @internal Calls a runtime builtin with arguments at WASM addresses; returns the result's address (0: undefined). */
  call(builtin: RuntimeBuiltin, addrs: number[]): number {
    let args: unknown[]
    try {
      args = addrs.map((a) => (builtin.raw ? this.#string(this.#exports.opa_value_dump(a)) : parseValue(this.#string(this.#exports.opa_json_dump(a)))))
    } catch {
      return 0
    }
    let text: string
    try {
      const result = builtin.context ? builtin.fn(this, ...args) : builtin.fn(...args)
      if (result === undefined) return 0
      text = toRegoText(result)
    } catch {
      // OPA semantics: a builtin error makes the expression undefined (no --strict-builtin-errors).
      return 0
    }
    return this.#load(encoder.encode(text), true)
  }

  #load(bytes: Uint8Array, rego: boolean): number {
    const addr = this.#exports.opa_malloc(bytes.byteLength)
    this.#bytes().set(bytes, addr)
    const parsed = rego ? this.#exports.opa_value_parse(addr, bytes.byteLength) : this.#exports.opa_json_parse(addr, bytes.byteLength)
    if (parsed === 0) throw new WasmEvalError('the policy could not parse a value')
    return parsed
  }

  #dump(addr: number): unknown {
    return JSON.parse(this.#string(this.#exports.opa_json_dump(addr)))
  }

  /** @internal Reads a NUL-terminated UTF-8 string from memory. */
  #string(addr: number): string {
    const view = this.#bytes()
    const end = view.indexOf(0, addr)
    return decoder.decode(view.subarray(addr, end < 0 ? view.length : end))
  }

  /** @internal */
  readString(addr: number): string {
    return this.#string(addr)
  }
}

function timeHint(input: object): number | undefined {
  const t = (input as { context?: { time_ns?: unknown } }).context?.time_ns
  return typeof t === 'number' && Number.isFinite(t) && t > 0 ? t : undefined
}

/**
 * Compiles and instantiates a policy module. Refuses a module that imports a builtin the runtime
 * does not provide ({@link MissingBuiltinsError}, naming every one) or that is not OPA ABI 1.2+.
 *
 * @example
 * ```ts
 * const policy = await loadWasmPolicy(wasmBytes, { initialPages: 16, maximumPages: 1024, builtins: RUNTIME_BUILTINS })
 * policy.setData({ mcp_authz: { … } })
 * policy.evaluate(input, 'mcp/authz/decision') // [{ result: { allow: true, … } }]
 * ```
 */
export async function loadWasmPolicy(wasm: Uint8Array, options: WasmPolicyOptions): Promise<WasmPolicy> {
  const module = await WebAssemblyApi.compile(wasm)
  const memory = new WebAssemblyApi.Memory({ initial: options.initialPages, maximum: options.maximumPages })
  let policy: WasmPolicy | undefined
  let table: Array<RuntimeBuiltin | undefined> = []
  const call = (id: number, addrs: number[]): number => {
    const builtin = table[id]
    if (policy === undefined || builtin === undefined) throw new WasmEvalError(`builtin #${id} is not provided by the runtime`)
    return policy.call(builtin, addrs)
  }
  const env = {
    memory,
    opa_abort(addr: number): never {
      throw new WasmEvalError(policy?.readString(addr) ?? 'policy aborted')
    },
    opa_println(addr: number): void {
      // print() output goes to stderr, as `opa eval` prints it; never into a decision.
      process.stderr.write(`${policy?.readString(addr) ?? ''}\n`)
    },
    opa_builtin0: (id: number) => call(id, []),
    opa_builtin1: (id: number, _ctx: number, a: number) => call(id, [a]),
    opa_builtin2: (id: number, _ctx: number, a: number, b: number) => call(id, [a, b]),
    opa_builtin3: (id: number, _ctx: number, a: number, b: number, c: number) => call(id, [a, b, c]),
    opa_builtin4: (id: number, _ctx: number, a: number, b: number, c: number, d: number) => call(id, [a, b, c, d]),
  }
  const instance = (await WebAssemblyApi.instantiate(module, { env }))
  const exports = instance.exports as Exports
  const major = exports.opa_wasm_abi_version?.value
  const minor = exports.opa_wasm_abi_minor_version?.value
  if (major !== 1 || typeof minor !== 'number' || minor < 2) throw new WasmEvalError(`unsupported OPA WebAssembly ABI ${String(major)}.${String(minor)} (need 1.2 or later: rebuild with a current opa)`)
  const ids = builtinIds(exports, memory)
  const names = Object.keys(ids).sort()
  const missing = names.filter((n) => !Object.hasOwn(options.builtins, n))
  if (missing.length > 0) throw new MissingBuiltinsError(missing)
  table = []
  for (const [name, id] of Object.entries(ids)) table[id] = options.builtins[name]
  policy = new WasmPolicy(exports, memory, names)
  return policy
}

/** The module's own list of the builtins it imports: `{ name: id }` (its `builtins` export). */
function builtinIds(exports: Exports, memory: WasmMemory): Record<string, number> {
  const heap = exports.opa_heap_ptr_get()
  const addr = exports.opa_json_dump(exports.builtins())
  const view = new Uint8Array(memory.buffer)
  const ids = JSON.parse(decoder.decode(view.subarray(addr, view.indexOf(0, addr)))) as Record<string, number>
  exports.opa_heap_ptr_set(heap)
  return ids
}

/**
 * Reads the builtins a compiled module imports (the ones OPA did not compile into WebAssembly),
 * without evaluating anything.
 *
 * @example
 * ```ts
 * await importedBuiltins(wasmBytes) // ['sprintf', 'time.weekday']
 * ```
 */
export async function importedBuiltins(wasm: Uint8Array): Promise<string[]> {
  const module = await WebAssemblyApi.compile(wasm)
  const memory = new WebAssemblyApi.Memory({ initial: 16 })
  const fail = (): never => {
    throw new WasmEvalError('not evaluable here')
  }
  const env = { memory, opa_abort: fail, opa_println: fail, opa_builtin0: fail, opa_builtin1: fail, opa_builtin2: fail, opa_builtin3: fail, opa_builtin4: fail }
  const instance = (await WebAssemblyApi.instantiate(module, { env }))
  return Object.keys(builtinIds(instance.exports as Exports, memory)).sort()
}
