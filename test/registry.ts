// The dom0 registry (qubes.xml): reading a real Qubes file, Qubes' defaults and validation, writing
// back what we do not model, and read-modify-write under the lock.
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { validateName } from '../common/qube-name.js'
import t, { type Test } from 'tap'
import { StoreError, UsageError } from '../common/errors.js'
import { type Domain, type Registry } from '../dom0-tools/registry/registry.js'
import { loadRegistry, modifyRegistry, parseRegistry } from '../dom0-tools/registry/store.js'

const FIXTURE = readFileSync(new URL('./fixtures/qubes.xml', import.meta.url), 'utf8')
const fixture = (): Registry => parseRegistry('qubes.xml', FIXTURE)

/** A fresh --qubes-dir (optionally with a qubes.xml), removed after the test; unique even when suites run at once. */
function tempQubesDir(t: Test, qubesXml?: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'qubes-registry-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  if (qubesXml !== undefined) writeFileSync(join(dir, 'qubes.xml'), qubesXml)
  return dir
}

type DomainView = Partial<Omit<Domain, 'props' | 'features'>> & { props?: Record<string, string | undefined>; features?: Record<string, string> }

/** `want` a string: the call must throw exactly that message; else the result must match. */
function checkCase<T>(t: Test, call: () => T, want: string | object, view: (result: T) => unknown = (r) => r): void {
  if (typeof want === 'string') {
    t.throws(call, { message: want })
  } else {
    t.match(view(call()), want)
  }
}

t.test('a real Qubes qubes.xml is read with Qubes defaults', async (t) => {
  const cases: [name: string, want: DomainView][] = [
    ['dom0', { qid: 0, klass: 'AdminVM', netvm: undefined, providesNetwork: false, ip: undefined, ip6: undefined, props: { label: 'label-8' } }],
    ['fedora-40-xfce', { qid: 1, klass: 'TemplateVM', netvm: undefined, ip: undefined, props: { netvm: '', memory: '400' } }],
    ['sys-net', { qid: 2, netvm: undefined, providesNetwork: true, ip: '10.137.0.2', ip6: 'fd09:24ef:4179::a89:2' }],
    // ipv6 comes from the netvm when the domain has no such feature (check_with_netvm)
    ['sys-firewall', { qid: 3, netvm: 'sys-net', providesNetwork: true, ip: '10.137.0.3', ip6: 'fd09:24ef:4179::a89:3' }],
    // no netvm property: default_netvm
    ['work', { qid: 4, klass: 'AppVM', netvm: 'sys-firewall', providesNetwork: false, ip: '10.137.0.4', ip6: 'fd09:24ef:4179::a89:4' }],
    ['personal', { qid: 5, netvm: 'sys-firewall', ip: '10.137.0.5', ip6: 'fd09:24ef:4179::a89:5' }],
    ['vault', { qid: 6, netvm: undefined, ip: undefined, ip6: undefined }],
    // an empty feature is off; an explicit ip wins
    ['untrusted', { qid: 7, netvm: 'sys-firewall', ip: '10.137.0.77', ip6: undefined }],
    ['disp1234', { qid: 9, klass: 'DispVM', netvm: 'sys-firewall', ip: '10.138.4.210', ip6: 'fd09:24ef:4179::a8a:4d2' }],
  ]
  t.plan(cases.length + 3)
  const registry = fixture()
  for (const [name, want] of cases) t.test(name, async (t) => t.match(registry.require(name), want))
  t.same(
    registry.domains().map((d) => d.name),
    ['default-dvm', 'disp1234', 'dom0', 'fedora-40-xfce', 'personal', 'sys-firewall', 'sys-net', 'untrusted', 'vault', 'work'],
  )
  t.same(registry.connectedTo('sys-firewall').map((d) => d.name), ['default-dvm', 'disp1234', 'personal', 'untrusted', 'work'])
  t.equal(registry.globalProperty('default_netvm'), 'sys-firewall')
})

