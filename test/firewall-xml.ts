// firewall.xml as Qubes keeps it: version 2 read and written byte for byte as Qubes' lxml lays
// it out, version 1 (Qubes < 4.0) converted as qubes/firewall.py's load_v1 does.
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { StoreError } from '../common/errors.js'
import { formatRawRule } from '../dom0-tools/rule/format-raw.js'
import type { EpochSeconds } from '../common/rule/model.js'
import { parseApiRule } from '../dom0-tools/rule/parse.js'
import { DEFAULT_RULES, parseFirewallXml, serialiseFirewallXml } from '../dom0-tools/store/firewall-xml.js'
import { exactly } from './helpers/exactly.js'

const now = 1_700_000_000 as EpochSeconds
const fixture = (name: string): string => fileURLToPath(new URL(`fixtures/firewall-xml/${name}`, import.meta.url))
const load = (name: string, at = now): string[] => {
  const file = fixture(name)
  return parseFirewallXml(file, readFileSync(file, 'utf8'), at).map(formatRawRule)
}

t.test('version 2: Qubes file read', async (t) => {
  t.same(load('v2-qubes.xml'), [
    'action=accept proto=tcp dsthost=qubes-os.org dstports=443-443',
    'action=accept proto=udp dst4=10.0.0.0/8 dstports=1200-1400 expire=1700003600 comment=Allow LAN',
    'action=drop proto=icmp icmptype=8',
    'action=accept specialtarget=dns',
    'action=drop',
  ])
  t.same(load('v2-empty.xml'), [], 'an empty <rules/> is no rules (everything dropped), as in Qubes')
})

t.test('version 2: written back byte for byte', async (t) => {
  const file = fixture('v2-qubes.xml')
  const text = readFileSync(file, 'utf8')
  t.equal(serialiseFirewallXml(parseFirewallXml(file, text, now), now), text)
})

t.test('version 2: serialised as Qubes lays it out', async (t) => {
  const rules = [
    'action=accept proto=tcp dst6=2001:db8::/32 dstports=22 comment=ssh: admin [v6]',
    'action=accept dsthost=192.168.1.1',
    'action=drop proto=icmp icmptype=0',
  ].map((line) => parseApiRule(line, { now }))
  t.equal(
    serialiseFirewallXml(rules, now),
    `<?xml version='1.0' encoding='UTF-8'?>
<firewall version="2">
  <rules>
    <rule>
      <properties>
        <property name="action">accept</property>
        <property name="dsthost">2001:db8::/32</property>
        <property name="proto">tcp</property>
        <property name="dstports">22</property>
        <property name="comment">ssh: admin [v6]</property>
      </properties>
    </rule>
    <rule>
      <properties>
        <property name="action">accept</property>
        <property name="dsthost">192.168.1.1/32</property>
      </properties>
    </rule>
    <rule>
      <properties>
        <property name="action">drop</property>
        <property name="proto">icmp</property>
        <property name="icmptype">0</property>
      </properties>
    </rule>
  </rules>
</firewall>
`,
  )
  const again = parseFirewallXml('mem.xml', serialiseFirewallXml(rules, now), now)
  t.same(again.map(formatRawRule), rules.map(formatRawRule), 'and read back to the same rules')
  t.same(
    parseFirewallXml('default.xml', serialiseFirewallXml(DEFAULT_RULES, now), now).map(formatRawRule),
    ['action=accept'],
    'the default rule round-trips',
  )
})

