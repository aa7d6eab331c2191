// What the user sees of the rules in force, against real packets in namespaces: hit counts after
// real traffic (and when a count grew), the drop log naming VM and rule of a rejected probe (also
// followed as it comes), and `check` agreeing with what each probe got.
import { createConnection } from 'node:net'
import t from 'tap'
import { until } from '../helpers/wait.js'
import { VM_A, VM_B, WWW, makeLab, push, type Daemon } from './harness.js'

const lab = await makeLab(t)
if (lab) {
  const rulesA = [`action=accept dst4=${WWW} proto=tcp dstports=80-80`, `action=drop dst4=${WWW} proto=tcp dstports=22-22`, 'action=accept proto=icmp']
  let daemon: Daemon
  const agentCli = (...args: string[]) => lab.exec(lab.ns.fw, process.execPath, [...lab.agentArgs, '--socket', daemon.socket, ...args])
  type HitRow = { rule: number; packets: number; bytes: number; last: number | null }
  const hitsOf = async () => {
    const answer = await daemon.request({ op: 'hits', ip: VM_A })
    t.equal(answer['ok'], true, `hits answered: ${JSON.stringify(answer).slice(0, 200)}`)
    const rules = new Map((answer['rules'] as HitRow[]).map((r) => [r.rule, r]))
    return { rules, policy: answer['policy'] as HitRow }
  }

  await t.test('set up: the daemon, its drop log listening, VM a with rules and policy drop', async (t) => {
    daemon = await lab.startDaemon()
    await until('the drop log listening', async () => (await daemon.request({ op: 'status' }))['dropLog'] === 'listening')
    const answer = await daemon.request({ op: 'replace', entries: push({ [VM_A]: { policy: 'drop', rules: rulesA }, [VM_B]: { policy: 'accept', rules: [] } }) })
    t.equal(answer['ok'], true, `rules applied: ${JSON.stringify(answer).slice(0, 300)}`)
  })

  await t.test('hits: counts after real traffic; LAST once a read saw a count grow', async (t) => {
    const before = await hitsOf()
    t.same([...before.rules.values()].map((r) => r.packets), [0, 0, 0], 'no packet counted yet')
    t.equal(before.policy.packets, 0, 'policy: nothing yet')
    // the allowed probe first: a positive control for the path the refusals take
    await lab.expect(t, 'a', { [`tcp:${WWW}:80`]: 'allowed', [`tcp:${WWW}:22`]: 'refused', [`tcp:${WWW}:443`]: 'refused' })
    const after = await hitsOf()
    t.ok((after.rules.get(0)?.packets ?? 0) >= 1, 'rule 0 (accept :80) counted the connection')
    t.equal(after.rules.get(1)?.packets, 1, 'rule 1 (drop :22) counted the one SYN it refused')
    t.equal(after.rules.get(2)?.packets, 0, 'rule 2 (icmp) counted nothing')
    t.equal(after.policy.packets, 1, 'the policy counted the SYN to :443')
    t.type(after.rules.get(1)?.last, 'number', 'rule 1: LAST known once a read saw it grow')
    t.equal(after.rules.get(2)?.last, null, 'rule 2: never seen growing')
    const cli = await agentCli('hits', VM_A)
    t.match(cli.stdout, /^RULE {4}PACKETS {2}BYTES {2}LAST\n0 {7}\d+ +\d+ +\d+s ago\n1 {7}1 {8}60 {5}\d+s ago\n2 {7}0 {8}0 {6}-\npolicy {2}1 {8}60 {5}\d+s ago$/, 'qubes-firewall-agent hits: the table')
    const answer = await daemon.request({ op: 'hits', ip: '10.137.0.99' })
    t.same(answer, { ok: false, error: 'no rules loaded for 10.137.0.99' }, 'a VM the agent does not serve')
  })

  await t.test('the drop log: each refused probe with VM, rule number and 5-tuple', async (t) => {
    const drops = await until('both drops logged', async () => {
      const answer = await daemon.request({ op: 'log', ip: VM_A })
      const got = answer['drops'] as { rule: unknown; dport?: number }[]
      return got.length >= 2 && got
    })
    const summary = drops.map((d) => ({ ...d, time: 'T', sport: 'S' }))
    t.same(summary, [
      { time: 'T', vm: VM_A, rule: 1, proto: 'tcp', src: VM_A, dst: WWW, sport: 'S', dport: 22 },
      { time: 'T', vm: VM_A, rule: 'policy', proto: 'tcp', src: VM_A, dst: WWW, sport: 'S', dport: 443 },
    ], 'the SYN to :22 by rule 1, the SYN to :443 by the policy; nothing else')
    const cli = await agentCli('log', '--vm', VM_A)
    t.equal(cli.exitCode, 0, 'qubes-firewall-agent log exits 0')
    t.match(cli.stdout, new RegExp(`^\\S+Z ${VM_A.replaceAll('.', '\\.')} rule 1 tcp ${VM_A.replaceAll('.', '\\.')}:\\d+ -> ${WWW.replaceAll('.', '\\.')}:22\\n`), 'log prints one line a drop')
  })

  await t.test('the drop log followed: a drop arrives on the open connection', async (t) => {
    const socket = createConnection(daemon.socket)
    let received = ''
    socket.setEncoding('utf8').on('data', (chunk: string) => (received += chunk))
    socket.write(`${JSON.stringify({ op: 'log', ip: VM_A, follow: true })}\n`)
    // the client ends its side: a follower stays connected anyway
    socket.end()
    await until('the first answer', () => received.includes('\n'))
    await lab.expect(t, 'a', { [`tcp:${WWW}:80`]: 'allowed', [`tcp:${WWW}:22`]: 'refused' })
    const line = await until('the followed drop', () => received.split('\n').slice(1).find((l) => l.includes('"drop"')))
    const drop = (JSON.parse(line) as { drop: Record<string, unknown> }).drop
    t.same({ rule: drop['rule'], dport: drop['dport'], vm: drop['vm'] }, { rule: 1, dport: 22, vm: VM_A }, 'the new drop, as it came')
    socket.destroy()
  })

  await t.test('check agrees with what each probe got', async (t) => {
    const cells: [string, 'tcp', number][] = [[WWW, 'tcp', 80], [WWW, 'tcp', 22], [WWW, 'tcp', 443]]
    const probed = await lab.probe('a', cells.map(([dst, proto, port]) => `${proto}:${dst}:${port}`))
    for (const [dst, proto, port] of cells) {
      const answer = await daemon.request({ op: 'check', ip: VM_A, dst, proto, port })
      const got = probed[`${proto}:${dst}:${port}`]?.result
      t.equal(answer['action'] === 'accept' ? 'allowed' : 'refused', got, `${proto}:${dst}:${port}: check says ${String(answer['action'])} (${String(answer['reason'])}), the probe got ${got}`)
    }
    const cli = await agentCli('check', VM_A, WWW, 'tcp', '22')
    t.same({ code: cli.exitCode, stdout: cli.stdout, stderr: cli.stderr }, { code: 0, stdout: `drop: rule 1: drop dsthost=${WWW}/32 proto=tcp dstports=22`, stderr: '' }, 'the agent command prints the decision and why')
    const bad = await daemon.request({ op: 'check', ip: VM_A, dst: 'www.example' })
    t.same(bad, { ok: false, error: "invalid destination 'www.example' (expected an IPv4 dotted quad or an IPv6 address)" }, 'a bad destination: one error line')
  })

  await t.test('a one-VM update of another VM keeps this VM\'s counters', async (t) => {
    const before = await hitsOf()
    const answer = await daemon.request({ op: 'update', entries: push({ [VM_B]: { policy: 'drop', rules: [] } }) })
    t.equal(answer['ok'], true, 'b updated')
    const after = await hitsOf()
    t.same([...after.rules.values()].map((r) => r.packets), [...before.rules.values()].map((r) => r.packets), 'a\'s counts unchanged')
  })

  t.teardown(() => { t.comment(daemon?.stderr ?? ''); return daemon?.terminate() })
}