t.test('domain names follow Qubes rules', async (t) => {
  const cases: [name: string, want: string | object][] = [
    ['work', {}],
    ['sys-firewall', {}],
    ['my.vm_2', {}],
    ['a'.repeat(31), {}],
    ['a'.repeat(32), `VM name must be shorter than 32 characters: '${'a'.repeat(32)}'`],
    ['', "VM name contains illegal characters: ''"],
    ['2work', "VM name contains illegal characters: '2work'"],
    ['wo rk', "VM name contains illegal characters: 'wo rk'"],
    ['lost+found', "VM name contains illegal characters: 'lost+found'"],
    ['../etc', "VM name contains illegal characters: '../etc'"],
    ['none', "VM name cannot be 'none' nor 'default': 'none'"],
    ['default', "VM name cannot be 'none' nor 'default': 'default'"],
    ['Domain-0', "VM name cannot be 'Domain-0': 'Domain-0'"],
    ['work-dm', "VM name cannot end with -dm: 'work-dm'"],
  ]
  t.plan(cases.length)
  for (const [name, want] of cases) t.test(name || '(empty)', async (t) => checkCase(t, () => ({ name: validateName(name) }), want))
})

t.test('qvm-prefs VM PROP VALUE validates as Qubes', async (t) => {
  const cases: [input: [vm: string, prop: string, value: string], want: DomainView | string][] = [
    [['work', 'netvm', 'sys-net'], { netvm: 'sys-net', props: { netvm: 'sys-net' } }],
    [['work', 'netvm', 'none'], { netvm: undefined, ip: undefined, ip6: undefined, props: { netvm: '' } }],
    [['work', 'netvm', ''], { netvm: undefined, props: { netvm: '' } }],
    [['work', 'netvm', 'vault'], 'The vault qube does not provide network'],
    [['work', 'netvm', 'nosuch'], "no such domain: 'nosuch'"],
    [['sys-net', 'netvm', 'sys-firewall'], 'Loops in network are unsupported'],
    [['sys-firewall', 'netvm', 'sys-firewall'], 'Loops in network are unsupported'],
    [['vault', 'provides_network', 'yes'], { providesNetwork: true, ip: '10.137.0.6', props: { provides_network: 'True' } }],
    [['vault', 'provides-network', 'OFF'], { providesNetwork: false, props: { provides_network: 'False' } }],
    [['vault', 'provides_network', 'maybe'], "Invalid literal for boolean property: 'maybe'"],
    [['sys-firewall', 'provides_network', 'False'], "The qube is still used by other qubes, change theirs 'netvm' first"],
    [['work', 'ip', '10.137.0.50'], { ip: '10.137.0.50', props: { ip: '10.137.0.50' } }],
    [['work', 'ip', '10.137.0'], "Invalid IP address value: '10.137.0'"],
    [['work', 'ip', '010.137.0.5'], "Invalid IP address value: '010.137.0.5'"],
    [['work', 'ip', 'fd00::1'], "Invalid IP address value: 'fd00::1'"],
    [['work', 'ip6', 'FD00:0:0::1'], { ip6: 'fd00::1', props: { ip6: 'fd00::1' } }],
    [['work', 'ip6', 'fe80::1%eth0'], "Invalid IPv6 address value: 'fe80::1%eth0'"],
    [['work', 'ip6', '10.0.0.1'], "Invalid IPv6 address value: '10.0.0.1'"],
    [['work', 'memory', '800'], { props: { memory: '800' } }],
    [['work', 'memory', ' 800'], "invalid value for property 'memory': leading or trailing whitespace is not allowed"],
    [['work', 'memory', '8\n00'], "invalid value for property 'memory': control characters are not allowed"],
    [['work', 'Bad.Prop', 'x'], "no such property: 'Bad.Prop'"],
    [['work', 'name', 'job'], "property 'name' is write-once and already set"],
    [['work', 'qid', '42'], "property 'qid' is write-once and already set"],
    [['work', 'klass', 'TemplateVM'], "property 'klass' is write-once and already set"],
    [['dom0', 'netvm', 'sys-net'], "no such property: 'netvm'"],
    [['nosuch', 'netvm', ''], "no such domain: 'nosuch'"],
  ]
  t.plan(cases.length)
  for (const [[vm, prop, value], want] of cases) {
    t.test(`${vm} ${prop} ${JSON.stringify(value)}`, async (t) => {
      const registry = fixture()
      checkCase(t, () => registry.setProperty(vm, prop, value), want, () => registry.require(vm))
    })
  }
})

