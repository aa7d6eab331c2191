// dom0's qrexec policy for qubes.ConnectTCP (and any service): Qubes 4.2 policy files parsed,
// loaded in order with their includes, and evaluated first match wins.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { evaluate } from '../lab/policy/evaluate.js'
import { loadPolicy } from '../lab/policy/load.js'
import type { DomainInfo, Policy, PolicyRequest, PolicyRule, Resolution, SystemInfo } from '../lab/policy/model.js'
import { parseRuleLine } from '../lab/policy/parse.js'
import { systemInfoFromRegistry } from '../lab/policy/system-info.js'
import { parseRegistry } from '../dom0-tools/registry/store.js'

const AT = { file: 't.policy', line: 7 }
const name = (n: string) => ({ kind: 'name', name: n })
const allowTo = (target?: object) => ({ action: 'allow', target, user: undefined, notify: false, autostart: true })

t.test('a policy line', async (t) => {
  const cases: [line: string, want: Omit<PolicyRule, 'where'> | object | string][] = [
    ['qubes.ConnectTCP +445 untrusted @default allow target=svc', { service: 'qubes.ConnectTCP', argument: '+445', source: name('untrusted'), target: { kind: 'default' }, action: allowTo(name('svc')) }],
    ['qubes.ConnectTCP * untrusted mytcp-service allow', { service: 'qubes.ConnectTCP', argument: undefined, source: name('untrusted'), target: name('mytcp-service'), action: allowTo() }],
    ['  *\t*  @anyvm   @anyvm  deny  ', { service: undefined, argument: undefined, source: { kind: 'anyvm' }, target: { kind: 'anyvm' }, action: { action: 'deny', notify: true } }],
    ['qubes.ConnectTCP * dom0 @adminvm deny notify=no', { source: { kind: 'adminvm' }, target: { kind: 'adminvm' }, action: { action: 'deny', notify: false } }],
    ['qubes.ConnectTCP * * * allow target=dom0', { source: { kind: 'wildcard' }, target: { kind: 'wildcard' }, action: allowTo({ kind: 'adminvm' }) }],
    ['qubes.ConnectTCP + @tag:x @type:AppVM ask default_target=personal user=root', { argument: '+', source: { kind: 'tag', tag: 'x' }, target: { kind: 'type', type: 'AppVM' }, action: { action: 'ask', target: undefined, defaultTarget: name('personal'), user: 'root' } }],
    ['qubes.ConnectTCP +1 @dispvm:fedora-dvm @dispvm:@tag:dvm allow autostart=no', { source: { kind: 'dispvm-template', name: 'fedora-dvm' }, target: { kind: 'dispvm-tag', tag: 'dvm' }, action: { action: 'allow', autostart: false } }],
    ['qubes.ConnectTCP +1 work @dispvm allow target=@dispvm:fedora-dvm', { target: { kind: 'dispvm' }, action: allowTo({ kind: 'dispvm-template', name: 'fedora-dvm' }) }],
    ['qubes.ConnectTCP +445 untrusted', 'wrong number of fields'],
    ['qubes.ConnectTCP', 'wrong number of fields'],
    ['qubes.ConnectTCP 445 a b allow', "argument '445' does not start with +"],
    ['qubes.ConnectTCP +4/5 a b allow', "argument '+4/5' contains invalid characters"],
    ['* +445 a b allow', 'only * argument allowed for * service'],
    ['qubes.ConnectTCP+445 * a b allow', "service 'qubes.ConnectTCP+445' contains invalid characters"],
    ['qubes/ConnectTCP * a b allow', "service 'qubes/ConnectTCP' contains invalid characters"],
    ['qubes.ConnectTCP * $anyvm b allow', "invalid source token: '$anyvm'"],
    ['qubes.ConnectTCP * @default b allow', "invalid source token: '@default'"],
    ['qubes.ConnectTCP * @dispvm b allow', "invalid source token: '@dispvm'"],
    ['qubes.ConnectTCP * a @dispvm:@x allow', "invalid target token: '@dispvm:@x'"],
    ['qubes.ConnectTCP * a @tag: allow', "invalid target token: '@tag:'"],
    ['qubes.ConnectTCP * a @everyone allow', "invalid target token: '@everyone'"],
    ['qubes.ConnectTCP * a b permit', 'invalid action: permit'],
    ['qubes.ConnectTCP * a @default allow', 'allow action for @default rule must specify target= option'],
    ['qubes.ConnectTCP * a b allow target=@anyvm', "invalid redirect token: '@anyvm'"],
    ['qubes.ConnectTCP * a b allow target=@default', "invalid redirect token: '@default'"],
    ['qubes.ConnectTCP * a b deny target=c', "invalid parameter for action deny: 'target=c'"],
    ['qubes.ConnectTCP * a b allow default_target=c', "invalid parameter for action allow: 'default_target=c'"],
    ['qubes.ConnectTCP * a b allow notify=maybe', "'notify' is 'maybe', but can be only 'yes' or 'no'"],
    ['qubes.ConnectTCP * a b allow target=c target=d', "parameter given twice: 'target'"],
    ['qubes.ConnectTCP * a b allow target', "invalid action parameter syntax: 'target'"],
    ['qubes.ConnectTCP * a b allow # no inline comments', "invalid action parameter syntax: '#'"],
  ]
  t.plan(cases.length)
  for (const [line, want] of cases) {
    t.test(line, async (t) => {
      if (typeof want === 'string') t.throws(() => parseRuleLine(line, AT), { name: 'PolicyError', message: `t.policy:7: ${want}`, file: 't.policy', line: 7 })
      else t.match(parseRuleLine(line, AT), { where: AT, ...want })
    })
  }
})

