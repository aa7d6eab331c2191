// Port forwards across hops: for each netvm on a VM's way out, a DNAT to the next hop (the VM at
// the last one) and the matching forward accept. dom0 computes every hop's complete set.
import { forwardFamilies } from '../forward/model.js'
import type { Domain, Registry } from '../registry/registry.js'
import { formatDstHost } from '../../common/rule/values.js'
import { loadFirewall } from '../store/firewall-store.js'
import { nowEpoch } from '../../common/rule/model.js'
import { FORWARD } from '../../common/qubesdb/keys.js'

/** The marker key: its presence in a push replaces the hop's whole set of forwards. */
export const FORWARD_PREFIX = FORWARD

export interface Hop {
  /** The netvm doing this hop's DNAT. */
  hop: Domain
  /** Where it sends the traffic: the next netvm inwards, or the VM itself. */
  next: Domain
  outermost: boolean
}

/** The VM's way out, innermost hop first: [sys-firewall -> vm, sys-net -> sys-firewall]. */
export function hopsOf(registry: Registry, vm: Domain): Hop[] {
  const hops: Hop[] = []
  let next = vm
  const seen = new Set<string>([vm.name])
  while (next.netvm !== undefined && !seen.has(next.netvm)) {
    const hop = registry.require(next.netvm)
    seen.add(hop.name)
    hops.push({ hop, next, outermost: false })
    next = hop
  }
  const last = hops[hops.length - 1]
  if (last) last.outermost = true
  return hops
}

/** Everything `netvm` forwards, for every VM behind it: the entries of one push. */
export function forwardEntriesFor(registry: Registry, qubesDir: string, netvm: string): Record<string, string> {
  const entries: Record<string, string> = { [FORWARD_PREFIX]: '' }
  let n = 0
  for (const vm of registry.domains()) {
    const { forwards } = loadFirewall(qubesDir, vm.name, nowEpoch())
    if (forwards.length === 0) continue
    for (const { hop, next, outermost } of hopsOf(registry, vm)) {
      if (hop.name !== netvm) continue
      for (const forward of forwards) {
        for (const family of forwardFamilies(forward)) {
          const to = family === 4 ? next.ip : next.ip6
          // a family the VM has no address in cannot be forwarded to it
          if (to === undefined || (family === 4 ? vm.ip : vm.ip6) === undefined) continue
          const words = [
            `proto=${forward.proto}`,
            `dport=${outermost ? forward.outsidePort : forward.port}`,
            `to=${to}`,
            `toport=${forward.port}`,
            ...(forward.from ? [`from=${formatDstHost(forward.from)}`] : []),
            ...(outermost && forward.iface !== undefined ? [`iface=${forward.iface}`] : []),
          ]
          entries[`${FORWARD_PREFIX}/${String(n++).padStart(4, '0')}`] = words.join(' ')
        }
      }
    }
  }
  return entries
}
