// qubes-rc-local: <rw-dir>/rc.local at the qube's start, run only when executable, with a
// timeout, its output logged and its exit status reported (the agent's hook runner).
import { execFile } from 'node:child_process'
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import t, { type Test } from 'tap'
import { built } from './helpers/built.js'
import { outcome, type Outcome } from './helpers/outcome.js'
import { isAlive } from './helpers/wait.js'

const exec = promisify(execFile)
const BIN = built('vm-hooks/bin/qubes-rc-local.js')

const rcLocal = (...args: string[]): Promise<Outcome> => outcome(process.execPath, [BIN, ...args])

function rwDir(t: Test, script?: string, mode = 0o755): string {
  const dir = mkdtempSync(join(tmpdir(), 'qubes-rc-local-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  if (script !== undefined) {
    writeFileSync(join(dir, 'rc.local'), script)
    chmodSync(join(dir, 'rc.local'), mode)
  }
  return dir
}

t.test('runs rc.local and logs each line of its output, then its exit status', async (t) => {
  const dir = rwDir(t, '#!/bin/sh\necho "started in $(pwd)"\necho oops >&2\necho done\n')
  const run = await rcLocal('--rw-dir', dir)
  t.same({ code: run.code, stderr: run.stderr }, { code: 0, stderr: '' })
  const path = join(dir, 'rc.local')
  const lines = run.stdout.split('\n')
  t.same(lines.slice(-2), [`${path}: exit 0`, ''], 'the status last')
  // stdout and stderr are two pipes: their lines interleave as they arrive
  t.same(lines.slice(0, -2).sort(), [`${path}: done`, `${path}: oops`, `${path}: started in ${process.cwd()}`])
})

t.test('a failing rc.local: its output, then one error line and exit 1', async (t) => {
  const dir = rwDir(t, '#!/bin/sh\necho "nft: no such table" >&2\nexit 3\n')
  const path = join(dir, 'rc.local')
  t.same(await rcLocal('--rw-dir', dir), {
    code: 1,
    stdout: `${path}: nft: no such table\n${path}: exit 3\n`,
    stderr: `qubes-rc-local: error: ${path}: exit 3\n`,
  })
})

t.test('a hanging rc.local is killed at the timeout', async (t) => {
  const dir = rwDir(t)
  writeFileSync(join(dir, 'rc.local'), `#!/bin/sh\necho $$ > ${dir}/pid\necho waiting\nexec sleep 600\n`, { mode: 0o755 })
  const path = join(dir, 'rc.local')
  const run = await rcLocal('--rw-dir', dir, '--timeout', '1')
  t.same(run, {
    code: 1,
    stdout: `${path}: waiting\n${path}: timed out after 1 s\n`,
    stderr: `qubes-rc-local: error: ${path}: timed out after 1 s\n`,
  })
  t.notOk(isAlive(Number(readFileSync(join(dir, 'pid'), 'utf8'))), 'killed, not left running')
})

t.test('only an executable rc.local runs; none is fine', async (t) => {
  const notExecutable = rwDir(t, '#!/bin/sh\ntouch ran\n', 0o644)
  t.same(await rcLocal('--rw-dir', notExecutable), { code: 0, stdout: `${join(notExecutable, 'rc.local')}: not executable, not run\n`, stderr: '' })
  const none = rwDir(t)
  t.same(await rcLocal('--rw-dir', none), { code: 0, stdout: `${join(none, 'rc.local')}: none\n`, stderr: '' })
  t.same(await rcLocal('--rw-dir', none, '--timeout', '0'), { code: 1, stdout: '', stderr: "qubes-rc-local: error: --timeout: expected whole seconds 1-999999, not '0'\n" })
})

t.test('the example rc.local of the destination qube is valid nft, in a namespace of its own', { skip: process.getuid?.() !== 0 ? 'needs root' : false }, async (t) => {
  const ns = `qrc${process.pid}`
  await exec('ip', ['netns', 'add', ns])
  t.teardown(() => exec('ip', ['netns', 'del', ns]).then(() => {}, () => {}))
  const dir = rwDir(t)
  writeFileSync(join(dir, 'rc.local'), `#!/bin/sh\nexec sh ${join(process.cwd(), 'examples/vm-hooks/personal/rc.local')}\n`, { mode: 0o755 })
  const run = async () => {
    try {
      return (await exec('ip', ['netns', 'exec', ns, process.execPath, BIN, '--rw-dir', dir])).stdout
    } catch (err) {
      return `failed: ${(err as { stdout: string; stderr: string }).stdout}${(err as { stderr: string }).stderr}`
    }
  }
  t.match(await run(), /custom-input: accepting 10\.137\.0\.3 on tcp port 80\n.*: exit 0\n$/)
  t.match(await run(), /: exit 0\n$/, 'again')
  const { stdout } = await exec('ip', ['netns', 'exec', ns, 'nft', 'list', 'chain', 'ip', 'qubes', 'custom-input'])
  t.equal(stdout.match(/ip saddr 10\.137\.0\.3 tcp dport 80 ct state new accept/g)?.length, 1, 'one rule, however often it ran')
})