const info = (type: string, extra: Partial<DomainInfo> = {}): DomainInfo => ({ type, tags: [], templateForDispvms: false, defaultDispvm: undefined, ...extra })
const SYSTEM: SystemInfo = {
  domains: new Map([
    ['dom0', info('AdminVM')],
    ['work', info('AppVM', { tags: ['trusted'], defaultDispvm: 'fedora-dvm' })],
    ['personal', info('AppVM')],
    ['untrusted', info('AppVM')],
    ['svc', info('AppVM')],
    ['mytcp-service', info('StandaloneVM')],
    ['fedora-dvm', info('AppVM', { templateForDispvms: true, tags: ['dvm'] })],
  ]),
}

const USER_POLICY = [
  /* 1 */ '# qubes.ConnectTCP, first match wins',
  /* 2 */ 'qubes.ConnectTCP +445 untrusted @default allow target=svc',
  /* 3 */ 'qubes.ConnectTCP +22 @anyvm @anyvm deny',
  /* 4 */ 'qubes.ConnectTCP * untrusted mytcp-service allow',
  /* 5 */ 'qubes.ConnectTCP +80 work personal allow',
  /* 6 */ 'qubes.ConnectTCP +80 work @default allow target=personal',
  /* 7 */ 'qubes.ConnectTCP +8080 @tag:trusted @type:AppVM allow',
  /* 8 */ 'qubes.ConnectTCP +9 work @default ask default_target=personal',
  /* 9 */ 'qubes.ConnectTCP +7 * @anyvm allow',
  /* 10 */ 'qubes.ConnectTCP +10 work @anyvm allow',
  /* 11 */ 'qubes.ConnectTCP +11 work @default allow target=nosuch',
  /* 12 */ 'qubes.ConnectTCP +12 work @dispvm allow',
  /* 13 */ 'qubes.ConnectTCP + work personal allow',
  /* 14 */ '* * @anyvm @adminvm deny',
  /* 15 */ 'qubes.ConnectTCP * @anyvm @anyvm deny',
  '',
].join('\n')

function policyDir(t: Test, files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'qubes-policy-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  for (const [file, text] of Object.entries(files)) {
    mkdirSync(join(dir, file, '..'), { recursive: true })
    writeFileSync(join(dir, file), text)
  }
  return dir
}

