// A port forward: a VM's service opened to the world outside its outermost netvm (qubes-issues
// #4028, Qubes' manual multi-hop recipe, automated). Stored with the VM's firewall.
import type { ForwardFrom, ForwardProto } from '../../common/rule/forward-values.js'
import type { Port } from '../../common/rule/model.js'

export interface Forward {
  readonly proto: ForwardProto
  /** The VM's port. */
  readonly port: Port
  /** The port on the outermost netvm's upstream side (default: the VM's port). */
  readonly outsidePort: Port
  /** Only clients from this network; an IPv4 network limits the forward to IPv4 (and IPv6 alike). */
  readonly from?: ForwardFrom
  /** Only on this upstream interface of the outermost netvm. */
  readonly iface?: string
}

/** The address families a forward serves: both, unless its source restriction names one. */
export function forwardFamilies(forward: Forward): (4 | 6)[] {
  if (forward.from?.kind === 'ip4') return [4]
  if (forward.from?.kind === 'ip6') return [6]
  return [4, 6]
}