t.test('expired rules are dropped on serialise, as Qubes save() does', async (t) => {
  const file = fixture('v2-qubes.xml')
  const rules = parseFirewallXml(file, readFileSync(file, 'utf8'), now)
  const later = 1_700_003_600 as EpochSeconds
  const written = serialiseFirewallXml(rules, later)
  t.notMatch(written, /Allow LAN|1700003600/)
  t.same(parseFirewallXml('later.xml', written, later).map(formatRawRule), [
    'action=accept proto=tcp dsthost=qubes-os.org dstports=443-443',
    'action=drop proto=icmp icmptype=8',
    'action=accept specialtarget=dns',
    'action=drop',
  ])
  t.match(serialiseFirewallXml(rules, (later - 1) as EpochSeconds), /<property name="expire">1700003600<\/property>/, 'kept one second before')
  t.equal(
    serialiseFirewallXml(rules.slice(1, 2), later),
    `<?xml version='1.0' encoding='UTF-8'?>\n<firewall version="2">\n  <rules>\n  </rules>\n</firewall>\n`,
    'only an expired rule: no rules left',
  )
})

t.test("version 1: converted as Qubes' load_v1", async (t) => {
  // qubes/tests/firewall.py test_001_load_v1
  t.same(load('v1-deny.xml'), [
    'action=accept specialtarget=dns',
    'action=accept proto=icmp',
    'action=accept proto=tcp dst4=192.168.0.0/24 dstports=443-443',
    'action=accept proto=tcp dsthost=qubes-os.org dstports=443-443',
  ])
  // policy allow: each rule drops, dns/icmp default to the policy, a final accept-all
  t.same(load('v1-allow.xml'), [
    'action=drop specialtarget=dns',
    'action=accept proto=icmp',
    'action=drop proto=tcp dst4=10.0.0.0/8 dstports=8000-8080',
    'action=drop dst4=192.168.1.1/32',
    'action=drop proto=udp dst4=192.168.2.0/24 dstports=53-53',
    'action=drop proto=icmp dst4=192.168.3.3/32',
    'action=drop proto=tcp dstports=25-25 expire=1700003600',
    'action=accept',
  ])
  t.same(load('v1-allow.xml', 1_700_003_600 as EpochSeconds).length, 7, 'an expired v1 rule is not read, as Qubes\' API drops it')
})

t.test('version 1 written back is version 2', async (t) => {
  const file = fixture('v1-deny.xml')
  const written = serialiseFirewallXml(parseFirewallXml(file, readFileSync(file, 'utf8'), now), now)
  t.match(written, /^<\?xml version='1\.0' encoding='UTF-8'\?>\n<firewall version="2">\n/)
  t.same(parseFirewallXml('v2.xml', written, now).map(formatRawRule), load('v1-deny.xml'))
})

t.test('a bad file is a StoreError naming the file', async (t) => {
  const cases: [name: string, want: string | RegExp][] = [
    ['bad-not-well-formed.xml', /^not well-formed XML \(line \d+: .+\)$/],
    ['bad-version.xml', 'unsupported firewall.xml version: 3'],
    ['bad-rule.xml', "rule 1: dstports valid only for 'tcp' and 'udp' protocols"],
    ['bad-property.xml', "rule 0: unknown rule option 'port'"],
    ['bad-v1-policy.xml', "version 1 policy must be allow or deny, not ''"],
    ['bad-v1-netmask.xml', "rule 1: invalid dsthost '192.168.1.0' (netmask must be 0-32)"],
  ]
  t.plan(cases.length)
  for (const [name, want] of cases) {
    t.test(name, async (t) => {
      const file = fixture(name)
      const err = t.throws(() => parseFirewallXml(file, readFileSync(file, 'utf8'), now), StoreError)
      if (!(err instanceof StoreError)) return
      t.equal(err.file, file)
      t.ok(err.message.startsWith(`${file}: `), 'the message starts with the file')
      const rest = err.message.slice(file.length + 2)
      if (typeof want === 'string') t.equal(rest, want)
      else t.match(rest, want)
    })
  }
})

