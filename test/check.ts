// `qvm-firewall VM check`: which rule decides a packet, one case per behaviour, on VmEntries made by
// the real push parser. Whole decisions, and whole error lines, asserted exactly.
import t from 'tap'
import type { EpochSeconds, Hostname } from '../common/rule/model.js'
import type { Decision } from '../common/observe/decision.js'
import { decide, downstreamOf, type CheckContext, type Probe } from '../netvm-agent/check.js'
import { parsePush } from '../netvm-agent/push/parse.js'
import type { Resolution } from '../netvm-agent/push/model.js'
import { exactly } from './helpers/exactly.js'

const NOW = 1_800_000_000 as EpochSeconds
const A = '10.137.0.5'
const B = '10.137.0.6'
/** Behind this netvm, known only from /connected-ips. */
const C = '10.137.0.7'
const A6 = 'fd09:24ef:4179::a89:5'
const B6 = 'fd09:24ef:4179::a89:6'

type Vm = [ip: string, policy: string, ...rules: string[]]

/** A push holding the case's VM, B, and /connected-ips*, in Qubes' QubesDB form. */
function push([ip, policy, ...rules]: Vm) {
  const entries: Record<string, string> = {
    [`/qubes-firewall/${B}`]: '',
    [`/qubes-firewall/${B}/policy`]: 'accept',
    '/connected-ips': `${A} ${B} ${C}`,
    '/connected-ips6': `${A6} ${B6}`,
    [`/qubes-firewall/${ip}`]: '',
    [`/qubes-firewall/${ip}/policy`]: policy,
  }
  rules.forEach((rule, i) => (entries[`/qubes-firewall/${ip}/${String(i).padStart(4, '0')}`] = rule))
  return parsePush(entries)
}

const resolution: ReadonlyMap<Hostname, Resolution> = new Map(([
  ['www.example', { addresses: ['192.0.2.10', '2001:db8::10'] }],
  ['cdn.example', { error: 'server answered rcode 2' }],
  ['v6only.example', { addresses: ['2001:db8::20'] }],
] as [string, Resolution][]).map(([name, r]) => [name as Hostname, r]))

const ctx = (downstream: string[]): CheckContext => ({
  now: NOW, nameservers: { 4: ['10.139.1.1', '10.139.1.2'], 6: ['2001:db8:53::1'] }, downstream,
})

const rule = (n: number, action: 'accept' | 'drop', words: string): Decision => ({ action, by: { rule: n }, reason: `rule ${n}: ${action} ${words}` })
const policy = (action: 'accept' | 'drop'): Decision => ({ action, by: 'policy', reason: `policy ${action} (no rule matched)` })

const tcp = (dst: string, port?: number): Probe => ({ dst, proto: 'tcp', ...(port !== undefined && { port }) })
const udp = (dst: string, port?: number): Probe => ({ dst, proto: 'udp', ...(port !== undefined && { port }) })
const icmp = (dst: string, icmpType?: number): Probe => ({ dst, proto: 'icmp', ...(icmpType !== undefined && { icmpType }) })

const RANGE: Vm = [A, 'drop', 'action=accept proto=tcp dstports=1200-1400']
const ECHO: Vm = [A, 'drop', 'action=accept proto=icmp icmptype=8']
const DNS: Vm = [A, 'drop', 'action=accept specialtarget=dns']
const BLOCK: Vm = [A, 'accept', 'action=accept dst4=192.0.2.10', 'action=drop dsthost=cdn.example proto=tcp dstports=25', 'action=accept dst4=198.51.100.0/24']

