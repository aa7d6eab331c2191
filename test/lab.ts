// The lab end to end: dom0 commands change what real packets between the lab's namespaces do.
// One file, run in order: the lab's namespace names are fixed, so only one lab exists at a time.
import { execFile, spawn } from 'node:child_process'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import t from 'tap'
import { built } from './helpers/built.js'
import { outcome, type Outcome } from './helpers/outcome.js'
import { mapLimited } from './helpers/pool.js'
import { until, untilGone } from './helpers/wait.js'

// a lab of its own, beside any other (a user's, another test's)
const PREFIX = `qlt${process.pid}-`
const LAB_DIR = `/run/qubes-lab-test-${process.pid}`
const QUBES_DIR = `${LAB_DIR}/qubes`
const LAB = built('lab/bin/qubes-lab.js')
// allowed and refused answer at once: only a drop waits this long, so it can be generous
const PROBE_TIMEOUT_MS = 10_000
const env = { ...process.env, QUBES_DIR, QUBES_LAB_PREFIX: PREFIX, QUBES_LAB_DIR: LAB_DIR, QUBES_LAB_PROBE_TIMEOUT_MS: String(PROBE_TIMEOUT_MS) }
const ns = (qube: string) => `${PREFIX}${qube}`

const run = (file: string, ...args: string[]): Promise<Outcome> => outcome(file, args, { env })

const node = (script: string, ...args: string[]) => run(process.execPath, script, ...args)
const dom0 = (command: string, ...args: string[]) => node(built(`dom0-tools/bin/${command}.js`), ...args)

/** What `qube` gets for each target (tcp:ADDR:PORT), from real connections. */
async function probe(qube: string, ...targets: string[]): Promise<string[]> {
  const out = await run('ip', 'netns', 'exec', ns(qube), process.execPath, built('lab/probe.js'), '--timeout', String(PROBE_TIMEOUT_MS), ...targets)
  const verdicts = new Map(out.stdout.trim().split('\n').map((line) => [line.slice(0, line.indexOf(' ')), line.slice(line.indexOf(' ') + 1)]))
  return targets.map((target) => verdicts.get(target) ?? `no answer (${out.stderr.trim()})`)
}

/** A netvm agent's `status`, asked through its socket as dom0's exec transports do. */
async function agentStatus(netvm: string): Promise<{ vms: { ip: string; rules?: number }[]; forwards: { to: string; dport: number }[] }> {
  const out = await new Promise<string>((resolve, reject) => {
    const args = ['netns', 'exec', ns(netvm), process.execPath, built('netvm-agent/bin/qubes-firewall-agent.js'), '--socket', `${LAB_DIR}/${netvm}/agent.sock`, 'connect']
    const child = execFile('ip', args, (err, stdout) => (err ? reject(err) : resolve(stdout)))
    child.stdin?.end('{"op":"status"}\n')
  })
  return JSON.parse(out) as { vms: { ip: string; rules?: number }[]; forwards: { to: string; dport: number }[] }
}

const WWW80 = 'tcp:192.0.2.10:80'
const WWW443 = 'tcp:192.0.2.10:443'
const CDN443 = 'tcp:198.51.100.10:443'

t.teardown(async () => {
  await node(LAB, 'down')
})

/** The matrix `up` printed: qube -> column label -> what its real connection got. */
const upMatrix = new Map<string, Map<string, string>>()

t.test('up builds the lab and prints the matrix from real connections', async (t) => {
  const up = await node(LAB, 'up')
  const lines = up.stdout.split('\n')
  const headerAt = lines.findIndex((l) => l.startsWith('QUBE '))
  const columns = (lines[headerAt] ?? '').split(/\s{2,}/).slice(1)
  for (const line of lines.slice(headerAt + 1).filter((l) => /^\S+\s{2,}/.test(l))) {
    const [qube = '', ...cells] = line.split(/\s{2,}/)
    upMatrix.set(qube, new Map(columns.map((label, i) => [label, cells[i] ?? ''])))
  }
  t.equal(up.code, 0, up.stderr)
  const workRow = up.stdout.split('\n').find((l) => l.startsWith('work '))
  t.match(workRow, /^work\s+refused\s+allowed\s+refused\s+refused\s+refused\s+refused\s+allowed\s+timed out$/, 'work: only www:443 and dns')
  t.match(up.stdout, /^vault\s+(no netvm\s+)+no netvm$/m)
  t.same(await probe('sys-firewall', 'tcp:10.137.0.4:80'), ['allowed'], 'positive control of the timed out cell: personal:80 answers through sys-firewall')
  t.match(up.stdout, new RegExp(`ip netns exec ${PREFIX}work curl`))
  t.same(await probe('work', WWW80, WWW443), ['refused', 'allowed'])
  const listed = await dom0('qvm-firewall', '--resolved', 'work')
  t.match(listed.stdout.split('\n')[1], /^0   accept  www\.lab\.example  tcp .* the work portal, over TLS only  192\.0\.2\.10  +\d+s ago$/, 'what the name stands for in sys-firewall, and when DNS answered')
})

