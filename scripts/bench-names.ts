// npm run bench, names part: 500 dsthost names following DNS by their TTL (1 s) with 10 ms of DNS
// latency, through a firewall namespace running the real daemon, and dnsmasq outside it. How long one
// refresh round of all 500 takes against asking them one after another, and one-VM updates while
// rounds run against the same with refresh off. BENCH_NAMES=0 skips this part, =only runs it alone.
import { execFileSync, type ChildProcess } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { availableParallelism, loadavg } from 'node:os'
import { join } from 'node:path'
import { ask, median, now, OUTSIDE, sleep, startAgent, stop, timed, timeline, waitFor, waitUntil, withLab, type Answer, type Lab, type Seen } from './bench-lab.js'

const VMS = 10
const NAMES_PER_VM = 50
const NAMES = VMS * NAMES_PER_VM
const DELAY_MS = 10
/** Refresh rounds whose 500 answers all change, timed one by one. */
const FLIPS = 3
/** Updates of a spaced series; each gap is longer than the 100 ms the refresher waits past a name's due second. */
const UPDATES = 20
const BACK_TO_BACK_MS = 3000
const name = (k: number) => `n${k}.bench.example`
const vmIp = (i: number) => `10.137.0.${i + 2}`
/** Name k's address in answer set `flip` (198.18.0.0/15, benchmarking addresses). */
const address = (flip: number, k: number) => `198.${18 + (flip >> 6)}.${((flip * 2) & 127) + (k >> 8)}.${k & 255}`
const hostsText = (flip: number) => Array.from({ length: NAMES }, (_, k) => `${address(flip, k)} ${name(k)}\n`).join('')

/**
 * Forwards each query to dnsmasq at once and holds its answer DELAY_MS: the delay netem would add,
 * where it is missing. One socket upstream (each query gets an id of ours; its own goes back with
 * the answer), and receive buffers forced large: no query of a burst of 1000 is dropped here.
 */
const FORWARDER = `
import collections, select, socket, sys, time
listen, upstream, delay = sys.argv[1], sys.argv[2], int(sys.argv[3]) / 1000
server, up = socket.socket(socket.AF_INET, socket.SOCK_DGRAM), socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for s in (server, up): s.setsockopt(socket.SOL_SOCKET, 33, 16 << 20)  # SO_RCVBUFFORCE
server.bind((listen, 53)); up.bind((upstream, 0))
pending, held, next_id = {}, collections.deque(), 0
print('forwarding', flush=True)
while True:
    wait = max(0, held[0][0] - time.monotonic()) if held else None
    for s in select.select([server, up], [], [], wait)[0]:
        data, peer = s.recvfrom(65535)
        if s is server:
            pending[next_id] = (data[:2], peer)
            up.sendto(next_id.to_bytes(2, 'big') + data[2:], (upstream, 53))
            next_id = (next_id + 1) & 0xffff
        elif (query := pending.pop(int.from_bytes(data[:2], 'big'), None)) is not None:
            held.append((time.monotonic() + delay, query[0] + data[2:], query[1]))
    while held and held[0][0] <= time.monotonic():
        _, answer, peer = held.popleft()
        server.sendto(answer, peer)
`

interface Dns {
  dnsmasq: ChildProcess
  hosts: string
  resolvConf: string
  /** Every query reaching the DNS server's interface, at tcpdump's timestamp. */
  queries: Seen[]
  delay: string
  /** The processes of the DNS side (forwarder, tcpdump, dnsmasq), for their CPU time. */
  side: ChildProcess[]
}

