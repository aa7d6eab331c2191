// The forms a rule is written in: Qubes' API line, the QubesDB entries a netvm gets, and the
// `qvm-firewall list` table.
import t from 'tap'
import { firewallEntries } from '../dom0-tools/firewall/entries.js'
import { formatQdbRule, qdbEntries } from '../dom0-tools/rule/format-qdb.js'
import { formatRawRule } from '../dom0-tools/rule/format-raw.js'
import { layoutTable } from '../common/table.js'
import { formatRuleTable } from '../dom0-tools/rule/format-table.js'
import type { EpochSeconds, Rule } from '../common/rule/model.js'
import { parseApiRule } from '../dom0-tools/rule/parse.js'

const now = 1_700_000_000 as EpochSeconds
const rule = (line: string): Rule => parseApiRule(line, { now })

t.test('formatRawRule: Qubes order, dst4/dst6/dsthost, dstports L-H, comment last', async (t) => {
  const cases: [input: string, want: string][] = [
    ['action=accept', 'action=accept'],
    ['action=accept comment=Allow LAN', 'action=accept comment=Allow LAN'],
    [
      'dstports=443 proto=tcp dsthost=10.0.0.0/8 action=accept comment=Allow LAN',
      'action=accept proto=tcp dst4=10.0.0.0/8 dstports=443-443 comment=Allow LAN',
    ],
    ['action=drop proto=udp dsthost=2001:db8::/32 dstports=1200-1400', 'action=drop proto=udp dst6=2001:db8::/32 dstports=1200-1400'],
    ['action=accept proto=tcp dsthost=qubes-os.org dstports=443-443', 'action=accept proto=tcp dsthost=qubes-os.org dstports=443-443'],
    ['icmptype=8 proto=icmp action=drop dsthost=192.168.1.1', 'action=drop proto=icmp dst4=192.168.1.1/32 icmptype=8'],
    ['specialtarget=dns proto=udp action=accept dstports=53', 'action=accept proto=udp dstports=53-53 specialtarget=dns'],
    ['expire=1700003600 action=accept comment=one hour', 'action=accept expire=1700003600 comment=one hour'],
  ]
  t.plan(cases.length)
  for (const [input, want] of cases) t.equal(formatRawRule(rule(input)), want, input)
})

t.test('formatQdbRule: what the agent reads, without the comment', async (t) => {
  const cases: [input: string, want: string][] = [
    ['action=accept comment=Allow all', 'action=accept'],
    [
      'action=accept proto=tcp dsthost=10.0.0.0/8 dstports=443 comment=Allow LAN',
      'action=accept proto=tcp dst4=10.0.0.0/8 dstports=443-443',
    ],
    ['action=accept proto=icmp dsthost=2001:db8::1 icmptype=128', 'action=accept proto=icmp dst6=2001:db8::1/128 icmptype=128'],
    ['action=accept specialtarget=dns', 'action=accept specialtarget=dns'],
    ['action=accept dsthost=qubes-os.org expire=1700003600 comment=tmp', 'action=accept dsthost=qubes-os.org expire=1700003600'],
  ]
  t.plan(cases.length)
  for (const [input, want] of cases) t.equal(formatQdbRule(rule(input)), want, input)
})

// numbered by place in the full list: gaps for the other family's rules and for expired ones
const mixed = [
  'action=accept proto=tcp dsthost=10.0.0.0/8 dstports=22 comment=ssh at work',
  'action=accept proto=tcp dsthost=2001:db8::/32 dstports=443',
  'action=accept proto=tcp dsthost=qubes-os.org dstports=443',
  'action=accept dsthost=192.0.2.10 expire=1699999999',
  'action=accept dsthost=192.0.2.11 expire=1700000000',
  'action=accept dsthost=192.0.2.12 expire=1700000001',
  'action=accept specialtarget=dns',
  'action=drop proto=icmp icmptype=8',
  'action=drop dsthost=fd00::/8',
  'action=drop',
].map(rule)

t.test('qdbEntries numbers rules by their place in the list', async (t) => {
  t.same(qdbEntries(mixed, 4, now), {
    policy: 'drop',
    '0000': 'action=accept proto=tcp dst4=10.0.0.0/8 dstports=22-22',
    '0002': 'action=accept proto=tcp dsthost=qubes-os.org dstports=443-443',
    '0005': 'action=accept dst4=192.0.2.12/32 expire=1700000001',
    '0006': 'action=accept specialtarget=dns',
    '0007': 'action=drop proto=icmp icmptype=8',
    '0009': 'action=drop',
  })
  t.same(qdbEntries(mixed, 6, now), {
    policy: 'drop',
    '0001': 'action=accept proto=tcp dst6=2001:db8::/32 dstports=443-443',
    '0002': 'action=accept proto=tcp dsthost=qubes-os.org dstports=443-443',
    '0006': 'action=accept specialtarget=dns',
    '0007': 'action=drop proto=icmp icmptype=8',
    '0008': 'action=drop dst6=fd00::/8',
    '0009': 'action=drop',
  })
  t.same(qdbEntries([], 4, now), { policy: 'drop' }, 'no rules: policy only')
  t.same(Object.keys(qdbEntries(Array.from({ length: 12 }, () => rule('action=accept')), 4, now)).slice(-2), ['0010', '0011'])
})

