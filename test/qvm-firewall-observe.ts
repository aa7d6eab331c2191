// qvm-firewall --hits, check and log end to end: the built command against a stand-in agent, a Unix
// socket served in this process that gives fixed answers and records every request it got.
import { spawn } from 'node:child_process'
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { formatAge } from '../common/observe/age.js'
import { built } from './helpers/built.js'
import { outcome, type Outcome } from './helpers/outcome.js'
import { until } from './helpers/wait.js'

type Request = Record<string, unknown>
/** An object is sent as its JSON line, a string as it is. */
type Answer = (request: Request) => object | string

const IP = '10.137.0.2'
const IP6 = 'fd09:24ef:4179::a89:2'
const now = () => Math.floor(Date.now() / 1000)

const dir = mkdtempSync(join(tmpdir(), 'qvm-firewall-observe-'))
t.teardown(() => rmSync(dir, { recursive: true, force: true }))
const socketPath = join(dir, 'agent.sock')

/** The stand-in agent: `answer` is set by each test; `requests` and `sockets` are what came. */
const agent = { answer: ((): object => ({ ok: false, error: 'no answer set' })) as Answer, requests: [] as Request[], sockets: [] as Socket[], closed: 0 }
const server = createServer((socket) => {
  agent.sockets.push(socket)
  socket.on('close', () => agent.closed++)
  socket.on('error', () => {})
  let buffer = ''
  socket.on('data', (chunk) => {
    buffer += chunk.toString()
    for (let newline; (newline = buffer.indexOf('\n')) >= 0; buffer = buffer.slice(newline + 1)) {
      const request = JSON.parse(buffer.slice(0, newline)) as Request
      agent.requests.push(request)
      const answer = agent.answer(request)
      socket.write(`${typeof answer === 'string' ? answer : JSON.stringify(answer)}\n`)
    }
  })
})
t.teardown(() => {
  agent.sockets.forEach((s) => s.destroy())
  server.close()
})

/** Answers `byOp`'s entry for a request's op (and ip, as `hits 10.137.0.2`), status with `expiries`. */
function answering(byKey: Record<string, object | string>, expiries: Record<string, object[]> = {}): void {
  agent.requests = []
  agent.answer = (request) => {
    if (request['op'] === 'status') return { ok: true, vms: Object.entries(expiries).map(([ip, list]) => ({ ip, ok: true, chain: 'c', policy: 'drop', rules: 3, expiries: list })), forwards: [], lastError: null }
    return byKey[`${String(request['op'])} ${String(request['ip'])}`] ?? byKey[String(request['op'])] ?? { ok: false, error: 'unexpected request' }
  }
}

const run = (...args: string[]): Promise<Outcome> => outcome(process.execPath, [built('dom0-tools/bin/qvm-firewall.js'), '--qubes-dir', dir, ...args])
const tool = (name: string, ...args: string[]) => outcome(process.execPath, [built(`dom0-tools/bin/${name}.js`), '--qubes-dir', dir, ...args])
const transport = (netvm: string, value: string) => tool('qvm-features', netvm, 'qubes-firewall-transport', value)

t.before(async () => {
  await new Promise<void>((resolve) => server.listen(socketPath, resolve))
  for (const args of [
    ['sys-firewall', '--prop', 'provides_network=True', '--prop', 'netvm='],
    ['work', '--prop', 'netvm=sys-firewall', '--prop', `ip6=${IP6}`],
    ['personal', '--prop', 'netvm=sys-firewall'],
    ['vault', '--prop', 'netvm='],
    ['sys-qdb', '--prop', 'provides_network=True', '--prop', 'netvm='],
    ['untrusted', '--prop', 'netvm=sys-qdb'],
    ['sys-gone', '--prop', 'provides_network=True', '--prop', 'netvm='],
    ['lost', '--prop', 'netvm=sys-gone'],
    ['sys-none', '--prop', 'provides_network=True', '--prop', 'netvm='],
    ['plain', '--prop', 'netvm=sys-none'],
  ]) t.equal((await tool('qvm-create', ...args)).code, 0, `qvm-create ${args[0]}`)
  // no transport yet: the rules are saved, nothing is pushed
  t.equal((await run('work', 'add', '--before', '0', 'drop', '192.0.2.10', 'tcp', '22')).code, 0, 'rule added')
  t.equal((await run('work', 'add', '--before', '0', 'accept', 'specialtarget=dns')).code, 0, 'rule added')
  // personal's rule 1 expired after the push: the agent still numbers the rule after it 2
  mkdirSync(join(dir, 'appvms', 'personal'), { recursive: true })
  const rule = (props: [string, string][]) => `<rule><properties>${props.map(([k, v]) => `<property name="${k}">${v}</property>`).join('')}</properties></rule>`
  writeFileSync(join(dir, 'appvms', 'personal', 'firewall.xml'), `<firewall version="2"><rules>${[
    rule([['action', 'accept'], ['dsthost', '10.0.0.1/32']]), rule([['action', 'accept'], ['dsthost', '10.0.0.2/32'], ['expire', '1000']]), rule([['action', 'drop']]),
  ].join('')}</rules></firewall>\n`)
  for (const [netvm, value] of [['sys-firewall', `unix:${socketPath}`], ['sys-qdb', 'qubesdb:'], ['sys-gone', `unix:${join(dir, 'gone.sock')}`]]) {
    t.equal((await transport(netvm!, value!)).code, 0, `${netvm} ${value}`)
  }
})

