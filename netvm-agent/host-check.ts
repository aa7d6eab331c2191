// Creating Qubes' base table installs an input chain with policy drop. In a firewall VM or a network
// namespace that is what is wanted; on an ordinary host (a laptop, a server reached over ssh) it cuts
// every connection the host itself accepts. So the agent refuses to create it there unless forced.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'

/** Interface names in this process's network namespace (/proc/net/dev is per namespace). */
function interfaceNames(): string[] {
  return readFileSync('/proc/net/dev', 'utf8')
    .split('\n')
    .slice(2)
    .map((line) => line.slice(0, line.indexOf(':')).trim())
    .filter((name) => name !== '')
}

/**
 * A namespace named by `ip netns add` (bind-mounted under /run/netns), or one that is not init's;
 * 'unknown' when init's cannot be seen (a container, a sandbox).
 */
function inOwnNetworkNamespace(): boolean | 'unknown' {
  const own = statSync('/proc/self/ns/net').ino
  try {
    if (readdirSync('/run/netns').some((name) => statSync(join('/run/netns', name)).ino === own)) return true
  } catch {
    // no named namespaces
  }
  try {
    return own !== statSync('/proc/1/ns/net').ino
  } catch {
    // init's namespace cannot be seen: not a namespace of its own as far as we can tell (the careful answer)
    return 'unknown'
  }
}

/** Qubes marks its VMs (4.1+), and its services live under /run/qubes-service. */
const QUBES_MARKERS = ['/usr/share/qubes/marker-vm', '/run/qubes-service']

/** Why this looks like an ordinary host, or undefined when it looks like a firewall VM or a namespace. */
export function ordinaryHostReason(): string | undefined {
  const ownNamespace = inOwnNetworkNamespace()
  if (ownNamespace === true) return undefined
  if (QUBES_MARKERS.some((marker) => existsSync(marker))) return undefined
  if (interfaceNames().some((name) => name.startsWith('vif'))) return undefined
  const namespace = ownNamespace === 'unknown'
    ? "whether this is a network namespace of its own cannot be told (init's is not visible)"
    : 'this is not a network namespace of its own'
  return `this host has no vif* interface, is not a Qubes VM, and ${namespace}`
}
