// The template packages as `npm run package` makes them: the .deb holds every file its units and
// qrexec services name, none of Qubes' own files, and bundles that run alone (no node_modules, no
// dist/) on the API of Node 18, Debian 12's node. The install into a real Debian root is
// scripts/verify-deb.sh (minutes, opt-in).
import { spawn } from 'node:child_process'
import { closeSync, cpSync, existsSync, lstatSync, mkdtempSync, openSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import t from 'tap'
import { outcome, type Outcome } from './helpers/outcome.js'

const { version } = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string }
const DEB = `dist-pkg/qubes-firewall-agent_${version}_all.deb`
const RPM = `dist-pkg/qubes-firewall-agent-${version}-1.noarch.rpm`
const LIB = 'usr/lib/qubes-firewall'
const FIXTURE = 'test/fixtures/push/mixed.json'

// command -> where the package puts it; qvm-connect-tcp and qubes.ConnectTCP stay off PATH (Qubes has its own)
const commands: [name: string, path: string][] = [
  ['qubes-firewall-agent', 'usr/bin/qubes-firewall-agent'],
  ['qubes-rc-local', 'usr/bin/qubes-rc-local'],
  ['qvm-connect-tcp', `${LIB}/bin/qvm-connect-tcp`],
  ['qubes.ConnectTCP', `${LIB}/bin/qubes.ConnectTCP`],
]

// files qubes-core-agent(-networking) ships (debian/*.install, rpm_spec/core-agent.spec.in): never ours
const qubesOwn: (string | RegExp)[] = [
  'usr/bin/qvm-connect-tcp',
  'etc/qubes-rpc/qubes.ConnectTCP',
  'etc/qubes/rpc-config/qubes.ConnectTCP',
  'usr/bin/qubes-firewall',
  /^(usr\/)?lib\/systemd\/system\/qubes-(firewall|iptables|network|misc-post)\.service$/,
  /^usr\/share\/man\/man1\/qvm-/,
]