t.test('qvm-prefs VM --default PROP restores Qubes defaults', async (t) => {
  const cases: [input: [vm: string, prop: string], want: DomainView | string][] = [
    [['untrusted', 'ip'], { ip: '10.137.0.7' }],
    [['personal', 'netvm'], { netvm: 'sys-firewall' }],
    // default_netvm is sys-firewall itself: none
    [['sys-firewall', 'netvm'], { netvm: undefined, ip: '10.137.0.3' }],
    [['vault', 'netvm'], { netvm: 'sys-firewall', ip: '10.137.0.6' }],
    [['sys-net', 'netvm'], 'Loops in network are unsupported'],
    [['sys-net', 'provides_network'], "The qube is still used by other qubes, change theirs 'netvm' first"],
    [['fedora-40-xfce', 'memory'], { props: { memory: undefined } }],
    [['work', 'memory'], "no such property: 'memory'"],
    [['work', 'name'], "property 'name' is write-once and already set"],
  ]
  t.plan(cases.length)
  for (const [[vm, prop], want] of cases) {
    t.test(`${vm} ${prop}`, async (t) => {
      const registry = fixture()
      checkCase(t, () => registry.resetProperty(vm, prop), want, () => registry.require(vm))
    })
  }
})

t.test('qvm-prefs VM lists properties with D for defaults', async (t) => {
  const cases: [vm: string, want: [name: string, isDefault: boolean, value: string][]][] = [
    [
      'work',
      [
        ['ip', true, '10.137.0.4'],
        ['ip6', true, 'fd09:24ef:4179::a89:4'],
        ['klass', false, 'AppVM'],
        ['label', false, 'label-6'],
        ['name', false, 'work'],
        ['netvm', true, 'sys-firewall'],
        ['provides_network', true, 'False'],
        ['qid', false, '4'],
        ['template', false, 'fedora-40-xfce'],
      ],
    ],
    [
      'dom0',
      [
        ['klass', false, 'AdminVM'],
        ['label', false, 'label-8'],
        ['name', false, 'dom0'],
        ['qid', false, '0'],
      ],
    ],
  ]
  t.plan(cases.length)
  const registry = fixture()
  for (const [vm, want] of cases) {
    t.test(vm, async (t) => t.same(registry.properties(vm).map((p) => [p.name, p.isDefault, p.value]), want))
  }
})

