// The QubesDB paths that carry a firewall VM's rules, spelt out once for every program: dom0 writes
// them (or pushes them as a socket request's entries), the agent reads them and writes back what
// it did. Qubes' own paths first, then ours.

/** `/qubes-firewall/<ip>`: empty, written last: the VM's rules below it are complete. */
export const FIREWALL = '/qubes-firewall/'
export const CONNECTED_IPS = '/connected-ips'
export const CONNECTED_IPS6 = '/connected-ips6'
/** `/qubes-firewall-handled/<ip>`: how many times the agent took the VM's rules (Qubes 4.2). */
export const HANDLED = '/qubes-firewall-handled/'
/** `/dns/<ip>/<name>`: what the VM's names resolved to, as `{'addr/32', ...}` (Qubes 4.2). */
export const DNS = '/dns/'

/** Ours: `/qubes-firewall-resolved/<ip>/<name>`, what dom0 resolved a name to ("" when it could not). */
export const RESOLVED = '/qubes-firewall-resolved/'
/** Ours: `/qubes-firewall-forward` (empty: forwards complete) and `/qubes-firewall-forward/NNNN`. */
export const FORWARD = '/qubes-firewall-forward'
/** Ours, in the firewall VM's own QubesDB: the agent writes it to learn that its watch is registered. */
export const WATCH_SENTINEL = '/qubes-firewall-agent-watch'

export const markerKey = (ip: string): string => `${FIREWALL}${ip}`
export const vmPrefix = (ip: string): string => `${FIREWALL}${ip}/`
export const vmKey = (ip: string, sub: string): string => `${FIREWALL}${ip}/${sub}`
export const ruleKey = (ip: string, number: number): string => vmKey(ip, String(number).padStart(4, '0'))
export const resolvedKey = (ip: string, name: string): string => `${RESOLVED}${ip}/${name}`
export const handledKey = (ip: string): string => `${HANDLED}${ip}`
export const dnsPrefix = (ip: string): string => `${DNS}${ip}/`
export const isConnectedIps = (key: string): boolean => key === CONNECTED_IPS || key === CONNECTED_IPS6
