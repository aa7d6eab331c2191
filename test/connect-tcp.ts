// qvm-connect-tcp's listener with real processes and real TCP on this machine's loopback: the
// qrexec client is a fixture (test/fixtures/bin/qrexec-*); qrexec-loopback runs the real
// qubes.ConnectTCP service end here, as qrexec would in the target qube.
import { spawn, execFile, type ChildProcess } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs'
import { createServer, connect, type Server, type Socket, type AddressInfo } from 'node:net'
import { networkInterfaces, tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import t, { type Test } from 'tap'
import { built } from './helpers/built.js'
import { outcome, type Outcome } from './helpers/outcome.js'
import { isAlive, until, untilFile, untilGone } from './helpers/wait.js'

const exec = promisify(execFile)
const ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '..')
const BIN = built('vm-hooks/bin/qvm-connect-tcp.js')
const FIXTURES = join(ROOT, 'test/fixtures/bin')

function tempDir(t: Test, prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

/** A port nobody listens on right now (bound and released). */
async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((r) => server.listen({ host: '127.0.0.1', port: 0 }, r))
  const { port } = server.address() as AddressInfo
  await new Promise((r) => server.close(r))
  return port
}

async function listen(t: Test, handler: (socket: Socket) => void, port = 0): Promise<number> {
  const server: Server = createServer({ allowHalfOpen: true }, (socket) => {
    socket.on('error', () => socket.destroy())
    handler(socket)
  })
  await new Promise<void>((r) => server.listen({ host: '127.0.0.1', port }, r))
  t.teardown(() => new Promise<void>((r) => server.close(() => r())))
  return (server.address() as AddressInfo).port
}

interface Binding {
  child: ChildProcess
  log: () => string
}

/** `qvm-connect-tcp --foreground SPEC`, up once it logs that it listens; SIGTERM at teardown. */
async function bind(t: Test, spec: string, env: Record<string, string | undefined>, stateDir = tempDir(t, 'qct-state-')): Promise<Binding> {
  const child = spawn(process.execPath, [BIN, '--foreground', '--state-dir', stateDir, spec], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let log = ''
  child.stdout!.resume()
  t.teardown(() => {
    if (child.exitCode === null) child.kill('SIGTERM')
  })
  await new Promise<void>((resolve, reject) => {
    child.stderr!.on('data', (chunk) => {
      log += chunk
      if (log.includes('listening on')) resolve()
    })
    child.once('exit', () => reject(new Error(`binding ${spec} did not start: ${log}`)))
  })
  return { child, log: () => log }
}

interface Exchange {
  data: Buffer
  error: string | undefined
}

/** Connects, sends `payload` (then half-closes) and collects everything until the connection closes. */
function exchange(port: number, payload?: Buffer, host = '127.0.0.1'): Promise<Exchange> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = []
    let error: string | undefined
    const socket = connect({ host, port, allowHalfOpen: true })
    socket.on('connect', () => (payload === undefined ? socket.end() : socket.end(payload)))
    socket.on('data', (chunk: Buffer) => chunks.push(chunk))
    socket.on('error', (err: NodeJS.ErrnoException) => (error = err.code ?? err.message))
    socket.on('close', () => resolve({ data: Buffer.concat(chunks), error }))
  })
}

const sha = (data: Buffer) => createHash('sha256').update(data).digest('hex')
const echo = (socket: Socket) => socket.pipe(socket)

/** The addresses port `port` is listened on, from /proc/net/tcp and tcp6 (state 0A). */
function listeningAddresses(port: number): string[] {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0')
  const found: string[] = []
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of readFileSync(file, 'utf8').split('\n').slice(1)) {
      const [, local, , state] = line.trim().split(/\s+/)
      if (local === undefined || state !== '0A' || !local.endsWith(`:${hexPort}`)) continue
      const hex = local.slice(0, local.indexOf(':'))
      found.push(hex.length === 8 ? (hex.match(/../g) ?? []).reverse().map((h) => parseInt(h, 16)).join('.') : hex)
    }
  }
  return found
}

t.test('listens on 127.0.0.1 only, never on every address', async (t) => {
  const local = await freePort()
  const binding = await bind(t, `${local}::444`, { QREXEC_CLIENT_VM: join(FIXTURES, 'qrexec-args') })
  t.same(listeningAddresses(local), ['127.0.0.1'], 'one listening socket, on 127.0.0.1')
  t.same(await exchange(local), { data: Buffer.from('@default qubes.ConnectTCP+444\n'), error: undefined }, 'an empty VMNAME is @default')
  t.same((await exchange(local, undefined, '127.0.0.2')).error, 'ECONNREFUSED', 'not on 127.0.0.2')
  t.same((await exchange(local, undefined, '::1')).error, 'ECONNREFUSED', 'not on ::1')
  const external = Object.values(networkInterfaces()).flat().find((a) => a !== undefined && !a.internal && a.family === 'IPv4')
  if (external !== undefined) t.same((await exchange(local, undefined, external.address)).error, 'ECONNREFUSED', `not on ${external.address}`)
  t.equal(binding.child.exitCode, null)
})