t.test('evaluating qubes.ConnectTCP calls', async (t) => {
  const dir = policyDir(t, { '30-user.policy': USER_POLICY })
  const policy = loadPolicy(dir)
  const file = join(dir, '30-user.policy')
  const allowed = (target: string, line: number): Resolution => ({ verdict: 'allow', target, user: undefined, rule: { file, line } })
  const denied = (reason: string, line?: number): Resolution => ({ verdict: 'deny', reason: reason.replace('F:', `${file}:`), rule: line === undefined ? undefined : { file, line } })
  const call = (source: string, target: string, argument: string, service = 'qubes.ConnectTCP'): PolicyRequest => ({ service, argument, source, target })
  const cases: [what: string, request: PolicyRequest, want: Resolution][] = [
    ['@default resolved by target=', call('untrusted', '@default', '+445'), allowed('svc', 2)],
    ['an empty target is @default', call('untrusted', '', '+445'), allowed('svc', 2)],
    ['a qube that does not exist is asked for as @default', call('untrusted', 'ghost', '+445'), allowed('svc', 2)],
    ['a named target does not match a @default line', call('untrusted', 'svc', '+445'), denied('denied by policy F:15', 15)],
    ['an argument-specific deny before a * allow', call('untrusted', 'mytcp-service', '+22'), denied('denied by policy F:3', 3)],
    ['* argument', call('untrusted', 'mytcp-service', '+3306'), allowed('mytcp-service', 4)],
    ['per port: +80 allowed', call('work', 'personal', '+80'), allowed('personal', 5)],
    ['per port: +81 is not', call('work', 'personal', '+81'), denied('denied by policy F:15', 15)],
    ['per port, @default', call('work', '@default', '+80'), allowed('personal', 6)],
    ['@anyvm matches @default too', call('work', '@default', '+81'), denied('denied by policy F:15', 15)],
    ['@tag: and @type:', call('work', 'untrusted', '+8080'), allowed('untrusted', 7)],
    ['@tag: not carried', call('personal', 'work', '+8080'), denied('denied by policy F:15', 15)],
    ['@type: not matching', call('work', 'mytcp-service', '+8080'), denied('denied by policy F:15', 15)],
    ['ask is denied here', call('work', '@default', '+9'), denied("policy define 'ask' action at F:8: there is no one to ask here, so it is denied", 8)],
    ['* matches dom0 as source', call('dom0', 'personal', '+7'), allowed('personal', 9)],
    ['allow to @anyvm asked for @default: no target', call('work', '@default', '+10'), denied("policy define 'allow' action at F:10 but no target is specified by caller or policy", 10)],
    ['allow to @anyvm with a named target', call('work', 'svc', '+10'), allowed('svc', 10)],
    ['target= naming no qube: no target', call('work', '@default', '+11'), denied("policy define 'allow' action at F:11 but no target is specified by caller or policy", 11)],
    ['@dispvm: the caller\'s default_dispvm', call('work', '@dispvm', '+12'), allowed('@dispvm:fedora-dvm', 12)],
    ['@dispvm only for work', call('personal', '@dispvm', '+12'), denied('denied by policy F:15', 15)],
    ['no argument is +', call('work', 'personal', '+'), allowed('personal', 13)],
    ['dom0 as target', call('work', 'dom0', '+5'), denied('denied by policy F:14', 14)],
    ['another service matches no line', call('work', 'personal', '+1', 'qubes.Other'), denied('no matching rule found')],
    ['@anyvm is no target to ask for', call('work', '@anyvm', '+80'), denied("invalid target: '@anyvm'")],
    ['a disposable of a non-template', call('work', '@dispvm:personal', '+80'), denied('not a template for dispvm: personal')],
    ['a source that does not exist', call('ghost', 'personal', '+80'), denied("invalid source: 'ghost'")],
    ['an argument qrexec would not pass', call('work', 'personal', '+8 0'), denied("invalid argument: '+8 0'")],
  ]
  t.plan(cases.length)
  for (const [what, request, want] of cases) t.same(evaluate(policy, request, SYSTEM), want, what)
})

t.test('files in C-locale order, first match wins across them', async (t) => {
  const allowLine = 'qubes.ConnectTCP +80 work personal allow\n'
  const denyLine = 'qubes.ConnectTCP +80 work personal deny\n'
  const request = { service: 'qubes.ConnectTCP', argument: '+80', source: 'work', target: 'personal' }
  const a = policyDir(t, { '30-user.policy': allowLine, '90-default.policy': denyLine })
  t.equal(evaluate(loadPolicy(a), request, SYSTEM).verdict, 'allow')
  const b = policyDir(t, { '10-admin.policy': denyLine, '30-user.policy': allowLine })
  t.same(evaluate(loadPolicy(b), request, SYSTEM), { verdict: 'deny', reason: `denied by policy ${join(b, '10-admin.policy')}:1`, rule: { file: join(b, '10-admin.policy'), line: 1 } })
  // '-' (0x2d) sorts before '.' (0x2e) and digits, 'Z' before 'a': the C locale, not a human one
  const c = policyDir(t, { '30-user.policy': allowLine, '30-user-deny.policy': denyLine })
  t.equal(evaluate(loadPolicy(c), request, SYSTEM).verdict, 'deny', '30-user-deny.policy comes first')
})

t.test('which files are read', async (t) => {
  const deny = 'qubes.ConnectTCP * @anyvm @anyvm deny\n'
  const dir = policyDir(t, {
    '.30-hidden.policy': deny,
    'README': deny,
    '30-user.policy~': deny,
    '30-user.policy.swp': deny,
    '50-ok.policy': 'qubes.ConnectTCP +80 work personal allow\n',
  })
  mkdirSync(join(dir, '20-dir.policy'))
  t.same(loadPolicy(dir).rules.map((r) => r.where.file), [join(dir, '50-ok.policy')])
  writeFileSync(join(dir, '40-Mixed.policy'), deny)
  t.throws(() => loadPolicy(dir), { name: 'PolicyError', message: `${join(dir, '40-Mixed.policy')}: invalid filename (only 0-9 a-z _ . - are allowed)` })
  t.throws(() => loadPolicy(join(dir, 'nope')), { message: `${join(dir, 'nope')}: cannot read policy directory: ENOENT` })
})

