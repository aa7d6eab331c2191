// The agent's rule parser, one row per behaviour: an untrusted QubesDB rule and the VM's family
// give the exact rule, or the exact message the user reads as the VM's "blocked: ..." line.
import ipaddr from 'ipaddr.js'
import t from 'tap'
import { RuleParseError } from '../common/errors.js'
import type { DstHost, EpochSeconds, Hostname, IcmpType, Port, PortRange } from '../common/rule/model.js'
import type { Family, FwRule } from '../netvm-agent/push/model.js'
import { parseQdbRule } from '../netvm-agent/push/rule.js'

const NUMBER = 3

const ip4 = (address: string, prefix: number): DstHost => ({ kind: 'ip4', address: ipaddr.IPv4.parse(address), prefix })
const ip6 = (address: string, prefix: number): DstHost => ({ kind: 'ip6', address: ipaddr.IPv6.parse(address), prefix, typed: address })
const name = (host: string): DstHost => ({ kind: 'name', name: host as Hostname })
const ports = (from: number, to: number): PortRange => ({ from: from as Port, to: to as Port })
const accept = { action: 'accept', dns: false, l4: { kind: 'any' } } as const

// a string `want` is the whole error message; anything else is the rule (its number aside)
const cases: [untrustedRule: string, family: Family, want: Omit<FwRule, 'number'> | string][] = [
  // every option accepted
  ['action=accept', 4, accept],
  ['action=drop', 6, { ...accept, action: 'drop' }],
  ['action=accept proto=tcp', 4, { ...accept, l4: { kind: 'ports', protos: ['tcp'] } }],
  ['action=accept proto=udp', 6, { ...accept, l4: { kind: 'ports', protos: ['udp'] } }],
  ['action=accept proto=icmp', 4, { ...accept, l4: { kind: 'icmp' } }],
  ['action=accept dst4=192.0.2.0/24', 4, { ...accept, dsthost: ip4('192.0.2.0', 24) }],
  ['action=accept dst4=192.0.2.7', 4, { ...accept, dsthost: ip4('192.0.2.7', 32) }],
  ['action=accept dst6=2001:db8::/32', 6, { ...accept, dsthost: ip6('2001:db8::', 32) }],
  ['action=accept dst6=2001:DB8::1', 6, { ...accept, dsthost: ip6('2001:DB8::1', 128) }],
  ['action=accept dsthost=example.com', 4, { ...accept, dsthost: name('example.com') }],
  ['action=accept dsthost=example.com', 6, { ...accept, dsthost: name('example.com') }],
  ['action=accept dsthost=192.0.2.1', 4, { ...accept, dsthost: ip4('192.0.2.1', 32) }],
  ['action=accept dsthost=2001:db8::1/64', 6, { ...accept, dsthost: ip6('2001:db8::1', 64) }],
  ['action=accept proto=tcp dstports=443', 4, { ...accept, l4: { kind: 'ports', protos: ['tcp'], ports: ports(443, 443) } }],
  ['action=accept proto=udp dstports=1200-1400', 4, { ...accept, l4: { kind: 'ports', protos: ['udp'], ports: ports(1200, 1400) } }],
  // Qubes: ports without proto cover tcp and udp
  ['action=accept dstports=8080', 4, { ...accept, l4: { kind: 'ports', protos: ['tcp', 'udp'], ports: ports(8080, 8080) } }],
  ['action=accept proto=icmp icmptype=8', 4, { ...accept, l4: { kind: 'icmp', type: 8 as IcmpType } }],
  ['action=accept specialtarget=dns', 4, { ...accept, dns: true }],
  ['action=accept expire=1900000000', 4, { ...accept, expire: 1_900_000_000 as EpochSeconds }],
  [
    'dstports=22 expire=1900000000 proto=tcp dst4=10.0.0.0/8 action=drop',
    4,
    { action: 'drop', dns: false, l4: { kind: 'ports', protos: ['tcp'], ports: ports(22, 22) }, dsthost: ip4('10.0.0.0', 8), expire: 1_900_000_000 as EpochSeconds },
  ],
  // the form of a rule
  ['', 4, "malformed element '' (expected key=value)"],
  ['action=accept  proto=tcp', 4, "malformed element '' (expected key=value)"],
  ['action=accept accept', 4, "malformed element 'accept' (expected key=value)"],
  ['action=accept a=b=c', 4, "malformed element 'a=b=c' (expected key=value)"],
  ['action=accept port=80', 4, "unsupported option 'port'"],
  ['action=accept comment=LAN', 4, "unsupported option 'comment'"],
  ['action=accept action=drop', 4, "option 'action' given twice"],
  ['action=accept proto=tcp proto=udp', 4, "option 'proto' given twice"],
  ['action=accept dst4=192.0.2.1 dsthost=example.com', 4, 'dst4 and dsthost given together'],
  ['action=accept dst4=192.0.2.1 dst6=2001:db8::1', 4, 'dst4 and dst6 given together'],
  ['action=accept dsthost=', 4, "empty value for 'dsthost'"],
  ['action=', 4, "empty value for 'action'"],
  // each value
  ['proto=tcp dstports=443', 4, 'missing action= (accept or drop)'],
  ['action=ACCEPT', 4, "invalid action 'ACCEPT' (expected accept or drop)"],
  ['action=accept proto=sctp', 4, "invalid proto 'sctp' (expected tcp or udp or icmp)"],
  ['action=accept proto=icmp dstports=80', 4, "dstports valid only for 'tcp' and 'udp' protocols"],
  ['action=accept icmptype=8', 4, "icmptype valid only for 'icmp' protocol"],
  ['action=accept proto=tcp icmptype=8', 4, "icmptype valid only for 'icmp' protocol"],
  ['action=accept proto=icmp icmptype=256', 4, "invalid icmptype '256' (expected a number 0-255)"],
  ['action=accept specialtarget=ntp', 4, "invalid specialtarget 'ntp' (expected dns)"],
  ['action=accept expire=+100', 4, "invalid expire '+100' (expected seconds since 1970)"],
  ['action=accept dst4=2001:db8::1', 4, "dst4 '2001:db8::1' is not an IPv4 address"],
  ['action=accept dst4=example.com', 4, "dst4 'example.com' is not an IPv4 address"],
  ['action=accept dst6=192.0.2.1', 6, "dst6 '192.0.2.1' is not an IPv6 address"],
  ['action=accept dsthost=1.2.3', 4, "invalid dsthost '1.2.3' (IPv4 must be a dotted quad)"],
  // an address of the other family than the VM's
  ['action=accept dst4=192.0.2.1', 6, 'dst4 is an IPv4 address in the rules of an IPv6 VM'],
  ['action=accept dst6=2001:db8::1', 4, 'dst6 is an IPv6 address in the rules of an IPv4 VM'],
  ['action=accept dsthost=192.0.2.1', 6, 'dsthost is an IPv4 address in the rules of an IPv6 VM'],
  ['action=accept dsthost=2001:db8::1', 4, 'dsthost is an IPv6 address in the rules of an IPv4 VM'],
  // ports
  ['action=accept proto=tcp dstports=443-80', 4, "invalid port range '443-80' (start above end)"],
  ['action=accept proto=tcp dstports=1-2-3', 4, "invalid port range '1-2-3' (expected PORT or LOW-HIGH)"],
  ['action=accept proto=tcp dstports=70000', 4, "invalid port '70000' (expected a number 0-65535)"],
  // control characters never reach the line: named, or shown as '?'
  ['action=accept\u001b[2J', 4, 'invalid character U+001B in action'],
  ['action=accept proto=t\u0000cp', 4, 'invalid character U+0000 in proto'],
  ['action=accept dsthost=a\nb', 4, 'invalid character U+000A in dsthost'],
  ['action=accept bad\u001bkey=1', 4, "unsupported option 'bad?key'"],
  ['action=accept forged\nqubes-firewall-agent: ok', 4, "malformed element 'forged?qubes-firewall-agent:' (expected key=value)"],
  // over-long text is cut at 60 characters, the cut marked
  [`action=accept ${'k'.repeat(100)}=1`, 4, `unsupported option '${'k'.repeat(60)}…'`],
  [`action=accept proto=${'x'.repeat(100)}`, 4, `invalid proto '${'x'.repeat(60)}…' (expected tcp or udp or icmp)`],
  [`action=accept dsthost=${'a'.repeat(300)}`, 4, `invalid dsthost '${'a'.repeat(60)}…' (a hostname has 1-253 characters)`],
]

/** What `parse` threw, or undefined. */
function thrown(parse: () => unknown): unknown {
  try {
    parse()
  } catch (err) {
    return err
  }
  return undefined
}

t.test('parseQdbRule', async (t) => {
  t.plan(cases.length)
  for (const [untrustedRule, family, want] of cases) {
    t.test(`${JSON.stringify(untrustedRule).slice(0, 80)} (IPv${family} VM)`, async (t) => {
      if (typeof want !== 'string') {
        t.strictSame(parseQdbRule(NUMBER, untrustedRule, family), { number: NUMBER, ...want })
        return
      }
      const err = thrown(() => parseQdbRule(NUMBER, untrustedRule, family))
      t.type(err, RuleParseError)
      t.equal((err as Error | undefined)?.message, want)
    })
  }
})
