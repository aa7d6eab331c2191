// npm run bench, a part: what the drop log costs on the user's path. A VM namespace sends through
// a firewall namespace running the real daemon (a loaded ruleset, tcpdump reading NFLOG) to an
// outside namespace: accepted TCP (iperf3) and a rejected UDP flood, with the log rule on and off,
// alternated. BENCH_DROPLOG=0 skips this part, BENCH_DROPLOG=only runs it alone.
import { spawnSync } from 'node:child_process'
import { performance } from 'node:perf_hooks'
import { ask, median, OUTSIDE, sleep, startAgent, VM, waitFor, withLab, type Lab } from './bench-lab.js'

const RULES = Number(process.env['BENCH_RULES'] ?? 50)
/** VMs loaded besides the one that sends, each with RULES rules. */
const OTHER_VMS = 100
/** Rounds of on, off, off, on, each sample SECONDS long. */
const ROUNDS = 6
const SECONDS = 1
const IPERF_PORT = 5201
/** The discard port: no rule of the VM names it, so every packet falls through to its policy (drop). */
const REJECTED_PORT = 9

/** The flood's sender until SIGTERM, then its count: one unconnected UDP socket (ICMP errors do not stop it), one source port, 64-byte payloads. */
const SENDER = `
import signal, socket, sys
running = True
def stop(*_): global running; running = False
signal.signal(signal.SIGTERM, stop)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
to, payload, sent = (sys.argv[1], int(sys.argv[2])), b'x' * 64, 0
while running:
    s.sendto(payload, to)
    sent += 1
print(sent)
`

/** Every VM has RULES rules and policy drop; the sender's rule 0 accepts iperf3, no other rule names OUTSIDE. */
function loadedPush(): Record<string, string> {
  const ips = Array.from({ length: OTHER_VMS + 1 }, (_, i) => `10.137.${(i + 2) >> 8}.${(i + 2) & 255}`)
  const entries: Record<string, string> = { '/connected-ips': ips.join(' ') }
  ips.forEach((ip, i) => {
    entries[`/qubes-firewall/${ip}`] = ''
    entries[`/qubes-firewall/${ip}/policy`] = 'drop'
    for (let r = 0; r < RULES; r++) {
      const net = `198.18.${(r * 7 + i) % 256}.0/24`
      const rule = [`action=accept dst4=${net} proto=tcp dstports=443-443`, `action=drop dst4=${net} proto=udp dstports=${r + 1}-${r + 1}`, 'action=accept proto=icmp icmptype=8'][r % 3]
      entries[`/qubes-firewall/${ip}/${String(r).padStart(4, '0')}`] = ip === VM && r === 0 ? `action=accept dst4=${OUTSIDE}/32 proto=tcp dstports=${IPERF_PORT}-${IPERF_PORT}` : (rule as string)
    }
  })
  return entries
}

