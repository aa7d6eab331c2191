// qvm-create, qvm-prefs, qvm-ls, qvm-remove, qvm-features and qubes-prefs as users run them: the compiled bins
// (`npx tsc -p .` first), each on a temporary --qubes-dir.
import { execFile } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import t, { type Test } from 'tap'
import { built } from './helpers/built.js'
import { outcome, type Outcome } from './helpers/outcome.js'
import { mapLimited } from './helpers/pool.js'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..')
const FIXTURE = readFileSync(join(ROOT, 'test/fixtures/qubes.xml'), 'utf8')

/** A fresh --qubes-dir (optionally with a qubes.xml), removed after the test; unique even when suites run at once. */
function tempQubesDir(t: Test, qubesXml?: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'qubes-registry-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  if (qubesXml !== undefined) writeFileSync(join(dir, 'qubes.xml'), qubesXml)
  return dir
}

type Command = 'qvm-create' | 'qvm-prefs' | 'qvm-ls' | 'qvm-remove' | 'qvm-features' | 'qubes-prefs'

async function run(qubesDir: string | undefined, command: Command, args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<Outcome> {
  const bin = built(`dom0-tools/bin/${command}.js`)
  const argv = qubesDir === undefined ? [bin, ...args] : [bin, '--qubes-dir', qubesDir, ...args]
  return outcome(process.execPath, argv, { env: { ...process.env, QUBES_DIR: undefined, ...env } })
}

t.test('a lab network built with the commands', async (t) => {
  const dir = tempQubesDir(t)
  const steps: [command: Command, args: string[]][] = [
    ['qvm-create', ['sys-net', '--prop', 'provides_network=True', '--prop', 'netvm=']],
    ['qvm-create', ['sys-firewall', '-p', 'provides_network=yes', '--property', 'netvm=sys-net']],
    ['qvm-create', ['work', '-p', 'netvm=sys-firewall']],
    ['qvm-create', ['vault', '-p', 'netvm=none']],
    ['qvm-create', ['disp7', '--class', 'DispVM', '-p', 'netvm=sys-firewall']],
    ['qvm-create', ['tmpl', '-C', 'TemplateVM']],
  ]

  const cases: [args: [Command, ...string[]], stdout: string][] = [
    [
      ['qvm-ls'],
      [
        'NAME          CLASS       NETVM',
        'disp7         DispVM      sys-firewall',
        'dom0          AdminVM     -',
        'sys-firewall  AppVM       sys-net',
        'sys-net       AppVM       -',
        'tmpl          TemplateVM  -',
        'vault         AppVM       -',
        'work          AppVM       sys-firewall',
        '',
      ].join('\n'),
    ],
    [
      ['qvm-ls', '-n'],
      [
        'NAME          IP          NETVM',
        'disp7         10.138.0.5  sys-firewall',
        'dom0          -           -',
        'sys-firewall  10.137.0.2  sys-net',
        'sys-net       10.137.0.1  -',
        'tmpl          -           -',
        'vault         -           -',
        'work          10.137.0.3  sys-firewall',
        '',
      ].join('\n'),
    ],
    [['qvm-ls', '-n', 'work', 'vault'], 'NAME   IP          NETVM\nvault  -           -\nwork   10.137.0.3  sys-firewall\n'],
    [
      ['qvm-prefs', 'work'],
      [
        'ip                D  10.137.0.3',
        'ip6               D',
        'klass             -  AppVM',
        'name              -  work',
        'netvm             -  sys-firewall',
        'provides_network  D  False',
        'qid               -  3',
        '',
      ].join('\n'),
    ],
    [['qvm-prefs', 'work', '--hide-default'], 'klass             -  AppVM\nname              -  work\nnetvm             -  sys-firewall\nqid               -  3\n'],
    [['qvm-prefs', 'work', 'netvm'], 'sys-firewall\n'],
    [['qvm-prefs', 'work', 'ip'], '10.137.0.3\n'],
    [['qvm-prefs', 'vault', 'netvm'], '\n'],
    [['qvm-prefs', 'vault', 'ip'], '\n'],
    [['qvm-prefs', 'sys-net', 'provides-network'], 'True\n'],
  ]
  t.plan(steps.length + cases.length + 1)
  for (const [command, args] of steps) t.same(await run(dir, command, args), { code: 0, stdout: '', stderr: '' }, `${command} ${args.join(' ')}`)
  for (const [[command, ...args], stdout] of cases) {
    t.test(`${command} ${args.join(' ')}`, async (t) => t.same(await run(dir, command, args), { code: 0, stdout, stderr: '' }))
  }
  t.test('QUBES_DIR is used when --qubes-dir is not given', async (t) => {
    const result = await run(undefined, 'qvm-prefs', ['sys-firewall', 'netvm'], { QUBES_DIR: dir })
    t.same(result, { code: 0, stdout: 'sys-net\n', stderr: '' })
  })
})

t.test('qvm-prefs sets and resets properties', async (t) => {
  const cases: [change: string[], prop: [vm: string, prop: string], want: string][] = [
    [['work', 'netvm', 'sys-net'], ['work', 'netvm'], 'sys-net\n'],
    [['work', 'netvm', ''], ['work', 'netvm'], '\n'],
    [['work', 'netvm', 'None'], ['work', 'ip'], '\n'],
    [['work', '--default', 'netvm'], ['work', 'netvm'], 'sys-firewall\n'],
    [['untrusted', '-D', 'ip'], ['untrusted', 'ip'], '10.137.0.7\n'],
    [['work', 'ip', '10.137.1.1'], ['work', 'ip'], '10.137.1.1\n'],
    [['work', 'ip6', 'FD00::0:5'], ['work', 'ip6'], 'fd00::5\n'],
    [['work', 'memory', '800'], ['work', 'memory'], '800\n'],
  ]
  t.plan(cases.length)
  for (const [change, [vm, prop], want] of cases) {
    t.test(`qvm-prefs ${change.join(' ')}`, async (t) => {
      const dir = tempQubesDir(t, FIXTURE)
      t.same(await run(dir, 'qvm-prefs', change), { code: 0, stdout: '', stderr: '' })
      t.same(await run(dir, 'qvm-prefs', [vm, prop]), { code: 0, stdout: want, stderr: '' })
    })
  }
})

t.test('a refused command prints one line, exits 1 and leaves qubes.xml byte-identical', async (t) => {
  const cases: [args: [Command, ...string[]], stderr: string][] = [
    [['qvm-create', 'work'], 'qvm-create: error: VM work already exists'],
    [['qvm-create', 'bad name'], "qvm-create: error: VM name contains illegal characters: 'bad name'"],
    [['qvm-create', 'x', '-p', 'netvm'], "qvm-create: error: invalid property token: 'netvm'"],
    [['qvm-create', 'x', '-p', 'netvm=vault'], 'qvm-create: error: The vault qube does not provide network'],
    [['qvm-create', 'x', '-p', 'ip=10.137.0.300'], "qvm-create: error: Invalid IP address value: '10.137.0.300'"],
    [['qvm-create', 'x', '--class', 'HVM'], "qvm-create: error: no such domain class: 'HVM'"],
    [['qvm-create'], "qvm-create: error: missing required argument 'name'"],
    [['qvm-create', 'x', '--bogus'], "qvm-create: error: unknown option '--bogus'"],
    [['qvm-prefs', 'nosuch'], "qvm-prefs: error: no such domain: 'nosuch'"],
    [['qvm-prefs', 'work', 'nosuch'], "qvm-prefs: error: no such property: 'nosuch'"],
    [['qvm-prefs', 'work', 'name', 'job'], "qvm-prefs: error: property 'name' is write-once and already set"],
    [['qvm-prefs', 'work', 'ip', '1.2.3'], "qvm-prefs: error: Invalid IP address value: '1.2.3'"],
    [['qvm-prefs', 'work', 'provides_network', 'maybe'], "qvm-prefs: error: Invalid literal for boolean property: 'maybe'"],
    [['qvm-prefs', 'sys-net', 'netvm', 'sys-firewall'], 'qvm-prefs: error: Loops in network are unsupported'],
    [['qvm-prefs', 'dom0', 'netvm', 'sys-net'], "qvm-prefs: error: no such property: 'netvm'"],
    [['qvm-prefs', 'work', '--default'], 'qvm-prefs: error: --default needs a PROPERTY'],
    [['qvm-prefs', 'work', '--default', 'ip', '1.2.3.4'], 'qvm-prefs: error: --default takes no VALUE'],
    [['qvm-remove', 'dom0'], "qvm-remove: error: Domain 'dom0' cannot be removed"],
    [['qvm-remove', 'nosuch'], "qvm-remove: error: no such domain: 'nosuch'"],
    [['qvm-remove', '-f', 'sys-net'], "qvm-remove: error: Domain is in use: 'sys-net'; details: 'sys-firewall' uses it as netvm, global property clockvm is set to it"],
    [['qvm-remove'], "qvm-remove: error: missing required argument 'name'"],
    [['qvm-ls', 'nosuch'], "qvm-ls: error: no such domain: 'nosuch'"],
    [['qvm-remove', 'work'], 'qvm-remove: error: not removing without confirmation: standard input is not a terminal (use --force)'],
    [['qubes-prefs', 'nosuch'], "qubes-prefs: error: no such property: 'nosuch'"],
    [['qubes-prefs', 'nosuch', 'value'], "qubes-prefs: error: no such property: 'nosuch'"],
    [['qubes-prefs', 'qubes_firewall_resolve', 'bogus'], "qubes-prefs: error: invalid value for qubes_firewall_resolve: 'bogus' (expected dom0 or agent)"],
  ]
  t.plan(cases.length + 1)
  for (const [[command, ...args], stderr] of cases) {
    t.test(`${command} ${args.join(' ')}`, async (t) => {
      const dir = tempQubesDir(t, FIXTURE)
      t.same(await run(dir, command, args), { code: 1, stdout: '', stderr: `${stderr}\n` })
      t.equal(readFileSync(join(dir, 'qubes.xml'), 'utf8'), FIXTURE)
    })
  }
  t.test('a qubes.xml that is not XML is named in the error', async (t) => {
    const dir = tempQubesDir(t, '<qubes>')
    const result = await run(dir, 'qvm-ls', [])
    t.same(result, { code: 1, stdout: '', stderr: `qvm-ls: error: ${join(dir, 'qubes.xml')}: not well-formed XML (line 1: Unclosed tag 'qubes'.)\n` })
  })
})

t.test('qvm-remove drops the domain and its appvms directory', async (t) => {
  const dir = tempQubesDir(t, FIXTURE)
  for (const vm of ['vault', 'work']) {
    mkdirSync(join(dir, 'appvms', vm), { recursive: true })
    writeFileSync(join(dir, 'appvms', vm, 'firewall.xml'), '<firewall version="2"/>\n')
  }
  t.same(await run(dir, 'qvm-remove', ['--force', 'vault']), { code: 0, stdout: '', stderr: '' })
  t.notOk(existsSync(join(dir, 'appvms', 'vault')), 'appvms/vault is gone')
  t.ok(existsSync(join(dir, 'appvms', 'work', 'firewall.xml')), 'appvms/work is kept')
  t.same(await run(dir, 'qvm-prefs', ['vault']), { code: 1, stdout: '', stderr: "qvm-prefs: error: no such domain: 'vault'\n" })
  t.match(readFileSync(join(dir, 'qubes.xml'), 'utf8'), '<label color="0xcc0000" id="label-1">red</label>', 'the rest of qubes.xml is kept')
})

t.test('10 concurrent qvm-create all land', async (t) => {
  const dir = tempQubesDir(t)
  const names = Array.from({ length: 10 }, (_, i) => `vm${i}`)
  const results = await mapLimited(names, (name) => run(dir, 'qvm-create', [name]))
  t.same(results, names.map(() => ({ code: 0, stdout: '', stderr: '' })))
  const qids = await mapLimited(names, async (name) => Number((await run(dir, 'qvm-prefs', [name, 'qid'])).stdout))
  t.same([...qids].sort((a, b) => a - b), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
})

t.test('a missing registry is an error, except for qvm-create in an existing directory', async (t) => {
  const dir = tempQubesDir(t)
  const file = join(dir, 'qubes.xml')
  const missing = `${file}: no such file (check --qubes-dir or QUBES_DIR; qvm-create makes the first VM)`
  for (const [command, args] of [['qvm-ls', []], ['qvm-prefs', ['work']], ['qubes-prefs', []], ['qvm-remove', ['--force', 'work']]] as [Command, string[]][]) {
    t.same(await run(dir, command, args), { code: 1, stdout: '', stderr: `${command}: error: ${missing}\n` }, command)
  }
  t.notOk(existsSync(file), 'nothing was written')
  const typo = join(dir, 'typo', 'sub')
  t.same(await run(typo, 'qvm-create', ['work']), { code: 1, stdout: '', stderr: `qvm-create: error: ${typo}: no such directory (check --qubes-dir or QUBES_DIR)\n` })
  t.notOk(existsSync(join(dir, 'typo')), 'no directory made')
  t.same(await run(dir, 'qvm-create', ['work']), { code: 0, stdout: '', stderr: '' }, 'the first VM makes the registry')
  t.match((await run(dir, 'qvm-ls', [])).stdout, /^work /m)
})

t.test('qubes-prefs: Qubes\' properties and ours, values checked', async (t) => {
  const dir = tempQubesDir(t, FIXTURE)
  t.same(await run(dir, 'qubes-prefs', ['default_template']), { code: 0, stdout: 'fedora-40-xfce\n', stderr: '' })
  t.same(await run(dir, 'qubes-prefs', ['stats_interval']), { code: 0, stdout: '\n', stderr: '' }, 'a Qubes property without value: an empty line')
  t.equal((await run(dir, 'qubes-prefs', ['qubes_firewall_resolve', 'agent'])).code, 0)
  t.same(await run(dir, 'qubes-prefs', ['qubes_firewall_resolve']), { code: 0, stdout: 'agent\n', stderr: '' })
})

/** A netvm agent that reads the push and gives `answer`: an exec: transport for qvm-features. */
const agentAnswering = (answer: object): string => `exec:${JSON.stringify(['sh', '-c', `cat >/dev/null; echo '${JSON.stringify(answer)}'`])}`
// the time an answer took varies: the rest of the line is exact
const timeless = (result: Outcome): Outcome => ({ ...result, stderr: result.stderr.replace(/answered in \d+ ms/g, 'answered in N ms') })

t.test("-q and -v, as every Qubes dom0 tool takes them: -q drops re-push status lines, -v adds where and how long, errors always show", async (t) => {
  const dir = tempQubesDir(t)
  const transport = (answer: string): Promise<Outcome> => run(dir, 'qvm-features', ['sys-firewall', 'qubes-firewall-transport', answer])
  t.same(await run(dir, 'qvm-create', ['sys-firewall', '-p', 'provides_network=True', '-p', 'netvm=']), { code: 0, stdout: '', stderr: '' })
  t.same(await transport(agentAnswering({ ok: true })), { code: 0, stdout: '', stderr: '' })
  const applied = 'rules applied in sys-firewall\n'
  const ls = 'NAME          CLASS    NETVM\ndom0          AdminVM  -\nsys-firewall  AppVM    -\nwork          AppVM    sys-firewall\n'
  // in order: each step starts from the registry the one before left
  const cases: [args: [Command, ...string[]], want: Outcome][] = [
    [['qvm-create', 'work', '-p', 'netvm=sys-firewall'], { code: 0, stdout: '', stderr: applied }],
    [['qvm-create', '-q', 'quiet', '-p', 'netvm=sys-firewall'], { code: 0, stdout: '', stderr: '' }],
    [['qvm-create', '--verbose', 'loud', '-p', 'netvm=sys-firewall'], { code: 0, stdout: '', stderr: `qvm-create: pushed to sys-firewall, answered in N ms\n${applied}` }],
    [['qvm-create', '-vv', '-q', 'both', '-p', 'netvm=sys-firewall'], { code: 0, stdout: '', stderr: `qvm-create: pushed to sys-firewall, answered in N ms\n${applied}` }],
    [['qvm-prefs', 'quiet', 'netvm', '', '-v', '-q'], { code: 0, stdout: '', stderr: applied }],
    [['qvm-prefs', '--quiet', 'loud', 'netvm', ''], { code: 0, stdout: '', stderr: '' }],
    [['qvm-prefs', '-qq', 'quiet', 'netvm', 'sys-firewall'], { code: 0, stdout: '', stderr: '' }],
    [['qubes-prefs', '-q', 'default_netvm', 'sys-firewall'], { code: 0, stdout: '', stderr: '' }],
    [['qvm-prefs', 'loud', '--default', 'netvm', '--verbose'], { code: 0, stdout: '', stderr: `qvm-prefs: pushed to sys-firewall, answered in N ms\n${applied}` }],
    [['qvm-remove', '-f', '-v', 'both'], { code: 0, stdout: '', stderr: `qvm-remove: pushed to sys-firewall, answered in N ms\n${applied}` }],
    [['qvm-remove', '--force', '-q', 'quiet', 'loud'], { code: 0, stdout: '', stderr: '' }],
    [['qvm-ls', '-q'], { code: 0, stdout: ls, stderr: '' }],
    [['qvm-ls', '-v', '--verbose'], { code: 0, stdout: ls, stderr: '' }],
    [['qvm-prefs', '-v', 'work', 'netvm'], { code: 0, stdout: 'sys-firewall\n', stderr: '' }],
    [['qubes-prefs', '-q', 'qubes_firewall_resolve', 'agent'], { code: 0, stdout: '', stderr: '' }],
    [['qubes-prefs', '--verbose', 'qubes_firewall_resolve'], { code: 0, stdout: 'agent\n', stderr: '' }],
    [['qvm-features', '-v', '-q', 'work', 'x', '1'], { code: 0, stdout: '', stderr: '' }],
    [['qvm-features', '--quiet', 'work'], { code: 0, stdout: 'x  1\n', stderr: '' }],
    [['qvm-ls', '-x'], { code: 1, stdout: '', stderr: "qvm-ls: error: unknown option '-x'\n" }],
  ]
  for (const [[command, ...args], want] of cases) t.same(timeless(await run(dir, command, args)), want, `${command} ${args.join(' ')}`)
  // -q silences status, never errors nor warnings
  t.same(await transport(agentAnswering({ ok: false, error: 'nft: syntax error' })), { code: 0, stdout: '', stderr: '' })
  t.same(await run(dir, 'qvm-prefs', ['-q', 'work', 'netvm', '']), { code: 1, stdout: '', stderr: 'qvm-prefs: error: sys-firewall: nft: syntax error\n' })
  t.same(await transport('exec:sh -c "echo gone >&2; exit 1"'), { code: 0, stdout: '', stderr: '' })
  t.same(await run(dir, 'qvm-create', ['-q', 'late', '-p', 'netvm=sys-firewall']), {
    code: 0,
    stdout: '',
    stderr: 'qvm-create: warning: rules saved but not applied: agent of sys-firewall unreachable (sh -c echo gone >&2; exit 1: gone); they apply at its next push\n',
  })
})

t.test('each dom0 command lists -v and -q in its help', async (t) => {
  const commands: Command[] = ['qvm-create', 'qvm-prefs', 'qvm-ls', 'qvm-remove', 'qvm-features', 'qubes-prefs']
  t.plan(commands.length)
  for (const command of commands) {
    t.test(command, async (t) => {
      const { code, stdout, stderr } = await run(undefined, command, ['--help'])
      t.same({ code, stderr }, { code: 0, stderr: '' })
      // (the column the descriptions start at depends on each command's longest option)
      const lines = stdout.split('\n').filter((line) => /^  -[vq], /.test(line)).map((line) => line.trim().replace(/ {2,}/, '  ').replace(/: .*/, ':'))
      t.same(lines, ['-v, --verbose  increase verbosity:', '-q, --quiet  decrease verbosity:'])
    })
  }
})

/** A command run on a terminal (script(1) gives it one), `answer` typed at its prompt. */
function onTerminal(qubesDir: string, command: Command, args: readonly string[], answer: string): Promise<Outcome> {
  const line = [process.execPath, built(`dom0-tools/bin/${command}.js`), '--qubes-dir', qubesDir, ...args].map((w) => `'${w}'`).join(' ')
  return new Promise((resolve) => {
    const child = execFile('script', ['-qec', line, '/dev/null'], { env: { ...process.env, QUBES_DIR: undefined } }, (err, stdout, stderr) =>
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    )
    child.stdin?.end(`${answer}\n`)
  })
}

t.test('qvm-remove asks on a terminal, as Qubes does, and only y removes', async (t) => {
  const dir = tempQubesDir(t)
  await run(dir, 'qvm-create', ['tmpvm'])
  const no = await onTerminal(dir, 'qvm-remove', ['tmpvm'], 'n')
  t.equal(no.code, 1)
  // (the terminal echoes the answer, and readline adds cursor moves)
  t.match(no.stdout, /This will completely remove the selected VM\(s\)\.\.\.\r?\n  tmpvm\r?\n.*Are you sure\? \[y\/N\] .*Remove cancelled\./s)
  t.match((await run(dir, 'qvm-ls', [])).stdout, /^tmpvm /m, 'still there')
  const yes = await onTerminal(dir, 'qvm-remove', ['tmpvm'], 'y')
  t.equal(yes.code, 0, yes.stdout)
  t.notMatch((await run(dir, 'qvm-ls', [])).stdout, /^tmpvm /m, 'removed')
})