t.test('check agrees with every cell of the matrix, decided from the typed rules in force', async (t) => {
  const address: Record<string, string> = { www: '192.0.2.10', cdn: '198.51.100.10', '[2001:db8::10]': '2001:db8::10', personal: '10.137.0.4' }
  const cases = [...upMatrix].flatMap(([qube, cells]) =>
    [...cells]
      // dns goes to a virtual address that sys-firewall DNATs before its forward chain; a qube's own address never leaves it
      .filter(([label, cell]) => label !== 'dns' && cell !== 'no netvm' && !(qube === 'personal' && label === 'personal:80'))
      .map(([label, cell]) => {
        const at = label.lastIndexOf(':')
        return { qube, label, cell, dst: address[label.slice(0, at)] ?? '?', port: label.slice(at + 1) }
      }),
  )
  t.ok(cases.length >= 18, `${cases.length} cells of work, personal and untrusted`)
  const answers = await mapLimited(cases, (c) => dom0('qvm-firewall', c.qube, 'check', c.dst, 'tcp', c.port))
  cases.forEach((c, i) => {
    const answer = answers[i] as Outcome
    const action = answer.stdout.split(':')[0]
    const expected = c.cell === 'allowed' || c.cell === 'closed' ? 'accept' : 'drop'
    t.equal(`${answer.code} ${action}`, `0 ${expected}`, `${c.qube} -> ${c.label}: the probe got ${c.cell}; check: ${answer.stdout.trim() || answer.stderr.trim()}`)
  })
})

t.test('a qvm-firewall change applies at once', async (t) => {
  const add = await dom0('qvm-firewall', 'work', 'add', '--before', '0', 'accept', 'www.lab.example', 'tcp', '80')
  // the status line goes to stderr: stdout carries only what was asked for
  t.same(add, { code: 0, stdout: '', stderr: 'rules of work applied in sys-firewall (www.lab.example -> 192.0.2.10)\n' })
  const quiet = await dom0('qvm-firewall', 'work', '-q', '--reload')
  t.same({ code: quiet.code, stderr: quiet.stderr }, { code: 0, stderr: '' }, '-q after the VM name: no status line')
  t.match(quiet.stdout, /^NO  ACTION  HOST\s+PROTOCOL  PORT\(S\)/, 'the listing on stdout')
  t.same(await probe('work', WWW80, WWW443), ['allowed', 'allowed'])
  t.equal((await dom0('qvm-firewall', 'work', 'del', '--rule-no', '0')).code, 0)
  t.same(await probe('work', WWW80), ['refused'])
})

t.test('concurrent adds: the netvm ends with every saved rule (a push never overtakes a newer one)', async (t) => {
  const ports = [7001, 7002, 7003, 7004, 7005, 7006]
  const adds = await mapLimited(ports, (port) => dom0('qvm-firewall', 'work', 'add', 'accept', 'www.lab.example', 'tcp', String(port)))
  t.same(adds.map((a) => a.code), ports.map(() => 0), 'every add confirmed')
  const saved = (await dom0('qvm-firewall', '--raw', 'work')).stdout.trim().split('\n')
  const inForce = (await agentStatus('sys-firewall')).vms.find((vm) => vm.ip === '10.137.0.3')
  t.equal(inForce?.rules, saved.length, `sys-firewall enforces all ${saved.length} saved rules of work`)
  for (const port of ports) await dom0('qvm-firewall', 'work', 'del', 'accept', 'www.lab.example', 'tcp', String(port))
})

