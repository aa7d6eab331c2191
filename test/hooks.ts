// Hooks as real processes: done at exit even when they leave a daemon behind, bounded by a timeout,
// executables only, in order.
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { isAlive } from './helpers/wait.js'
import { customPersistEnabled, firewallHookPaths, runHook } from '../common/hooks.js'

const dir = mkdtempSync(join(tmpdir(), 'qf-hooks-'))
t.teardown(() => rmSync(dir, { recursive: true, force: true }))

function script(path: string, body: string, executable = true): string {
  writeFileSync(path, `#!/bin/sh\n${body}\n`)
  chmodSync(path, executable ? 0o755 : 0o644)
  return path
}

t.test('a hook that leaves a daemon running is done when it exits', async (t) => {
  const pidFile = join(dir, 'daemon.pid')
  const hook = script(join(dir, 'daemon-hook'), `echo started\nsleep 600 &\necho $! > ${pidFile}\necho done >&2\nexit 3`)
  const result = await runHook(hook, 120_000)
  const daemon = Number(readFileSync(pidFile, 'utf8'))
  // the daemon the hook left behind is ours to stop
  t.teardown(() => process.kill(daemon))
  t.ok(isAlive(daemon), 'returned while the daemon it started still runs')
  t.same({ exitCode: result.exitCode, timedOut: result.timedOut }, { exitCode: 3, timedOut: false })
  t.match(result.output, /started/)
  t.match(result.output, /done/)
})

t.test('a hook that does not end is stopped at its timeout', async (t) => {
  const pidFile = join(dir, 'slow.pid')
  const result = await runHook(script(join(dir, 'slow'), `echo $$ > ${pidFile}\nexec sleep 600`), 300)
  t.same({ timedOut: result.timedOut, exitCode: result.exitCode }, { timedOut: true, exitCode: null })
  t.notOk(isAlive(Number(readFileSync(pidFile, 'utf8'))), 'and it is gone')
})

t.test('a hook that cannot run is reported, not thrown', async (t) => {
  const result = await runHook(join(dir, 'missing'), 1000)
  t.equal(result.exitCode, null)
  t.match(result.output, /ENOENT/)
})

t.test('the system hooks, then rw-dir/qubes-firewall.d, then the user script; executables only, sorted', async (t) => {
  const system = join(dir, 'system.d')
  const rw = join(dir, 'rw')
  mkdirSync(system)
  mkdirSync(join(rw, 'qubes-firewall.d'), { recursive: true })
  script(join(system, '20-b'), 'true')
  script(join(system, '10-a'), 'true')
  script(join(system, '15-not-executable'), 'true', false)
  script(join(rw, 'qubes-firewall.d', '05-c'), 'true')
  script(join(rw, 'qubes-firewall-user-script'), 'true')
  t.same(firewallHookPaths(rw, system), [
    join(system, '10-a'), join(system, '20-b'), join(rw, 'qubes-firewall.d', '05-c'), join(rw, 'qubes-firewall-user-script'),
  ])
  t.same(firewallHookPaths(rw, system, true), [join(system, '10-a'), join(system, '20-b')], "with Qubes' custom-persist: the system's hooks only")
})

t.test('custom-persist is read from its Qubes service flag', async (t) => {
  const services = join(dir, 'qubes-service')
  mkdirSync(services)
  t.equal(customPersistEnabled(services), false)
  writeFileSync(join(services, 'custom-persist'), '')
  t.equal(customPersistEnabled(services), true)
})