t.test('qvm-create takes the lowest free qid and validates', async (t) => {
  const cases: [input: [name: string, klass?: string, props?: [string, string][]], want: DomainView | string][] = [
    [['new'], { qid: 10, klass: 'AppVM', netvm: 'sys-firewall', ip: '10.137.0.10', props: { qid: '10', name: 'new' } }],
    [['tmpl', 'TemplateVM', [['netvm', '']]], { qid: 10, klass: 'TemplateVM', netvm: undefined, ip: undefined }],
    [['disp', 'DispVM', [['netvm', 'sys-net']]], { qid: 10, netvm: 'sys-net', ip: '10.138.0.10', ip6: 'fd09:24ef:4179::a8a:a' }],
    [['fw2', 'AppVM', [['provides_network', 'True'], ['netvm', 'sys-net']]], { providesNetwork: true, netvm: 'sys-net' }],
    [['work'], 'VM work already exists'],
    [['dom0'], 'VM dom0 already exists'],
    [['9lives'], "VM name contains illegal characters: '9lives'"],
    [['x', 'HVM'], "no such domain class: 'HVM'"],
    [['x', 'AdminVM'], "no such domain class: 'AdminVM'"],
    [['x', 'AppVM', [['netvm', 'vault']]], 'The vault qube does not provide network'],
    [['x', 'AppVM', [['qid', '3']]], "property 'qid' is write-once and already set"],
  ]
  t.plan(cases.length + 1)
  for (const [[name, klass, props], want] of cases) {
    t.test(`${name} ${klass ?? ''} ${JSON.stringify(props ?? [])}`, async (t) => {
      const registry = fixture()
      const before = registry.serialise()
      checkCase(t, () => registry.create(name, klass, props), want)
      if (typeof want === 'string') t.equal(registry.serialise(), before, 'a refused create changes nothing')
    })
  }
  t.test('a freed qid is reused', async (t) => {
    const registry = parseRegistry('qubes.xml', undefined)
    for (const name of ['a', 'b', 'c']) registry.create(name)
    registry.remove(['b'])
    t.equal(registry.create('d').qid, 2)
    t.equal(registry.create('e').qid, 4)
  })
})

t.test('qvm-remove refuses dom0 and domains in use', async (t) => {
  // want: the error message, or null when every named domain goes
  const cases: [names: string[], want: string | null][] = [
    [['vault'], null],
    [['disp1234'], null],
    [['disp1234', 'default-dvm'], "Domain is in use: 'default-dvm'; details: global property default_dispvm is set to it"],
    [['personal', 'work', 'untrusted'], null],
    [['dom0'], "Domain 'dom0' cannot be removed"],
    [['nosuch'], "no such domain: 'nosuch'"],
    [['default-dvm'], "Domain is in use: 'default-dvm'; details: 'disp1234' uses it as template, global property default_dispvm is set to it"],
    [
      ['sys-firewall'],
      "Domain is in use: 'sys-firewall'; details: 'default-dvm' uses it as netvm, 'disp1234' uses it as netvm, " +
        "'personal' uses it as netvm, 'untrusted' uses it as netvm, 'work' uses it as netvm, " +
        'global property default_netvm is set to it, global property updatevm is set to it',
    ],
  ]
  t.plan(cases.length)
  for (const [names, want] of cases) {
    t.test(names.join(' '), async (t) => {
      const registry = fixture()
      if (want !== null) {
        t.throws(() => registry.remove(names), { message: want })
        t.equal(registry.serialise(), fixture().serialise(), 'a refused remove changes nothing')
      } else {
        registry.remove(names)
        t.same(names.filter((name) => registry.get(name) !== undefined), [])
        t.equal(registry.domains().length, fixture().domains().length - names.length)
      }
    })
  }
})

