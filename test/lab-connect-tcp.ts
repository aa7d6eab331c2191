// qvm-connect-tcp end to end in a lab of its own: a TCP service in personal reached from work
// through qvm-connect-tcp, the lab's qrexec-client-vm (dom0's policy in <lab-dir>/policy.d,
// then the qubes.ConnectTCP service end inside personal's namespace); only Xen's vchan is not
// real. Also the inter-VM networking example hooks, run by the agent.
import { spawn, type ChildProcess } from 'node:child_process'
import { chmodSync, copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { built } from './helpers/built.js'
import { outcome, type Outcome } from './helpers/outcome.js'
import { childrenOf, until } from './helpers/wait.js'

const ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '..')
// a lab of its own, beside any other (a user's, another test's)
const PREFIX = `qct${process.pid}-`
const LAB_DIR = `/run/qubes-lab-ct-${process.pid}`
const POLICY = join(LAB_DIR, 'policy.d', '30-user.policy')
const STATE = join(LAB_DIR, 'connect-tcp-state')
const env = {
  ...process.env,
  QUBES_LAB_PREFIX: PREFIX,
  QUBES_LAB_DIR: LAB_DIR,
  QUBES_DIR: join(LAB_DIR, 'qubes'),
  // qrexec-client-vm is found on PATH, as in a qube: the lab's stand-in
  PATH: `${join(ROOT, 'lab/bin')}:${process.env['PATH']}`,
  QREXEC_CLIENT_VM: undefined,
}
const ns = (qube: string) => `${PREFIX}${qube}`
const node = (script: string) => join(ROOT, script)

const run = (file: string, ...args: string[]): Promise<Outcome> => outcome(file, args, { env, maxBuffer: 64 << 20 })

const inQube = (qube: string, ...command: string[]) => run('ip', 'netns', 'exec', ns(qube), ...command)
const lab = (...args: string[]) => run(process.execPath, built('lab/bin/qubes-lab.js'), ...args)
/** qvm-connect-tcp, run in work (in the background, as Qubes' command does) */
const connectTcp = (...args: string[]) => inQube('work', process.execPath, built('vm-hooks/bin/qvm-connect-tcp.js'), '--state-dir', STATE, ...args)

interface Transfer {
  sent: number
  received: number
  same: boolean
  head: string
  error?: string
}

/** N connections from work to 127.0.0.1:PORT, each sending BYTES and wanting them back. */
async function transfer(port: number, connections: number, bytes: number): Promise<Transfer[]> {
  const out = await inQube('work', process.execPath, node('test/fixtures/bin/tcp-transfer.mjs'), '127.0.0.1', String(port), String(connections), String(bytes))
  if (out.code !== 0) throw new Error(`tcp-transfer: ${out.stderr}`)
  return (JSON.parse(out.stdout) as { results: Transfer[] }).results
}

const servers: ChildProcess[] = []
/** A tcp-echo on 127.0.0.1:PORT inside `qube` (its own loopback: only the service end there reaches it). */
async function echoServer(qube: string, port: number, banner?: string): Promise<void> {
  const child = spawn('ip', ['netns', 'exec', ns(qube), process.execPath, node('test/fixtures/bin/tcp-echo.mjs'), '127.0.0.1', String(port), ...(banner === undefined ? [] : [banner])], { env, stdio: ['ignore', 'pipe', 'inherit'] })
  servers.push(child)
  await new Promise<void>((resolve, reject) => {
    child.stdout!.once('data', () => resolve())
    child.once('exit', (code) => reject(new Error(`tcp-echo in ${qube} exited (${code})`)))
  })
}

function policy(...lines: string[]): void {
  writeFileSync(POLICY, lines.map((line) => `${line}\n`).join(''))
}

function bindingLog(localPort: number): string {
  return readFileSync(join(STATE, `${localPort}.log`), 'utf8')
}

t.teardown(async () => {
  await connectTcp('--stop', 'all')
  for (const server of servers) if (server.exitCode === null) server.kill('SIGTERM')
  await lab('down')
})

