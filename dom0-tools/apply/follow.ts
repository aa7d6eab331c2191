// Rules follow their VM: after a registry change (netvm, ip, ip6, a VM created or removed), every
// netvm whose set of served VMs changed gets a full push, so old hops forget and new hops learn.
import { type Registry } from '../registry/registry.js'
import { loadRegistry, modifyRegistry, type RegistryOptions } from '../registry/store.js'
import { forwardEntriesFor } from './forwards.js'
import { syncNetvm, type NetvmOutcome } from './push.js'
import { pushAndReport, type Verbosity } from '../cli/verbosity.js'

/** What each netvm enforces for others: the VMs it serves (and their addresses) and the forwards through it. */
function servedBy(registry: Registry, qubesDir: string): Map<string, string> {
  const served = new Map<string, string>()
  for (const netvm of registry.domains().filter((d) => d.providesNetwork)) {
    const vms = registry.connectedTo(netvm.name).map((vm) => `${vm.name} ${vm.ip ?? '-'} ${vm.ip6 ?? '-'}`)
    const forwards = Object.values(forwardEntriesFor(registry, qubesDir, netvm.name))
    served.set(netvm.name, [...vms.sort(), ...forwards].join('\n'))
  }
  return served
}

export async function resyncChanged(qubesDir: string, before: Registry, after: Registry): Promise<NetvmOutcome[]> {
  const old = servedBy(before, qubesDir)
  const now = servedBy(after, qubesDir)
  const changed = [...now].filter(([netvm, served]) => old.get(netvm) !== served).map(([netvm]) => netvm)
  const outcomes: NetvmOutcome[] = []
  for (const netvm of changed) outcomes.push(await syncNetvm(netvm, { qubesDir, registry: after }))
  return outcomes
}

/**
 * A registry change as the dom0 commands make it: saved under the lock, then pushed where it matters
 * and reported at the level -v/-q set.
 */
export async function changeRegistry(prog: string, qubesDir: string, change: (registry: Registry) => unknown, verbosity: Verbosity = {}, options: RegistryOptions = {}): Promise<void> {
  const before = loadRegistry(qubesDir, options)
  await modifyRegistry(qubesDir, change, options)
  await pushAndReport(prog, undefined, verbosity, () => resyncChanged(qubesDir, before, loadRegistry(qubesDir)))
}
