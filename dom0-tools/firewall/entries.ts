// The QubesDB entries dom0 gives a VM's netvm, as Qubes' reload_firewall_for_vm writes them.
import type { EpochSeconds, Rule } from '../../common/rule/model.js'
import { qdbEntries } from '../rule/format-qdb.js'
import { markerKey, vmKey } from '../../common/qubesdb/keys.js'

export interface VmAddresses {
  ip?: string | undefined
  ip6?: string | undefined
}

/** `/qubes-firewall/<ip>` (empty: the VM's rules are complete), `.../policy`, `.../NNNN` per family. */
export function firewallEntries(vm: VmAddresses, rules: readonly Rule[], now: EpochSeconds): Record<string, string> {
  const entries: Record<string, string> = {}
  for (const [family, ip] of [[4, vm.ip], [6, vm.ip6]] as const) {
    if (ip === undefined) continue
    entries[markerKey(ip)] = ''
    for (const [key, value] of Object.entries(qdbEntries(rules, family, now))) entries[vmKey(ip, key)] = value
  }
  return entries
}
