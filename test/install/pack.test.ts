/**
 * Installed from npm, it works. The package is packed with `npm pack` — its real `prepack`, in a
 * copy of the sources, so that this test never rebuilds the dist/ other tests read — and installed
 * into a new project as the README's Install section says (the tarball in place of the registry's
 * `mcp-authz`; dependencies from the npm cache when it has them). Then, with no `opa` anywhere on
 * PATH: the README's quickstart and embedding snippets are type-checked by the project's own
 * TypeScript against the packed .d.ts and run with Node, the README's CLI line and the CLI's
 * data-only commands run through `npx mcp-authz`, and `build` (which needs opa) exits 2 saying how
 * to install it. Prints one line: `install: …` with the sizes and the times.
 */
import assert from 'node:assert/strict'
import { spawn, spawnSync, type ChildProcess, type ChildProcessByStdio, type SpawnSyncReturns } from 'node:child_process'
import { existsSync, readdirSync, readFileSync, realpathSync } from 'node:fs'
import { cp, mkdir, symlink, writeFile } from 'node:fs/promises'
import { join, relative, resolve, sep } from 'node:path'
import type { Readable } from 'node:stream'
import { after, before, describe, it } from 'node:test'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { startAuthorizationServer } from '../helpers/authorization-server.ts'
import { freePort } from '../helpers/net.ts'
import { envWithoutOpa } from '../helpers/no-opa.ts'
import { markedBlock, matchesDocumented, REPO } from '../helpers/snippets.ts'
import { tempDir } from '../helpers/temp.ts'