t.test('qubes.xml round trip keeps what we do not model', async (t) => {
  t.plan(4)
  t.test('parse, write, parse: same domains; writing is stable', async (t) => {
    const written = fixture().serialise()
    const again = parseRegistry('qubes.xml', written)
    t.same(again.domains(), fixture().domains())
    t.equal(again.serialise(), written)
  })
  t.test('labels, pools, volumes, devices, tags and ref= properties survive', async (t) => {
    const written = fixture().serialise()
    const kept = [
      '<label color="0xcc0000" id="label-1">red</label>',
      '<pool driver="lvm_thin" name="vm-pool" revisions_to_keep="2" thin_pool="vm-pool" volume_group="qubes_dom0"/>',
      '<volume name="kernel" pool="linux-kernel" revisions_to_keep="0" rw="False" snap_on_start="False" source="" vid="6.6.48-1.fc37"/>',
      '<device backend-domain="dom0" id="00_14.3" mode="required">',
      '<option name="no-strict-reset">True</option>',
      '<tag name="created-by-dom0"/>',
      '<property name="label" ref="label-8"/>',
      '<property name="default_kernel">6.6.48-1.fc37</property>',
      '<feature name="gui-default-secure-copy-sequence">Ctrl-Shift-c</feature>',
    ]
    t.plan(kept.length)
    for (const text of kept) t.ok(written.includes(text), text)
  })
  t.test('changes are written in Qubes layout', async (t) => {
    const registry = fixture()
    registry.setProperty('work', 'label', 'label-2')
    registry.setProperty('work', 'netvm', 'sys-net')
    registry.setProperty('work', 'comment', `a & b <c> "d" 'e'`)
    registry.setFeature('work', 'ipv6', '1')
    registry.create('new', 'AppVM', [['netvm', '']])
    const written = registry.serialise()
    t.ok(written.includes('<property name="label" ref="label-2"/>'))
    t.ok(written.includes('<property name="netvm">sys-net</property>'))
    t.ok(
      written.includes(
        [
          '    <domain class="AppVM" id="domain-10">',
          '      <properties>',
          '        <property name="qid">10</property>',
          '        <property name="name">new</property>',
          '        <property name="netvm"/>',
          '      </properties>',
          '      <features/>',
          '    </domain>',
        ].join('\n'),
      ),
    )
    const again = parseRegistry('qubes.xml', written)
    t.match(again.require('work'), { netvm: 'sys-net', props: { comment: `a & b <c> "d" 'e'`, label: 'label-2' }, features: { ipv6: '1' } })
    t.same(again.require('new').netvm, undefined)
  })
  t.test('a registry without qubes.xml holds only dom0, written as Qubes does', async (t) => {
    const registry = parseRegistry('qubes.xml', undefined)
    t.same(registry.domains().map((d) => [d.name, d.qid, d.klass]), [['dom0', 0, 'AdminVM']])
    t.equal(
      registry.serialise(),
      [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<qubes>',
        '  <properties/>',
        '  <domains>',
        '    <domain class="AdminVM" id="domain-0">',
        '      <properties/>',
        '      <features/>',
        '    </domain>',
        '  </domains>',
        '</qubes>',
        '',
      ].join('\n'),
    )
  })
})

t.test("qubes.xml's character references are read, as lxml reads them", async (t) => {
  const props = '<property name="qid">1</property><property name="name">a</property><property name="comment">caf&#233; &#x26; co</property>'
  const registry = parseRegistry('qubes.xml', `<qubes><domains><domain class="AppVM"><properties>${props}</properties></domain></domains></qubes>`)
  t.equal(registry.require('a').props['comment'], 'café & co')
})