const cases: [behaviour: string, vm: Vm, probe: Probe, want: Decision | RegExp][] = [
  ['first match wins: the drop before the accept', [A, 'accept', 'action=drop dst4=192.0.2.10', 'action=accept dst4=192.0.2.0/24'], tcp('192.0.2.10', 80),
    rule(0, 'drop', 'dsthost=192.0.2.10/32')],
  ['first match wins: past the drop, the accept', [A, 'drop', 'action=drop dst4=192.0.2.10', 'action=accept dst4=192.0.2.0/24'], tcp('192.0.2.11', 80),
    rule(1, 'accept', 'dsthost=192.0.2.0/24')],
  ['port range: one below the start', RANGE, tcp('192.0.2.1', 1199), policy('drop')],
  ['port range: its start', RANGE, tcp('192.0.2.1', 1200), rule(0, 'accept', 'proto=tcp dstports=1200-1400')],
  ['port range: its end', RANGE, tcp('192.0.2.1', 1400), rule(0, 'accept', 'proto=tcp dstports=1200-1400')],
  ['port range: one past the end', RANGE, tcp('192.0.2.1', 1401), policy('drop')],
  ['tcp without port: not in any dstports', RANGE, tcp('192.0.2.1'), policy('drop')],
  ['tcp without port: a tcp rule without ports', [A, 'drop', 'action=accept proto=tcp'], tcp('192.0.2.1'), rule(0, 'accept', 'proto=tcp')],
  ['udp rule, tcp probe', [A, 'drop', 'action=accept proto=udp dstports=53'], tcp('192.0.2.1', 53), policy('drop')],
  ['udp rule, udp probe', [A, 'drop', 'action=accept proto=udp dstports=53'], udp('192.0.2.1', 53), rule(0, 'accept', 'proto=udp dstports=53')],
  ['ports without proto: tcp and udp', [A, 'drop', 'action=accept dstports=8080'], udp('192.0.2.1', 8080), rule(0, 'accept', 'dstports=8080')],
  ['icmp type: the one named', ECHO, icmp('192.0.2.1', 8), rule(0, 'accept', 'proto=icmp icmptype=8')],
  ['icmp type: another', ECHO, icmp('192.0.2.1', 0), policy('drop')],
  ['icmp without type: not a type named', ECHO, icmp('192.0.2.1'), policy('drop')],
  ['icmp rule, tcp probe', [A, 'drop', 'action=accept proto=icmp'], tcp('192.0.2.1', 80), policy('drop')],
  ['icmpv6 on an IPv6 VM', [A6, 'drop', 'action=accept proto=icmp icmptype=128'], icmp('2001:db8::1', 128), rule(0, 'accept', 'proto=icmp icmptype=128')],
  ['no proto: a rule with proto does not match', [A, 'accept', 'action=drop proto=tcp'], { dst: '192.0.2.1' }, policy('accept')],
  ['no proto: a rule without proto does', [A, 'accept', 'action=drop dst4=192.0.2.0/24'], { dst: '192.0.2.1' }, rule(0, 'drop', 'dsthost=192.0.2.0/24')],
  ['ip4 prefix: host bits masked', [A, 'drop', 'action=accept dst4=192.0.2.77/24'], tcp('192.0.2.200', 22), rule(0, 'accept', 'dsthost=192.0.2.77/24')],
  ['ip4 prefix: outside the network', [A, 'drop', 'action=accept dst4=192.0.2.77/24'], tcp('192.0.3.1', 22), policy('drop')],
  ['ip4 prefix /0: everything', [A, 'drop', 'action=accept dst4=0.0.0.0/0'], { dst: '203.0.113.9' }, rule(0, 'accept', 'dsthost=0.0.0.0/0')],
  ['ip6 prefix', [A6, 'drop', 'action=accept dst6=2001:db8::/32 proto=tcp'], tcp('2001:db8:1::1', 443), rule(0, 'accept', 'dsthost=2001:db8::/32 proto=tcp')],
  ['ip6 rules do not decide an IPv4 packet', [A6, 'drop', 'action=accept dst6=2001:db8::/32'], tcp('192.0.2.1', 443),
    exactly(`192.0.2.1 is an IPv4 address; the rules of ${A6} are for IPv6`)],
  ['name: its address', [A, 'drop', 'action=accept dsthost=www.example proto=tcp dstports=443'], tcp('192.0.2.10', 443),
    rule(0, 'accept', 'dsthost=www.example (resolved to 192.0.2.10) proto=tcp dstports=443')],
  ['name: its address of the family', [A6, 'drop', 'action=accept dsthost=www.example'], tcp('2001:db8:0::10', 443),
    rule(0, 'accept', 'dsthost=www.example (resolved to 2001:db8::10)')],
  ['name: another address', [A, 'drop', 'action=accept dsthost=www.example'], tcp('192.0.2.11', 443), policy('drop')],
  ['name not resolved, accept: matches nothing', [A, 'drop', 'action=accept dsthost=cdn.example', 'action=accept dst4=192.0.2.0/24'], tcp('192.0.2.10', 443),
    rule(1, 'accept', 'dsthost=192.0.2.0/24')],
  ['name not resolved, drop: the rules before it still decide', BLOCK, tcp('192.0.2.10', 443), rule(0, 'accept', 'dsthost=192.0.2.10/32')],
  ['name not resolved, drop: blocks from its position, whatever its proto', BLOCK, udp('198.51.100.1', 53),
    { action: 'drop', by: { rule: 1 }, reason: 'rule 1: name cdn.example did not resolve (server answered rcode 2): drop rule blocks from here' }],
  ['name absent from the answers: not resolved', [A, 'accept', 'action=drop dsthost=nosuch.example'], { dst: '192.0.2.1' },
    { action: 'drop', by: { rule: 0 }, reason: 'rule 0: name nosuch.example did not resolve (not resolved): drop rule blocks from here' }],
  ['name with no address of the family: matches nothing', [A, 'accept', 'action=drop dsthost=v6only.example'], { dst: '192.0.2.1' }, policy('accept')],
  ['dns: udp 53 to a nameserver', DNS, udp('10.139.1.2', 53), rule(0, 'accept', 'specialtarget=dns (nameserver 10.139.1.2)')],
  ['dns: tcp 53 to a nameserver', DNS, tcp('10.139.1.1', 53), rule(0, 'accept', 'specialtarget=dns (nameserver 10.139.1.1)')],
  ['dns: another port', DNS, udp('10.139.1.1', 54), policy('drop')],
  ['dns: no proto', DNS, { dst: '10.139.1.1' }, policy('drop')],
  ['dns: not a nameserver', DNS, udp('192.0.2.53', 53), policy('drop')],
  ['dns with proto=udp: tcp 53 does not match', [A, 'drop', 'action=accept specialtarget=dns proto=udp'], tcp('10.139.1.1', 53), policy('drop')],
  ['dns with ports: those ports', [A, 'drop', 'action=accept specialtarget=dns proto=tcp dstports=853'], tcp('10.139.1.1', 853),
    rule(0, 'accept', 'specialtarget=dns (nameserver 10.139.1.1) proto=tcp dstports=853')],
  ['dns on IPv6: the IPv6 nameservers', [A6, 'drop', 'action=accept specialtarget=dns'], udp('2001:db8:53::1', 53),
    rule(0, 'accept', 'specialtarget=dns (nameserver 2001:db8:53::1)')],
  ['expired (expire = now): skipped', [A, 'drop', `action=accept dst4=192.0.2.10 expire=${NOW}`, `action=drop dst4=192.0.2.0/24 expire=${NOW + 1}`],
    tcp('192.0.2.10', 80), rule(1, 'drop', `dsthost=192.0.2.0/24 expire=${NOW + 1}`)],
  ['expired drop with a failed name: skipped, no block', [A, 'accept', `action=drop dsthost=cdn.example expire=${NOW - 5}`], tcp('192.0.2.10', 80),
    policy('accept')],
  ['policy accept', [A, 'accept'], udp('192.0.2.1', 123), policy('accept')],
  ['policy drop', [A, 'drop'], udp('192.0.2.1', 123), policy('drop')],
  ['a VM whose rules did not parse: blocked', [A, 'accept', 'action=accept dst4=192.0.2.1', 'action=accept proto=tcp dstports=80-70'], tcp('192.0.2.1', 80),
    { action: 'drop', by: 'blocked', reason: "blocked, rules did not parse: rule 1: invalid port range '80-70' (start above end)" }],
  ['another VM: isolation, whatever the rules accept', [A, 'accept', 'action=accept'], tcp(B, 22),
    { action: 'drop', by: 'isolation', reason: `${B} is a VM behind this netvm: dropped, VMs stay isolated from each other even when their rules accept all` }],
  ['a VM known from /connected-ips: isolation', [A, 'accept'], { dst: C },
    { action: 'drop', by: 'isolation', reason: `${C} is a VM behind this netvm: dropped, VMs stay isolated from each other even when their rules accept all` }],
  ['another IPv6 VM: isolation', [A6, 'accept'], icmp('fd09:24ef:4179:0::a89:6', 128),
    { action: 'drop', by: 'isolation', reason: `${B6} is a VM behind this netvm: dropped, VMs stay isolated from each other even when their rules accept all` }],
  ['isolation comes before a blocked VM', [A, 'accept', 'action=frob'], tcp(B, 22),
    { action: 'drop', by: 'isolation', reason: `${B} is a VM behind this netvm: dropped, VMs stay isolated from each other even when their rules accept all` }],
  ['the VM\'s own address', [A, 'accept'], tcp(A, 22), exactly(`${A} is the VM's own address: its packets to it never reach the netvm`)],
  ['destination: not a dotted quad', [A, 'accept'], { dst: '10.1' }, exactly("invalid destination '10.1' (expected an IPv4 dotted quad or an IPv6 address)")],
  ['destination: a zone id', [A6, 'accept'], { dst: 'fe80::1%eth0' }, exactly("invalid destination 'fe80::1%eth0' (expected an IPv4 dotted quad or an IPv6 address)")],
  ['destination: a name', [A, 'accept'], { dst: 'www.example' }, exactly("invalid destination 'www.example' (expected an IPv4 dotted quad or an IPv6 address)")],
  ['port out of range', [A, 'accept'], tcp('192.0.2.1', 65536), exactly("invalid port '65536' (expected a number 0-65535)")],
  ['port without tcp or udp', [A, 'accept'], { dst: '192.0.2.1', proto: 'icmp', port: 80 }, exactly("port valid only for 'tcp' and 'udp' protocols")],
  ['icmp type without icmp', [A, 'accept'], { dst: '192.0.2.1', proto: 'tcp', icmpType: 8 }, exactly("icmp type valid only for 'icmp' protocol")],
]

t.test('decide: one case per behaviour', async (t) => {
  t.plan(cases.length)
  for (const [behaviour, vm, probe, want] of cases) {
    t.test(behaviour, async (t) => {
      const parsed = push(vm)
      const entry = parsed.vms.get(vm[0])
      if (entry === undefined) throw new Error(`no entry for ${vm[0]}`)
      const run = () => decide(entry, resolution, ctx(downstreamOf(parsed)), probe)
      if (want instanceof RegExp) t.throws(run, { name: 'UsageError', message: want })
      else t.strictSame(run(), want)
    })
  }
})