/** The version installed here (from the npm cache when possible), so the test stays offline-friendly. */
const installedVersion = (name: string): string => (JSON.parse(readFileSync(join(REPO, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version

interface Run {
  status: number | null
  stdout: string
  stderr: string
  ms: number
}

/** Runs a command to its end, bounded: past `timeoutMs` it is killed and the test fails saying so. */
function run(command: string, args: string[], options: { cwd: string; env: NodeJS.ProcessEnv; timeoutMs: number }): Run {
  const started = performance.now()
  const r: SpawnSyncReturns<string> = spawnSync(command, args, { cwd: options.cwd, env: options.env, encoding: 'utf8', timeout: options.timeoutMs, killSignal: 'SIGKILL', maxBuffer: 64 * 1024 * 1024 })
  const what = `${command} ${args.join(' ')}`
  if ((r.error as NodeJS.ErrnoException | undefined)?.code === 'ETIMEDOUT') {
    throw new Error(`${what} did not finish within ${options.timeoutMs / 1000} s and was stopped (npm: is the registry reachable? npm config get registry):\n${r.stdout ?? ''}\n${r.stderr ?? ''}`)
  }
  if (r.error !== undefined) throw new Error(`${what}: ${r.error.message}\n${r.stderr ?? ''}`)
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, ms: performance.now() - started }
}

const ok = (r: Run, what: string): Run => {
  assert.equal(r.status, 0, `${what} failed (exit ${r.status}):\n${r.stdout}\n${r.stderr}`)
  return r
}

/** Waits (bounded) until `port` on 127.0.0.1 accepts connections, while `child` lives. */
async function listening(port: number, child: ChildProcess, output: () => string): Promise<void> {
  const deadline = Date.now() + 60_000
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the server exited (${child.exitCode}):\n${output()}`)
    const up = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(2000) }).then(
      () => true,
      () => false,
    )
    if (up) return
    if (Date.now() > deadline) throw new Error(`nothing listened on ${port} within 60 s:\n${output()}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

/**
 * Process groups started by {@link spawnGroup} and not stopped yet: killed when this process exits,
 * whatever the way, so that no server outlives the test.
 */
const groups = new Set<number>()
const closed = new WeakMap<ChildProcess, Promise<void>>()
process.once('exit', () => {
  for (const pid of groups) killGroup(pid, 'SIGKILL')
})

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal)
  } catch {
    // Already gone.
  }
}

/**
 * Starts a long-running command in a process group of its own. `npx` starts the CLI as a child of
 * its own and does not pass SIGTERM on, so killing `npx` alone leaves the server running and holding
 * the test's pipes open: the whole group is stopped instead.
 */
function spawnGroup(command: string, args: string[], options: { cwd: string; env: NodeJS.ProcessEnv }): ChildProcessByStdio<null, Readable, Readable> {
  const child = spawn(command, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'], detached: true })
  if (child.pid !== undefined) groups.add(child.pid)
  closed.set(child, new Promise<void>((r) => child.once('close', () => r())))
  return child
}

/** Stops a child's process group (SIGTERM, then SIGKILL after 10 s) and waits until its output is closed (bounded). */
async function stop(child: ChildProcess): Promise<void> {
  const pid = child.pid
  if (pid === undefined) return
  killGroup(pid, 'SIGTERM')
  const kill = setTimeout(() => killGroup(pid, 'SIGKILL'), 10_000)
  const giveUp = new Promise<void>((r) => setTimeout(r, 20_000).unref())
  await Promise.race([closed.get(child) ?? Promise.resolve(), giveUp])
  clearTimeout(kill)
  killGroup(pid, 'SIGKILL')
  groups.delete(pid)
}

describe('installed from npm (npm pack, npm install, no opa)', { timeout: 900_000 }, () => {
  let work: string
  let app: string
  let env: NodeJS.ProcessEnv
  let packed: { filename: string; size: number; unpackedSize: number; files: Array<{ path: string }> }
  const children: ChildProcess[] = []
  const times: Record<string, number> = {}
  const npm = (args: string[], cwd: string, timeoutMs = 300_000) => run('npm', args, { cwd, env, timeoutMs })
  const npx = (args: string[], cwd = app) => run('npx', ['--no-install', 'mcp-authz', ...args], { cwd, env, timeoutMs: 120_000 })

  before(async () => {
    const started = performance.now()
    work = await tempDir('mcp-authz-install-')
    env = await envWithoutOpa(join(work, 'bin'), { ...process.env, npm_config_update_notifier: 'false', npm_config_fund: 'false', npm_config_audit: 'false', npm_config_fetch_timeout: '60000', npm_config_fetch_retries: '1', NODE_DISABLE_COMPILE_CACHE: '1' })

    // 1. npm pack, prepack included, in a copy of what the package is built from.
    const pkg = join(work, 'package')
    const manifest = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { files: string[] }
    const sources = ['package.json', 'tsconfig.json', 'tsconfig.build.json', 'src', 'scripts/build-package.mjs', ...manifest.files.filter((f) => !f.startsWith('!') && f !== 'dist')]
    for (const f of sources) if (existsSync(join(REPO, f))) await cp(join(REPO, f), join(pkg, f), { recursive: true })
    await symlink(realpathSync(join(REPO, 'node_modules')), join(pkg, 'node_modules'))
    const opa = process.env.MCP_AUTHZ_OPA || (existsSync(join(REPO, '.tools/bin/opa')) ? join(REPO, '.tools/bin/opa') : undefined)
    const packEnv = { ...process.env, ...(opa !== undefined ? { MCP_AUTHZ_OPA: opa } : {}) }
    const pack = ok(run('npm', ['pack', '--json', '--pack-destination', work], { cwd: pkg, env: packEnv, timeoutMs: 600_000 }), 'npm pack')
    times.pack = pack.ms
    packed = (JSON.parse(pack.stdout.slice(pack.stdout.indexOf('['))) as Array<typeof packed>)[0] as typeof packed

    // 2. A new project, as the README's Install section says.
    const install = markedBlock('README.md', 'install').code.trim()
    assert.equal(install, 'npm install mcp-authz @modelcontextprotocol/sdk', 'the README Install command changed: update this test with it')
    app = join(work, 'app')
    await mkdir(app)
    ok(npm(['init', '-y'], app), 'npm init')
    ok(npm(['pkg', 'set', 'type=module'], app), 'npm pkg set type=module')
    const installed = ok(
      npm(['install', '--prefer-offline', '--no-audit', '--no-fund', join(work, packed.filename), `@modelcontextprotocol/sdk@${installedVersion('@modelcontextprotocol/sdk')}`, `typescript@${installedVersion('typescript')}`, `@types/node@${installedVersion('@types/node')}`], app),
      'npm install',
    )
    times.install = installed.ms
    times.setup = performance.now() - started
  }, { timeout: 900_000 }) // bounded by its steps' own limits; the runner's default (scripts/test.sh: 180 s) is too short for npm pack + install on a loaded machine

  after(async () => {
    for (const c of children) await stop(c)
    const mib = (n: number) => `${(n / 1024).toFixed(0)} KiB`
    if (packed !== undefined) {
      console.log(`install: package ${mib(packed.size)} packed, ${mib(packed.unpackedSize)} unpacked, ${packed.files.length} files; npm pack (prepack: tsc + library) ${(times.pack! / 1000).toFixed(1)} s, npm install ${(times.install! / 1000).toFixed(1)} s, set-up ${(times.setup! / 1000).toFixed(1)} s`)
    }
  })

  it('the tarball holds what an installed user needs and nothing else', () => {
    const files = packed.files.map((f) => f.path)
    for (const needed of ['package.json', 'README.md', 'dist/index.js', 'dist/index.d.ts', 'dist/cli/main.js', 'dist/policy-library.tar.gz', 'schemas/data.schema.json', 'schemas/config.schema.json', 'policies/mcp/authz/decision.rego']) {
      assert.ok(files.includes(needed), `${needed} is missing from the package`)
    }
    const stray = files.filter((f) => !/^(package\.json|README\.md|LICENSE|dist\/|schemas\/|policies\/)/.test(f) || f.endsWith('.map') || f.endsWith('_test.rego'))
    assert.deepEqual(stray, [], 'only dist/, schemas/, policies/ (no tests), README, LICENSE and package.json')
    // Every file the manifest points at is in it: each export, its types, and the bin.
    const manifest = JSON.parse(readFileSync(join(app, 'node_modules/mcp-authz/package.json'), 'utf8')) as { exports: Record<string, string | Record<string, string>>; bin: Record<string, string> }
    for (const [subpath, target] of Object.entries(manifest.exports)) {
      for (const file of typeof target === 'string' ? [target] : Object.values(target)) {
        if (file.includes('*')) assert.ok(files.some((f) => f.startsWith(file.slice(2, file.indexOf('*')))), `exports[${subpath}] matches no file`)
        else assert.ok(files.includes(file.slice(2)), `exports[${subpath}] → ${file} is not in the package`)
      }
    }
    for (const file of Object.values(manifest.bin)) assert.ok(files.includes(file.replace(/^\.\//, '')), `bin ${file} is not in the package`)
  })

  it('installing it needs the npm registry and nothing else: no install script, no git or URL dependency', () => {
    const lock = JSON.parse(readFileSync(join(app, 'package-lock.json'), 'utf8')) as { packages: Record<string, { resolved?: string; hasInstallScript?: boolean }> }
    const registry = run('npm', ['config', 'get', 'registry'], { cwd: app, env, timeoutMs: 60_000 }).stdout.trim()
    const elsewhere = Object.entries(lock.packages)
      .filter(([path, p]) => path !== '' && p.resolved !== undefined && !p.resolved.startsWith(registry) && !p.resolved.startsWith('file:') && !p.resolved.endsWith(packed.filename))
      .map(([path, p]) => `${path}: ${p.resolved}`)
    assert.deepEqual(elsewhere, [], `fetched from outside ${registry}`)
    const scripts = Object.entries(lock.packages).filter(([, p]) => p.hasInstallScript === true).map(([path]) => path)
    assert.deepEqual(scripts, [], 'an install script may download what the registry does not serve (and is refused by npm installs that ignore scripts)')
  })

  it('the code reads no file outside the installed package (every new URL(…, import.meta.url) lands inside it)', () => {
    const root = join(app, 'node_modules/mcp-authz')
    const js = readdirSync(join(root, 'dist'), { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.js'))
    const problems: string[] = []
    let seen = 0
    for (const f of js) {
      const text = readFileSync(join(root, 'dist', f), 'utf8')
      for (const m of text.matchAll(/new URL\((['"`])([^'"`$]+)\1,\s*import\.meta\.url\)/g)) {
        seen++
        const target = resolve(join(root, 'dist', f), '..', m[2] as string)
        if (!`${target}${sep}`.startsWith(`${root}${sep}`) || !existsSync(target)) problems.push(`dist/${f}: ${m[2]} → ${relative(root, target)}`)
      }
    }
    assert.ok(seen >= 3, 'the library, the schemas and the policies are found this way')
    assert.deepEqual(problems, [])
  })

  it("the README's quickstart type-checks with the project's TypeScript and prints what the README shows", async () => {
    await writeFile(join(app, 'data.yaml'), markedBlock('README.md', 'data.yaml').code)
    await writeFile(join(app, 'decide.ts'), markedBlock('README.md', 'decide.ts').code)
    await writeFile(join(app, 'server.ts'), markedBlock('README.md', 'embed-node').code)
    // A user's tsconfig: strict, Node ESM, and the libraries' .d.ts checked too (skipLibCheck off).
    await writeFile(join(app, 'tsconfig.json'), JSON.stringify({ compilerOptions: { target: 'ES2023', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true, skipLibCheck: false, types: ['node'] }, include: ['*.ts'] }))
    const tsc = run('npx', ['--no-install', 'tsc', '-p', '.'], { cwd: app, env, timeoutMs: 240_000 })
    times.tsc = tsc.ms
    assert.equal(tsc.status, 0, `the README's TypeScript does not compile against the packed .d.ts:\n${tsc.stdout}${tsc.stderr}`)

    const decide = ok(run('node', ['decide.ts'], { cwd: app, env, timeoutMs: 60_000 }), 'node decide.ts')
    const shown = markedBlock('README.md', 'output of node decide.ts').code.split('\n')
    const printed = decide.stdout.trimEnd().split('\n')
    assert.equal(printed.length, shown.length, `printed:\n${decide.stdout}`)
    shown.forEach((line, i) => assert.ok(matchesDocumented(printed[i] as string, line), `line ${i + 1}: printed ${printed[i]}\nthe README shows ${line}`))
  })

  it('the CLI: --help, the README eval line, check and serve with bundle.data, build without opa → 2 with the install hint', async () => {
    const help = ok(npx(['--help']), 'npx mcp-authz --help')
    for (const command of ['build', 'eval', 'test', 'serve', 'proxy', 'check', 'token']) assert.match(help.stdout, new RegExp(`\\n  ${command} `), `--help lists ${command}`)

    const line = markedBlock('README.md', 'cli').code.split('\n').find((l) => l.startsWith('npx mcp-authz eval '))
    assert.ok(line !== undefined, 'the README shows an npx mcp-authz eval line')
    const evaluated = ok(run('bash', ['-c', line], { cwd: app, env, timeoutMs: 120_000 }), line)
    const decision = JSON.parse(evaluated.stdout) as { allow: boolean; status: number; required_scopes: string[] }
    assert.deepEqual([decision.allow, decision.status, decision.required_scopes], [false, 403, ['notes:write']])

    await writeFile(join(app, 'config.yaml'), 'bundle:\n  data: data.yaml\nserver:\n  port: 0\n')
    assert.equal(JSON.parse(ok(npx(['check', '--config', 'config.yaml']), 'check').stdout).ok, true)
    const serve = spawnGroup('npx', ['--no-install', 'mcp-authz', 'serve', '--config', 'config.yaml', '--log-level', 'warn'], { cwd: app, env })
    children.push(serve)
    let out = ''
    serve.stdout.on('data', (c: Buffer) => (out += c.toString()))
    serve.stderr.on('data', (c: Buffer) => (out += c.toString()))
    const deadline = Date.now() + 60_000
    while (!out.includes('"listening"')) {
      assert.ok(Date.now() < deadline && serve.exitCode === null, `serve did not start:\n${out}`)
      await new Promise((r) => setTimeout(r, 100))
    }
    const { listening: url } = JSON.parse(out.slice(out.indexOf('{'), out.indexOf('}', out.indexOf('"listening"')) + 1)) as { listening: string }
    const ready = (await (await fetch(`${url}/ready`, { signal: AbortSignal.timeout(10_000) })).json()) as { status: string; revision: string }
    assert.equal(ready.status, 'ready')
    assert.match(ready.revision, /^lib-sha256-[0-9a-f]+\+data-[0-9a-f]+$/, 'the shipped library with the data')
    await stop(serve)

    const build = npx(['build'])
    assert.equal(build.status, 2, build.stderr)
    assert.match(build.stderr, /go install github\.com\/open-policy-agent\/opa@v1\.22\.2/)
    assert.match(build.stderr, /MCP_AUTHZ_OPA/)
    assert.doesNotMatch(build.stderr, /npm run|setup|examples\//, 'no advice that holds only in the repository')
    await mkdir(join(app, 'empty'))
    const nothing = npx(['build'], join(app, 'empty'))
    assert.equal(nothing.status, 2)
    assert.match(nothing.stderr, /build needs the policy data: --data <file>/)
    assert.doesNotMatch(nothing.stderr, /ENOENT|examples\//, 'no default points into the repository')
  })

  it("the README's embedding snippet serves MCP behind the guard (with a real authorization server in place of the example's)", async (t) => {
    const port = await freePort()
    const resource = `http://127.0.0.1:${port}/mcp`
    const as = await startAuthorizationServer({ resources: { [resource]: { scopes: ['notes:read', 'notes:write'] } }, clients: [{ clientId: 'agent', clientSecret: 'agent-secret' }] })
    t.after(() => as.close())
    // The user's own values in place of the example's: their issuer, their server's URI and port.
    const own = (text: string, replacements: Array<[string, string]>) =>
      replacements.reduce((s, [from, to]) => {
        assert.ok(s.includes(from), `the README snippet no longer contains ${from}`)
        return s.split(from).join(to)
      }, text)
    const embed = join(app, 'embed')
    await mkdir(embed)
    await writeFile(join(embed, 'data.yaml'), own(markedBlock('README.md', 'data.yaml').code, [['https://as.example.com', as.issuer], ['https://notes.example.com/mcp', resource]]))
    await writeFile(join(embed, 'server.ts'), own(markedBlock('README.md', 'embed-node').code, [['https://as.example.com/jwks', as.jwksUri], ['https://as.example.com', as.issuer], ['https://notes.example.com/mcp', resource], ['.listen(3000,', `.listen(${port},`]]))
    const server = spawnGroup('node', ['server.ts'], { cwd: embed, env })
    children.push(server)
    let out = ''
    server.stdout.on('data', (c: Buffer) => (out += c.toString()))
    server.stderr.on('data', (c: Buffer) => (out += c.toString()))
    await listening(port, server, () => out)

    const anonymous = await fetch(resource, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }), signal: AbortSignal.timeout(10_000) })
    assert.equal(anonymous.status, 401)
    assert.match(anonymous.headers.get('www-authenticate') ?? '', new RegExp(`resource_metadata="http://127\\.0\\.0\\.1:${port}/\\.well-known/oauth-protected-resource/mcp"`))

    const token = await as.token('agent', { resource, scope: 'notes:read' })
    const client = new Client({ name: 'install-test', version: '1.0.0' })
    t.after(() => client.close().catch(() => undefined))
    await client.connect(new StreamableHTTPClientTransport(new URL(resource), { requestInit: { headers: { authorization: `Bearer ${token}` } } }))
    assert.deepEqual((await client.listTools()).tools.map((tool) => tool.name), ['whoami'])
    const answer = await client.callTool({ name: 'whoami', arguments: {} })
    assert.equal((answer.content as Array<{ text: string }>)[0]?.text, 'agent', 'the handler sees the principal')
    await stop(server)
  })
})