t.before(async () => {
  const up = await lab('up')
  if (up.code !== 0) throw new Error(`qubes-lab up: ${up.stderr}`)
  mkdirSync(join(LAB_DIR, 'policy.d'), { recursive: true })
  mkdirSync(STATE, { recursive: true, mode: 0o700 })
  await echoServer('personal', 8000)
  await echoServer('personal', 8001)
  await echoServer('personal', 8002, 'personal')
  await echoServer('untrusted', 8002, 'untrusted')
})

t.test('an allow policy: the service in personal, reached from work', async (t) => {
  policy('qubes.ConnectTCP +8000 work personal allow', 'qubes.ConnectTCP * @anyvm @anyvm deny')
  const bind = await connectTcp('9000:personal:8000')
  t.equal(bind.code, 0, bind.stderr)
  t.match(bind.stdout, /^Binding TCP 'personal:8000' to 'localhost:9000'\.\.\. \(pid \d+, log .+\)\n$/)
  const [result] = await transfer(9000, 1, 100_000)
  t.match(result, { sent: 100_000, received: 100_000, same: true })
  t.match(readFileSync(join(LAB_DIR, 'logs/qrexec-policy.log'), 'utf8'), /qubes\.ConnectTCP\+8000 work -> personal: allowed to personal\n/)
  const listening = await inQube('work', 'ss', '-Htln', 'sport = :9000')
  t.match(listening.stdout.trim(), /^LISTEN\s+\d+\s+\d+\s+127\.0\.0\.1:9000\s/, 'work listens on 127.0.0.1 only')
})

t.test('a deny policy: refused, the connection closed, the binding still serving', async (t) => {
  policy('qubes.ConnectTCP +8000 work personal deny', 'qubes.ConnectTCP * @anyvm @anyvm deny')
  const [refused] = await transfer(9000, 1, 1000)
  t.match(refused, { received: 0, same: false })
  t.notOk(refused?.error, 'closed, not reset or timed out')
  await until('the refusal logged', () => bindingLog(9000).includes('exited with code 126; connection closed'))
  t.match(bindingLog(9000), new RegExp(`Request refused \\(lab dom0: qubes\\.ConnectTCP\\+8000 work -> personal: denied by policy ${POLICY}:1\\)\\n`))
  t.match(bindingLog(9000), /qrexec-client-vm exited with code 126; connection closed/)
  policy('qubes.ConnectTCP +8000 work personal allow')
  t.match((await transfer(9000, 1, 1000))[0], { same: true }, 'allowed again: the policy is read per connection')
})

t.test('@default is resolved by the policy\'s target=', async (t) => {
  t.equal((await connectTcp('::8002')).code, 0)
  policy('qubes.ConnectTCP +8002 work @default allow target=untrusted', 'qubes.ConnectTCP * @anyvm @anyvm deny')
  t.equal((await transfer(8002, 1, 0))[0]?.head, 'untrusted\n')
  policy('qubes.ConnectTCP +8002 work @default allow target=personal', 'qubes.ConnectTCP * @anyvm @anyvm deny')
  t.equal((await transfer(8002, 1, 0))[0]?.head, 'personal\n')
  policy('qubes.ConnectTCP +8002 work personal allow', 'qubes.ConnectTCP * @anyvm @anyvm deny')
  t.match((await transfer(8002, 1, 0))[0], { received: 0 }, 'a line for personal by name is no line for @default')
  await until('the refusal logged', () => bindingLog(8002).includes('denied by policy'))
  t.match(bindingLog(8002), /work -> @default: denied by policy .*30-user\.policy:2\)/)
})

t.test('per-port policy: +8000 allowed, +8001 refused (its server listening all the same)', async (t) => {
  policy('qubes.ConnectTCP +8000 work personal allow', 'qubes.ConnectTCP * work personal deny')
  t.equal((await connectTcp('9001:personal:8001')).code, 0)
  t.match((await transfer(9000, 1, 5000))[0], { same: true })
  t.match((await transfer(9001, 1, 5000))[0], { received: 0, same: false })
  await until('the refusal logged', () => bindingLog(9001).includes('denied by policy'))
  t.match(bindingLog(9001), /qubes\.ConnectTCP\+8001 work -> personal: denied by policy .*30-user\.policy:2\)/)
  const direct = await inQube('personal', process.execPath, node('test/fixtures/bin/tcp-transfer.mjs'), '127.0.0.1', '8001', '1', '10')
  t.match(JSON.parse(direct.stdout), { results: [{ same: true }] }, 'personal\'s 8001 answers locally')
})

