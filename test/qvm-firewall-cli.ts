// qvm-firewall end to end: the compiled command on a temporary qubes dir, as a user runs it.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { outcome, type Outcome } from './helpers/outcome.js'
import { mapLimited } from './helpers/pool.js'

const BIN = 'dist/dom0-tools/bin'

const cmd = (qubesDir: string, name: string, ...args: string[]): Promise<Outcome> =>
  outcome(process.execPath, [join(BIN, `${name}.js`), '--qubes-dir', qubesDir, ...args])

async function labDir(): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'qvm-firewall-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  await cmd(dir, 'qvm-create', 'sys-firewall', '--prop', 'provides_network=True', '--prop', 'netvm=')
  await cmd(dir, 'qvm-create', 'work', '--prop', 'netvm=sys-firewall')
  return dir
}

const fw = (dir: string, ...args: string[]) => cmd(dir, 'qvm-firewall', ...args)

t.test('a VM without firewall.xml has one rule, accept', async (t) => {
  const dir = await labDir()
  t.same(await fw(dir, 'work'), {
    code: 0,
    stderr: '',
    stdout:
      'NO  ACTION  HOST  PROTOCOL  PORT(S)  SPECIAL TARGET  ICMP TYPE  EXPIRE  COMMENT\n' +
      '0   accept  -     -         -        -               -          -       -\n',
  })
  t.same((await fw(dir, '--raw', 'work', 'list')).stdout, 'action=accept\n')
})

t.test('add, add --before, del by number and by rule, reset', async (t) => {
  const dir = await labDir()
  t.equal((await fw(dir, 'work', 'add', 'accept', 'qubes-os.org', 'tcp', '443', 'comment=Allow updates')).code, 0)
  t.equal((await fw(dir, 'work', 'add', '--before', '0', 'drop', '10.0.0.0/8')).code, 0)
  t.equal((await fw(dir, 'work', 'add', 'action=drop', 'proto=icmp', 'icmptype=8')).code, 0)
  t.equal((await fw(dir, 'work', 'list')).stdout,
    'NO  ACTION  HOST          PROTOCOL  PORT(S)  SPECIAL TARGET  ICMP TYPE  EXPIRE  COMMENT\n' +
    '0   drop    10.0.0.0/8    -         -        -               -          -       -\n' +
    '1   accept  -             -         -        -               -          -       -\n' +
    '2   accept  qubes-os.org  tcp       443      -               -          -       Allow updates\n' +
    '3   drop    -             icmp      -        -               8          -       -\n')
  t.equal((await fw(dir, 'work', 'del', '--rule-no', '1')).code, 0)
  t.equal((await fw(dir, 'work', 'del', 'drop', 'proto=icmp', 'icmptype=8')).code, 0)
  t.equal((await fw(dir, '--raw', 'work')).stdout,
    'action=drop dst4=10.0.0.0/8\naction=accept dsthost=qubes-os.org proto=tcp dstports=443-443 comment=Allow updates\n')
  t.equal((await fw(dir, 'work', 'reset')).code, 0)
  t.equal((await fw(dir, '--raw', 'work')).stdout, 'action=accept\n')
})

t.test('expire=+N is shown as seconds left', async (t) => {
  const dir = await labDir()
  await fw(dir, 'work', 'add', 'accept', 'specialtarget=dns', 'expire=+300')
  const line = (await fw(dir, 'work')).stdout.split('\n')[2] ?? ''
  t.match(line, /^1   accept  -     -         -        dns             -          \+(29[0-9]|300)s   -$/)
})

const errors: [args: string[], message: string][] = [
  [['work', 'add', 'accept', '1.2.3.4', 'tcp', '443-80'], "qvm-firewall: error: invalid port range '443-80' (start above end)\n"],
  [['work', 'add', 'accept', 'dstports=80'], "qvm-firewall: error: dstports valid only for 'tcp' and 'udp' protocols\n"],
  [['work', 'add', 'allow'], "qvm-firewall: error: invalid action 'allow' (expected accept or drop)\n"],
  [['work', 'add', 'accept', '10.0.0.0/33'], "qvm-firewall: error: invalid dsthost '10.0.0.0/33' (netmask must be 0-32)\n"],
  [['work', 'add', 'accept', 'proto=tcp', 'proto=udp'], "qvm-firewall: error: option 'proto' given twice\n"],
  [['work', 'add', '--before', '9', 'drop'], 'qvm-firewall: error: rule number 9 out of range (the VM has rules 0-0)\n'],
  [['work', 'del', '--rule-no', '0'], "qvm-firewall: error: cannot remove the last rule: add a 'drop' rule first, then delete the rest\n"],
  [['work', 'del', 'drop', 'proto=udp'], 'qvm-firewall: error: rule not found: action=drop proto=udp\n'],
  [['nope', 'list'], "qvm-firewall: error: no such domain: 'nope'\n"],
  [['work', 'frob'], "qvm-firewall: error: invalid action 'frob' (choose from list, add, del, reset, forward)\n"],
]

t.test('bad input: one error line, exit 1, firewall.xml byte-identical', async (t) => {
  const dir = await labDir()
  // a stored file with the single default rule
  await fw(dir, 'work', 'reset')
  const file = join(dir, 'appvms', 'work', 'firewall.xml')
  const before = readFileSync(file)
  t.plan(errors.length)
  for (const [args, message] of errors) {
    t.test(args.join(' '), async (t) => {
      const outcome = await fw(dir, ...args)
      t.same({ code: outcome.code, stderr: outcome.stderr }, { code: 1, stderr: message })
      t.same(readFileSync(file), before)
      t.same(readdirSync(join(dir, 'appvms', 'work')), ['firewall.xml'], 'no temp or lock files left')
    })
  }
})

t.test('a version 1 firewall.xml is read and converted', async (t) => {
  const dir = await labDir()
  const file = join(dir, 'appvms', 'work', 'firewall.xml')
  mkdirSync(join(dir, 'appvms', 'work'), { recursive: true })
  writeFileSync(file, '<QubesFirewallRules policy="deny" dns="allow" icmp="deny"><rule address="192.168.0.0" netmask="24" port="80" toport="90"/></QubesFirewallRules>\n')
  t.equal((await fw(dir, '--raw', 'work')).stdout,
    'action=accept specialtarget=dns\naction=drop proto=icmp\naction=accept dst4=192.168.0.0/24 proto=tcp dstports=80-90\n')
  // the next change writes version 2
  await fw(dir, 'work', 'add', 'drop')
  t.match(readFileSync(file, 'utf8'), /<firewall version="2">/)
})

t.test('20 concurrent adds keep all 20 rules', async (t) => {
  const dir = await labDir()
  // as many at once as there are cores: always overlapping, never a pile-up of slow starts
  const adds = await mapLimited(Array.from({ length: 20 }, (_, i) => i), (i) => fw(dir, 'work', 'add', 'accept', `10.1.${i}.0/24`))
  t.same(adds.map((o) => o.code), Array(20).fill(0))
  const raw = (await fw(dir, '--raw', 'work')).stdout.trim().split('\n')
  t.equal(raw.length, 21)
  for (let i = 0; i < 20; i++) t.ok(raw.includes(`action=accept dst4=10.1.${i}.0/24`), `rule ${i} kept`)
  t.notOk(existsSync(join(dir, 'appvms', 'work', '.firewall.xml.lock')), 'lock released')
})