/** netem on the outside namespace's side, else the forwarder: how the delay comes, and where dnsmasq listens. */
async function addDelay(lab: Lab): Promise<{ delay: string; listen: string; forwarder?: ChildProcess }> {
  try {
    execFileSync('tc', ['-n', lab.out, 'qdisc', 'add', 'dev', 'eth0', 'root', 'netem', 'delay', `${DELAY_MS}ms`], { stdio: ['ignore', 'ignore', 'pipe'] })
    return { delay: `${DELAY_MS} ms added to every packet the DNS server's namespace sends (netem on its eth0)`, listen: OUTSIDE }
  } catch (err) {
    const why = String((err as { stderr?: Buffer }).stderr ?? '').trim().split('\n')[0]
    console.log(`  skipped: no netem (tc: ${why}); instead:`)
    const forwarder = lab.spawn(lab.out, 'python3', ['-c', FORWARDER, OUTSIDE, '127.0.0.1', String(DELAY_MS)])
    await waitFor(forwarder, 'forwarding', 'the forwarder')
    return { forwarder, delay: `a forwarder in the DNS server's namespace (at ${OUTSIDE}, dnsmasq behind it on 127.0.0.1) holds each answer ${DELAY_MS} ms`, listen: '127.0.0.1' }
  }
}

/** The delay, tcpdump timing the queries, and dnsmasq answering the 500 names (TTL 1 s); up once it answers. */
async function startDns(lab: Lab): Promise<Dns> {
  const { delay, listen, forwarder } = await addDelay(lab)
  // tcpdump times the queries (dnsmasq's --log-queries slows it until a burst of 1000 overflows its socket)
  const tcpdump = lab.spawn(lab.out, 'tcpdump', ['-i', 'eth0', '-B', '16384', '-n', '-l', '-tt', '-Q', 'in', 'udp', 'dst', 'port', '53'])
  const queries = timeline(tcpdump, / (A|AAAA)\? n\d+\.bench\.example\. /, (line) => Number(line.split(' ')[0]) * 1000)
  await waitFor(tcpdump, 'listening on', 'tcpdump')
  const hosts = join(lab.dir, 'hosts')
  writeFileSync(hosts, hostsText(0))
  const dnsmasq = lab.spawn(lab.out, 'dnsmasq', [
    '--no-daemon', '--no-resolv', '--no-hosts', '--conf-file=/dev/null', '--user=root', '--group=root',
    `--listen-address=${listen}`, '--bind-interfaces', '--port=53', '--log-facility=-',
    '--local=/bench.example/', `--addn-hosts=${hosts}`, '--local-ttl=1', `--pid-file=${join(lab.dir, 'dnsmasq.pid')}`,
  ])
  // read at start-up, just before its loop answers
  await waitFor(dnsmasq, `read ${hosts} - ${NAMES} names`, 'dnsmasq')
  const resolvConf = join(lab.dir, 'resolv.conf')
  writeFileSync(resolvConf, `nameserver ${OUTSIDE}\n`)
  return { dnsmasq, hosts, resolvConf, queries, delay, side: [tcpdump, dnsmasq, ...(forwarder ? [forwarder] : [])] }
}

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

/** UDP datagrams a namespace dropped for a full receive buffer (a dropped query is asked again after the resolver's timeout). */
async function rcvbufErrors(lab: Lab, ns: string): Promise<number> {
  const udp = (await lab.exec(ns, 'cat', ['/proc/net/snmp'])).split('\n').filter((l) => l.startsWith('Udp: '))
  const [names, values] = udp.map((l) => l.split(/\s+/))
  return Number(values?.[names?.indexOf('RcvbufErrors') ?? -1])
}

const within = (queries: Seen[], from: number, to: number) => queries.filter((q) => q.at > from && q.at <= to)

/** Rounds as the DNS server saw them: bursts of queries (gaps under 50 ms), each until its last answer is back. */
function rounds(queries: Seen[]): [number, number][] {
  const bursts: [number, number][] = []
  for (const { at } of queries) {
    const open = bursts.at(-1)
    if (open && at - open[1] < 50) open[1] = at
    else bursts.push([at, at])
  }
  return bursts.map(([from, to]) => [from, to + DELAY_MS])
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
