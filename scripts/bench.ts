// npm run bench: the agent as dom0 uses it, through the daemon's socket, in one run. For each
// number of VMs: a full load (replace) and one-VM updates sent back to back, each answered, against
// the floor of a plain `nft -f` of the same ruleset. Runs itself inside private network namespaces.
// (One file over 250 lines: it runs itself again inside its namespaces, so its parts stay together.)
import { execFileSync, spawn, spawnSync, type ExecFileSyncOptions } from 'node:child_process'
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { createConnection, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'
import { emptyQubesXml } from '../dom0-tools/registry/qubes-xml.js'
import { Registry } from '../dom0-tools/registry/registry.js'
import { nftEnv } from '../netvm-agent/nft/env.js'
import { NftSession } from '../netvm-agent/nft/session.js'
import { benchDropLog } from './bench-droplog.js'
import { AGENT, median, timed } from './bench-lab.js'
import { benchNames } from './bench-names.js'

const SIZES = (process.env['BENCH_VMS'] ?? '10,100,500,1000').split(',').map(Number)
const RULES = Number(process.env['BENCH_RULES'] ?? 50)
const UPDATES = Number(process.env['BENCH_UPDATES'] ?? 20)
/** Spaced updates wait this long after each answer: past the daemon's idle clean-up (100 ms). */
const SPACING_MS = 300
/** Carries NODE_EXTRA_CA_CERTS, when it was set where the bench started, to the start-up figures. */
const CA_CERTS_SET_HERE = 'QF_BENCH_NODE_EXTRA_CA_CERTS'
const QVM_FIREWALL = fileURLToPath(new URL('../dom0-tools/bin/qvm-firewall.js', import.meta.url))

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

function stats(values: number[]): Stats {
  return { median: median(values), min: Math.min(...values), max: Math.max(...values), p90: percentile90(values) }
}

interface Stats {
  median: number
  min: number
  max: number
  p90: number
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
  const stop = () =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve()
      child.once('exit', () => resolve())
      child.kill('SIGTERM')
    })
  return { socket, stop }
}

/** The push in a file, and the transaction `render` prints for it (what the floor loads); its number of rules. */
function writePushAndRender(dir: string, push: Record<string, string>): number {
  const pushFile = join(dir, 'push.json')
  writeFileSync(pushFile, JSON.stringify(push))
  const rendered = execFileSync(process.execPath, [AGENT, '--resolv-conf', '/dev/null', 'render'], { input: readFileSync(pushFile), maxBuffer: 1 << 30 })
  writeFileSync(join(dir, 'transaction.nft'), rendered)
  // a rule a command, or a line of a chain's block
  return (rendered.toString().match(/^((add|insert) rule | {2}\S)/gm) ?? []).length
}

/** `command` in the floor namespace, emptied first: from its start to its exit. */
function timedInEmptyFloorNs(command: string[], options: ExecFileSyncOptions = {}): number {
  const floorNs = process.env['QF_BENCH_FLOOR_NS'] as string
  execFileSync('ip', ['netns', 'exec', floorNs, 'nft', 'flush', 'ruleset'])
  const start = performance.now()
  execFileSync('ip', ['netns', 'exec', floorNs, ...command], options)
  return performance.now() - start
}

/** The floor: `nft -f` of that transaction; with `asAgent`, in the environment the agent gives nft (nft/env.ts). */
const timeFloor = (dir: string, asAgent: boolean) => timedInEmptyFloorNs(['nft', '-f', join(dir, 'transaction.nft')], asAgent ? { env: nftEnv() } : {})

/** `qubes-firewall-agent apply` of the push as a process: a cold full load. */
const timeColdApply = (dir: string) =>
  timedInEmptyFloorNs([process.execPath, AGENT, '--resolv-conf', '/dev/null', '--rw-dir', join(dir, 'rw-cold'), 'apply', '--force'], {
    input: readFileSync(join(dir, 'push.json')),
    stdio: ['pipe', 'ignore', 'inherit'],
  })

/**
 * Full loads swing from run to run on a busy machine: the daemon's replace, the floor and the cold
 * apply are timed in turn, FULL_RUNS rounds (each into an empty namespace), so that their ratios
 * compare runs made side by side; each the median of its runs.
 */
const FULL_RUNS = 3