// APIs newer than Node 18 (Debian 12 ships 18.19/18.20): esbuild lowers syntax, not these
const notInNode18: [api: string, pattern: RegExp][] = [
  ['import.meta.dirname/filename (20.11)', /import\.meta\.(dirname|filename)/],
  ['fs.globSync / fs.glob (22)', /\bglob(Sync)?\(/],
  ['process.loadEnvFile (20.12)', /loadEnvFile/],
  ['process.getBuiltinModule (22)', /getBuiltinModule/],
  ['Array change-by-copy (20)', /\.to(Sorted|Reversed|Spliced)\(/],
  ['Object/Map.groupBy (21)', /\b(Object|Map)\.groupBy\(/],
  ['Promise.withResolvers (22)', /Promise\.withResolvers/],
  ['Array.fromAsync (22)', /Array\.fromAsync/],
  ['String isWellFormed (20)', /\.(is|to)WellFormed\(/],
  ['AbortSignal.any (20.3)', /AbortSignal\.any\(/],
  ['explicit resource management (20.4+)', /Symbol\.(asyncDispose|dispose)\b/],
  ['util.styleText (20.12)', /\bstyleText\(/],
  ['fs.openAsBlob (19.8)', /openAsBlob/],
  ['Set methods (22)', /\.(union|intersection|symmetricDifference|isSubsetOf|isSupersetOf|isDisjointFrom)\(/],
  ['crypto.hash (20.12)', /\bcrypto\.hash\(/],
  ['module.register (20.6)', /\bregister(Hooks)?\(\s*['"`]/],
]

const work = mkdtempSync(join(tmpdir(), 'qf-package-deb-'))
t.teardown(() => rmSync(work, { recursive: true, force: true }))
const tree = join(work, 'deb')

let built: Outcome
let debFiles: string[] = []
t.before(async () => {
  built = await outcome('bash', ['scripts/package.sh'])
  if (built.code !== 0) return
  const extracted = await outcome('dpkg-deb', ['-x', DEB, tree])
  if (extracted.code !== 0) throw new Error(`dpkg-deb -x: ${extracted.stderr}`)
  debFiles = walk(tree)
})

/** Every non-directory path under root, relative, '/'-separated. */
function walk(root: string, under = ''): string[] {
  return readdirSync(join(root, under), { withFileTypes: true }).flatMap((entry) => {
    const path = under === '' ? entry.name : `${under}/${entry.name}`
    return entry.isDirectory() ? walk(root, path) : [path]
  })
}

/** Where an absolute path of the installed system lands in the extracted tree, links followed within it. */
function inTree(absolute: string): string | undefined {
  let path = join(tree, absolute)
  for (let hops = 0; hops < 8; hops++) {
    if (!existsSync(path) && !isLink(path)) return undefined
    if (!isLink(path)) return path
    const target = readlinkSync(path)
    path = target.startsWith('/') ? join(tree, target) : join(dirname(path), target)
  }
  return undefined
}
const isLink = (path: string): boolean => {
  try {
    return lstatSync(path).isSymbolicLink()
  } catch {
    return false
  }
}

const executable = (path: string): boolean => (statSync(path).mode & 0o111) !== 0

/** node FILE ARGS run from dir (outside the work tree), stdin from a file if given. */
function runNode(dir: string, args: string[], stdinFile?: string): Promise<Outcome> {
  return new Promise((resolve) => {
    const stdin = stdinFile === undefined ? 'ignore' : openSync(stdinFile, 'r')
    // NODE_PATH cleared: nothing but the file itself can supply a module
    const child = spawn(process.execPath, args, { cwd: dir, stdio: [stdin, 'pipe', 'pipe'], env: { ...process.env, NODE_PATH: '', NODE_OPTIONS: '' } })
    if (typeof stdin === 'number') closeSync(stdin)
    let stdout = ''
    let stderr = ''
    child.stdout!.on('data', (chunk) => (stdout += chunk))
    child.stderr!.on('data', (chunk) => (stderr += chunk))
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }))
  })
}

t.test('npm run package builds the .deb (and the .rpm, or says why not)', async (t) => {
  t.equal(built.code, 0, built.stderr)
  t.ok(existsSync(DEB), DEB)
  const hasRpmbuild = (await outcome('sh', ['-c', 'command -v rpmbuild'])).code === 0
  if (hasRpmbuild) t.ok(existsSync(RPM), RPM)
  else t.match(built.stderr, /the \.rpm was SKIPPED: rpmbuild is missing/, 'says the .rpm was skipped')
})

t.test('control: architecture all, the distribution\'s nodejs and nftables', async (t) => {
  const info = await outcome('dpkg-deb', ['-f', DEB, 'Package', 'Architecture', 'Depends'])
  t.equal(info.code, 0, info.stderr)
  t.match(info.stdout, /^Package: qubes-firewall-agent$/m)
  t.match(info.stdout, /^Architecture: all$/m)
  t.match(info.stdout, /^Depends: .*\bnodejs \(>= 18\)/m)
  t.match(info.stdout, /^Depends: .*\bnftables\b/m)
  const listed = await outcome('dpkg-deb', ['-c', DEB])
  t.equal(listed.code, 0, listed.stderr)
  t.match(listed.stdout, / root\/root .* \.\/usr\/lib\/qubes-firewall\/bin\/qubes-firewall-agent\.js$/m, 'files owned by root')
})

t.test('every unit\'s ExecStart and every qrexec service\'s command are in the package', async (t) => {
  const units = debFiles.filter((p) => /^(usr\/)?lib\/systemd\/system\/[^/]+\.service$/.test(p))
  t.same(units, ['lib/systemd/system/qubes-firewall-agent.service'], 'the agent\'s unit only (Qubes runs rc.local itself)')
  for (const unit of units) {
    const execStarts = [...readFileSync(join(tree, unit), 'utf8').matchAll(/^ExecStart=[-@:+!]*(\S+)/gm)].map((m) => m[1]!)
    t.ok(execStarts.length > 0, `${unit} has an ExecStart`)
    for (const program of execStarts) {
      t.match(program, /^\/usr\/bin\//, `${unit}: ${program} is the package's, not /usr/local's`)
      const file = inTree(program)
      t.ok(file !== undefined && executable(file), `${unit}: ${program} is in the package and executable`)
    }
  }
  const services = debFiles.filter((p) => p.startsWith('etc/qubes-rpc/'))
  t.same(services, ['etc/qubes-rpc/qubes.FirewallAgent'])
  for (const service of services) {
    const file = join(tree, service)
    t.ok(executable(file), `${service} is executable`)
    const [, program] = /^exec (\S+)/m.exec(readFileSync(file, 'utf8')) ?? []
    t.ok(program !== undefined && inTree(`/usr/bin/${program}`) !== undefined, `${service} runs ${program}, in /usr/bin`)
  }
  const conffiles = await outcome('sh', ['-c', `dpkg-deb --ctrl-tarfile '${DEB}' | tar -xOf - ./conffiles`])
  t.equal(conffiles.stdout, '/etc/qubes-rpc/qubes.FirewallAgent\n', 'the qrexec service is a conffile')
})

t.test('none of Qubes\' own files, and the man pages', async (t) => {
  const clashes = debFiles.filter((p) => qubesOwn.some((own) => (typeof own === 'string' ? p === own : own.test(p))))
  t.same(clashes, [], 'no file qubes-core-agent ships')
  t.ok(debFiles.includes('usr/share/man/man8/qubes-firewall-agent.8.gz'))
  t.ok(debFiles.includes(`${LIB}/share/man/man1/qvm-connect-tcp.1.gz`))
  for (const [name, path] of commands) t.ok(inTree(`/${path}`) !== undefined, `${name}: /${path}`)
})

t.test('maintainer scripts never start the service', async (t) => {
  const scripts = await outcome('sh', ['-c', `dpkg-deb --ctrl-tarfile '${DEB}' | tar -xOf - ./postinst ./prerm ./postrm`])
  t.equal(scripts.code, 0, scripts.stderr)
  t.notMatch(scripts.stdout, /(systemctl|deb-systemd-invoke)\b[^\n]*\s(start|restart)\b/, 'at most try-restart (running already)')
})

t.test('the bundles run alone: copied away from node_modules and dist/', async (t) => {
  // a directory of its own under the system's temp dir: no node_modules, package.json or dist/ above it
  const alone = join(work, 'alone')
  cpSync(join(tree, 'usr'), join(alone, 'usr'), { recursive: true, verbatimSymlinks: true })
  for (let dir = alone; dir !== dirname(dir); dir = dirname(dir)) t.notOk(existsSync(join(dir, 'node_modules')) || existsSync(join(dir, 'dist')), `nothing to borrow in ${dir}`)

  for (const [name] of commands) {
    const file = join(alone, LIB, 'bin', `${name}.js`)
    const text = readFileSync(file, 'utf8')
    t.equal(text.split('\n', 1)[0], '#!/usr/bin/node', `${name}: the distribution's node`)
    t.ok(executable(file), `${name}: executable`)
    // every import is one of node's own modules: nothing is read from beside the file
    const imports = [...text.matchAll(/^\s*import\s[^'"]*['"]([^'"]+)['"]|\bimport\(\s*['"]([^'"]+)['"]\s*\)/gm)].map((m) => m[1] ?? m[2]!)
    t.same(imports.filter((spec) => !spec.startsWith('node:')), [], `${name}: imports node: modules only`)
    const requires = [...text.matchAll(/\b__require\(\s*['"]([^'"]+)['"]\s*\)/g)].map((m) => m[1]!)
    t.same(requires.filter((spec) => spec.startsWith('.') || spec.startsWith('/')), [], `${name}: requires no file`)
    t.same(notInNode18.filter(([, pattern]) => pattern.test(text)).map(([api]) => api), [], `${name}: no API newer than Node 18`)
  }

  // through /usr/bin's symlink, as the unit runs it: node follows it into the "type": "module" tree
  const viaLink = await runNode(alone, [join(alone, 'usr/bin/qubes-firewall-agent'), '--version'])
  t.same(viaLink, { code: 0, stdout: `${version}\n`, stderr: '' }, 'qubes-firewall-agent --version through the symlink')
  for (const [name] of commands) {
    const help = await runNode(alone, [join(alone, LIB, 'bin', `${name}.js`), '--help'])
    t.match(help, { code: 0, stdout: new RegExp(`^Usage: ${name.replace('.', '\\.')} `), stderr: '' }, `${name} --help`)
  }
})

t.test('the agent\'s bundle renders as the built agent does', async (t) => {
  const bundle = join(tree, LIB, 'bin/qubes-firewall-agent.js')
  const fixture = join(process.cwd(), FIXTURE)
  // no nameservers: the fixture's names fail closed in both, without leaving this machine
  const [fromBundle, fromDist] = await Promise.all([
    runNode(work, [bundle, '--resolv-conf', '/dev/null', 'render'], fixture),
    runNode(process.cwd(), ['dist/netvm-agent/bin/qubes-firewall-agent.js', '--resolv-conf', '/dev/null', 'render'], fixture),
  ])
  t.equal(fromDist.code, 0, fromDist.stderr)
  t.ok(fromBundle.stdout.length > 0, 'a transaction')
  t.same(fromBundle, fromDist, 'byte for byte, exit code and messages included')
})

t.test('the .rpm holds the same files, units where Fedora keeps them', async (t) => {
  if (!existsSync(RPM)) return t.plan(0, 'rpmbuild is missing: no .rpm')
  const dump = await outcome('rpm', ['-qp', '--dump', RPM])
  t.equal(dump.code, 0, dump.stderr)
  // --dump: path size mtime digest mode ...; directories (mode 04xxxx) aside
  const rpmFiles = dump.stdout.split('\n').filter(Boolean).map((line) => line.split(' ')).filter((f) => !f[4]!.startsWith('04')).map((f) => f[0]!.slice(1)).sort()
  const want = debFiles.map((p) => p.replace(/^lib\/systemd\//, 'usr/lib/systemd/')).sort()
  t.same(rpmFiles, want)
  const requires = await outcome('rpm', ['-qp', '--requires', RPM])
  t.match(requires.stdout, /^nodejs >= 18$/m)
  t.match(requires.stdout, /^nftables$/m)
})