t.test('each connection runs $QREXEC_CLIENT_VM VMNAME qubes.ConnectTCP+PORT', async (t) => {
  const local = await freePort()
  await bind(t, `${local}:mytcp-service:444`, { QREXEC_CLIENT_VM: join(FIXTURES, 'qrexec-args') })
  const answers = await Promise.all([1, 2, 3].map(() => exchange(local)))
  t.same(answers.map((a) => a.data.toString()), Array(3).fill('mytcp-service qubes.ConnectTCP+444\n'))
})

t.test('without $QREXEC_CLIENT_VM it runs qrexec-client-vm from PATH', async (t) => {
  const dir = tempDir(t, 'qct-path-')
  symlinkSync(join(FIXTURES, 'qrexec-args'), join(dir, 'qrexec-client-vm'))
  const local = await freePort()
  await bind(t, `::${local}`, { QREXEC_CLIENT_VM: undefined, PATH: `${dir}:${process.env['PATH']}` })
  t.equal((await exchange(local)).data.toString(), `@default qubes.ConnectTCP+${local}\n`)
})

t.test('a qrexec client that is refused closes its connection; the listener keeps serving', async (t) => {
  const local = await freePort()
  const binding = await bind(t, `${local}:personal:80`, { QREXEC_CLIENT_VM: join(FIXTURES, 'qrexec-refuse') })
  for (let i = 0; i < 3; i++) t.same(await exchange(local, Buffer.from('GET / HTTP/1.0\r\n\r\n')), { data: Buffer.alloc(0), error: undefined }, `connection ${i + 1}: closed, nothing received`)
  await until('three refusals logged', () => binding.log().match(/exited with code 126; connection closed/g)?.length === 3)
  t.equal(binding.child.exitCode, null, 'still running')
  t.match(binding.log(), /Request refused\n/)
  t.match(binding.log(), /connection from 127\.0\.0\.1:\d+: .*qrexec-refuse exited with code 126; connection closed/)
})

t.test('a qrexec client that cannot run closes its connection; the listener keeps serving', async (t) => {
  const local = await freePort()
  const binding = await bind(t, `${local}:personal:80`, { QREXEC_CLIENT_VM: '/nonexistent/qrexec-client-vm' })
  for (let i = 0; i < 3; i++) t.same((await exchange(local)).data.length, 0, `connection ${i + 1} closed`)
  await until('three failures logged', () => binding.log().match(/ENOENT; connection closed/g)?.length === 3)
  t.equal(binding.child.exitCode, null, 'still running')
  t.match(binding.log(), /cannot run \/nonexistent\/qrexec-client-vm: ENOENT; connection closed/)
})

t.test('the connection closes when the program exits, even if it left a process holding its output', async (t) => {
  const pidFile = join(tempDir(t, 'qct-orphan-'), 'pid')
  let orphan: number | undefined
  t.teardown(() => {
    try {
      if (orphan !== undefined) process.kill(orphan, 'SIGTERM')
    } catch {
      // gone already
    }
  })
  const local = await freePort()
  const binding = await bind(t, `${local}:work:80`, { QREXEC_CLIENT_VM: join(FIXTURES, 'qrexec-orphan'), QCT_PIDFILE: pidFile })
  t.same(await exchange(local), { data: Buffer.from('answered\n'), error: undefined })
  orphan = Number(readFileSync(pidFile, 'utf8'))
  t.ok(isAlive(orphan), 'closed while the orphan still holds the output, not when it ends')
  t.notMatch(binding.log(), /connection closed/, 'exit 0 is no failure')
})

t.test('a failed service end closes that connection; the next one works', async (t) => {
  const local = await freePort()
  const remote = await freePort()
  const binding = await bind(t, `${local}:work:${remote}`, { QREXEC_CLIENT_VM: join(FIXTURES, 'qrexec-loopback') })
  t.same(await exchange(local, Buffer.from('hello')), { data: Buffer.alloc(0), error: undefined }, 'nothing listens on the port: closed')
  t.match(binding.log(), new RegExp(`qubes.ConnectTCP: error: cannot connect to localhost:${remote}: ECONNREFUSED`))
  await listen(t, echo, remote)
  t.equal((await exchange(local, Buffer.from('hello'))).data.toString(), 'hello', 'the same binding now reaches the service')
})

