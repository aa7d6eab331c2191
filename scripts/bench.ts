// npm run bench: the agent as dom0 uses it, through the daemon's socket, in one run. For each
// number of VMs: a full load (replace) and one-VM updates sent back to back, each answered, against
// the floor of a plain `nft -f` of the same ruleset. Runs itself inside private network namespaces.
import { execFileSync, spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createConnection, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'

const SIZES = (process.env['BENCH_VMS'] ?? '10,100,500,1000').split(',').map(Number)
const RULES = Number(process.env['BENCH_RULES'] ?? 50)
const UPDATES = Number(process.env['BENCH_UPDATES'] ?? 20)
const AGENT = fileURLToPath(new URL('../netvm-agent/bin/qubes-firewall-agent.js', import.meta.url))

function vmIp(i: number): string {
  const qid = i + 2
  return `10.137.${qid >> 8}.${qid & 255}`
}

/** A realistic mix without names: networks, single ports, ranges, udp, icmp, dns, drops. */
function vmEntries(i: number, rules: number, variant = 0): Record<string, string> {
  const ip = vmIp(i)
  const entries: Record<string, string> = { [`/qubes-firewall/${ip}`]: '', [`/qubes-firewall/${ip}/policy`]: 'drop' }
  for (let r = 0; r < rules; r++) {
    const n = (r + variant) % 6
    const net = `${(r * 7 + i) % 223 + 1}.${r % 256}.${i % 256}.0/24`
    const rule = [
      `action=accept dst4=${net} proto=tcp dstports=443-443`,
      `action=accept dst4=${net} proto=tcp dstports=${1000 + r}-${2000 + r}`,
      `action=drop dst4=${net} proto=udp dstports=${r + 1}-${r + 1}`,
      `action=accept proto=icmp icmptype=8`,
      `action=accept specialtarget=dns`,
      `action=drop dst4=${(r % 200) + 10}.${i % 256}.${r % 256}.${i % 200}`,
    ][n]
    entries[`/qubes-firewall/${ip}/${String(r).padStart(4, '0')}`] = rule as string
  }
  return entries
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)] ?? NaN
}

function percentile90(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.9))] ?? NaN
}

/** One connection to the daemon: a request line out, its answer line back, timed by the caller. */
class Client {
  private buffer = ''
  private waiting: ((line: string) => void)[] = []

  constructor(private readonly socket: Socket) {
    socket.setEncoding('utf8')
    socket.on('data', (chunk: string) => {
      this.buffer += chunk
      let newline: number
      while ((newline = this.buffer.indexOf('\n')) >= 0) {
        const line = this.buffer.slice(0, newline)
        this.buffer = this.buffer.slice(newline + 1)
        this.waiting.shift()?.(line)
      }
    })
  }

  static connect(path: string): Promise<Client> {
    return new Promise((resolve, reject) => {
      const socket = createConnection(path, () => resolve(new Client(socket)))
      socket.once('error', reject)
    })
  }

  request(request: object): Promise<{ ok: boolean; error?: string }> {
    return new Promise((resolve) => {
      this.waiting.push((line) => resolve(JSON.parse(line) as { ok: boolean; error?: string }))
      this.socket.write(JSON.stringify(request) + '\n')
    })
  }

  close(): void {
    this.socket.end()
  }
}

async function timed<T>(work: () => Promise<T>): Promise<[ms: number, result: T]> {
  const start = performance.now()
  const result = await work()
  return [performance.now() - start, result]
}

/** The daemon as a user runs it: its own process, state dir and socket; up once it says it listens. */
async function startDaemon(dir: string): Promise<{ socket: string; stop: () => Promise<void> }> {
  const socket = join(dir, 'agent.sock')
  const args = ['--resolv-conf', '/dev/null', '--rw-dir', join(dir, 'rw'), '--state-dir', join(dir, 'state'), '--socket', socket, 'serve']
  const child = spawn(process.execPath, [AGENT, ...args], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, QUBES_FIREWALL_SYSTEM_HOOKS: join(dir, 'none') } })
  let log = ''
  await new Promise<void>((resolve, reject) => {
    child.stderr.on('data', (chunk) => {
      log += chunk
      if (log.includes('listening on')) resolve()
    })
    child.once('exit', () => reject(new Error(`the agent did not start: ${log}`)))
  })
  return { socket, stop: () => new Promise((resolve) => (child.once('exit', () => resolve()), child.kill('SIGTERM'))) }
}