t.test('an exec: transport, as shell-style words with quotes and as a JSON array', async (t) => {
  const socket = `${LAB_DIR}/sys-firewall/agent.sock`
  const agent = built('netvm-agent/bin/qubes-firewall-agent.js')
  const forms = [
    // the quoted word holds a space: split on whitespace alone, it would reach the agent as two
    `exec:ip netns exec '${ns('sys-firewall')}' sh -c '"$0" "$1" --socket "$2" connect' ${process.execPath} ${agent} ${socket}`,
    `exec:${JSON.stringify(['ip', 'netns', 'exec', ns('sys-firewall'), process.execPath, agent, '--socket', socket, 'connect'])}`,
  ]
  t.teardown(() => dom0('qvm-features', 'sys-firewall', 'qubes-firewall-transport', `unix:${socket}`))
  for (const form of forms) {
    t.equal((await dom0('qvm-features', 'sys-firewall', 'qubes-firewall-transport', form)).code, 0)
    const reload = await dom0('qvm-firewall', 'work', '--reload')
    t.match(reload, { code: 0, stderr: /^rules of work applied in sys-firewall/ }, form)
  }
  t.equal((await dom0('qvm-features', 'sys-firewall', 'qubes-firewall-transport', "exec:ip netns exec 'unbalanced")).code, 0)
  const refused = await dom0('qvm-firewall', 'work', '--reload')
  t.match(refused.stderr, /feature qubes-firewall-transport: unbalanced single quote/, 'an unbalanced quote is an error, not a guess')
})

t.test('a name rule follows what dnsmasq answers at apply time', async (t) => {
  const hosts = `${LAB_DIR}/hosts`
  const original = readFileSync(hosts, 'utf8')
  writeFileSync(hosts, original.replace('192.0.2.10 www.lab.example', '198.51.100.10 www.lab.example'))
  const dnsmasqPid = Number(readFileSync(`${LAB_DIR}/pids/dnsmasq.pid`, 'utf8'))
  process.kill(dnsmasqPid, 'SIGHUP')
  // dnsmasq rereads its hosts file when it gets to the signal: the new answer is the event
  const reload = await until('dnsmasq answering the new address', async () => {
    const listed = await dom0('qvm-firewall', '--reload', 'work', 'list')
    return /www\.lab\.example -> 198\.51\.100\.10\)/.test(listed.stdout + listed.stderr) && listed
  })
  t.match(reload.stdout + reload.stderr, /rules of work applied in sys-firewall \(www\.lab\.example -> 198\.51\.100\.10\)/)
  t.same(await probe('work', CDN443, WWW443), ['allowed', 'refused'], 'the rule now allows the new address only')
  writeFileSync(hosts, original)
  process.kill(dnsmasqPid, 'SIGHUP')
  await until('dnsmasq answering the old address again', async () => {
    const listed = await dom0('qvm-firewall', '--reload', 'work', 'list')
    return /www\.lab\.example -> 192\.0\.2\.10\)/.test(listed.stdout + listed.stderr)
  })
  t.same(await probe('work', CDN443, WWW443), ['refused', 'allowed'])
})

t.test('a name follows DNS in sys-firewall with no dom0 action: the new address reached, the old one only through its grace', async (t) => {
  const hosts = `${LAB_DIR}/hosts`
  const original = readFileSync(hosts, 'utf8')
  const dnsmasqPid = Number(readFileSync(`${LAB_DIR}/pids/dnsmasq.pid`, 'utf8'))
  const answer = (text: string) => (writeFileSync(hosts, text), process.kill(dnsmasqPid, 'SIGHUP'))
  const reached = (want: string[]) => async () => (await probe('work', CDN443, WWW443)).join(' ') === want.join(' ')
  answer(original.replace('192.0.2.10 www.lab.example', '198.51.100.10 www.lab.example'))
  // the lab's names live 5 s: the refresh is the event; a refused probe comes back at once (the
  // old address's grace is test/ns/name-refresh.ts's: here it may be over before a probe runs)
  await until('work reaching the new address', async () => (await probe('work', CDN443))[0] === 'allowed')
  t.pass('the new address is reached')
  await until('the grace of the old address ending', reached(['allowed', 'refused']))
  t.pass('then the old address is refused')
  const listed = await dom0('qvm-firewall', '--resolved', 'work')
  t.match(listed.stdout.split('\n')[1], /www\.lab\.example .* 198\.51\.100\.10 +\d+s ago$/, '--resolved shows the address in force and when it was refreshed')
  // back as it was, for the tests after this one
  answer(original)
  await until('work back on the old address', reached(['refused', 'allowed']))
  t.pass('and back, still with no dom0 action')
})

