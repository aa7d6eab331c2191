// The qubes.ConnectTCP service end as qrexec runs it: its argument refused unless a canonical
// port, then stdio piped to localhost:PORT both ways, each direction ending on its own.
import { spawn } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { createServer, type AddressInfo, type Socket } from 'node:net'
import t, { type Test } from 'tap'
import { serviceArgument } from '../vm-hooks/connect-tcp/service.js'
import { built } from './helpers/built.js'
import { mapLimited } from './helpers/pool.js'

const SERVICE = built('vm-hooks/bin/qubes.ConnectTCP.js')

interface Run {
  code: number | null
  stdout: Buffer
  stderr: string
}

/** The service end with `args` and `env`, `input` on its stdin (undefined: stdin left open for `onStdoutEnd`). */
function service(args: string[], env: Record<string, string | undefined>, input?: Buffer, onStdoutEnd?: (stdin: NodeJS.WritableStream) => void): Promise<Run> {
  const child = spawn(process.execPath, [SERVICE, ...args], { env: { ...process.env, QREXEC_SERVICE_ARGUMENT: undefined, ...env } })
  const out: Buffer[] = []
  let stderr = ''
  child.stdout.on('data', (chunk: Buffer) => out.push(chunk))
  child.stdout.on('end', () => onStdoutEnd?.(child.stdin))
  child.stderr.on('data', (chunk) => (stderr += chunk))
  child.stdin.on('error', () => {})
  if (input !== undefined) child.stdin.end(input)
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout: Buffer.concat(out), stderr })))
}

async function listen(t: Test, handler: (socket: Socket) => void): Promise<number> {
  const server = createServer({ allowHalfOpen: true }, (socket) => {
    socket.on('error', () => socket.destroy())
    handler(socket)
  })
  await new Promise<void>((r) => server.listen({ host: '127.0.0.1', port: 0 }, r))
  t.teardown(() => new Promise<void>((r) => server.close(() => r())))
  return (server.address() as AddressInfo).port
}

const sha = (data: Buffer) => createHash('sha256').update(data).digest('hex')

// [argv[1], $QREXEC_SERVICE_ARGUMENT, port or the exact message]
const cases: [arg: string | undefined, env: string | undefined, want: number | string][] = [
  ['445', undefined, 445],
  [undefined, '445', 445],
  ['1', undefined, 1],
  ['65535', undefined, 65535],
  ['445', '22', 445],
  [undefined, undefined, 'missing port argument (qubes.ConnectTCP+PORT)'],
  [undefined, '', 'missing port argument (qubes.ConnectTCP+PORT)'],
  ['0', undefined, "Invalid port provided: '0' (expected 1-65535)"],
  ['65536', undefined, "Invalid port provided: '65536' (expected 1-65535)"],
  ['022', undefined, "Invalid port provided: '022' (expected 1-65535)"],
  [undefined, '022', "Invalid port provided: '022' (expected 1-65535)"],
  ['+22', undefined, "Invalid port provided: '+22' (expected 1-65535)"],
  ['22 ', undefined, "Invalid port provided: '22 ' (expected 1-65535)"],
  ['0x16', undefined, "Invalid port provided: '0x16' (expected 1-65535)"],
  ['ssh', undefined, "Invalid port provided: 'ssh' (expected 1-65535)"],
  ['22\n', undefined, "Invalid port provided: '22?' (expected 1-65535)"],
]

t.test('the port argument', async (t) => {
  t.plan(cases.length)
  for (const [arg, env, want] of cases) {
    t.test(`argv ${JSON.stringify(arg)}, env ${JSON.stringify(env)}`, async (t) => {
      if (typeof want === 'number') t.equal(serviceArgument(arg, { QREXEC_SERVICE_ARGUMENT: env }), want)
      else t.throws(() => serviceArgument(arg, { QREXEC_SERVICE_ARGUMENT: env }), { name: 'ServiceError', message: want })
    })
  }
})

t.test('a bad argument: one line on stderr, exit 1, nothing connected', async (t) => {
  const invalid = cases.filter((c): c is [string | undefined, string | undefined, string] => typeof c[2] === 'string')
  t.plan(invalid.length)
  const runs = await mapLimited(invalid, ([arg, env]) => service(arg === undefined ? [] : [arg], { QREXEC_SERVICE_ARGUMENT: env }, Buffer.alloc(0)))
  invalid.forEach(([arg, env, message], i) => {
    t.same({ ...runs[i], stdout: runs[i]?.stdout.toString() }, { code: 1, stdout: '', stderr: `qubes.ConnectTCP: error: ${message}\n` }, `${arg} / ${env}`)
  })
})

t.test('nothing listening: one line, exit 1', async (t) => {
  // a port just released: nothing listens there
  const server = createServer()
  await new Promise<void>((r) => server.listen({ host: '127.0.0.1', port: 0 }, r))
  const closed = (server.address() as AddressInfo).port
  await new Promise((r) => server.close(r))
  const run = await service([String(closed)], {}, Buffer.from('hello'))
  t.same({ code: run.code, stderr: run.stderr }, { code: 1, stderr: `qubes.ConnectTCP: error: cannot connect to localhost:${closed}: ECONNREFUSED\n` })
})

t.test('pipes 1 MB both ways byte-exact (the argument from $QREXEC_SERVICE_ARGUMENT)', async (t) => {
  const port = await listen(t, (socket) => socket.pipe(socket))
  const data = randomBytes(1 << 20)
  const run = await service([], { QREXEC_SERVICE_ARGUMENT: String(port) }, data)
  t.equal(run.code, 0, run.stderr)
  t.equal(run.stdout.length, data.length)
  t.equal(sha(run.stdout), sha(data))
})

t.test('the service ends first: stdout ends, stdin still reaches it', async (t) => {
  let gotAll: (n: number) => void = () => {}
  const received = new Promise<number>((resolve) => (gotAll = resolve))
  const port = await listen(t, (socket) => {
    let n = 0
    socket.end('banner\n')
    socket.on('data', (chunk: Buffer) => (n += chunk.length))
    socket.on('end', () => gotAll(n))
  })
  // stdin stays open until the banner and the end of stdout arrived
  const run = service([String(port)], {}, undefined, (stdin) => stdin.end(randomBytes(50_000)))
  const done = await run
  t.equal(done.stdout.toString(), 'banner\n')
  t.equal(await received, 50_000)
  t.equal(done.code, 0)
})

t.test('the caller ends first: the service sees the end and its answer still comes back', async (t) => {
  const port = await listen(t, (socket) => {
    let n = 0
    socket.on('data', (chunk: Buffer) => (n += chunk.length))
    socket.on('end', () => socket.end(`got ${n}\n`))
  })
  const run = await service([String(port)], {}, randomBytes(300_000))
  t.same({ code: run.code, stdout: run.stdout.toString() }, { code: 0, stdout: 'got 300000\n' })
})
