// Rules from untrusted text: Qubes' API lines and qvm-firewall's rule words, with every Qubes
// validation. A string `want` is the formatRawRule() of the parsed rule; a RegExp is the error.
import t from 'tap'
import { formatRawRule } from '../dom0-tools/rule/format-raw.js'
import type { EpochSeconds } from '../common/rule/model.js'
import { parseApiRule, parseCliRule } from '../dom0-tools/rule/parse.js'
import { parseQdbRule } from '../netvm-agent/push/rule.js'
import { exactly } from './helpers/exactly.js'

const ctx = { now: 1_700_000_000 as EpochSeconds }

const label63 = 'a'.repeat(63)
const host253 = `${label63}.${label63}.${label63}.${'d'.repeat(61)}`
const host254 = `${label63}.${label63}.${label63}.${'d'.repeat(62)}`
const label64 = `${'a'.repeat(64)}.example`

// the optional third field marks a known bug: the case states Qubes' behaviour and runs as todo
const apiCases: [input: string, want: string | RegExp, bug?: string][] = [
  // actions and the smallest rules
  ['action=accept', 'action=accept'],
  ['action=drop', 'action=drop'],
  ['action=allow', exactly("invalid action 'allow' (expected accept or drop)")],
  ['action=ACCEPT', exactly("invalid action 'ACCEPT' (expected accept or drop)")],
  ['', exactly('missing action= (accept or drop)')],
  ['proto=tcp dstports=443', exactly('missing action= (accept or drop)')],
  ['accept', exactly("invalid rule option 'accept' (expected key=value)")],
  // Qubes' own API lines, options in any order, printed in Qubes' order
  [
    'action=accept proto=tcp dst4=10.0.0.0/8 dstports=443-443 comment=Allow LAN',
    'action=accept proto=tcp dst4=10.0.0.0/8 dstports=443-443 comment=Allow LAN',
  ],
  ['dstports=443 proto=tcp dsthost=qubes-os.org action=accept', 'action=accept proto=tcp dsthost=qubes-os.org dstports=443-443'],
  ['action=drop proto=udp dstports=1200-1400', 'action=drop proto=udp dstports=1200-1400'],
  ['action=accept specialtarget=dns', 'action=accept specialtarget=dns'],
  ['action=accept specialtarget=ntp', exactly("invalid specialtarget 'ntp' (expected dns)")],
  ['action=accept proto=sctp', exactly("invalid proto 'sctp' (expected tcp or udp or icmp)")],
  ['action=accept proto=icmp', 'action=accept proto=icmp'],
  // dsthost: bare addresses get /32 or /128; dst4, dst6 and dstname are synonyms whatever the family
  ['action=accept dsthost=127.0.0.1', 'action=accept dst4=127.0.0.1/32'],
  ['action=accept dsthost=2001:db8::1', 'action=accept dst6=2001:db8::1/128'],
  ['action=accept dst6=192.168.0.0/16', 'action=accept dst4=192.168.0.0/16'],
  ['action=accept dst4=2001:db8::/32', 'action=accept dst6=2001:db8::/32'],
  ['action=accept dstname=qubes-os.org', 'action=accept dsthost=qubes-os.org'],
  ['action=accept dsthost=10.1.2.3/24', 'action=accept dst4=10.1.2.3/24'],
  ['action=accept dsthost=0.0.0.0/0', 'action=accept dst4=0.0.0.0/0'],
  ['action=accept dsthost=::/0', 'action=accept dst6=::/0'],
  // an IPv6 address is kept as typed, as Qubes keeps it
  ['action=accept dsthost=2001:DB8::1/64', 'action=accept dst6=2001:DB8::1/64'],
  ['action=accept dsthost=1.2.3.4/032', 'action=accept dst4=1.2.3.4/32'],
  // at most one '/', netmask 0-32 / 0-128
  ['action=accept dsthost=1.2.3.4/32', 'action=accept dst4=1.2.3.4/32'],
  ['action=accept dsthost=1.2.3.4/33', exactly("invalid dsthost '1.2.3.4/33' (netmask must be 0-32)")],
  ['action=accept dsthost=1.2.3.4/-1', exactly("invalid dsthost '1.2.3.4/-1' (netmask must be 0-32)")],
  ['action=accept dsthost=1.2.3.4/', exactly("invalid dsthost '1.2.3.4/' (netmask must be 0-32)")],
  ['action=accept dsthost=1.2.3.4/a', exactly("invalid dsthost '1.2.3.4/a' (netmask must be 0-32)")],
  ['action=accept dsthost=::1/128', 'action=accept dst6=::1/128'],
  ['action=accept dsthost=::1/129', exactly("invalid dsthost '::1/129' (netmask must be 0-128)")],
  ['action=accept dsthost=10.0.0.0/8/8', exactly("invalid dsthost '10.0.0.0/8/8' (too many '/')")],
  ['action=accept dsthost=/24', exactly("invalid dsthost '/24' (invalid IP address '')")],
  ['action=accept dsthost=qubes-os.org/24', exactly("invalid dsthost 'qubes-os.org/24' (invalid IP address 'qubes-os.org')")],
  // IPv4 is a dotted quad of decimals, as inet_pton(AF_INET) takes it
  ['action=accept dsthost=1.2.3', exactly("invalid dsthost '1.2.3' (IPv4 must be a dotted quad)")],
  ['action=accept dsthost=010.0.0.1', exactly("invalid dsthost '010.0.0.1' (IPv4 must be a dotted quad)")],
  ['action=accept dsthost=1.2.3.4.5', exactly("invalid dsthost '1.2.3.4.5' (IPv4 must be a dotted quad)")],
  ['action=accept dsthost=256.1.1.1', exactly("invalid dsthost '256.1.1.1' (IPv4 must be a dotted quad)")],
  ['action=accept dsthost=2130706433', exactly("invalid dsthost '2130706433' (IPv4 must be a dotted quad)")],
  ['action=accept dsthost=010.0.0.0/8', exactly("invalid dsthost '010.0.0.0/8' (invalid IP address '010.0.0.0')")],
  [
    'action=accept dsthost=0x7f.0.0.1',
    /^invalid dsthost '0x7f\.0\.0\.1' /,
  ],
  // IPv6 as inet_pton(AF_INET6) takes it: no zone ids, no leading zeros in an embedded IPv4
  ['action=accept dsthost=fe80::1%eth0', exactly("invalid character '%' in dsthost")],
  ['action=accept dsthost=[::1]', exactly("invalid dsthost '[::1]' (not an IP address, and a hostname may hold only a-z 0-9 . _ -)")],
  ['action=accept dsthost=1::2:3:4:5:6:7:8', exactly("invalid dsthost '1::2:3:4:5:6:7:8' (not an IP address, and a hostname may hold only a-z 0-9 . _ -)")],
  ['action=accept dsthost=::ffff:1.2.3.4', 'action=accept dst6=::ffff:1.2.3.4/128'],
  [
    'action=accept dsthost=::1.2.3.4',
    'action=accept dst6=::1.2.3.4/128',
  ],
  [
    'action=accept dsthost=::ffff:010.0.0.1',
    /^invalid dsthost '::ffff:010\.0\.0\.1' /,
  ],
  // hostnames: [a-z0-9._-], 1-253 characters, labels of 1-63
  ['action=accept dsthost=qubes-os.org', 'action=accept dsthost=qubes-os.org'],
  ['action=accept dsthost=_srv.my-host.example.', 'action=accept dsthost=_srv.my-host.example.'],
  ['action=accept dsthost=Qubes-OS.org', exactly("invalid dsthost 'Qubes-OS.org' (not an IP address, and a hostname may hold only a-z 0-9 . _ -)")],
  [`action=accept dsthost=${host253}`, `action=accept dsthost=${host253}`],
  [`action=accept dsthost=${host254}`, exactly(`invalid dsthost '${host254.slice(0, 60)}…' (a hostname has 1-253 characters)`)],
  ['action=accept dsthost=qubes..org', exactly("invalid dsthost 'qubes..org' (empty or over-long label)")],
  ['action=accept dsthost=.qubes-os.org', exactly("invalid dsthost '.qubes-os.org' (empty or over-long label)")],
  ['action=accept dsthost=.', exactly("invalid dsthost '.' (IPv4 must be a dotted quad)")],
  [`action=accept dsthost=${label64}`, exactly(`invalid dsthost '${label64.slice(0, 60)}…' (empty or over-long label)`)],
  // Qubes' safe character set
  ['action=accept dsthost=exa$mple.org', exactly("invalid character '$' in dsthost")],
  ['action=accept dsthost=a=b', exactly("invalid character '=' in dsthost")],
  ['action=accept dsthost=qubes\u00e9.org', exactly('invalid character U+00E9 in dsthost')],
  ['action=accept proto=t\tcp', exactly('invalid character U+0009 in proto')],
  ['action=accept comment=a:b;c,d./-_[x] y', 'action=accept comment=a:b;c,d./-_[x] y'],
  ['action=accept comment=Allow LAN (home)', exactly("invalid character '(' in comment")],
  ['action=accept comment=x comment=y', exactly("invalid character '=' in comment")],
  ['action=accept comment=tab\there', exactly('invalid character U+0009 in comment')],
  ['action=accept comment=caf\u00e9', exactly('invalid character U+00E9 in comment')],
  // ports: 0-65535, ordered ranges, only with tcp/udp
  ['action=accept proto=tcp dstports=0', 'action=accept proto=tcp dstports=0-0'],
  ['action=accept proto=tcp dstports=65535', 'action=accept proto=tcp dstports=65535-65535'],
  ['action=accept proto=udp dstports=0080', 'action=accept proto=udp dstports=80-80'],
  ['action=accept proto=tcp dstports=65536', exactly("invalid port '65536' (expected a number 0-65535)")],
  ['action=accept proto=tcp dstports=100000', exactly("invalid port '100000' (expected a number 0-65535)")],
  ['action=accept proto=tcp dstports=abc', exactly("invalid port 'abc' (expected a number 0-65535)")],
  ['action=accept proto=tcp dstports=-1', exactly("invalid port '' (expected a number 0-65535)")],
  ['action=accept proto=tcp dstports=80-', exactly("invalid port '' (expected a number 0-65535)")],
  ['action=accept proto=tcp dstports=80-80', 'action=accept proto=tcp dstports=80-80'],
  ['action=accept proto=tcp dstports=443-80', exactly("invalid port range '443-80' (start above end)")],
  ['action=accept proto=tcp dstports=1-2-3', exactly("invalid port range '1-2-3' (expected PORT or LOW-HIGH)")],
  ['action=accept dstports=443', exactly("dstports valid only for 'tcp' and 'udp' protocols")],
  ['action=accept proto=icmp dstports=443', exactly("dstports valid only for 'tcp' and 'udp' protocols")],
  // icmptype: 0-255, only with icmp
  ['action=drop proto=icmp icmptype=0', 'action=drop proto=icmp icmptype=0'],
  ['action=drop proto=icmp icmptype=255', 'action=drop proto=icmp icmptype=255'],
  ['action=drop proto=icmp icmptype=256', exactly("invalid icmptype '256' (expected a number 0-255)")],
  ['action=drop proto=icmp icmptype=-1', exactly("invalid icmptype '-1' (expected a number 0-255)")],
  ['action=drop proto=icmp icmptype=echo', exactly("invalid icmptype 'echo' (expected a number 0-255)")],
  ['action=drop proto=tcp icmptype=8', exactly("icmptype valid only for 'icmp' protocol")],
  ['action=drop icmptype=8', exactly("icmptype valid only for 'icmp' protocol")],
  // expire: stored rules carry seconds since 1970, "+N" is for the command line only
  ['action=accept expire=1700003600', 'action=accept expire=1700003600'],
  ['action=accept expire=+100', exactly("invalid expire '+100' (expected seconds since 1970)")],
  ['action=accept expire=soon', exactly("invalid expire 'soon' (expected seconds since 1970)")],
  ['action=accept expire=1700003600 comment=temporary', 'action=accept expire=1700003600 comment=temporary'],
  // unknown keys, empty values, an option given twice
  ['action=accept port=80', exactly("unknown rule option 'port'")],
  ['action=accept dst$=1.2.3.4', exactly("unknown rule option 'dst$'")],
  ['action=accept dsthost=', exactly("empty value for 'dsthost'")],
  ['action=', exactly("empty value for 'action'")],
  ['action=accept comment=', exactly("empty value for 'comment'")],
  ['action=accept action=drop', exactly("option 'action' given twice")],
  ['action=accept dst4=1.2.3.4 dsthost=qubes-os.org', exactly("option 'dsthost' given twice")],
  ['action=accept dst4=1.2.3.4 dst6=::1', exactly("option 'dsthost' given twice")],
  ['action=accept proto=tcp proto=udp', exactly("option 'proto' given twice")],
]