t.test('a name that does not resolve fails its own rule, not the VM', async (t) => {
  const accept = await dom0('qvm-firewall', 'work', 'add', '--before', '0', 'accept', 'nosuch.lab.example', 'tcp', '22')
  t.equal(accept.code, 1)
  t.match(accept.stderr, /^qvm-firewall: error: sys-firewall: 10\.137\.0\.3 rule 0: nosuch\.lab\.example: .+\n$/)
  t.same(await probe('work', WWW443, 'tcp:192.0.2.10:22'), ['allowed', 'refused'], 'other rules work; the failed accept matches nothing')
  await dom0('qvm-firewall', 'work', 'del', '--rule-no', '0')
  const drop = await dom0('qvm-firewall', 'work', 'add', '--before', '0', 'drop', 'nosuch.lab.example')
  t.equal(drop.code, 1)
  t.same(await probe('work', WWW443), ['refused'], 'a failed drop rule blocks everything from its position')
  t.same(await probe('personal', WWW80), ['allowed'], 'other VMs are untouched')
  await dom0('qvm-firewall', 'work', 'del', '--rule-no', '0')
  t.same(await probe('work', WWW443), ['allowed'])
})

t.test('an agent killed and restarted restores the rules before anything else', async (t) => {
  const pid = Number(readFileSync(`${LAB_DIR}/pids/agent-sys-firewall.pid`, 'utf8'))
  process.kill(pid, 'SIGKILL')
  await untilGone(pid)
  t.same(await probe('work', WWW80, WWW443), ['refused', 'allowed'], 'the rules stay in force without the agent')
  // as after a reboot: the kernel forgets every rule
  t.equal((await run('ip', 'netns', 'exec', ns('sys-firewall'), 'nft', 'flush', 'ruleset')).code, 0)
  // (without its masquerade the answer cannot come back: a timeout, but no longer a reject;
  // a short wait is enough, as only a reject could fail this)
  const bare = await run('ip', 'netns', 'exec', ns('work'), process.execPath, built('lab/probe.js'), '--timeout', '1500', WWW80)
  t.notMatch(bare.stdout, /refused/, 'no rules at all: this is what the agent must restore')
  // no push from dom0 afterwards: what is in force is what the agent restored by itself
  const start = await node(LAB, 'agent', 'sys-firewall', 'start', '--no-push')
  t.equal(start.code, 0, start.stderr)
  t.same(await probe('work', WWW80, WWW443), ['refused', 'allowed'], 'restored by the time its socket exists')
})

t.test('an unreachable agent: a warning, and the change is kept', async (t) => {
  t.equal((await node(LAB, 'agent', 'sys-firewall', 'stop')).code, 0)
  const add = await dom0('qvm-firewall', 'work', 'add', '--before', '0', 'accept', 'cdn.lab.example', 'tcp', '443')
  t.equal(add.code, 0)
  t.match(add.stderr, /^qvm-firewall: warning: rules of work saved but not applied: agent of sys-firewall unreachable/)
  t.match(readFileSync(`${QUBES_DIR}/appvms/work/firewall.xml`, 'utf8'), /cdn\.lab\.example/)
  t.same(await probe('work', CDN443), ['refused'], 'not applied yet')
  // as when a netvm starts: dom0 pushes everything it serves
  const start = await node(LAB, 'agent', 'sys-firewall', 'start')
  t.match(start, { code: 0, stdout: /^rules applied in sys-firewall/m })
  t.same(await probe('work', CDN443), ['allowed'], 'applied at the push when the agent started')
  const sync = await dom0('qvm-firewall', '--sync', 'sys-firewall')
  t.equal(sync.code, 0, sync.stderr)
  await dom0('qvm-firewall', 'work', 'del', '--rule-no', '0')
})

t.test('a VM moved to another netvm: the old one forgets it, the new one serves it', async (t) => {
  const status = async (netvm: string) => (await agentStatus(netvm)).vms.map((vm) => vm.ip).sort()
  t.ok((await status('sys-firewall')).includes('10.137.0.3'))
  const move = await dom0('qvm-prefs', 'work', 'netvm', 'sys-net')
  t.equal(move.code, 0, move.stderr)
  t.notOk((await status('sys-firewall')).includes('10.137.0.3'), 'sys-firewall forgot work')
  t.ok((await status('sys-net')).includes('10.137.0.3'), 'sys-net has work')
  t.equal((await dom0('qvm-prefs', 'work', 'netvm', 'sys-firewall')).code, 0)
  t.ok((await status('sys-firewall')).includes('10.137.0.3'))
  t.notOk((await status('sys-net')).includes('10.137.0.3'))
})