async function fullLoads(client: Client, dir: string, push: Record<string, string>): Promise<{ full: number; floor: number; agentFloor: number; apply: number }> {
  const runs = { full: [] as number[], floor: [] as number[], agentFloor: [] as number[], apply: [] as number[] }
  for (let i = 0; i < FULL_RUNS; i++) {
    // the daemon reads the kernel's facts afresh at each replace
    execFileSync('nft', ['flush', 'ruleset'])
    const [ms, loaded] = await timed(() => client.request({ op: 'replace', entries: push }))
    if (!loaded.ok) throw new Error(`replace failed: ${loaded.error}`)
    runs.full.push(ms)
    runs.floor.push(timeFloor(dir, false))
    runs.agentFloor.push(timeFloor(dir, true))
    runs.apply.push(timeColdApply(dir))
  }
  return { full: median(runs.full), floor: median(runs.floor), agentFloor: median(runs.agentFloor), apply: median(runs.apply) }
}

/**
 * dom0's registry for this size: sys-firewall, whose agent is the daemon's socket, and one AppVM a
 * loaded VM (qids 2.., so the same addresses), with no firewall.xml (Qubes' default, accept all).
 */
function writeRegistry(qubesDir: string, vms: number, socket: string): void {
  mkdirSync(qubesDir, { recursive: true })
  const registry = new Registry(join(qubesDir, 'qubes.xml'), emptyQubesXml())
  registry.create('sys-firewall', 'AppVM', [['provides_network', 'True']])
  registry.setFeature('sys-firewall', 'qubes-firewall-transport', `unix:${socket}`)
  for (let i = 0; i < vms; i++) registry.create(`vm${i}`, 'AppVM', [['netvm', 'sys-firewall']])
  writeFileSync(join(qubesDir, 'qubes.xml'), registry.serialise())
}

/** `qvm-firewall VM add ...` as a user types it: a process, from its start to its exit once the agent confirmed. Median of 5. */
function dom0AddConfirmed(qubesDir: string, vms: number): number {
  const times: number[] = []
  for (let i = 0; i < 5; i++) {
    const start = performance.now()
    const vm = `vm${(i * 7919) % vms}`
    execFileSync(process.execPath, [QVM_FIREWALL, vm, 'add', 'accept', `dsthost=192.0.2.${i + 1}`, 'proto=tcp', 'dstports=443'], {
      env: { ...process.env, QUBES_DIR: qubesDir },
      stdio: 'ignore',
    })
    times.push(performance.now() - start)
  }
  return median(times)
}

interface Row {
  vms: number
  rules: number
  full: number
  floor: number
  agentFloor: number
  apply: number
  backToBack: Stats
  spaced: Stats
  chainFloor: number
  jumpFloor: number
  stateBytes: number
  dom0Add: number
}

/** The bytes the daemon keeps in its state directory. */
function sizeOf(dir: string): number {
  return readdirSync(dir).reduce((total, name) => total + statSync(join(dir, name)).size, 0)
}

/**
 * One VM's chain (its rules as `render` prints them) and the map element that points at it, loaded
 * into this namespace as the stopped daemon left it (every VM loaded) through a bare nft session (the
 * agent's own way to run nft: `nft -i`, the transaction included from a file), without the agent:
 * what a one-VM update costs nft and the kernel. And the same for the map element alone (a jump to
 * a chain already loaded): the kernel checks the whole table for loops at any new jump, the part
 * of an update that grows with the number of VMs. Medians of 9.
 */
async function floorsOfOneChain(dir: string): Promise<{ chain: number; jump: number }> {
  const rendered = readFileSync(join(dir, 'transaction.nft'), 'utf8')
  // a VM chain's block: `add chain ip qubes C {`, its rules, `}`
  const [block, chain] = /^add chain ip qubes (qf-vm-\S+) \{\n(?: {2}.*\n)*\}$/m.exec(rendered) ?? []
  if (block === undefined || chain === undefined) throw new Error('no VM chain in the render')
  const session = new NftSession('nft')
  const timedRun = async (script: string) => {
    const start = performance.now()
    await session.run(script)
    return performance.now() - start
  }
  try {
    // the session's nft starts at its first transaction: untimed
    await session.run('add chain ip qubes qf-bench-warm')
    const chainTimes: number[] = []
    const jumpTimes: number[] = []
    for (let i = 0; i < 9; i++) {
      const fresh = `qf-bench-${i}`
      chainTimes.push(await timedRun(`${block.replace(chain, fresh)}\nadd element ip qubes qf-vms-update { 10.200.0.${i + 1} : jump ${fresh} }`))
      jumpTimes.push(await timedRun(`add element ip qubes qf-vms-update { 10.200.1.${i + 1} : jump ${fresh} }`))
    }
    return { chain: median(chainTimes), jump: median(jumpTimes) }
  } finally {
    session.close()
  }
}