const HEADER = 'NO  ACTION  HOST           PROTOCOL  PORT(S)  SPECIAL TARGET  ICMP TYPE  EXPIRE  COMMENT   HITS  LAST\n'
const counter = (packets: number, last: number | null) => ({ packets, bytes: packets * 60, last })

t.test('--hits: both chains of an IPv4+IPv6 VM added up, LAST as an age, a policy row', async (t) => {
  answering({
    [`hits ${IP}`]: { ok: true, ip: IP, rules: [{ rule: 0, ...counter(4, now() - 330) }, { rule: 1, ...counter(1, null) }], policy: counter(1, now() - 7300) },
    [`hits ${IP6}`]: { ok: true, ip: IP6, rules: [{ rule: 0, ...counter(2, now() - 400) }], policy: counter(0, null) },
  })
  const table = HEADER +
    '0   accept  -              -         -        dns             -          -       -         6     5m ago\n' +
    '1   drop    192.0.2.10/32  tcp       22       -               -          -       -         1     -\n' +
    '2   accept  -              -         -        -               -          -       -         0     -\n' +
    '-   drop    -              -         -        -               -          -       (policy)  1     2h ago\n'
  t.same(await run('work', '--hits'), { code: 0, stdout: table, stderr: '' })
  t.same(agent.requests, [{ op: 'status' }, { op: 'hits', ip: IP }, { op: 'hits', ip: IP6 }])
  t.same(await run('work', 'list', '--hits'), { code: 0, stdout: table, stderr: '' }, 'list --hits: the same')
})

t.test('--hits and check number rules as list does, after a rule expired since the push', async (t) => {
  answering({
    hits: { ok: true, ip: '10.137.0.3', rules: [{ rule: 0, ...counter(3, null) }, { rule: 2, ...counter(5, null) }], policy: counter(0, null), blocked: counter(7, null) },
    check: { ok: true, ip: '10.137.0.3', action: 'drop', by: { rule: 2 }, reason: 'rule 2: drop' },
  }, { '10.137.0.3': [{ rule: 1, expire: 1000 }] })
  t.same(await run('personal', '--hits'), { code: 0, stderr: '', stdout:
    'NO  ACTION  HOST         PROTOCOL  PORT(S)  SPECIAL TARGET  ICMP TYPE  EXPIRE  COMMENT    HITS  LAST\n' +
    '0   accept  10.0.0.1/32  -         -        -               -          -       -          3     -\n' +
    '1   drop    -            -         -        -               -          -       -          5     -\n' +
    '-   drop    -            -         -        -               -          -       (policy)   0     -\n' +
    '-   drop    -            -         -        -               -          -       (blocked)  7     -\n' })
  t.same(await run('personal', 'check', '198.51.100.1'), { code: 0, stdout: 'drop: rule 1: drop\n', stderr: '' })
})

t.test('check: ACTION: REASON, the request for the address of DEST\'s family', async (t) => {
  const decision = (ip: string, by: unknown, reason: string) => ({ ok: true, ip, action: 'drop', by, reason })
  answering({
    [`check ${IP}`]: decision(IP, { rule: 1 }, 'rule 1: drop dsthost=192.0.2.10/32 proto=tcp dstports=22'),
    [`check ${IP6}`]: decision(IP6, 'policy', 'policy drop (no rule matched)'),
  })
  const cases: [args: string[], request: Request, stdout: string][] = [
    [['192.0.2.10', 'tcp', '22'], { op: 'check', ip: IP, dst: '192.0.2.10', proto: 'tcp', port: 22 }, 'drop: rule 1: drop dsthost=192.0.2.10/32 proto=tcp dstports=22\n'],
    [['192.0.2.10', 'icmp', '8'], { op: 'check', ip: IP, dst: '192.0.2.10', proto: 'icmp', icmpType: 8 }, 'drop: rule 1: drop dsthost=192.0.2.10/32 proto=tcp dstports=22\n'],
    [['2001:db8::10'], { op: 'check', ip: IP6, dst: '2001:db8::10' }, 'drop: policy drop (no rule matched)\n'],
  ]
  for (const [args, request, stdout] of cases) {
    agent.requests = []
    t.same(await run('work', 'check', ...args), { code: 0, stdout, stderr: '' }, args.join(' '))
    t.same(agent.requests, [{ op: 'status' }, request])
  }
})

