// The lab as on Qubes: sys-firewall's agent runs `serve --source qubesdb` and lab dom0 writes each
// VM's rules into its QubesDB (the stand-in of lab/qubesdb-bin) in qubesd's order; a change is
// confirmed by /qubes-firewall-handled/<ip> going up. Real packets decide, as in test/lab.ts. (A
// watch that dies, rules written before the agent starts, a malformed entry: test/ns/qubesdb.ts.)
import { readFileSync, writeFileSync } from 'node:fs'
import t from 'tap'
import { built } from './helpers/built.js'
import { outcome, type Outcome } from './helpers/outcome.js'
import { until } from './helpers/wait.js'

// a lab of its own, beside any other
const PREFIX = `qlq${process.pid}-`
const LAB_DIR = `/run/qubes-lab-qdb-${process.pid}`
const QUBES_DIR = `${LAB_DIR}/qubes`
const LAB = built('lab/bin/qubes-lab.js')
const PROBE_TIMEOUT_MS = 10_000
const env = {
  ...process.env,
  QUBES_DIR,
  QUBES_LAB_PREFIX: PREFIX,
  QUBES_LAB_DIR: LAB_DIR,
  QUBES_LAB_PROBE_TIMEOUT_MS: String(PROBE_TIMEOUT_MS),
  // dom0's qubesdb-* tools, as Qubes' dom0 has them on PATH
  PATH: `${process.cwd()}/lab/qubesdb-bin:${process.env['PATH'] ?? ''}`,
}
const WORK = '10.137.0.3'
const WWW80 = 'tcp:192.0.2.10:80'
const WWW443 = 'tcp:192.0.2.10:443'
const CDN443 = 'tcp:198.51.100.10:443'

const run = (file: string, ...args: string[]): Promise<Outcome> => outcome(file, args, { env })
const node = (script: string, ...args: string[]) => run(process.execPath, script, ...args)
const dom0 = (command: string, ...args: string[]) => node(built(`dom0-tools/bin/${command}.js`), ...args)
const handled = async (ip: string) => Number((await run('qubesdb-read', '-d', 'sys-firewall', `/qubes-firewall-handled/${ip}`)).stdout.trim() || '0')

async function probe(qube: string, ...targets: string[]): Promise<string[]> {
  const out = await run('ip', 'netns', 'exec', `${PREFIX}${qube}`, process.execPath, built('lab/probe.js'), '--timeout', String(PROBE_TIMEOUT_MS), ...targets)
  const verdicts = new Map(out.stdout.trim().split('\n').map((line) => [line.slice(0, line.indexOf(' ')), line.slice(line.indexOf(' ') + 1)]))
  return targets.map((target) => verdicts.get(target) ?? `no answer (${out.stderr.trim()})`)
}

t.teardown(() => node(LAB, 'down'))

t.test('up --source qubesdb: the same matrix as through the socket; every VM taken once', async (t) => {
  const up = await node(LAB, 'up', '--source', 'qubesdb')
  t.equal(up.code, 0, up.stderr)
  t.match(up.stdout, /^rules applied in sys-firewall \(.*www\.lab\.example -> 192\.0\.2\.10.*\)$/m, 'the names the agent wrote to /dns/<ip>/')
  t.match(up.stdout, /^work\s+refused\s+allowed\s+refused\s+refused\s+refused\s+refused\s+allowed\s+timed out$/m)
  t.match(up.stdout, /^untrusted\s+refused\s+refused\s+refused\s+allowed\s+refused\s+refused\s+allowed\s+timed out$/m)
  t.equal(await handled(WORK), 1)
  t.equal((await run('qubesdb-read', '-d', 'sys-firewall', `/dns/${WORK}/www.lab.example`)).stdout, "{'192.0.2.10/32'}\n")
})

t.test("a name that follows DNS rewrites /dns/<ip>/, and the handled count stays", async (t) => {
  const hosts = `${LAB_DIR}/hosts`
  const original = readFileSync(hosts, 'utf8')
  const dnsmasqPid = Number(readFileSync(`${LAB_DIR}/pids/dnsmasq.pid`, 'utf8'))
  const answer = (text: string) => (writeFileSync(hosts, text), process.kill(dnsmasqPid, 'SIGHUP'))
  const dns = async () => (await run('qubesdb-read', '-d', 'sys-firewall', `/dns/${WORK}/www.lab.example`)).stdout
  const before = await handled(WORK)
  answer(original.replace('192.0.2.10 www.lab.example', '198.51.100.10 www.lab.example'))
  // with the old address while it is in its grace (5 s here: a loaded machine may not see it), then without
  await until('/dns/ with the new address', async () => (await dns()).includes("'198.51.100.10/32'"))
  await until('/dns/ with the new address only', async () => (await dns()) === "{'198.51.100.10/32'}\n")
  t.same(await probe('work', CDN443, WWW443), ['allowed', 'refused'], 'work reaches the new address only')
  t.equal(await handled(WORK), before, 'dom0 wrote nothing: the handled count stays')
  answer(original)
  await until('/dns/ back on the old address', async () => (await dns()) === "{'192.0.2.10/32'}\n")
  await until('work back on the old address', async () => (await probe('work', CDN443, WWW443)).join(' ') === 'refused allowed')
})

t.test('a qvm-firewall change is written to QubesDB and confirmed by the handled count', async (t) => {
  const add = await dom0('qvm-firewall', 'work', 'add', '--before', '0', 'accept', 'www.lab.example', 'tcp', '80')
  t.same(add, { code: 0, stdout: '', stderr: 'rules of work applied in sys-firewall (www.lab.example -> 192.0.2.10)\n' })
  t.equal(await handled(WORK), 2)
  t.same(await probe('work', WWW80, WWW443), ['allowed', 'allowed'])
  t.equal((await dom0('qvm-firewall', 'work', 'del', '--rule-no', '0')).code, 0)
  t.same(await probe('work', WWW80, WWW443), ['refused', 'allowed'])
})
