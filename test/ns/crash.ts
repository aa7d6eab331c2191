// kill -9 of the daemon in the middle of a run of updates, then a reboot (the kernel forgets every
// rule) and a restart: what the agent restores is the last update it answered, or the one it was
// answering when it died, whole, never a mix and never an older one; and the drop log's reader the
// killed daemon left is ended by the next one.
import { readFileSync } from 'node:fs'
import t from 'tap'
import { childrenOf, isAlive, untilGone } from '../helpers/wait.js'
import { VM_A, VM_B, makeLab, push, vmChains, type Daemon } from './harness.js'

const UPDATES = 50
/** Update `u` allows one address of its own (and so can be told apart in the ruleset). */
const update = (u: number) => push({ [VM_A]: { policy: 'drop', rules: [`action=accept dst4=198.18.0.${u} proto=tcp dstports=80-80`] } }, {})
/** Which updates' addresses the VM's chains now hold. */
const addressesInForce = async (lab: NonNullable<Awaited<ReturnType<typeof makeLab>>>) =>
  Object.values(await vmChains(lab, VM_A)).flatMap((listing) => [...listing.matchAll(/"198\.18\.0\.(\d+)"/g)].map((m) => Number(m[1])))

/** The drop log readers (tcpdump) a daemon runs. */
const readersOf = (pid: number) => childrenOf(pid).filter((child) => isAlive(child) && readFileSync(`/proc/${child}/cmdline`, 'utf8').startsWith('tcpdump\0'))

const lab = await makeLab(t, { echo: false })
if (lab) {
  for (const killAfter of [7, 31]) {
    await t.test(`killed while answering update ${killAfter + 1} of ${UPDATES}: the restart restores update ${killAfter} or ${killAfter + 1}`, async (t) => {
      let daemon: Daemon = await lab.startDaemon()
      t.teardown(() => daemon.terminate().catch(() => undefined))
      t.match(await daemon.request({ op: 'replace', entries: push({ [VM_A]: { policy: 'drop', rules: [] }, [VM_B]: { policy: 'accept', rules: [] } }) }), { ok: true })
      for (let u = 1; u <= killAfter; u++) t.match(await daemon.request({ op: 'update', entries: update(u) }), { ok: true }, `update ${u} answered`)
      // its drop log's reader outlives a SIGKILL (no systemd cgroup here): the next daemon must end it
      const oldReaders = readersOf(daemon.child.pid as number)
      t.equal(oldReaders.length, 1, 'the daemon runs one drop log reader')
      // the next one is on its way when the daemon dies
      const inFlight = daemon.request({ op: 'update', entries: update(killAfter + 1) }).catch(() => undefined)
      daemon.child.kill('SIGKILL')
      await inFlight
      await new Promise((resolve) => (daemon.child.exitCode !== null || daemon.child.signalCode !== null ? resolve(null) : daemon.child.once('exit', resolve)))
      // a reboot: nothing is left in the kernel but what the agent restores
      t.equal((await lab.nft('flush', 'ruleset')).exitCode, 0)
      daemon = await lab.startDaemon()
      await untilGone(oldReaders[0] as number, 'the killed daemon\'s drop log reader ended by the next daemon')
      t.equal(readersOf(daemon.child.pid as number).length, 1, 'which runs its own')
      const restored = await addressesInForce(lab)
      t.equal(restored.length, 1, `one update's rule in force: ${restored.join(', ')}`)
      t.ok([killAfter, killAfter + 1].includes(restored[0] ?? -1), `update ${restored[0]} is the last answered or the one in flight`)
      const status = (await daemon.request({ op: 'status' }))['vms'] as { ip: string; rules: number }[]
      t.same(status.map((vm) => [vm.ip, vm.rules]).sort(), [[VM_A, 1], [VM_B, 0]], 'and the other VM as it was')
      await daemon.terminate()
      t.equal((await lab.nft('flush', 'ruleset')).exitCode, 0)
    })
  }
}