t.test('bad content given inline', async (t) => {
  const v2 = (properties: string) =>
    `<firewall version="2"><rules><rule><properties>${properties}</properties></rule></rules></firewall>`
  const cases: [text: string, want: string][] = [
    ['', 'f.xml: not well-formed XML (line 1: Start tag expected.)'],
    ['<?xml version="1.0"?>', 'f.xml: not well-formed XML (line 1: Start tag expected.)'],
    [v2('<property>accept</property>'), "f.xml: rule 0: unknown rule option ''"],
    [v2('<property name="action"></property>'), "f.xml: rule 0: empty value for 'action'"],
    [v2('<property name="action">accept</property><property name="action">drop</property>'), "f.xml: rule 0: option 'action' given twice"],
    [v2('<property name="action">accept</property><property name="dst4">1.2.3.4</property><property name="dsthost">a.b</property>'), "f.xml: rule 0: option 'dsthost' given twice"],
    [v2('<property name="action">accept</property><property name="comment">a &amp; b</property>'), "f.xml: rule 0: invalid character '&' in comment"],
    [v2('<property name="action">accept</property><property name="expire">+100</property>'), "f.xml: rule 0: invalid expire '+100' (expected seconds since 1970)"],
    [v2('<property name="action">accept</property><property name="dsthost">1.2.3</property>'), "f.xml: rule 0: invalid dsthost '1.2.3' (IPv4 must be a dotted quad)"],
    [v2('<property name="dsthost">1.2.3.4</property>'), 'f.xml: rule 0: missing action= (accept or drop)'],
    ['<QubesFirewallRules policy="deny"><rule address="1.2.3.4" netmask="abc"/></QubesFirewallRules>', "f.xml: rule 0: invalid netmask 'abc'"],
    ['<QubesFirewallRules policy="deny"><rule address="1.2.3.4" proto="any" port="80"/></QubesFirewallRules>', "f.xml: rule 0: dstports valid only for 'tcp' and 'udp' protocols"],
    ['<QubesFirewallRules policy="maybe"/>', "f.xml: version 1 policy must be allow or deny, not 'maybe'"],
    // entities: XML's own only
    [v2('<property name="action">&nbsp;accept</property>'), "f.xml: undefined entity '&nbsp;'"],
    [`<!DOCTYPE firewall [<!ENTITY a "accept">]>${v2('<property name="action">&a;</property>')}`, "f.xml: a DTD's entity declarations are not read (Qubes' files have none)"],
    [v2('<property name="action">accept</property><property name="comment">&#x1b;[2J</property>'), "f.xml: character reference '&#x1b;' is not an XML character"],
    [v2('<property name="action">accept</property><property name="comment">caf&#233;</property>'), 'f.xml: rule 0: invalid character U+00E9 in comment'],
  ]
  t.plan(cases.length)
  for (const [text, want] of cases) {
    t.throws(() => parseFirewallXml('f.xml', text, now), { name: 'StoreError', file: 'f.xml', message: exactly(want) }, text || '(empty)')
  }
})

t.test('a lone rule and a lone property are still a list', async (t) => {
  t.same(
    parseFirewallXml(
      'f.xml',
      '<firewall version="2"><rules><rule><properties><property name="action">drop</property></properties></rule></rules></firewall>',
      now,
    ).map(formatRawRule),
    ['action=drop'],
  )
  t.same(
    parseFirewallXml('f.xml', '<firewall version="2"><rules><rule><properties><property name="dstports">0443</property><property name="proto">tcp</property><property name="action">accept</property></properties></rule></rules></firewall>', now).map(formatRawRule),
    ['action=accept proto=tcp dstports=443-443'],
    'values stay strings: 0443 is port 443, not an XML number',
  )
})

t.test("XML's character references are read, as lxml reads them", async (t) => {
  const rule = '<property name="action">&#97;ccept</property><property name="dsthost">qubes&#x2D;os.org</property><property name="comment">a&#32;b</property>'
  const text = `<firewall version="2"><rules><rule><properties>${rule}</properties></rule></rules></firewall>`
  t.same(parseFirewallXml('f.xml', text, now).map(formatRawRule), ['action=accept dsthost=qubes-os.org comment=a b'])
})