t.test('a qubes.xml that cannot be read is refused with the reason', async (t) => {
  const domain = (klass: string, props: string): string =>
    `<domain class="${klass}"><properties>${props}</properties></domain>`
  const doc = (...domains: string[]): string => `<qubes><domains>${domains.join('')}</domains></qubes>`
  const cases: [text: string, want: string][] = [
    ['<qubes><domains></qubes>', "qubes.xml: not well-formed XML (line 1: Expected closing tag 'domains' (opened in line 1, col 8) instead of closing tag 'qubes'.)"],
    ['<firewall version="2"/>', 'qubes.xml: root element must be <qubes>, not <firewall>'],
    ['<qubes><domains><domain><properties/></domain></domains></qubes>', 'qubes.xml: domain #1: no class attribute'],
    [doc(domain('AppVM', '<property>x</property>')), 'qubes.xml: domain #1: <property> without a name'],
    [doc(domain('AppVM', '<property name="qid">x</property><property name="name">a</property>')), "qubes.xml: domain 'a': invalid qid 'x'"],
    [doc(domain('AppVM', '<property name="qid">1</property>')), "qubes.xml: domain '?': VM name contains illegal characters: ''"],
    // entities: XML's own only, no HTML names, no DTD's
    [doc(domain('AppVM', '<property name="qid">1</property><property name="name">a&nbsp;</property>')), "qubes.xml: undefined entity '&nbsp;'"],
    [`<!DOCTYPE qubes [<!ENTITY n "a">]>${doc(domain('AppVM', '<property name="name">&n;</property>'))}`, "qubes.xml: a DTD's entity declarations are not read (Qubes' files have none)"],
    [
      doc(domain('AppVM', '<property name="qid">1</property><property name="name">a</property>'), domain('AppVM', '<property name="qid">1</property><property name="name">b</property>')),
      "qubes.xml: domain 'b': qid 1 is used twice",
    ],
    [
      doc(domain('AppVM', '<property name="qid">1</property><property name="name">a</property>'), domain('AppVM', '<property name="qid">2</property><property name="name">a</property>')),
      "qubes.xml: domain 'a': name is used twice",
    ],
    [
      doc(domain('AppVM', '<property name="qid">1</property><property name="name">a</property><property name="netvm">b</property>')),
      "qubes.xml: domain 'a': netvm 'b': no such domain",
    ],
    [
      doc(domain('AppVM', '<property name="qid">1</property><property name="name">a</property><property name="netvm">dom0</property>')),
      "qubes.xml: domain 'a': netvm 'dom0': The dom0 qube does not provide network",
    ],
    [
      doc(domain('AppVM', '<property name="qid">1</property><property name="name">a</property><property name="ip">10.1</property>')),
      "qubes.xml: domain 'a': Invalid IP address value: '10.1'",
    ],
    [
      doc(domain('AppVM', '<property name="qid">1</property><property name="name">a</property><property name="provides_network">sure</property>')),
      "qubes.xml: domain 'a': Invalid literal for boolean property: 'sure'",
    ],
  ]
  t.plan(cases.length)
  for (const [text, want] of cases) {
    t.test(want, async (t) => t.throws(() => parseRegistry('qubes.xml', text), new StoreError('qubes.xml', want.slice('qubes.xml: '.length))))
  }
})

t.test('a netvm loop in the file is broken as Qubes does on loading', async (t) => {
  const networkVm = (qid: number, name: string, netvm: string): string =>
    `<domain class="AppVM"><properties><property name="qid">${qid}</property><property name="name">${name}</property>` +
    `<property name="provides_network">True</property><property name="netvm">${netvm}</property></properties></domain>`
  const registry = parseRegistry('qubes.xml', `<qubes><domains>${networkVm(1, 'a', 'b')}${networkVm(2, 'b', 'a')}</domains></qubes>`)
  t.equal(registry.require('a').netvm, undefined)
  t.equal(registry.require('b').netvm, 'a')
})