// words as the shell hands them to qvm-firewall VM add
const cliCases: [words: string[], want: string | RegExp][] = [
  [['accept'], 'action=accept'],
  [['drop'], 'action=drop'],
  [['accept', '127.0.0.1', 'tcp', '80'], 'action=accept proto=tcp dst4=127.0.0.1/32 dstports=80-80'],
  [['accept', '127.0.0.1', 'udp', '1200-1400'], 'action=accept proto=udp dst4=127.0.0.1/32 dstports=1200-1400'],
  [['accept', '127.0.0.1', 'icmp', '8'], 'action=accept proto=icmp dst4=127.0.0.1/32 icmptype=8'],
  [['dsthost=127.0.0.1', 'accept', 'dstports=443', 'tcp'], 'action=accept proto=tcp dst4=127.0.0.1/32 dstports=443-443'],
  [['proto=icmp', 'drop', '10.0.0.0/8', '3'], 'action=drop proto=icmp dst4=10.0.0.0/8 icmptype=3'],
  [['drop', 'dst4=10.0.0.0/8'], 'action=drop dst4=10.0.0.0/8'],
  [['accept', 'dst6=2001:db8::/32', 'udp', '53'], 'action=accept proto=udp dst6=2001:db8::/32 dstports=53-53'],
  [['accept', 'dst6=10.0.0.1'], 'action=accept dst4=10.0.0.1/32'],
  [['accept', 'qubes-os.org', 'tcp', '443', 'comment=Allow LAN'], 'action=accept proto=tcp dsthost=qubes-os.org dstports=443-443 comment=Allow LAN'],
  [['accept', 'specialtarget=dns', 'comment=Allow DNS'], 'action=accept specialtarget=dns comment=Allow DNS'],
  [['accept', 'expire=+100'], 'action=accept expire=1700000100'],
  [['accept', 'expire=1700003600'], 'action=accept expire=1700003600'],
  [['accept', 'expire=+abc'], exactly("invalid expire '+abc' (expected seconds since 1970, or +seconds)")],
  [['accept', 'expire=-100'], exactly("invalid expire '-100' (expected seconds since 1970, or +seconds)")],
  // a bare word fills the first free slot, as Qubes' RuleAction does: here dsthost
  [['accept', 'tcp'], 'action=accept dsthost=tcp'],
  [['accept', '1.2.3.4', 'tcp', '80', 'extra'], exactly("unexpected rule word 'extra'")],
  [['accept', '1.2.3.4', 'icmp', 'dstports=80'], exactly("dstports valid only for 'tcp' and 'udp' protocols")],
  [['accept', '1.2.3.4', 'tcp', 'icmptype=8'], exactly("icmptype valid only for 'icmp' protocol")],
  [['accept', '1.2.3.4', 'tcp', '65536'], exactly("invalid port '65536' (expected a number 0-65535)")],
  [['accept', '1.2.3.4', 'tcp', '443-80'], exactly("invalid port range '443-80' (start above end)")],
  [['accept', '1.2.3.4', 'icmp', '256'], exactly("invalid icmptype '256' (expected a number 0-255)")],
  [['accept', '1.2.3'], exactly("invalid dsthost '1.2.3' (IPv4 must be a dotted quad)")],
  [['accept', 'Qubes-OS.org'], exactly("invalid dsthost 'Qubes-OS.org' (not an IP address, and a hostname may hold only a-z 0-9 . _ -)")],
  [['accept', 'fe80::1%eth0'], exactly("invalid character '%' in dsthost")],
  [['accept', 'dsthost=qubes os.org'], exactly('invalid character U+0020 in dsthost')],
  [['accept', 'comment=Allow (LAN)'], exactly("invalid character '(' in comment")],
  // split at the first '=', as Qubes does
  [['accept', 'a=b=c'], exactly("unknown rule option 'a'")],
  [['accept', 'comment=x=y'], exactly("invalid character '=' in comment")],
  [['accept', 'comment=  spaced  '], 'action=accept comment=  spaced  '],
  // dstname is Qubes' API's, not its qvm-firewall's
  [['accept', 'dstname=qubes-os.org'], exactly('invalid rule description: dstname=qubes-os.org')],
  [['accept', 'port=80'], exactly("unknown rule option 'port'")],
  [['accept', 'dsthost='], exactly("empty value for 'dsthost'")],
  [['accept', ''], exactly("empty value for 'dsthost'")],
  [['accept', 'action=drop'], exactly("option 'action' given twice")],
  [['dst4=1.2.3.4', 'dsthost=qubes-os.org', 'accept'], exactly("option 'dsthost' given twice")],
  [['accept', '1.2.3.4', 'dst6=::1'], exactly("option 'dsthost' given twice")],
  [['allow'], exactly("invalid action 'allow' (expected accept or drop)")],
  [['dsthost=1.2.3.4', 'proto=tcp'], exactly('missing action= (accept or drop)')],
  [[], exactly('missing action= (accept or drop)')],
]