async function measure(vms: number): Promise<Row> {
  const dir = mkdtempSync(join(tmpdir(), 'qf-bench-'))
  execFileSync('nft', ['flush', 'ruleset'])
  const daemon = await startDaemon(dir)
  try {
    const client = await Client.connect(daemon.socket)
    const all: Record<string, string> = { '/connected-ips': Array.from({ length: vms }, (_, i) => vmIp(i)).join(' ') }
    for (let i = 0; i < vms; i++) Object.assign(all, vmEntries(i, RULES))
    const rules = writePushAndRender(dir, all)
    const { full, floor, agentFloor, apply } = await fullLoads(client, dir, all)
    // back to back, as a script of qvm-firewall adds sends them: each one's clean-up is paid by the next
    const update = async (u: number) => {
      // the push is made before the clock starts: dom0 has it ready when it sends
      const request = { op: 'update', entries: vmEntries(u % vms, RULES, u + 1) }
      const [ms, answer] = await timed(() => client.request(request))
      if (!answer.ok) throw new Error(`update failed: ${answer.error}`)
      return ms
    }
    const backToBack: number[] = []
    for (let u = 0; u < UPDATES; u++) backToBack.push(await update(u))
    // spaced, as users change rules one at a time: the clean-up happens in between
    const spaced: number[] = []
    for (let u = 0; u < UPDATES; u++) {
      await new Promise((resolve) => setTimeout(resolve, SPACING_MS))
      spaced.push(await update(UPDATES + u))
    }
    client.close()
    // Qubes numbers VMs up to qid 254 (DispVMs aside): dom0's registry holds at most 253 of them
    const registryVms = Math.min(vms, 253)
    writeRegistry(join(dir, 'qubes'), registryVms, daemon.socket)
    const dom0Add = dom0AddConfirmed(join(dir, 'qubes'), registryVms)
    await daemon.stop()
    const stateBytes = sizeOf(join(dir, 'state'))
    const { chain: chainFloor, jump: jumpFloor } = await floorsOfOneChain(dir)
    return { vms, rules, full, floor, agentFloor, apply, backToBack: stats(backToBack), spaced: stats(spaced), chainFloor, jumpFloor, stateBytes, dom0Add }
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
  console.log(`full load: a replace of every VM, sent and answered (parse, plan, nft, persisted and synced), into an empty namespace;`)
  console.log('  floor: `nft -f` of the very transaction `render` prints for it, into an empty namespace; floor*: the same with nft')
  console.log('    in the environment the agent starts it in (GLIBC_TUNABLES=glibc.malloc.hugetlb=1: malloc on huge pages); ratio* against floor*')
  console.log("  cold apply: `qubes-firewall-agent apply` of the same push as a process (node's start, parse, render streamed into nft), into an empty namespace")
  console.log(`  the three timed in turn, ${FULL_RUNS} rounds, each the median of its ${FULL_RUNS} runs`)
  console.log('update: a one-VM update, sent and answered (parse, plan, nft, journal line synced), in ms:')
  console.log('  back to back (each pays the previous one\'s clean-up), and spaced by 300 ms (clean-up done in between)')
  console.log('  chain floor: one VM chain of the render plus its map element, into the loaded namespace through a bare nft session (`nft -i`,')
  console.log('    the transaction included from a file, as the agent runs nft), no agent; of it, jump: the map element alone (the kernel\'s')
  console.log('    loop check of the whole table at any new jump: the part that grows with the VMs)')
  console.log('  agent: the back-to-back median less the chain floor, what the daemon itself adds (socket, parse, plan, journal), and vs the 1st row')
  console.log('state: bytes in the daemon\'s state directory after the updates')
  console.log('dom0 add: `qvm-firewall VM add ...` run as a process against a registry of that many VMs (at most 253: the last qid Qubes gives is 254), start to exit once the agent confirmed, median of 5')
  console.log('')
  console.log('    VMs  nft rules  full load     floor  floor*  ratio ratio* | cold apply  ratio ratio* | back to back: median  min  max  vs 1st | spaced: median  min  max | chain floor  jump | agent  vs 1st | state    | dom0 add')
  const ms = (v: number) => v.toFixed(1)
  const agentShare = (r: Row) => r.backToBack.median - r.chainFloor
  for (const r of rows) {
    console.log(
      `${String(r.vms).padStart(7)}  ${String(r.rules).padStart(9)}  ${(r.full / 1000).toFixed(2).padStart(7)} s  ${(r.floor / 1000).toFixed(2).padStart(6)} s ${(r.agentFloor / 1000).toFixed(2).padStart(5)} s ${(r.full / r.floor).toFixed(2).padStart(5)}x ${(r.full / r.agentFloor).toFixed(2).padStart(5)}x |` +
        ` ${(r.apply / 1000).toFixed(2).padStart(8)} s ${(r.apply / r.floor).toFixed(2).padStart(5)}x ${(r.apply / r.agentFloor).toFixed(2).padStart(5)}x |` +
        ` ${ms(r.backToBack.median).padStart(19)} ${ms(r.backToBack.min).padStart(4)} ${ms(r.backToBack.max).padStart(4)}  ${(r.backToBack.median / base.backToBack.median).toFixed(2).padStart(5)}x |` +
        ` ${ms(r.spaced.median).padStart(14)} ${ms(r.spaced.min).padStart(4)} ${ms(r.spaced.max).padStart(4)} | ${ms(r.chainFloor).padStart(8)} ms ${ms(r.jumpFloor).padStart(5)} | ${ms(agentShare(r)).padStart(5)} ${(agentShare(r) / agentShare(base)).toFixed(2).padStart(5)}x | ${`${(r.stateBytes / 1024).toFixed(0)} KiB`.padEnd(8)} | ${r.dom0Add.toFixed(0)} ms`,
    )
  }
  startupTimes()
}

/**
 * Each command's --help against node starting an empty script, interleaved so that load affects all
 * alike. With the environment users run them in (see CA_CERTS_SET_HERE); node's start with that
 * variable is timed alongside, to show what it would add.
 */
const STARTUP_RUNS = 21

function startupTimes(): void {
  const root = fileURLToPath(new URL('..', import.meta.url))
  const caCerts = process.env[CA_CERTS_SET_HERE]
  const runs: [string, string[], NodeJS.ProcessEnv][] = [
    ["node's own start (an empty script)", ['-e', ''], process.env],
    ['qubes-firewall-agent --help', [AGENT, '--help'], process.env],
    ['qvm-firewall --help', [join(root, 'dom0-tools/bin/qvm-firewall.js'), '--help'], process.env],
  ]
  if (caCerts !== undefined) runs.push(["node's own start with NODE_EXTRA_CA_CERTS", ['-e', ''], { ...process.env, NODE_EXTRA_CA_CERTS: caCerts }])
  const times = runs.map(() => [] as number[])
  for (let i = 0; i < STARTUP_RUNS; i++) {
    runs.forEach(([, args, env], r) => {
      const start = performance.now()
      spawnSync(process.execPath, args, { stdio: 'ignore', env })
      times[r]?.push(performance.now() - start)
    })
  }
  const bare = median(times[0] ?? [])
  runs.slice(0, 3).forEach(([name], r) => {
    const ms = median(times[r] ?? [])
    console.log(`start-up: ${name}, median of ${STARTUP_RUNS}: ${ms.toFixed(0)} ms${r === 0 ? '' : ` (node's own start included; ${(ms - bare).toFixed(0)} ms more)`}`)
  })
  if (caCerts === undefined) return
  const withCerts = median(times[3] ?? [])
  console.log(`  not in these figures: NODE_EXTRA_CA_CERTS, set where the bench was started: node loads those certificates at every start,`)
  console.log(`  its own start ${withCerts.toFixed(0)} ms with it (${(withCerts - bare).toFixed(0)} ms more); every program here ran without it, as a systemd unit or a stock shell starts them`)
}

// last: the classes and functions above must exist before main runs
if (!process.env['QF_BENCH_NS']) {
  // A shell set up for npm's registry may set NODE_EXTRA_CA_CERTS; node then loads those
  // certificates at every start (~40 ms on a 2-core box), yet our programs make no TLS connection
  // and a systemd unit or a stock shell does not set it: every program the bench runs goes without
  // it, and the start-up figures say what it would add.
  const caCerts = process.env['NODE_EXTRA_CA_CERTS']
  delete process.env['NODE_EXTRA_CA_CERTS']
  if (caCerts !== undefined) process.env[CA_CERTS_SET_HERE] = caCerts
  const ns = `qfbench${process.pid}`
  const floorNs = `qfbenchf${process.pid}`
  // BENCH_DROPLOG and BENCH_NAMES: =0 skips that part, =only runs it (and any other part set to only) alone
  const parts = { dropLog: process.env['BENCH_DROPLOG'] ?? '1', names: process.env['BENCH_NAMES'] ?? '1' }
  const alone = Object.values(parts).includes('only')
  const runs = (part: string) => (alone ? part === 'only' : part !== '0')
  if (!alone) {
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
  }
  // from here, outside the bench's namespace: these parts make namespaces of their own
  let printed = !alone
  for (const [part, bench] of [[parts.dropLog, benchDropLog], [parts.names, benchNames]] as const) {
    if (!runs(part) || process.exitCode) continue
    if (printed) console.log('')
    await bench()
    printed = true
  }
} else {
  await main()
}