t.test('half-close: the client ends first and still gets every byte back', async (t) => {
  const remote = await listen(t, echo)
  const local = await freePort()
  await bind(t, `${local}:work:${remote}`, { QREXEC_CLIENT_VM: join(FIXTURES, 'qrexec-loopback') })
  const data = randomBytes(1 << 20)
  const got = await exchange(local, data)
  t.equal(got.error, undefined)
  t.equal(got.data.length, data.length)
  t.equal(sha(got.data), sha(data))
})

t.test('half-close: the service ends first and still gets what the client sends after', async (t) => {
  let gotAll: (received: number) => void = () => {}
  const done = new Promise<number>((resolve) => (gotAll = resolve))
  const remote = await listen(t, (socket) => {
    let received = 0
    socket.end('banner\n')
    socket.on('data', (chunk: Buffer) => (received += chunk.length))
    socket.on('end', () => gotAll(received))
  })
  const local = await freePort()
  await bind(t, `${local}:work:${remote}`, { QREXEC_CLIENT_VM: join(FIXTURES, 'qrexec-loopback') })
  const socket = connect({ host: '127.0.0.1', port: local, allowHalfOpen: true })
  const closed = new Promise((r) => socket.once('close', r))
  let banner = ''
  socket.on('data', (chunk) => (banner += chunk))
  await new Promise((r) => socket.once('end', r))
  t.equal(banner, 'banner\n', 'the banner, then the end of the stream')
  socket.end(randomBytes(100_000))
  t.equal(await done, 100_000, 'the service got everything sent after its own end')
  await closed
})

t.test('20 parallel connections of 1 MB each arrive byte-exact', async (t) => {
  const remote = await listen(t, echo)
  const local = await freePort()
  await bind(t, `${local}:work:${remote}`, { QREXEC_CLIENT_VM: join(FIXTURES, 'qrexec-loopback') })
  const sent = Array.from({ length: 20 }, () => randomBytes(1 << 20))
  const got = await Promise.all(sent.map((data) => exchange(local, data)))
  t.same(got.map((g) => sha(g.data)), sent.map(sha))
  t.same(got.map((g) => g.error), Array(20).fill(undefined))
})

t.test('a client that resets its connection ends its qrexec client', async (t) => {
  const dir = tempDir(t, 'qct-hang-')
  const pidFile = join(dir, 'pid')
  const local = await freePort()
  const binding = await bind(t, `${local}:work:80`, { QREXEC_CLIENT_VM: join(FIXTURES, 'qrexec-hang'), QCT_PIDFILE: pidFile })
  const socket = connect({ host: '127.0.0.1', port: local })
  socket.on('error', () => {})
  const pid = Number(await untilFile(pidFile))
  socket.resetAndDestroy()
  t.ok(await untilGone(pid), 'the qrexec client is gone')
  t.equal(binding.child.exitCode, null, 'the listener is not')
})

t.test('a qrexec client that outlives its closed connection, ignoring SIGTERM, is ended all the same', async (t) => {
  const pidFile = join(tempDir(t, 'qct-stubborn-'), 'pid')
  const local = await freePort()
  const binding = await bind(t, `${local}:work:80`, { QREXEC_CLIENT_VM: join(FIXTURES, 'qrexec-stubborn'), QCT_PIDFILE: pidFile })
  const socket = connect({ host: '127.0.0.1', port: local, allowHalfOpen: true })
  // listening for the close before waiting for the pid file: the connection may be over first
  const closed = new Promise((resolve) => socket.once('close', resolve))
  socket.on('data', () => socket.end())
  socket.resume()
  const pid = Number(await untilFile(pidFile))
  await closed
  t.ok(await untilGone(pid, 'the stubborn qrexec client ended'), 'SIGTERM, then SIGKILL')
  t.equal(binding.child.exitCode, null, 'the listener keeps serving')
})

function cli(env: Record<string, string | undefined>, ...args: string[]): Promise<Outcome> {
  return outcome(process.execPath, [BIN, ...args], { env: { ...process.env, ...env } })
}

