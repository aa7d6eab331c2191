// qvm-firewall end to end: the compiled command on a temporary qubes dir, as a user runs it.
import { execFileSync, spawn } from 'node:child_process'
import { chmodSync, chownSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { built } from './helpers/built.js'
import { outcome, type Outcome } from './helpers/outcome.js'
import { mapLimited } from './helpers/pool.js'

const bin = (name: string): string => built(`dom0-tools/bin/${name}.js`)

const cmd = (qubesDir: string, name: string, ...args: string[]): Promise<Outcome> =>
  outcome(process.execPath, [bin(name), '--qubes-dir', qubesDir, ...args])

// sys-firewall and work, made once by qvm-create as a user would (qvm-create's own tests are
// registry-cli's), and copied for each test: two processes the less per test
const template = mkdtempSync(join(tmpdir(), 'qvm-firewall-template-'))
t.teardown(() => rmSync(template, { recursive: true, force: true }))
for (const created of [
  await cmd(template, 'qvm-create', 'sys-firewall', '--prop', 'provides_network=True', '--prop', 'netvm='),
  await cmd(template, 'qvm-create', 'work', '--prop', 'netvm=sys-firewall'),
]) {
  if (created.code !== 0) throw new Error(`qvm-create: ${created.stderr}`)
}

async function labDir(): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'qvm-firewall-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  cpSync(template, dir, { recursive: true })
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
    'action=drop dst4=10.0.0.0/8\naction=accept proto=tcp dsthost=qubes-os.org dstports=443-443 comment=Allow updates\n')
  t.equal((await fw(dir, 'work', 'reset')).code, 0)
  t.equal((await fw(dir, '--raw', 'work')).stdout, 'action=accept\n')
})

