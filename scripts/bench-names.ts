// npm run bench, names part: 500 dsthost names following DNS by their TTL (1 s) with 10 ms of DNS
// latency, through a firewall namespace running the real daemon, and dnsmasq outside it. How long one
// refresh round of all 500 takes against asking them one after another, and one-VM updates while
// rounds run against the same with refresh off. BENCH_NAMES=0 skips this part, =only runs it alone.
import type { ChildProcess } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { availableParallelism, loadavg } from 'node:os'
import { join } from 'node:path'
import { address, DELAY_MS, hostsText, name, NAMES, rcvbufErrors, rounds, startDns, within, type Dns } from './bench-dns.js'
import { ask, median, now, sleep, startAgent, stop, timed, timeline, waitUntil, withLab, type Answer, type Lab, type Seen } from './bench-lab.js'

const VMS = 10
const NAMES_PER_VM = NAMES / VMS
/** Refresh rounds whose 500 answers all change, timed one by one. */
const FLIPS = 3
/** Updates of a spaced series; each gap is longer than the 100 ms the refresher waits past a name's due second. */
const UPDATES = 20
const BACK_TO_BACK_MS = 3000
const vmIp = (i: number) => `10.137.0.${i + 2}`

/** Every VM: policy drop and NAMES_PER_VM rules, one name each; no resolved keys: the agent asks DNS itself. */
function loadEntries(): Record<string, string> {
  const entries: Record<string, string> = { '/connected-ips': Array.from({ length: VMS }, (_, i) => vmIp(i)).join(' ') }
  for (let i = 0; i < VMS; i++) Object.assign(entries, vmEntries(i, 443))
  return entries
}

function vmEntries(i: number, port: number, flip?: number): Record<string, string> {
  const ip = vmIp(i)
  const entries: Record<string, string> = { [`/qubes-firewall/${ip}`]: '', [`/qubes-firewall/${ip}/policy`]: 'drop' }
  for (let r = 0; r < NAMES_PER_VM; r++) {
    const k = i * NAMES_PER_VM + r
    entries[`/qubes-firewall/${ip}/${String(r).padStart(4, '0')}`] = `action=accept dsthost=${name(k)} proto=tcp dstports=${port}-${port}`
    // as dom0 pushes an update: with what it resolved each name to
    if (flip !== undefined) entries[`/qubes-firewall-resolved/${ip}/${name(k)}`] = address(flip, k)
  }
  return entries
}

interface Daemon {
  socket: string
  child: ChildProcess
  /** The daemon's `name <ip>: <name>: now ...` lines. */
  moves: Seen[]
}

async function startDaemon(lab: Lab, dns: Dns, minTtl: number): Promise<Daemon> {
  const { socket, child } = await startAgent(lab, dns.resolvConf, ['--refresh-min-ttl', String(minTtl)])
  return { socket, child, moves: timeline(child, /^qubes-firewall-agent: name \S+: n\d+\.bench\.example: now /) }
}

/** One round's moments (epoch ms): the SIGHUP with the new answers, the daemon's line taking the last of them in. */
interface Round {
  sighup: number
  last: number
}

/** All 500 answers changed (hosts file, SIGHUP), then waited for until the daemon took all 500 in. */
async function refreshRound(daemon: Daemon, dns: Dns, flip: number): Promise<Round> {
  writeFileSync(dns.hosts, hostsText(flip))
  const sighup = now()
  dns.dnsmasq.kill('SIGHUP')
  const moved = new Set<string>()
  let [last, read] = [0, daemon.moves.length]
  await waitUntil(`all ${NAMES} names moving to answer ${flip}`, () => {
    for (const seen of daemon.moves.slice(read)) {
      const m = /: (n(\d+)\.bench\.example): now (\S+)/.exec(seen.line)
      if (m && m[3] === address(flip, Number(m[2]))) moved.add(m[1] as string)
      last = seen.at
    }
    read = daemon.moves.length
    return moved.size === NAMES
  })
  return { sighup, last }
}

/** What status says of the 500 names: how many show answer `flip` first, and at how many distinct seconds they were answered. */
async function namesStatus(socket: string, flip: number): Promise<string> {
  const status = (await ask(socket, { op: 'status' })) as { vms: { names: Record<string, { addresses?: string[]; answered?: number }> }[] }
  const names = status.vms.flatMap((vm) => Object.entries(vm.names))
  const current = names.filter(([n, s]) => s.addresses?.[0] === address(flip, Number(/^n(\d+)/.exec(n)?.[1])))
  return `status after the last: ${current.length}/${names.length} names show the new address first, answered within ${new Set(names.map(([, s]) => s.answered)).size} distinct second(s)`
}