/** `nft -f` of what the agent loads for a full push (the text `render` prints), in a namespace of its own: the floor. */
function floorOfFullLoad(dir: string, push: Record<string, string>): { ms: number; rules: number } {
  const floorNs = process.env['QF_BENCH_FLOOR_NS'] as string
  const pushFile = join(dir, 'push.json')
  writeFileSync(pushFile, JSON.stringify(push))
  const rendered = execFileSync(process.execPath, [AGENT, '--resolv-conf', '/dev/null', 'render'], { input: readFileSync(pushFile), maxBuffer: 1 << 30 })
  const transaction = join(dir, 'transaction.nft')
  writeFileSync(transaction, rendered)
  execFileSync('ip', ['netns', 'exec', floorNs, 'nft', 'flush', 'ruleset'])
  const start = performance.now()
  execFileSync('ip', ['netns', 'exec', floorNs, 'nft', '-f', transaction])
  const ms = performance.now() - start
  return { ms, rules: (rendered.toString().match(/^(add|insert) rule /gm) ?? []).length }
}

interface Row {
  vms: number
  rules: number
  full: number
  floor: number
  update: number
  update90: number
}

async function measure(vms: number): Promise<Row> {
  const dir = mkdtempSync(join(tmpdir(), 'qf-bench-'))
  execFileSync('nft', ['flush', 'ruleset'])
  const daemon = await startDaemon(dir)
  try {
    const client = await Client.connect(daemon.socket)
    const all: Record<string, string> = { '/connected-ips': Array.from({ length: vms }, (_, i) => vmIp(i)).join(' ') }
    for (let i = 0; i < vms; i++) Object.assign(all, vmEntries(i, RULES))
    const [full, loaded] = await timed(() => client.request({ op: 'replace', entries: all }))
    if (!loaded.ok) throw new Error(`replace failed: ${loaded.error}`)
    // back to back, as a script of qvm-firewall adds sends them: each one's clean-up is paid by the next
    const updates: number[] = []
    for (let u = 0; u < UPDATES; u++) {
      const [ms, answer] = await timed(() => client.request({ op: 'update', entries: vmEntries(u % vms, RULES, u + 1) }))
      if (!answer.ok) throw new Error(`update failed: ${answer.error}`)
      updates.push(ms)
    }
    client.close()
    const floor = floorOfFullLoad(dir, all)
    return { vms, rules: floor.rules, full, floor: floor.ms, update: median(updates), update90: percentile90(updates) }
  } finally {
    await daemon.stop()
    rmSync(dir, { recursive: true, force: true })
  }
}

async function main(): Promise<void> {
  const rows: Row[] = []
  for (const vms of SIZES) rows.push(await measure(vms))
  const base = rows[0] as Row
  console.log(`qubes-firewall bench, through the daemon's socket (${RULES} rules a VM, ${UPDATES} updates back to back, one run)`)
  console.log('full load: a replace of every VM, sent and answered (parse, plan, nft, persisted and synced);')
  console.log('  floor: `nft -f` of the very transaction `render` prints for it, into an empty namespace')
  console.log('update: a one-VM update, sent and answered (the previous update\'s clean-up included), median and 90th percentile')
  console.log('')
  console.log('    VMs  nft rules   full load      floor   ratio      update     p90   vs first row')
  for (const r of rows) {
    console.log(
      `${String(r.vms).padStart(7)}  ${String(r.rules).padStart(9)}  ${(r.full / 1000).toFixed(2).padStart(8)} s  ${(r.floor / 1000).toFixed(2).padStart(7)} s  ${(r.full / r.floor).toFixed(2).padStart(5)}x  ${r.update.toFixed(1).padStart(7)} ms  ${r.update90.toFixed(1).padStart(6)}  ${(r.update / base.update).toFixed(2).padStart(6)}x`,
    )
  }
}

// last: the classes and functions above must exist before main runs
if (!process.env['QF_BENCH_NS']) {
  const ns = `qfbench${process.pid}`
  const floorNs = `qfbenchf${process.pid}`
  execFileSync('ip', ['netns', 'add', ns])
  execFileSync('ip', ['netns', 'add', floorNs])
  try {
    const run = spawnSync('ip', ['netns', 'exec', ns, process.execPath, process.argv[1] ?? ''], {
      stdio: 'inherit',
      env: { ...process.env, QF_BENCH_NS: ns, QF_BENCH_FLOOR_NS: floorNs },
    })
    process.exitCode = run.status ?? 1
  } finally {
    execFileSync('ip', ['netns', 'del', ns])
    execFileSync('ip', ['netns', 'del', floorNs])
  }
} else {
  await main()
}