/** The drop log's rule as `nft -a list chain ip qubes qf-reject` shows it, its handle, and whether it comes first. */
async function listedLogRule(lab: Lab): Promise<{ text: string; handle: string; first: boolean } | undefined> {
  const listing = await lab.exec(lab.fw, 'nft', ['-a', 'list', 'chain', 'ip', 'qubes', 'qf-reject'])
  const rules = [...listing.matchAll(/^\t\t(.+) # handle (\d+)$/gm)]
  const index = rules.findIndex((m) => m[1]?.includes('log prefix "qf-drop"'))
  const m = rules[index]
  return m && { text: m[1] as string, handle: m[2] as string, first: index === 0 }
}

/**
 * Off: that one rule deleted by handle. On: the very text nft listed for it inserted again, first in
 * qf-reject, where the agent puts it (its set, and the set's per-source state, stay throughout).
 */
async function setDropLog(lab: Lab, rule: string, on: boolean): Promise<void> {
  const listed = await listedLogRule(lab)
  if (on) await lab.exec(lab.fw, 'nft', ['insert', 'rule', 'ip', 'qubes', 'qf-reject', rule])
  else if (listed) await lab.exec(lab.fw, 'nft', ['delete', 'rule', 'ip', 'qubes', 'qf-reject', 'handle', listed.handle])
  const now = await listedLogRule(lab)
  if (on ? now?.text !== rule || !now.first : now !== undefined) throw new Error(`the drop log rule did not turn ${on ? 'on' : 'off'}: ${now?.text ?? 'absent'}`)
}

/** The daemon as a user runs it, in the firewall namespace; up once it listens, and what its drop log says. */
async function startDaemon(lab: Lab): Promise<{ socket: string; dropLog: string }> {
  const { socket } = await startAgent(lab, '/dev/null')
  let dropLog = ''
  for (let i = 0; i < 50 && dropLog !== 'listening' && !dropLog.startsWith('unavailable'); i++) {
    if (i > 0) await sleep(100)
    dropLog = String((await ask(socket, { op: 'status' }))['dropLog'])
  }
  return { socket, dropLog }
}

/** The rules in force through the daemon (a replace); the drop log's rule as the agent put it. */
async function load(lab: Lab, socket: string): Promise<string> {
  const answer = await ask(socket, { op: 'replace', entries: loadedPush() })
  if (answer['ok'] !== true) throw new Error(`replace failed: ${JSON.stringify(answer).slice(0, 300)}`)
  // past the daemon's idle clean-up (100 ms)
  await sleep(500)
  const rule = await listedLogRule(lab)
  if (!rule?.first) throw new Error('the drop log rule is not first in qf-reject')
  return rule.text
}

type Sample = { on: boolean; value: number }

/** The log rule set to each state of on, off, off, on (ROUNDS times: a drift in the machine's load weighs on both alike), a sample in each. */
async function alternate(lab: Lab, rule: string, sample: () => Promise<number>): Promise<Sample[]> {
  const samples: Sample[] = []
  let current = true
  for (const on of Array.from({ length: ROUNDS }, () => [true, false, false, true]).flat()) {
    if (on !== current) await setDropLog(lab, rule, on)
    current = on
    samples.push({ on, value: await sample() })
  }
  return samples
}

/** iperf3 TCP from the VM to the outside, SECONDS long: the receiver's bits/s. */
async function iperf(lab: Lab): Promise<number> {
  const out = await lab.exec(lab.vm, 'iperf3', ['-c', OUTSIDE, '-p', String(IPERF_PORT), '-t', String(SECONDS), '-J'])
  return (JSON.parse(out) as { end: { sum_received: { bits_per_second: number } } }).end.sum_received.bits_per_second
}

interface Flood {
  samples: Sample[]
  sent: number
  /** Packets the VM's policy counter took from the flood's start to its end. */
  counted: number
  /** Drops the daemon's log took meanwhile. */
  logged: number
}

/** One flood throughout, the rule switched under it; a sample: the policy counter's packets/s over SECONDS in one state. */
async function flood(lab: Lab, socket: string, rule: string): Promise<Flood> {
  const policy = async () => ((await ask(socket, { op: 'hits', ip: VM }))['policy'] as { packets: number }).packets
  const logged = async () => ((await ask(socket, { op: 'log', ip: VM }))['drops'] as unknown[]).length
  const [packets0, logged0] = [await policy(), await logged()]
  const sender = lab.spawn(lab.vm, 'python3', ['-c', SENDER, OUTSIDE, String(REJECTED_PORT)])
  let out = ''
  for (const stream of [sender.stdout, sender.stderr]) stream?.setEncoding('utf8').on('data', (chunk: string) => (out += chunk))
  const exited = new Promise((resolve) => sender.once('exit', resolve))
  await sleep(300)
  const samples = await alternate(lab, rule, async () => {
    const [packets, start] = [await policy(), performance.now()]
    await sleep(SECONDS * 1000)
    return ((await policy()) - packets) / ((performance.now() - start) / 1000)
  })
  if (sender.exitCode !== null || sender.signalCode !== null) throw new Error(`the flood's sender stopped early: ${out.trim()}`)
  sender.kill('SIGTERM')
  await exited
  // the last NFLOG records reach the daemon through tcpdump's pipe a moment later
  await sleep(300)
  if (!/^\d+\n$/.test(out)) throw new Error(`the flood's sender: ${out.trim()}`)
  return { samples, sent: Number(out), counted: (await policy()) - packets0, logged: (await logged()) - logged0 }
}

/** Each state's median (min-max), and on/off: the median of the ratios of two samples taken one after the other. */
function compare(samples: Sample[], format: (v: number) => string): string {
  const of = (on: boolean) => {
    const values = samples.filter((s) => s.on === on).map((s) => s.value)
    return `${format(median(values))} (${format(Math.min(...values))}-${format(Math.max(...values))})`
  }
  const ratios: number[] = []
  for (let i = 0; i + 1 < samples.length; i += 2) {
    const [a, b] = [samples[i] as Sample, samples[i + 1] as Sample]
    ratios.push(a.on ? a.value / b.value : b.value / a.value)
  }
  const x = (r: number) => r.toFixed(2)
  return `on ${of(true)}, off ${of(false)}; on/off ${x(median(ratios))}x (median of ${ratios.length} adjacent pairs, ${x(Math.min(...ratios))}-${x(Math.max(...ratios))}x)`
}

function report(accepted: Sample[] | string, rejected: Flood): void {
  const n = rejected.samples.length / 2
  console.log(`  on: the agent's log rule first in qf-reject, the daemon's tcpdump reading NFLOG group 11; off: that ip rule deleted by handle (put back as nft listed it)`)
  if (typeof accepted === 'string') console.log(`  accepted: skipped: ${accepted}`)
  else console.log(`  accepted: iperf3 TCP VM -> outside (the VM's rule 0 accepts it), ${SECONDS} s a sample, receiver's Gbit/s, median (min-max) of ${n}: ${compare(accepted, (v) => (v / 1e9).toFixed(2))}`)
  console.log(`  rejected: UDP to ${OUTSIDE}:${REJECTED_PORT} from one python3 sender throughout, packets/s the VM's policy counter took in ${SECONDS} s, median (min-max) of ${n}: ${compare(rejected.samples, (v) => `${(v / 1000).toFixed(0)}k`)}`)
  console.log(`    each packet: the sender's send, the VM's ${RULES} rules, its policy, qf-reject, a reject with ICMP admin-prohibited (sent within the kernel's default rate limit); over veth the firewall's work runs in the sender's softirq, on its CPU; sent ${rejected.sent}, counted ${rejected.counted}; drops the daemon logged: ${rejected.logged} (10/s a source, burst 20)`)
}

/** Builds the namespaces, loads the rules, measures, prints; removes everything, also on failure or a signal. */
export async function benchDropLog(): Promise<void> {
  await withLab('bd', async (lab) => {
    const { socket, dropLog } = await startDaemon(lab)
    console.log(`drop log cost, through a firewall namespace running the daemon (${OTHER_VMS + 1} VMs of ${RULES} rules loaded, policy drop), on and off alternated (on off off on) ${ROUNDS} times, one run:`)
    if (dropLog !== 'listening') return console.log(`  skipped: the daemon's drop log is ${dropLog}`)
    const iperfMissing = spawnSync('iperf3', ['--version'], { stdio: 'ignore' }).error ? 'iperf3 not found' : undefined
    if (!iperfMissing) await waitFor(lab.spawn(lab.out, 'iperf3', ['-s', '-B', OUTSIDE, '-p', String(IPERF_PORT), '--forceflush']), 'Server listening', 'iperf3 -s')
    const rule = await load(lab, socket)
    const accepted = iperfMissing ?? (await alternate(lab, rule, () => iperf(lab)))
    report(accepted, await flood(lab, socket, rule))
  })
}
