// The package as users install it: `npm pack` carries only what runs (no tests, no snapshots), and
// the tarball installed globally gives working commands. Offline: from npm's cache, as `npm ci` filled it.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { outcome } from './helpers/outcome.js'

const { version } = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string }
const dir = mkdtempSync(join(tmpdir(), 'qf-package-'))
t.teardown(() => rmSync(dir, { recursive: true, force: true }))

t.test('npm pack ships dist/ and the unit files, not the tests', async (t) => {
  // --ignore-scripts: dist/ is built already (the test command builds it first)
  const pack = await outcome('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', dir])
  t.equal(pack.code, 0, pack.stderr)
  const [{ files = [] } = {}] = JSON.parse(pack.stdout) as { files?: { path: string }[] }[]
  const paths = files.map((f) => f.path)
  t.ok(paths.includes('dist/netvm-agent/bin/qubes-firewall-agent.js'), 'the agent')
  t.ok(paths.includes('dist/dom0-tools/bin/qvm-firewall.js'), 'qvm-firewall')
  t.ok(paths.includes('netvm-agent/systemd/qubes-firewall-agent.service'), 'the unit')
  t.same(paths.filter((p) => /^(test|tap-snapshots|scripts|dist\/scripts)\/|\.ts$/.test(p)), [], 'no tests, snapshots, sources or bench')

  const prefix = join(dir, 'prefix')
  const install = await outcome('npm', ['install', '--global', '--prefix', prefix, '--offline', '--no-audit', '--no-fund', join(dir, `qubes-firewall-${version}.tgz`)])
  t.equal(install.code, 0, install.stderr)
  // run from elsewhere, so nothing of the work tree is found by accident
  const shown = await outcome(join(prefix, 'bin', 'qvm-firewall'), ['--version'], { cwd: dir })
  t.same(shown, { code: 0, stdout: `${version}\n`, stderr: '' })
  const help = await outcome(join(prefix, 'bin', 'qubes-firewall-agent'), ['--help'], { cwd: dir })
  t.match(help, { code: 0, stdout: /^Usage: qubes-firewall-agent /, stderr: '' })
})