t.test('firewallEntries: both families of a VM with ip and ip6', async (t) => {
  const rules = ['action=accept dsthost=10.0.0.0/8', 'action=accept dsthost=fd00::/8', 'action=drop'].map(rule)
  t.same(firewallEntries({ ip: '10.137.0.5', ip6: 'fd09:24ef:4179::a89:5' }, rules, now), {
    '/qubes-firewall/10.137.0.5': '',
    '/qubes-firewall/10.137.0.5/policy': 'drop',
    '/qubes-firewall/10.137.0.5/0000': 'action=accept dst4=10.0.0.0/8',
    '/qubes-firewall/10.137.0.5/0002': 'action=drop',
    '/qubes-firewall/fd09:24ef:4179::a89:5': '',
    '/qubes-firewall/fd09:24ef:4179::a89:5/policy': 'drop',
    '/qubes-firewall/fd09:24ef:4179::a89:5/0001': 'action=accept dst6=fd00::/8',
    '/qubes-firewall/fd09:24ef:4179::a89:5/0002': 'action=drop',
  })
  t.same(firewallEntries({ ip: '10.137.0.5' }, rules, now), {
    '/qubes-firewall/10.137.0.5': '',
    '/qubes-firewall/10.137.0.5/policy': 'drop',
    '/qubes-firewall/10.137.0.5/0000': 'action=accept dst4=10.0.0.0/8',
    '/qubes-firewall/10.137.0.5/0002': 'action=drop',
  }, 'no ip6: IPv4 only')
  t.same(firewallEntries({ ip6: 'fd09:24ef:4179::a89:5' }, [rule('action=accept')], now), {
    '/qubes-firewall/fd09:24ef:4179::a89:5': '',
    '/qubes-firewall/fd09:24ef:4179::a89:5/policy': 'drop',
    '/qubes-firewall/fd09:24ef:4179::a89:5/0000': 'action=accept',
  }, 'no ip: IPv6 only')
  t.same(firewallEntries({}, rules, now), {}, 'no address: nothing')
})

t.test('formatRuleTable: Qubes qvm-firewall list, byte for byte', async (t) => {
  // qubesadmin/tests/tools/qvm_firewall.py test_000_list, without column's trailing blanks
  const qubes = ['action=accept proto=tcp dsthost=qubes-os.org dstports=443-443', 'action=drop proto=icmp icmptype=8', 'action=accept specialtarget=dns comment=Allow DNS']
  t.equal(
    formatRuleTable(qubes.map(rule), now),
    'NO  ACTION  HOST          PROTOCOL  PORT(S)  SPECIAL TARGET  ICMP TYPE  EXPIRE  COMMENT\n' +
      '0   accept  qubes-os.org  tcp       443      -               -          -       -\n' +
      '1   drop    -             icmp      -        -               8          -       -\n' +
      '2   accept  -             -         -        dns             -          -       Allow DNS\n',
  )

  const more = [
    'action=accept proto=udp dsthost=10.0.0.0/8 dstports=1200-1400 expire=1700003600 comment=LAN for an hour',
    'action=accept dsthost=2001:db8::1 expire=1699999995',
    'action=accept expire=1700000000',
    'action=drop',
  ]
  t.equal(
    formatRuleTable(more.map(rule), now),
    'NO  ACTION  HOST             PROTOCOL  PORT(S)    SPECIAL TARGET  ICMP TYPE  EXPIRE  COMMENT\n' +
      '0   accept  10.0.0.0/8       udp       1200-1400  -               -          +3600s  LAN for an hour\n' +
      '1   accept  2001:db8::1/128  -         -          -               -          -5s     -\n' +
      '2   accept  -                -         -          -               -          +0s     -\n' +
      '3   drop    -                -         -          -               -          -       -\n',
    'ranges, addresses, expiry relative to now',
  )

  t.equal(
    formatRuleTable([], now),
    'NO  ACTION  HOST  PROTOCOL  PORT(S)  SPECIAL TARGET  ICMP TYPE  EXPIRE  COMMENT\n',
    'no rules: the header alone',
  )
})

t.test('layoutTable pads every column but the last', async (t) => {
  t.equal(layoutTable([['a', 'bb', 'c'], ['ddd', 'e', 'ffff']]), 'a    bb  c\nddd  e   ffff\n')
  t.equal(layoutTable([]), '')
})
