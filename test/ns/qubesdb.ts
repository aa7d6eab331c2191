// `serve --source qubesdb` in the firewall namespace, fed as on Qubes: the test plays dom0 and writes
// each VM's entries into the firewall VM's QubesDB (the lab's stand-in of the qubesdb-cmd tools) in
// qubesd's order (policy, rules, then the marker). Rules are in force once
// /qubes-firewall-handled/<ip> goes up; a killed watch loses no change; a malformed entry blocks
// that VM alone; /dns/<ip>/ says what the VM's names resolved to.
import { mkdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { runCommand } from '../../common/run-command.js'
import { childrenOf, EVENT_BOUND_MS, until, untilGone } from '../helpers/wait.js'
import { ROOT, VM_A, VM_B, WWW, makeLab, vmChains, type Daemon } from './harness.js'

const lab = await makeLab(t, { dns: true })
if (lab) {
  const store = join(lab.dir, 'qubesdb')
  mkdirSync(store)
  const env = { PATH: `${join(ROOT, 'lab/qubesdb-bin')}:${process.env['PATH'] ?? ''}`, QUBESDB_DIR: store }
  /** dom0's side: the same tools on the same store (on Qubes: `qubesdb-write -d sys-firewall`). */
  const qdb = async (tool: string, ...args: string[]): Promise<string> => {
    const result = await runCommand(`qubesdb-${tool}`, args, { env: { ...process.env, ...env } })
    if (result.exitCode !== 0 && !(tool === 'read' && result.exitCode === 2)) throw new Error(`qubesdb-${tool} ${args.join(' ')}: ${result.stderr}`)
    return result.exitCode === 2 ? '' : result.stdout.replace(/\n$/, '')
  }
  /** The agent's long-running qubesdb-watch (not one of its short qubesdb-read's). */
  const watchPid = () =>
    childrenOf(daemon.child.pid ?? 0).find((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('qubesdb-watch')
      } catch {
        return false
      }
    })
  const handled = async (ip: string) => Number((await qdb('read', `/qubes-firewall-handled/${ip}`)) || '0')
  /** As qubesd writes a VM's rules: old entries removed, policy, rules, the marker last. */
  const writeVm = async (ip: string, policy: string, ...rules: string[]) => {
    await qdb('rm', `/qubes-firewall/${ip}/`)
    await qdb('write', `/qubes-firewall/${ip}/policy`, policy)
    for (const [i, rule] of rules.entries()) await qdb('write', `/qubes-firewall/${ip}/${String(i).padStart(4, '0')}`, rule)
    await qdb('write', `/qubes-firewall/${ip}`, '')
  }
  /** Writes the VM's rules and waits until the agent says it took them. */
  const applyVm = async (ip: string, policy: string, ...rules: string[]) => {
    const before = await handled(ip)
    await writeVm(ip, policy, ...rules)
    await until(`handled of ${ip} above ${before}`, async () => (await handled(ip)) > before)
  }

  await qdb('write', '/connected-ips', `${VM_A} ${VM_B}`)
  await qdb('write', '/connected-ips6', '')
  await writeVm(VM_A, 'drop', 'action=accept dsthost=www.lab.example proto=tcp dstports=80-80')
  let daemon: Daemon

  await t.test('at start every VM listed is loaded; handled reads 1; /dns/<ip>/ names what was resolved', async (t) => {
    daemon = await lab.startDaemon({ env, serveArgs: ['--source', 'qubesdb'] })
    await until('handled of a', async () => (await handled(VM_A)) === 1)
    await lab.expect(t, 'a', { [`tcp:${WWW}:80`]: 'allowed', [`tcp:${WWW}:443`]: 'refused' })
    t.equal(await qdb('read', `/dns/${VM_A}/www.lab.example`), `{'${WWW}/32'}`)
    await lab.expect(t, 'b', { [`tcp:${WWW}:80`]: 'refused' }, { label: 'b has no rules yet: blocked' })
  })

  await t.test("a VM's rules written in qubesd's order are in force when its handled count goes up", async (t) => {
    await applyVm(VM_B, 'drop', `action=accept dst4=${WWW} proto=tcp dstports=443-443`)
    await lab.expect(t, 'b', { [`tcp:${WWW}:443`]: 'allowed', [`tcp:${WWW}:80`]: 'refused' })
    t.equal(await handled(VM_A), 1, "a's count did not move: it was not rewritten")
  })

  await t.test('a malformed entry blocks that VM alone, and counts as taken', async (t) => {
    await applyVm(VM_B, 'accept', 'action=accept proto=tcp dstports=80-80 bogus=1')
    await lab.expect(t, 'a', { [`tcp:${WWW}:80`]: 'allowed' }, { label: 'a is untouched' })
    await lab.expect(t, 'b', { [`tcp:${WWW}:443`]: 'refused', [`tcp:${WWW}:80`]: 'refused' }, { label: 'b failed closed' })
    const status = await daemon.request({ op: 'status' })
    t.match(status['vms'], [{ ip: VM_A, ok: true }, { ip: VM_B, ok: false, error: /unsupported option 'bogus'/ }])
  })

  await t.test('a watch that dies loses no change: it is started again and everything is read', async (t) => {
    const first = await until('the qubesdb-watch child', watchPid)
    process.kill(first, 'SIGKILL')
    await untilGone(first)
    // written while no watch may be running: the re-read after the restart takes it
    await applyVm(VM_B, 'drop', `action=accept dst4=${WWW} proto=tcp dstports=22-22`)
    await lab.expect(t, 'b', { [`tcp:${WWW}:22`]: 'allowed', [`tcp:${WWW}:443`]: 'refused' })
    t.match(daemon.stderr, /qubesdb-watch ended/)
  })

  await t.test('a VM whose marker is removed is forgotten', async (t) => {
    await qdb('rm', `/qubes-firewall/${VM_B}/`)
    await qdb('rm', `/qubes-firewall/${VM_B}`)
    await until('b forgotten', async () => {
      const vms = (await daemon.request({ op: 'status' }))['vms'] as { ip: string }[]
      return vms.every((vm) => vm.ip !== VM_B)
    })
    await lab.expect(t, 'b', { [`tcp:${WWW}:22`]: 'refused' }, { label: 'a VM without rules is blocked' })
  })

  await t.test('a rule that expires is rendered away, with nothing but QubesDB having fed the agent', async (t) => {
    const ruleZero = async () => Object.values(await vmChains(lab, VM_B)).some((listing) => listing.includes(`vm ${VM_B} rule 0`))
    // the expiry must come after the write through QubesDB is in: on a slow machine, further ahead
    let ahead = 5
    for (; !(await ruleZero()); ahead *= 2) {
      if (ahead > 160) return void t.fail('the expiring rule was never in force before its expiry')
      const expire = Math.floor(Date.now() / 1000) + ahead
      await applyVm(VM_B, 'drop', `action=accept proto=tcp dstports=22-22 expire=${expire}`, 'action=accept proto=tcp dstports=80-80')
    }
    t.pass('the expiring rule is loaded')
    await until("b's chain without the expired rule", async () => !(await ruleZero()), EVENT_BOUND_MS + ahead * 1000)
    await lab.expect(t, 'b', { [`tcp:${WWW}:80`]: 'allowed', [`tcp:${WWW}:22`]: 'refused' }, { label: 'expired' })
  })

  t.teardown(() => daemon?.terminate())
}