const DROP = { time: '2026-12-04T18:30:01.123Z', vm: IP, rule: 1, proto: 'tcp', src: IP, dst: '192.0.2.10', sport: 40000, dport: 22 }
const DROP6 = { time: '2026-12-04T18:30:00.500Z', vm: IP6, rule: 'policy', proto: 'icmp', src: IP6, dst: '2001:db8::10', icmpType: 128 }
const LINE = '2026-12-04T18:30:01.123Z 10.137.0.2 rule 1 tcp 10.137.0.2:40000 -> 192.0.2.10:22\n'
// common/observe/drop.ts's warning: the drop's JSON, cut at 120 characters
const UNREADABLE = 'qvm-firewall: warning: unreadable drop from the agent: {"time":"2026-12-04T18:30:01.123Z","vm":"10.137.0.2","rule":1,"proto":"tcp","src":"10.137.0.2","dst":"192.0.2.10","sport…\n'
const LINE6 = '2026-12-04T18:30:00.500Z fd09:24ef:4179::a89:2 policy icmp type 128 fd09:24ef:4179::a89:2 -> 2001:db8::10\n'

t.test('log: the drops of both addresses, oldest first; a malformed one is a warning', async (t) => {
  answering({
    [`log ${IP}`]: { ok: true, state: 'listening', drops: [DROP, { ...DROP, sport: 'x' }] },
    [`log ${IP6}`]: { ok: true, state: 'listening', drops: [DROP6] },
  })
  t.same(await run('work', 'log'), { code: 0, stdout: LINE6 + LINE, stderr: UNREADABLE })
  t.same(agent.requests, [{ op: 'log', ip: IP, follow: false }, { op: 'log', ip: IP6, follow: false }])
})

/** Runs `qvm-firewall work log --follow`, sends two drops once both requests came, then SIGINT. */
async function follow(t: Test): Promise<void> {
  answering({ log: { ok: true, state: 'listening', drops: [] } })
  const closedBefore = agent.closed
  const child = spawn(process.execPath, [built('dom0-tools/bin/qvm-firewall.js'), '--qubes-dir', dir, 'work', 'log', '--follow'])
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (chunk) => (stdout += chunk))
  child.stderr.on('data', (chunk) => (stderr += chunk))
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)))
  await until('both follow requests', () => agent.requests.length === 2)
  const socket = agent.sockets.at(-1)!
  socket.write(`${JSON.stringify({ ok: true, drop: { ...DROP, dport: 'x' } })}\n${JSON.stringify({ ok: true, drop: DROP6 })}\n`)
  socket.write(`${JSON.stringify({ ok: true, drop: DROP })}\n`)
  await until('both drops printed', () => stdout.split('\n').length === 3)
  child.kill('SIGINT')
  t.same({ code: await exited, stdout, stderr }, { code: 0, stdout: LINE6 + LINE, stderr: UNREADABLE })
  t.same(agent.requests, [{ op: 'log', ip: IP, follow: true }, { op: 'log', ip: IP6, follow: true }])
  await until('the agent saw the connection close', () => agent.closed > closedBefore)
}

t.test('log --follow through the socket: new drops as they come, SIGINT ends it with exit 0', follow)

t.test('log --follow through an exec: transport (the agent\'s connect)', async (t) => {
  t.equal((await transport('sys-firewall', `exec:${JSON.stringify([process.execPath, built('netvm-agent/bin/qubes-firewall-agent.js'), '--socket', socketPath, 'connect'])}`)).code, 0)
  t.teardown(() => transport('sys-firewall', `unix:${socketPath}`))
  await follow(t)
})

t.test('log --follow: the agent ending the connection is an error; a log not listening a warning', async (t) => {
  answering({ log: { ok: true, state: 'starting', drops: [] } })
  const child = spawn(process.execPath, [built('dom0-tools/bin/qvm-firewall.js'), '--qubes-dir', dir, 'work', 'log', '--follow'])
  let stderr = ''
  child.stderr.on('data', (chunk) => (stderr += chunk))
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)))
  await until('both follow requests', () => agent.requests.length === 2)
  await until('the first answers read', () => stderr !== '')
  agent.sockets.at(-1)!.end()
  t.same({ code: await exited, stderr }, { code: 1, stderr:
    'qvm-firewall: warning: the drop log of sys-firewall is starting\nqvm-firewall: error: the agent of sys-firewall ended the drop log\n' })
})