t.test('modifyRegistry: read-modify-write under the lock', async (t) => {
  t.plan(5)
  t.test('no qubes.xml: an error, unless creating (then only dom0), and nothing is written by reading', async (t) => {
    const dir = tempQubesDir(t)
    const file = join(dir, 'qubes.xml')
    t.throws(() => loadRegistry(dir), { name: 'StoreError', message: `${file}: no such file (check --qubes-dir or QUBES_DIR; qvm-create makes the first VM)` })
    await t.rejects(modifyRegistry(dir, (registry) => registry.create('work')), { name: 'StoreError' })
    t.same(loadRegistry(dir, { create: true }).domains().map((d) => d.name), ['dom0'])
    t.notOk(existsSync(file))
    const missing = join(dir, 'typo', 'sub')
    t.throws(() => loadRegistry(missing, { create: true }), { name: 'StoreError', message: `${missing}: no such directory (check --qubes-dir or QUBES_DIR)` })
    await t.rejects(modifyRegistry(missing, (registry) => registry.create('work'), { create: true }), { name: 'StoreError' })
    t.notOk(existsSync(missing), 'the qubes dir is never made')
  })
  t.test('an unreadable qubes.xml is an error naming it, never an empty registry', async (t) => {
    const dir = tempQubesDir(t)
    const file = join(dir, 'qubes.xml')
    mkdirSync(file)
    t.throws(() => loadRegistry(dir, { create: true }), { name: 'StoreError', message: `${file}: cannot read: not a regular file` })
  })
  t.test('a change is saved and its result returned', async (t) => {
    const dir = tempQubesDir(t)
    const qid = await modifyRegistry(dir, (registry) => registry.create('work').qid, { create: true })
    t.equal(qid, 1)
    t.equal(loadRegistry(dir).require('work').ip, undefined)
  })
  t.test('a failed change leaves qubes.xml byte-identical', async (t) => {
    const dir = tempQubesDir(t, FIXTURE)
    await t.rejects(
      modifyRegistry(dir, (registry) => {
        registry.create('fresh')
        registry.setProperty('work', 'netvm', 'vault')
      }),
      new UsageError('The vault qube does not provide network'),
    )
    t.equal(readFileSync(join(dir, 'qubes.xml'), 'utf8'), FIXTURE)
    t.notOk(existsSync(join(dir, '.qubes.xml.lock')), 'the lock is released')
  })
  t.test('concurrent changes all land', async (t) => {
    const dir = tempQubesDir(t)
    const names = Array.from({ length: 10 }, (_, i) => `vm${i}`)
    await Promise.all(names.map((name) => modifyRegistry(dir, (registry) => registry.create(name), { create: true })))
    const registry = loadRegistry(dir)
    t.same(registry.domains().filter((d) => d.name !== 'dom0').map((d) => d.qid).sort((a, b) => a - b), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
  })
})


t.test("qubes.xml's parse is remembered beside it, and only for the very same text", async (t) => {
  const dir = tempQubesDir(t, FIXTURE)
  const cacheFile = join(dir, '.qubes.xml.parsed.json')
  const first = loadRegistry(dir)
  t.ok(existsSync(cacheFile), 'the parse is remembered')
  t.same(loadRegistry(dir).domains(), first.domains(), 'read back from it: the same registry')
  t.equal(loadRegistry(dir).serialise(), first.serialise(), 'and the same qubes.xml written back')

  // someone else edits qubes.xml (Qubes itself, an editor): the text differs, so it is parsed again
  writeFileSync(join(dir, 'qubes.xml'), FIXTURE.replace('<property name="name">work</property>', '<property name="name">job</property>'))
  const edited = loadRegistry(dir)
  t.ok(edited.get('job') !== undefined && edited.get('work') === undefined, 'the edit is read, not the remembered parse')

  // a cache of the same text from elsewhere (another version, a forged document) counts for nothing
  const forged = { format: 'ordered-xml 0, qubes-firewall 0.0.0', text: FIXTURE, document: [{ qubes: [] }] }
  writeFileSync(join(dir, 'qubes.xml'), FIXTURE)
  writeFileSync(cacheFile, JSON.stringify(forged))
  t.same(loadRegistry(dir).domains(), first.domains(), "another version's cache is not used")
  writeFileSync(cacheFile, '{"format": "ordered-xml 1, qubes-fire')
  t.same(loadRegistry(dir).domains(), first.domains(), 'a cache cut short is not used')
  t.not(readFileSync(cacheFile, 'utf8'), '{"format": "ordered-xml 1, qubes-fire', 'and is written afresh')

  // a qubes.xml that cannot be read stays an error, whatever the cache holds
  writeFileSync(join(dir, 'qubes.xml'), '<qubes><domains>')
  t.throws(() => loadRegistry(dir), StoreError)
})

t.test('the remembered parse is exactly as readable as qubes.xml', async (t) => {
  const dir = tempQubesDir(t, FIXTURE)
  chmodSync(join(dir, 'qubes.xml'), 0o640)
  loadRegistry(dir)
  t.equal(statSync(join(dir, '.qubes.xml.parsed.json')).mode & 0o777, 0o640 & ~process.umask())
})

t.test('a cache that cannot be written is no cache, never an error', async (t) => {
  const dir = tempQubesDir(t, FIXTURE)
  mkdirSync(join(dir, '.qubes.xml.parsed.json'))
  t.same(loadRegistry(dir).domains(), fixture().domains())
  t.same(loadRegistry(dir).domains(), fixture().domains(), 'and again')
})