function shellWords(words: readonly string[]): string {
  return words.map((w) => (/^[A-Za-z0-9:;,./_=+%-]+$/.test(w) ? w : `'${w}'`)).join(' ')
}

t.test('parseApiRule', async (t) => {
  t.plan(apiCases.length)
  for (const [input, want, bug] of apiCases) {
    t.test(input, bug === undefined ? {} : { todo: bug }, async (t) => {
      if (typeof want === 'string') t.equal(formatRawRule(parseApiRule(input, ctx)), want)
      else t.throws(() => parseApiRule(input, ctx), { name: 'RuleParseError', message: want })
    })
  }
})

t.test('parseCliRule', async (t) => {
  t.plan(cliCases.length)
  for (const [words, want] of cliCases) {
    t.test(`add ${shellWords(words)}`, async (t) => {
      if (typeof want === 'string') t.equal(formatRawRule(parseCliRule(words, ctx)), want)
      else t.throws(() => parseCliRule(words, ctx), { name: 'RuleParseError', message: want })
    })
  }
})

t.test('a parsed rule parses again to itself', async (t) => {
  const lines = apiCases.flatMap(([, want, bug]) => (typeof want === 'string' && bug === undefined ? [want] : []))
  t.plan(lines.length)
  for (const line of lines) t.equal(formatRawRule(parseApiRule(line, ctx)), line, line)
})