t.test('expire=+N is shown as seconds left', async (t) => {
  const dir = await labDir()
  await fw(dir, 'work', 'add', 'accept', 'specialtarget=dns', 'expire=+300')
  const line = (await fw(dir, 'work')).stdout.split('\n')[2] ?? ''
  // however slow the machine, the seconds left count down from 300
  const left = Number(/^1   accept  -     -         -        dns             -          \+(\d+)s +-$/.exec(line)?.[1])
  t.ok(left > 0 && left <= 300, `${line}: +1s to +300s`)
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
  [['work', 'frob'], "qvm-firewall: error: invalid action 'frob' (choose from list, add, del, reset, forward, check, log)\n"],
  [['work', '--bogus', '-x', 'list'], 'qvm-firewall: error: unrecognized arguments: --bogus -x\n'],
  [['work', 'forward', '-x'], "qvm-firewall: error: invalid forward action '-x' (choose from list, add, del)\n"],
  [['work', 'forward', 'add', 'tcp', '80', '--bogus'], "qvm-firewall: error: unknown option '--bogus'\n"],
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
    'action=accept specialtarget=dns\naction=drop proto=icmp\naction=accept proto=tcp dst4=192.168.0.0/24 dstports=80-90\n')
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

t.test('options after VMNAME, as Qubes\' argparse takes them', async (t) => {
  const dir = await labDir()
  await fw(dir, 'work', 'add', 'accept', 'qubes-os.org', 'tcp', '443')
  const raw = 'action=accept\naction=accept proto=tcp dsthost=qubes-os.org dstports=443-443\n'
  t.same(await fw(dir, 'work', '--raw', 'list'), { code: 0, stdout: raw, stderr: '' }, 'work --raw list')
  t.same(await fw(dir, 'work', '--raw'), { code: 0, stdout: raw, stderr: '' }, 'work --raw')
  t.same(await fw(dir, 'work', '-q', '--bogus'), { code: 1, stdout: '', stderr: 'qvm-firewall: error: unrecognized arguments: --bogus\n' })
  t.match((await fw(dir, 'work', 'add', '--help')).stdout, /^Usage: qvm-firewall work add \[options\] <rule\.\.\.>\n/, 'add --help names the program and the VM')
  t.match((await fw(dir, '--version')).stdout, /^\d+\.\d+\.\d+\n$/)
})

t.test('--raw prints Qubes\' order: action, proto, dsthost, dstports, icmptype, specialtarget, expire, comment', async (t) => {
  const dir = await labDir()
  await fw(dir, 'work', 'add', 'comment=x', 'expire=4000000000', 'dstports=80', 'dsthost=10.0.0.0/8', 'proto=udp', 'action=drop')
  await fw(dir, 'work', 'add', 'icmptype=8', 'proto=icmp', 'accept')
  t.equal((await fw(dir, '--raw', 'work')).stdout,
    'action=accept\naction=drop proto=udp dst4=10.0.0.0/8 dstports=80-80 expire=4000000000 comment=x\naction=accept proto=icmp icmptype=8\n')
})

t.test('values are kept as typed: IPv6 spelling, a comment\'s spaces', async (t) => {
  const dir = await labDir()
  t.equal((await fw(dir, 'work', 'add', 'accept', '2001:DB8::1/64')).code, 0)
  t.equal((await fw(dir, 'work', 'add', 'accept', '::ffff:192.0.2.1')).code, 0)
  t.equal((await fw(dir, 'work', 'add', 'accept', 'comment=  both sides  ')).code, 0)
  t.equal((await fw(dir, 'work', 'add', 'accept', 'comment=   ')).code, 0, 'a comment of spaces only')
  const want = 'action=accept\naction=accept dst6=2001:DB8::1/64\naction=accept dst6=::ffff:192.0.2.1/128\naction=accept comment=  both sides  \naction=accept comment=   \n'
  t.equal((await fw(dir, '--raw', 'work')).stdout, want, 'read back exactly')
  t.equal((await fw(dir, 'work', 'del', '--rule-no', '4')).code, 0, 'the file stays readable for every later command')
  t.equal((await fw(dir, 'work', 'reset')).code, 0)
  t.same(await fw(dir, 'work', 'add', 'accept', 'dstname=qubes-os.org'), { code: 1, stdout: '', stderr: 'qvm-firewall: error: invalid rule description: dstname=qubes-os.org\n' })
})

t.test('expired rules do not exist: not listed, not numbered, gone on the next save', async (t) => {
  const dir = await labDir()
  mkdirSync(join(dir, 'appvms', 'work'), { recursive: true })
  const file = join(dir, 'appvms', 'work', 'firewall.xml')
  const rule = (props: string) => `<rule><properties>${props}</properties></rule>`
  const prop = (name: string, value: string) => `<property name="${name}">${value}</property>`
  writeFileSync(file, `<firewall version="2"><rules>${[
    rule(prop('action', 'accept') + prop('dsthost', '10.0.0.1/32')),
    rule(prop('action', 'accept') + prop('dsthost', '10.0.0.2/32') + prop('expire', '1000')),
    rule(prop('action', 'accept') + prop('dsthost', '10.0.0.3/32')),
  ].join('')}</rules></firewall>\n`)
  t.equal((await fw(dir, '--raw', 'work')).stdout, 'action=accept dst4=10.0.0.1/32\naction=accept dst4=10.0.0.3/32\n')
  t.match((await fw(dir, 'work')).stdout, /^1   accept  10\.0\.0\.3\/32/m, 'the next visible rule is number 1')
  t.equal((await fw(dir, 'work', 'del', '--rule-no', '1')).code, 0)
  t.equal((await fw(dir, '--raw', 'work')).stdout, 'action=accept dst4=10.0.0.1/32\n', 'del --rule-no 1 deleted the visible rule 1')
  t.notMatch(readFileSync(file, 'utf8'), /10\.0\.0\.2/, 'the expired rule is gone from the file')
  t.same(await fw(dir, 'work', 'del', '--rule-no', '0'), { code: 1, stdout: '', stderr: "qvm-firewall: error: cannot remove the last rule: add a 'drop' rule first, then delete the rest\n" })
})

t.test('an unreadable firewall.xml is an error naming it, never the default accept', async (t) => {
  const dir = await labDir()
  const vmDir = join(dir, 'appvms', 'work')
  const file = join(vmDir, 'firewall.xml')
  mkdirSync(vmDir, { recursive: true })
  const refused = (reason: string) => ({ code: 1, stdout: '', stderr: `qvm-firewall: error: ${file}: cannot read: ${reason}\n` })
  execFileSync('mkfifo', [file])
  t.same(await fw(dir, 'work'), refused('not a regular file'), 'a FIFO: refused at once, not waited on')
  t.same(await fw(dir, 'work', 'add', 'drop'), refused('not a regular file'), 'and not edited')
  rmSync(file)
  symlinkSync('/dev/zero', file)
  t.same(await fw(dir, '--raw', 'work'), refused('not a regular file'), 'a link to /dev/zero')
  rmSync(file)
  mkdirSync(file)
  t.same(await fw(dir, '--raw', 'work'), refused('not a regular file'), 'a directory')
  rmSync(file, { recursive: true })
  if (process.getuid?.() === 0) {
    writeFileSync(file, '<firewall version="2"><rules/></firewall>\n')
    // the VM's directory is another user's, and this root may not override file permissions (not
    // another uid: the checkout itself may sit in a directory only root can enter)
    chownSync(vmDir, 65534, 65534)
    chmodSync(vmDir, 0o700)
    const denied = await outcome('setpriv', ['--bounding-set=-dac_override,-dac_read_search',
      process.execPath, bin('qvm-firewall'), '--qubes-dir', dir, '--raw', 'work'])
    t.same(denied, refused('permission denied'), 'EACCES: an error, not action=accept')
  }
})

const PROGRAM_USAGE = 'Usage: qvm-firewall [options] [VMNAME] [action...]'
const FORWARD_HELP = [
  'Usage: qvm-firewall work forward [options] [command]',
  '',
  'port forwarding from the outside world, through every netvm on the way out',
  '',
  'Options:',
  '  -h, --help                    display help for command',
  '',
  'Commands:',
  "  list                          print the VM's forwards; the default",
  "  add [options] <proto> <port>  open the VM's PORT on the outermost netvm's",
  '                                upstream side',
  '  del <n>                       remove forward N',
  '',
].join('\n')

t.test('--help and -h anywhere in the line print the help and exit 0, as Qubes\' argparse does', async (t) => {
  const dir = await labDir()
  // the first line of what each prints, or all of it for `forward --help`
  const cases: [args: string[], first: string, whole?: string][] = [
    [['--help'], PROGRAM_USAGE],
    [['work', '--help'], PROGRAM_USAGE],
    [['work', '-h'], PROGRAM_USAGE],
    [['work', '--raw', '-v', '-h', 'list'], PROGRAM_USAGE],
    [['work', '--bogus', '--help'], PROGRAM_USAGE],
    [['--sync', 'sys-firewall', '--help'], PROGRAM_USAGE],
    [['work', 'list', '--help'], 'Usage: qvm-firewall work list [options]'],
    [['work', 'add', '-h'], 'Usage: qvm-firewall work add [options] <rule...>'],
    [['work', 'add', 'accept', '--help'], 'Usage: qvm-firewall work add [options] <rule...>'],
    [['work', 'del', '--help'], 'Usage: qvm-firewall work del [options] [rule...]'],
    [['work', 'reset', '-h'], 'Usage: qvm-firewall work reset [options]'],
    [['nosuch', 'add', '--help'], 'Usage: qvm-firewall nosuch add [options] <rule...>'],
    [['work', 'forward', '--help'], 'Usage: qvm-firewall work forward [options] [command]', FORWARD_HELP],
    [['work', '--raw', 'forward', '-h'], 'Usage: qvm-firewall work forward [options] [command]', FORWARD_HELP],
    [['work', 'forward', 'list', '--help'], 'Usage: qvm-firewall work forward list [options]'],
    [['work', 'forward', 'add', '--help'], 'Usage: qvm-firewall work forward add [options] <proto> <port>'],
    [['work', 'forward', 'add', 'tcp', '-h'], 'Usage: qvm-firewall work forward add [options] <proto> <port>'],
    [['work', 'forward', 'del', '-h'], 'Usage: qvm-firewall work forward del [options] <n>'],
  ]
  t.plan(cases.length + 1)
  for (const [args, first, whole] of cases) {
    t.test(args.join(' '), async (t) => {
      const { code, stdout, stderr } = await fw(dir, ...args)
      t.same({ code, stderr, first: stdout.split('\n')[0] }, { code: 0, stderr: '', first })
      if (whole !== undefined) t.equal(stdout, whole)
    })
  }
  t.notOk(existsSync(join(dir, 'appvms', 'work', 'firewall.xml')), 'nothing was written')
})

t.test('a reader that went away (as `| head` does) ends the command quietly, exit 0', async (t) => {
  // the read end is closed before the command has started: its first write meets EPIPE
  const child = spawn(process.execPath, [bin('qvm-firewall'), '--help'], { stdio: ['ignore', 'pipe', 'pipe'] })
  child.stdout.destroy()
  let stderr = ''
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
  const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)))
  t.same({ code, stderr }, { code: 0, stderr: '' })
})

