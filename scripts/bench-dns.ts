// npm run bench, names part: the DNS side. dnsmasq answering the bench's names from a hosts file
// (TTL 1 s), 10 ms of latency (netem where the kernel has it, else a forwarder holding each answer),
// and tcpdump timing every query that reaches the server.
import { execFileSync, type ChildProcess } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { OUTSIDE, timeline, waitFor, type Lab, type Seen } from './bench-lab.js'

export const NAMES = 500
export const DELAY_MS = 10
export const name = (k: number) => `n${k}.bench.example`
/** Name k's address in answer set `flip` (198.18.0.0/15, benchmarking addresses). */
export const address = (flip: number, k: number) => `198.${18 + (flip >> 6)}.${((flip * 2) & 127) + (k >> 8)}.${k & 255}`
export const hostsText = (flip: number) => Array.from({ length: NAMES }, (_, k) => `${address(flip, k)} ${name(k)}\n`).join('')

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

export interface Dns {
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
export async function startDns(lab: Lab): Promise<Dns> {
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

/** UDP datagrams a namespace dropped for a full receive buffer (a dropped query is asked again after the resolver's timeout). */
export async function rcvbufErrors(lab: Lab, ns: string): Promise<number> {
  const udp = (await lab.exec(ns, 'cat', ['/proc/net/snmp'])).split('\n').filter((l) => l.startsWith('Udp: '))
  const [names, values] = udp.map((l) => l.split(/\s+/))
  return Number(values?.[names?.indexOf('RcvbufErrors') ?? -1])
}

export const within = (queries: Seen[], from: number, to: number) => queries.filter((q) => q.at > from && q.at <= to)

/** Rounds as the DNS server saw them: bursts of queries (gaps under 50 ms), each until its last answer is back. */
export function rounds(queries: Seen[]): [number, number][] {
  const bursts: [number, number][] = []
  for (const { at } of queries) {
    const open = bursts.at(-1)
    if (open && at - open[1] < 50) open[1] = at
    else bursts.push([at, at])
  }
  return bursts.map(([from, to]) => [from, to + DELAY_MS])
}