interface Series {
  ms: number[]
  /** When each update was sent and answered (epoch ms). */
  spans: [number, number][]
  moves: number
  /** CPU time used meanwhile (ms): the daemon's, and the DNS side's. */
  cpu: [daemon: number, dns: number]
}

/** CPU time (user + system) processes used so far, ms (the kernel counts ticks of 10 ms). */
function cpuMs(children: ChildProcess[]): number {
  const fields = children.map((c) => readFileSync(`/proc/${c.pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [])
  return fields.reduce((sum, f) => sum + (Number(f[11]) + Number(f[12])) * 10, 0)
}

/**
 * One-VM updates (all of one VM's names on a new port), after one not counted (the first after a
 * start is cold): UPDATES spaced 150-450 ms (a golden-ratio walk, so that their phase against the
 * once-a-second rounds spreads), or back to back for BACK_TO_BACK_MS.
 */
async function updates(daemon: Daemon, dns: Dns, flip: () => number, spaced: boolean): Promise<Series> {
  const update = async (u: number) => {
    const [took, answer] = await timed(() => ask(daemon.socket, { op: 'update', entries: vmEntries(u % VMS, 1000 + u, flip()) }))
    if (answer['ok'] !== true) throw new Error(`update failed: ${JSON.stringify(answer).slice(0, 300)}`)
    return took
  }
  await update(0)
  const [series, start, cpu] = [{ ms: [] as number[], spans: [] as [number, number][] }, now(), [cpuMs([daemon.child]), cpuMs(dns.side)]]
  const moves = daemon.moves.length
  for (let u = 1; spaced ? u <= UPDATES : now() - start < BACK_TO_BACK_MS; u++) {
    if (spaced) await sleep(150 + ((u * 0.618034) % 1) * 300)
    const sent = now()
    series.ms.push(await update(u))
    series.spans.push([sent, now()])
  }
  const used: [number, number] = [cpuMs([daemon.child]) - (cpu[0] ?? 0), cpuMs(dns.side) - (cpu[1] ?? 0)]
  return { ...series, moves: daemon.moves.length - moves, cpu: used }
}

/** Spaced updates while the hosts file changes every second: rounds take in 500 moves (set element changes). */
async function updatesWhileMoving(daemon: Daemon, dns: Dns, firstFlip: number): Promise<Series> {
  let flip = firstFlip
  const timer = setInterval(() => {
    writeFileSync(dns.hosts, hostsText(++flip))
    dns.dnsmasq.kill('SIGHUP')
  }, 1000)
  try {
    return await updates(daemon, dns, () => flip, true)
  } finally {
    clearInterval(timer)
  }
}


function reportRounds(timedRounds: Round[], queries: Seen[], loadMs: number, status: string): void {
  const took = timedRounds.map((r) => r.last - (within(queries, r.sighup, r.last)[0]?.at ?? NaN))
  const sequential = NAMES * DELAY_MS
  console.log(`  load: a replace of the ${VMS} VMs, the agent asking DNS for all ${NAMES} names itself, sent and answered: ${loadMs.toFixed(0)} ms`)
  console.log(`  refresh round, all ${NAMES} answers changed (hosts file + SIGHUP right after the round before), ${timedRounds.length} times:`)
  console.log(`    the round: from its first query reaching the DNS server's interface to the daemon's ${NAMES}th \`name ...: now\` line (answers parsed, one nft transaction of set elements, logged): ${took.map((t) => t.toFixed(0)).join(', ')} ms`)
  console.log(`      queries in it (tcpdump): ${timedRounds.map((r) => within(queries, r.sighup, r.last).length).join(', ')} (A and AAAA of each name, asked together; past 1000: asked again after the resolver's 1.5 s timeout, and a round waits for its slowest name)`)
  console.log(`      one name after another it would take >= ${NAMES} x ${DELAY_MS} ms = ${sequential} ms; median round ${median(took).toFixed(0)} ms: ${(median(took) / sequential).toFixed(3)}x of that`)
  console.log(`    what a user waits: SIGHUP to that line, the wait for the next round (once a second) included: ${timedRounds.map((r) => (r.last - r.sighup).toFixed(0)).join(', ')} ms`)
  console.log(`    ${status}`)
}

function seriesLine(label: string, s: Series, queries: Seen[], off?: Series): string {
  const f1 = (v: number) => v.toFixed(1).padStart(6)
  const vs = off ? `; vs off: median ${(median(s.ms) / median(off.ms)).toFixed(2)}x, max ${(Math.max(...s.ms) / Math.max(...off.ms)).toFixed(2)}x` : ''
  const [from, to] = [s.spans[0]?.[0] ?? 0, s.spans.at(-1)?.[1] ?? 0]
  const bursts = rounds(within(queries, from, to))
  const hit = s.spans.flatMap(([a, b], i) => (bursts.some(([c, d]) => a < d && c < b) ? [(s.ms[i] as number).toFixed(0)] : []))
  const overlapped = `${hit.length} updates in flight while a round's queries were out${hit.length > 0 ? ` (${hit.join(', ')} ms)` : ''}`
  return `    ${label.padEnd(44)} n ${String(s.ms.length).padStart(3)}  median ${f1(median(s.ms))}  min ${f1(Math.min(...s.ms))}  max ${f1(Math.max(...s.ms))}${vs}  (meanwhile: ${bursts.length} rounds, ${within(queries, from, to).length} queries at dnsmasq, ${overlapped}, ${s.moves} name moves taken in; CPU used: the daemon ${s.cpu[0]} ms, the DNS side ${s.cpu[1]} ms)`
}

/** The daemon started and loaded; the rounds timed. */
async function measureRounds(lab: Lab, dns: Dns): Promise<Daemon> {
  const daemon = await startDaemon(lab, dns, 1)
  const [loadMs, loaded] = await timed(() => ask(daemon.socket, { op: 'replace', entries: loadEntries() }))
  if (loaded['ok'] !== true || Object.keys(loaded['resolved'] as Answer).length !== NAMES) throw new Error(`load failed: ${JSON.stringify(loaded).slice(0, 300)}`)
  // the first change lands at any moment of a round; each next one right after the round that took the last in
  await refreshRound(daemon, dns, 1)
  const timedRounds: Round[] = []
  for (let flip = 2; flip <= FLIPS + 1; flip++) timedRounds.push(await refreshRound(daemon, dns, flip))
  const status = await namesStatus(daemon.socket, FLIPS + 1)
  // tcpdump hands its packets on once a second
  await sleep(1500)
  reportRounds(timedRounds, dns.queries, loadMs, status)
  return daemon
}

/** Each spaced series in a daemon restarted for it from the state (refresh on: --refresh-min-ttl 1, off: 3600); back to back after the first. */
async function measureUpdates(lab: Lab, dns: Dns, running: Daemon): Promise<void> {
  let daemon = running
  const restarted = async (minTtl: number) => {
    await stop(daemon.child)
    return (daemon = await startDaemon(lab, dns, minTtl))
  }
  // the answers of the load again: a restart restores the addresses the agent resolved at its last apply, not at its last refresh
  writeFileSync(dns.hosts, hostsText(0))
  dns.dnsmasq.kill('SIGHUP')
  const flip = () => 0
  const steady = await updates(await restarted(1), dns, flip, true)
  const backToBack = await updates(daemon, dns, flip, false)
  const moving = await updatesWhileMoving(await restarted(1), dns, 0)
  const off = await updates(await restarted(3600), dns, flip, true)
  await sleep(1500)
  console.log(`  one-VM update (its ${NAMES_PER_VM} named rules on a new port, with dom0's addresses), through the socket (a connection each), sent and answered, after one not counted, ms:`)
  console.log(seriesLine(`refresh on, answers unchanged, spaced:`, steady, dns.queries, off))
  console.log(seriesLine(`refresh on, all ${NAMES} moving each s, spaced:`, moving, dns.queries, off))
  console.log(seriesLine('refresh off (min TTL 3600), spaced:', off, dns.queries))
  console.log(seriesLine(`refresh on, back to back for ${BACK_TO_BACK_MS / 1000} s:`, backToBack, dns.queries))
  const drops = `DNS server's namespace ${await rcvbufErrors(lab, lab.out)}, firewall's ${await rcvbufErrors(lab, lab.fw)}`
  console.log(`  UDP datagrams dropped for a full receive buffer, whole run (each dropped query asked again after the resolver's 1.5 s timeout): ${drops}`)
}

/** Builds the namespaces and DNS, measures, prints; removes everything, also on failure or a signal. */
export async function benchNames(): Promise<void> {
  await withLab('bn', async (lab) => {
    console.log(`names following DNS: ${VMS} VMs x ${NAMES_PER_VM} rules \`action=accept dsthost=n<k>.bench.example proto=tcp dstports=443-443\` (${NAMES} names), dnsmasq TTL 1 s, the daemon with --refresh-min-ttl 1, ${availableParallelism()} CPUs (load average ${loadavg()[0]?.toFixed(1)} at the start), one run:`)
    const dns = await startDns(lab)
    console.log(`  DNS latency: ${dns.delay}`)
    await measureUpdates(lab, dns, await measureRounds(lab, dns))
  })
}