t.test('in the background: --list and --stop of the bindings it started', async (t) => {
  const state = tempDir(t, 'qct-state-')
  t.teardown(() => cli({}, '--state-dir', state, '--stop', 'all'))
  const remote = await listen(t, echo)
  const [a, b] = [await freePort(), await freePort()]
  const env = { QREXEC_CLIENT_VM: join(FIXTURES, 'qrexec-loopback') }
  const first = await cli(env, '--state-dir', state, `${a}:work:${remote}`)
  t.equal(first.code, 0, first.stderr)
  t.match(first.stdout, new RegExp(`^Binding TCP 'work:${remote}' to 'localhost:${a}'\\.\\.\\. \\(pid \\d+, log ${state}/${a}\\.log\\)\\n$`))
  t.equal((await cli(env, '--state-dir', state, `${b}::${remote}`)).code, 0)
  const again = await cli(env, '--state-dir', state, `${a}:personal:22`)
  t.match(again, { code: 1, stdout: '', stderr: new RegExp(`^qvm-connect-tcp: error: local port ${a} is already bound to work:${remote} \\(pid \\d+; --stop ${a} first\\)\\n$`) })
  const list = await cli({}, '--state-dir', state, '--list')
  const rows = list.stdout.trimEnd().split('\n')
  t.equal(rows[0], 'LOCALPORT  VMNAME    PORT   PID'.replace('PORT   ', 'PORT' + ' '.repeat(String(remote).length - 2)))
  t.match(rows.slice(1).map((r) => r.split(/\s+/).slice(0, 3)), [[String(Math.min(a, b)), String], [String(Math.max(a, b)), String]])
  t.equal((await exchange(a, Buffer.from('through the background binding'))).data.toString(), 'through the background binding')
  const stop = await cli({}, '--state-dir', state, '--stop', String(a))
  t.match(stop, { code: 0, stdout: new RegExp(`^stopped ${a}:work:${remote} \\(pid \\d+\\)\\n$`) })
  t.equal((await exchange(a)).error, 'ECONNREFUSED', 'the port is closed')
  t.same((await cli({}, '--state-dir', state, '--list')).stdout.trimEnd().split('\n').slice(1).map((r) => r.split(/\s+/)[0]), [String(b)])
  t.same(await cli({}, '--state-dir', state, '--stop', String(a)), { code: 1, stdout: '', stderr: `qvm-connect-tcp: error: no binding on local port ${a} (see --list)\n` })
  t.equal((await cli({}, '--state-dir', state, '--stop', 'all')).code, 0)
  t.equal((await cli({}, '--state-dir', state, '--list')).stdout, 'LOCALPORT  VMNAME  PORT  PID\n')
})

t.test('--stop ends open connections with their qrexec clients', async (t) => {
  const state = tempDir(t, 'qct-state-')
  const pidFile = join(state, 'client.pid')
  const local = await freePort()
  t.equal((await cli({ QREXEC_CLIENT_VM: join(FIXTURES, 'qrexec-hang'), QCT_PIDFILE: pidFile }, '--state-dir', state, `${local}:work:80`)).code, 0)
  const open = exchange(local)
  const pid = Number(await untilFile(pidFile))
  t.equal((await cli({}, '--state-dir', state, '--stop', String(local))).code, 0)
  t.equal((await open).error, undefined, 'the open connection was closed')
  // qrexec-hang sleeps 600 s: gone now means --stop ended it, not its own end
  t.ok(await untilGone(pid), 'its qrexec client is gone')
})

t.test('a local port in use: one error line, nothing left running', async (t) => {
  const state = tempDir(t, 'qct-state-')
  const taken = await listen(t, echo)
  const outcome = await cli({ QREXEC_CLIENT_VM: join(FIXTURES, 'qrexec-args') }, '--state-dir', state, `${taken}:work:80`)
  t.same(outcome, { code: 1, stdout: '', stderr: `qvm-connect-tcp: error: cannot listen on 127.0.0.1:${taken}: address already in use\n` })
  t.equal((await cli({}, '--state-dir', state, '--list')).stdout, 'LOCALPORT  VMNAME  PORT  PID\n')
})

t.test('no privilege needed from port 1024 up; below it, a clear error', { skip: process.getuid?.() !== 0 ? 'needs root to drop a capability' : false }, async (t) => {
  const userState = tempDir(t, 'qct-unprivileged-')
  // without CAP_NET_BIND_SERVICE, as any user is (not another uid: the checkout itself may sit in a
  // directory only root can enter)
  const unprivileged = async (...args: string[]) => {
    try {
      const command = [`QREXEC_CLIENT_VM=${join(FIXTURES, 'qrexec-args')}`, 'setpriv', '--bounding-set=-net_bind_service']
      const { stdout, stderr } = await exec('env', [...command, process.execPath, BIN, '--state-dir', userState, ...args], {})
      return { code: 0, stdout, stderr }
    } catch (err) {
      const e = err as { code: number; stdout: string; stderr: string }
      return { code: e.code, stdout: e.stdout, stderr: e.stderr }
    }
  }
  t.teardown(() => unprivileged('--stop', 'all'))
  const local = await freePort()
  const up = await unprivileged(`${local}:work:444`)
  t.equal(up.code, 0, up.stderr)
  t.equal((await exchange(local)).data.toString(), 'work qubes.ConnectTCP+444\n')
  t.equal((await unprivileged('--stop', String(local))).code, 0)
  t.same(await unprivileged('444:work:444'), {
    code: 1,
    stdout: '',
    stderr: 'qvm-connect-tcp: error: cannot listen on 127.0.0.1:444: permission denied (ports below 1024 need root or CAP_NET_BIND_SERVICE)\n',
  })
})
