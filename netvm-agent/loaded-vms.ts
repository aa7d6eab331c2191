// The loaded VMs by address, and among them the few whose rules expire or name hosts: after every
// change the daemon's timers look at those alone, not at every VM (a walk of 1000 VMs took 0.57 ms
// of each update). A VM's entry never changes, so what it is kept under is decided as it is set.
import type { LoadedVm } from './plan.js'

const hasExpiries = (vm: LoadedVm) => vm.entry.ok && vm.entry.vm.rules.some((rule) => rule.expire !== undefined)
const namesHosts = (vm: LoadedVm) => vm.entry.ok && vm.entry.vm.rules.some((rule) => rule.dsthost?.kind === 'name')

function keepIf(kept: Map<string, LoadedVm>, ip: string, vm: LoadedVm, keep: boolean): void {
  if (keep) kept.set(ip, vm)
  else kept.delete(ip)
}

/** What the agent shows of them: read only. */
export type LoadedVmsView = ReadonlyMap<string, LoadedVm> & Pick<LoadedVms, 'withExpiries' | 'namingHosts'>

export class LoadedVms extends Map<string, LoadedVm> {
  private readonly expiring = new Map<string, LoadedVm>()
  private readonly naming = new Map<string, LoadedVm>()

  // no entries through Map's constructor: it would call set() before the fields above exist (of() does)
  constructor() {
    super()
  }

  /** The VMs of `vms`, kept as set() keeps them. */
  static of(vms: ReadonlyMap<string, LoadedVm>): LoadedVms {
    const loaded = new LoadedVms()
    for (const [ip, vm] of vms) loaded.set(ip, vm)
    return loaded
  }

  override set(ip: string, vm: LoadedVm): this {
    super.set(ip, vm)
    keepIf(this.expiring, ip, vm, hasExpiries(vm))
    keepIf(this.naming, ip, vm, namesHosts(vm))
    return this
  }

  override delete(ip: string): boolean {
    this.expiring.delete(ip)
    this.naming.delete(ip)
    return super.delete(ip)
  }

  override clear(): void {
    this.expiring.clear()
    this.naming.clear()
    super.clear()
  }

  /** The VMs with a rule that expires. */
  withExpiries(): IterableIterator<LoadedVm> {
    return this.expiring.values()
  }

  /** The VMs with a rule that names a host (their names are all the names loaded). */
  namingHosts(): IterableIterator<LoadedVm> {
    return this.naming.values()
  }
}