t.test('includes, in place', async (t) => {
  const dir = policyDir(t, {
    '30-user.policy': [
      'qubes.ConnectTCP +1 work personal allow',
      '!include include/extra',
      '!include-dir include/more',
      '!include-service qubes.ConnectTCP +3 include/old-style',
      '!compat-4.0',
      'qubes.ConnectTCP * @anyvm @anyvm deny',
      '',
    ].join('\n'),
    'include/extra': 'qubes.ConnectTCP +2 work personal allow\n',
    'include/more/10-a.policy': 'qubes.ConnectTCP +4 work personal allow\n',
    'include/more/ignored': 'not a policy line at all\n',
    'include/old-style': '# Qubes 4.0 syntax\n$anyvm $default allow,target=svc\n$include:include/old-more\n',
    'include/old-more': 'work personal allow\n',
  })
  const policy: Policy = loadPolicy(dir)
  t.same(
    policy.rules.map((r) => [r.where.file.slice(dir.length + 1), r.where.line, r.argument]),
    [
      ['30-user.policy', 1, '+1'],
      ['include/extra', 1, '+2'],
      ['include/more/10-a.policy', 1, '+4'],
      ['include/old-style', 2, '+3'],
      ['include/old-more', 1, '+3'],
      ['30-user.policy', 6, undefined],
    ],
  )
  t.match(policy.rules[3], { service: 'qubes.ConnectTCP', source: { kind: 'anyvm' }, target: { kind: 'default' }, action: { action: 'allow', target: { kind: 'name', name: 'svc' } } })
  t.same(policy.notes, [`${join(dir, '30-user.policy')}:5: !compat-4.0 ignored: Qubes 4.0 policy files (/etc/qubes-rpc/policy) are not read`])
  const request = (argument: string, target = 'personal') => ({ service: 'qubes.ConnectTCP', argument, source: 'work', target })
  t.equal(evaluate(policy, request('+4'), SYSTEM).verdict, 'allow')
  t.match(evaluate(policy, request('+3', '@default'), SYSTEM), { verdict: 'allow', target: 'svc' })
})

t.test('a policy with any error denies everything, naming file and line', async (t) => {
  const cases: [files: Record<string, string>, message: (dir: string) => string][] = [
    [{ '30-user.policy': 'qubes.ConnectTCP +80 work personal allow\n', '90-default.policy': '\n\nqubes.ConnectTCP +80 work\n' }, (d) => `${d}/90-default.policy:3: wrong number of fields`],
    [{ '30-user.policy': '!include nowhere\n' }, (d) => `${d}/30-user.policy:1: not a file: ${d}/nowhere`],
    [{ '30-user.policy': '!include-dir nowhere\n' }, (d) => `${d}/30-user.policy:1: not a directory: ${d}/nowhere`],
    [{ '30-user.policy': '!include a b\n' }, (d) => `${d}/30-user.policy:1: invalid number of params`],
    [{ '30-user.policy': '!include-service * +1 x\n' }, (d) => `${d}/30-user.policy:1: only * argument allowed for * service`],
    [{ '30-user.policy': '!exclude x\n' }, (d) => `${d}/30-user.policy:1: invalid directive`],
    [{ '30-user.policy': '!include loop\n', loop: '!include loop\n' }, (d) => `${d}/loop:1: includes nested deeper than 16 (a loop?)`],
  ]
  t.plan(cases.length)
  for (const [files, message] of cases) {
    const dir = policyDir(t, files)
    t.throws(() => loadPolicy(dir), { name: 'PolicyError', message: message(dir) }, Object.values(files)[Object.values(files).length - 1]?.trim() ?? '')
  }
})

t.test('what the policy knows of each domain comes from qubes.xml', async (t) => {
  const registry = parseRegistry('qubes.xml', undefined)
  registry.create('work', 'AppVM')
  registry.create('fedora-dvm', 'AppVM', [['template_for_dispvms', 'True']])
  registry.create('disp1', 'DispVM')
  const system = systemInfoFromRegistry(registry)
  t.same(Object.fromEntries([...system.domains].map(([n, d]) => [n, [d.type, d.templateForDispvms]])), {
    dom0: ['AdminVM', false],
    'disp1': ['DispVM', false],
    'fedora-dvm': ['AppVM', true],
    work: ['AppVM', false],
  })
})