t.test('port forwards: from outside through sys-net and sys-firewall to the VM', async (t) => {
  // a service in personal, on IPv4 and IPv6
  const server = spawn('ip', ['netns', 'exec', ns('personal'), process.execPath, built('lab/world-server.js'), '10.137.0.4/8080', 'fd09:24ef:4179::a89:4/8080'], { stdio: ['ignore', 'pipe', 'inherit'] })
  t.teardown(() => void server.kill())
  await new Promise((resolve) => server.stdout.once('data', resolve))
  // a failure is asserted only after the same path answered (a positive control), so a short
  // limit there cannot fail a test; an answer gets all the time a slow machine needs
  const curlFor = (seconds: number) => (url: string, source?: string) =>
    run('ip', 'netns', 'exec', ns('outside'), 'curl', '-s', '-m', String(seconds), ...(source ? ['--interface', source] : []), url)
  const curl = curlFor(60)
  const curlFails = curlFor(2)

  const add = await dom0('qvm-firewall', 'personal', 'forward', 'add', 'tcp', '8080', '--outside-port', '8443', '--from', '192.0.2.0/24')
  t.same(add, { code: 0, stdout: '', stderr: 'rules applied in sys-firewall\nrules applied in sys-net\n' })
  t.equal((await dom0('qvm-firewall', 'personal', 'forward')).stdout,
    'NO  PROTOCOL  PORT  OUTSIDE PORT  FROM          INTERFACE\n0   tcp       8080  8443          192.0.2.0/24  -\n')
  const fromInside = await curl('http://192.0.2.2:8443/', '192.0.2.1')
  t.equal(fromInside.stdout, 'hello from 10.137.0.4 port 8080\n', 'a client in --from reaches the VM')
  t.not((await curlFails('http://192.0.2.2:8443/', '198.51.100.10')).code, 0, 'a client outside --from does not')

  t.equal((await dom0('qvm-firewall', 'personal', 'forward', 'add', 'tcp', '8080', '--outside-port', '9443')).code, 0)
  t.equal((await curl('http://[2001:db8::2]:9443/')).stdout, 'hello from fd09:24ef:4179::a89:4 port 8080\n', 'IPv6 alike')
  t.not((await curlFails('http://[2001:db8::2]:8443/')).code, 0, 'an IPv4 --from keeps IPv6 closed')

  // the forward follows its VM: moved behind sys-net directly, sys-net now targets it, sys-firewall forgets it
  const status = async (netvm: string) => (await agentStatus(netvm)).forwards.map((f) => `${f.dport}->${f.to}`).sort()
  t.same(await status('sys-net'), ['8443->10.137.0.2', '9443->10.137.0.2', '9443->fd09:24ef:4179::a89:2'])
  // personal's vif moves to sys-net, as Qubes moves a running qube's, and dom0 re-pushes both hops
  const moved = await node(LAB, 'move', 'personal', 'sys-net')
  t.equal(moved.code, 0, moved.stderr)
  t.same(await status('sys-net'), ['8443->10.137.0.4', '9443->10.137.0.4', '9443->fd09:24ef:4179::a89:4'])
  t.same(await status('sys-firewall'), [], 'the old hop forgot the forward')
  t.equal((await curl('http://192.0.2.2:8443/', '192.0.2.1')).stdout, 'hello from 10.137.0.4 port 8080\n', 'still reached, through sys-net alone')
  t.equal((await curl('http://[2001:db8::2]:9443/')).code, 0, 'IPv6 too')
  t.equal((await node(LAB, 'move', 'personal', 'sys-firewall')).code, 0)
  t.same(await status('sys-firewall'), ['8080->10.137.0.4', '8080->10.137.0.4', '8080->fd09:24ef:4179::a89:4'])
  t.equal((await curl('http://192.0.2.2:8443/', '192.0.2.1')).code, 0, 'and through both hops again')

  t.equal((await dom0('qvm-firewall', 'personal', 'forward', 'del', '1')).code, 0)
  t.equal((await dom0('qvm-firewall', 'personal', 'forward', 'del', '0')).code, 0)
  t.not((await curlFails('http://192.0.2.2:8443/', '192.0.2.1')).code, 0, 'gone after forward del')
  t.same(await status('sys-net'), [])
})

t.test('down removes every namespace, process and file', async (t) => {
  t.equal((await node(LAB, 'down')).code, 0)
  const namespaces = (await run('ip', 'netns', 'list')).stdout
  for (const qube of ['outside', 'sys-net', 'sys-firewall', 'work', 'personal', 'untrusted', 'vault']) {
    t.notMatch(namespaces, new RegExp(`^${ns(qube)}( |$)`, 'm'), `${ns(qube)} removed`)
    t.notOk(existsSync(`/etc/netns/${ns(qube)}`))
  }
  t.notOk(existsSync(LAB_DIR))
})