t.test('20 parallel connections of 1 MB each, byte-exact', async (t) => {
  policy('qubes.ConnectTCP +8000 work personal allow')
  const problems = () => bindingLog(9000).split('\n').filter((line) => line.includes('connection closed')).length
  const before = problems()
  const results = await transfer(9000, 20, 1_000_000)
  t.equal(results.length, 20)
  t.same(results.map((r) => [r.sent, r.received, r.same, r.error]), Array(20).fill([1_000_000, 1_000_000, true, undefined]))
  // every connection's qrexec client has ended (and said so, had it failed) once the binding has no child left
  const binding = Number((await connectTcp('--list')).stdout.split('\n').find((row) => row.startsWith('9000 '))?.trim().split(/\s+/).at(-1))
  await until('the binding\'s qrexec clients ended', () => childrenOf(binding).length === 0)
  t.equal(problems(), before, 'no connection ended badly')
})

t.test('--list and --stop the bindings started in work', async (t) => {
  const list = await connectTcp('--list')
  t.same(list.stdout.split('\n').slice(1, -1).map((row) => row.split(/\s+/).slice(0, 3)), [
    ['8002', '@default', '8002'],
    ['9000', 'personal', '8000'],
    ['9001', 'personal', '8001'],
  ])
  t.equal((await connectTcp('--stop', '9001')).code, 0)
  t.match((await transfer(9001, 1, 10))[0], { error: 'ECONNREFUSED' })
})

t.test('inter-VM networking: the example hooks open work -> personal:80', async (t) => {
  const personal80 = 'tcp:10.137.0.4:80'
  // allowed and refused answer at once; only a drop waits out the timeout
  const probeFrom = async (qube: string) => (await inQube(qube, process.execPath, built('lab/probe.js'), '--timeout', '5000', personal80)).stdout.trim().slice(personal80.length + 1)
  const probe = () => probeFrom('work')
  t.equal(await probeFrom('sys-firewall'), 'allowed', 'positive control: personal:80 answers through sys-firewall')
  t.equal(await probe(), 'timed out', 'qube to qube is dropped')
  // the firewall qube's user script, run by its agent at start, after its rules are in place
  const script = join(LAB_DIR, 'sys-firewall', 'rw', 'qubes-firewall-user-script')
  copyFileSync(node('examples/vm-hooks/sys-firewall/qubes-firewall-user-script'), script)
  chmodSync(script, 0o755)
  t.equal((await lab('agent', 'sys-firewall', 'stop')).code, 0)
  t.equal((await lab('agent', 'sys-firewall', 'start')).code, 0)
  const opened = /ip saddr 10\.137\.0\.3 ip daddr 10\.137\.0\.4 ct state new accept/
  // the hooks run right after the agent's first apply: their rule appearing is the event
  const forward = await until('the user script\'s rule', async () => {
    const listed = await inQube('sys-firewall', 'nft', 'list', 'chain', 'ip', 'qubes', 'custom-forward')
    return opened.test(listed.stdout) && listed.stdout
  })
  t.match(forward, opened)
  t.equal(await probe(), 'allowed', 'custom-forward lets work open connections to personal')
  // and the destination's rc.local, run by qubes-rc-local in personal
  const rw = join(LAB_DIR, 'personal-rw')
  mkdirSync(rw, { recursive: true })
  copyFileSync(node('examples/vm-hooks/personal/rc.local'), join(rw, 'rc.local'))
  chmodSync(join(rw, 'rc.local'), 0o755)
  const rcLocal = await inQube('personal', process.execPath, built('vm-hooks/bin/qubes-rc-local.js'), '--rw-dir', rw)
  t.equal(rcLocal.code, 0, rcLocal.stderr)
  t.match(rcLocal.stdout, /rc\.local: custom-input: accepting 10\.137\.0\.3 on tcp port 80\n.*rc\.local: exit 0\n$/)
  t.equal(await probe(), 'allowed')
})