/** A netvm agent that reads the push and gives `answer`: an exec: transport for qvm-features. */
const agentAnswering = (answer: object): string => `exec:${JSON.stringify(['sh', '-c', `cat >/dev/null; echo '${JSON.stringify(answer)}'`])}`
// the time an answer took varies: the rest of the line is exact
const timeless = (o: Outcome): Outcome => ({ ...o, stderr: o.stderr.replace(/answered in \d+ ms/g, 'answered in N ms') })

t.test('-q drops the status line, -v adds where and how long; counted as in Qubes; errors always show', async (t) => {
  const dir = await labDir()
  t.equal((await cmd(dir, 'qvm-features', 'sys-firewall', 'qubes-firewall-transport', agentAnswering({ ok: true }))).code, 0)
  const applied = 'rules of work applied in sys-firewall\n'
  const detail = 'qvm-firewall: work: pushed to sys-firewall, answered in N ms\n'
  const listing = 'NO  ACTION  HOST  PROTOCOL  PORT(S)  SPECIAL TARGET  ICMP TYPE  EXPIRE  COMMENT\n0   accept  -     -         -        -               -          -       -\n'
  const cases: [args: string[], stderr: string, stdout?: string][] = [
    [['work', 'add', 'drop'], applied],
    [['-q', 'work', 'add', 'drop'], ''],
    [['work', '--quiet', 'add', 'drop'], ''],
    [['work', '-v', 'add', 'drop'], detail + applied],
    [['--verbose', 'work', 'del', '--rule-no', '1'], detail + applied],
    [['-v', 'work', '-q', 'add', 'drop'], applied],
    [['-vv', 'work', '-q', 'add', 'drop'], detail + applied],
    [['work', '-qv', 'reset'], applied],
    [['-q', 'work', '-r'], '', listing],
    [['work', '-vr'], detail + applied, listing],
    [['-q', '--sync', 'sys-firewall'], ''],
    [['-v', '--sync', 'sys-firewall'], 'qvm-firewall: pushed to sys-firewall, answered in N ms\nrules applied in sys-firewall\n'],
    [['work', '-q', 'forward', 'add', 'tcp', '80'], ''],
    [['work', 'forward', 'del', '0'], 'rules applied in sys-firewall\n'],
  ]
  for (const [args, stderr, stdout = ''] of cases) t.same(timeless(await fw(dir, ...args)), { code: 0, stdout, stderr }, args.join(' '))
  t.equal((await cmd(dir, 'qvm-features', 'sys-firewall', 'qubes-firewall-transport', agentAnswering({ ok: false, error: 'nft: syntax error' }))).code, 0)
  t.same(await fw(dir, '-qq', 'work', 'add', 'drop'), { code: 1, stdout: '', stderr: 'qvm-firewall: error: sys-firewall: nft: syntax error\n' }, 'a refusal shows under -q')
  t.same((await fw(dir, '--raw', 'work')).stdout, 'action=accept\naction=drop\n', 'the change is kept')
})