t.test('refusals and unreadable answers: one error line, exit 1', async (t) => {
  const refused = { ok: false, error: 'no rules loaded for 10.137.0.2' }
  const hits = { ok: true, ip: IP, rules: [{ rule: 0, packets: 'many', bytes: 0, last: null }], policy: counter(0, null) }
  const cases: [answers: Record<string, object | string>, args: string[], stderr: string][] = [
    [{ hits: refused }, ['work', '--hits'], 'no rules loaded for 10.137.0.2'],
    [{ check: refused }, ['work', 'check', '192.0.2.10'], 'no rules loaded for 10.137.0.2'],
    [{ log: refused }, ['work', 'log'], 'no rules loaded for 10.137.0.2'],
    [{ log: { ok: false, error: 'evil\u001b[2Jline\nforged' } }, ['work', 'log'], 'evil?[2Jline?forged'],
    [{ hits }, ['work', '--hits'], "unreadable answer from the agent of sys-firewall: rules[0].packets is 'many', not a whole number"],
    [{ hits: 'not json' }, ['work', '--hits'], 'unreadable answer from the agent: not json'],
    [{ check: { ok: true, ip: IP, action: 'allow', by: 'policy', reason: '' } }, ['work', 'check', '192.0.2.10'], "unreadable answer from the agent of sys-firewall: action is 'allow', not accept or drop"],
  ]
  for (const [answers, args, message] of cases) {
    answering(answers)
    t.same(await run(...args), { code: 1, stdout: '', stderr: `qvm-firewall: error: ${message}\n` }, `${args.join(' ')}: ${message}`)
  }
})

t.test('what cannot be asked: one error line, exit 1, nothing sent', async (t) => {
  answering({})
  const gone = join(dir, 'gone.sock')
  const cases: [args: string[], message: string][] = [
    [['untrusted', '--hits'], "hits need the agent's socket, not QubesDB: set the feature qubes-firewall-transport of sys-qdb to unix:PATH or exec:COMMAND"],
    [['untrusted', 'check', '192.0.2.10'], "check needs the agent's socket, not QubesDB: set the feature qubes-firewall-transport of sys-qdb to unix:PATH or exec:COMMAND"],
    [['untrusted', 'log'], "log needs the agent's socket, not QubesDB: set the feature qubes-firewall-transport of sys-qdb to unix:PATH or exec:COMMAND"],
    [['vault', '--hits'], 'vault has no netvm: no agent holds its rules'],
    [['plain', 'log'], 'sys-none runs no agent: no feature qubes-firewall-transport, and nothing at /run/qubes-firewall/agents/sys-none.sock'],
    [['lost', 'log', '--follow'], `agent of sys-gone unreachable (${gone}: connect ENOENT ${gone})`],
    [['lost', '--hits'], `agent of sys-gone unreachable (${gone}: connect ENOENT ${gone})`],
    [['personal', 'check', '2001:db8::10'], 'personal has no IPv6 address to check 2001:db8::10 from'],
    [['work', 'check', '192.0.2.10', 'tcp', '70000'], "invalid port '70000' (expected a number 0-65535)"],
    [['work', 'check', '192.0.2.10', 'icmp', '256'], "invalid icmptype '256' (expected a number 0-255)"],
    [['work', 'check', '192.0.2.10', 'sctp'], "invalid proto 'sctp' (expected tcp or udp or icmp)"],
    [['work', 'check', 'www.example.com'], "invalid destination 'www.example.com' (expected an IPv4 dotted quad or an IPv6 address)"],
    [['work', 'check'], "missing required argument 'dest'"],
    [['--raw', 'work', '--hits'], '--hits adds columns to the table: not with --raw'],
  ]
  for (const [args, message] of cases) t.same(await run(...args), { code: 1, stdout: '', stderr: `qvm-firewall: error: ${message}\n` }, args.join(' '))
  t.same(agent.requests, [], 'nothing reached the agent')
})

t.test('LAST: the age in its largest whole unit', async (t) => {
  const cases: [seconds: number, want: string][] = [[0, '0s ago'], [12, '12s ago'], [59, '59s ago'], [60, '1m ago'], [3599, '59m ago'], [3600, '1h ago'], [86_399, '23h ago'], [86_400, '1d ago'], [-5, '0s ago']]
  for (const [seconds, want] of cases) t.equal(formatAge(seconds), want, String(seconds))
})