// one validator per option: dom0 (an API line) and the agent (a QubesDB rule) refuse a value with one message
const sharedCases: [line: string, message: string][] = [
  ['action=allow', "invalid action 'allow' (expected accept or drop)"],
  ['proto=tcp', 'missing action= (accept or drop)'],
  ['action=accept proto=sctp', "invalid proto 'sctp' (expected tcp or udp or icmp)"],
  ['action=accept specialtarget=ntp', "invalid specialtarget 'ntp' (expected dns)"],
  ['action=accept proto=icmp dstports=80', "dstports valid only for 'tcp' and 'udp' protocols"],
  ['action=accept proto=tcp icmptype=8', "icmptype valid only for 'icmp' protocol"],
  ['action=accept proto=tcp dstports=70000', "invalid port '70000' (expected a number 0-65535)"],
  [`action=accept proto=tcp dstports=${'8'.repeat(100)}`, `invalid port '${'8'.repeat(60)}…' (expected a number 0-65535)`],
  ['action=accept proto=tcp dstports=8\u001b[2J', 'invalid character U+001B in dstports'],
  ['action=drop proto=icmp icmptype=echo', "invalid icmptype 'echo' (expected a number 0-255)"],
  ['action=accept proto=t\u0085cp', 'invalid character U+0085 in proto'],
  ['action=accept dsthost=1.2.3', "invalid dsthost '1.2.3' (IPv4 must be a dotted quad)"],
  ['action=accept expire=soon', "invalid expire 'soon' (expected seconds since 1970)"],
  ['action=accept expire=\u001b]0;owned\u0007', "invalid expire '?]0;owned?' (expected seconds since 1970)"],
]

t.test('dom0 and the agent refuse a value alike', async (t) => {
  t.plan(sharedCases.length)
  for (const [line, message] of sharedCases) {
    t.test(JSON.stringify(line), async (t) => {
      t.throws(() => parseApiRule(line, ctx), { name: 'RuleParseError', message: exactly(message) }, 'dom0')
      t.throws(() => parseQdbRule(0, line, 4), { name: 'RuleParseError', message: exactly(message) }, 'agent')
    })
  }
})
