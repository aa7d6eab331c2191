// The lab's Qubes network, as data: who exists, who is whose netvm, which names and servers the
// outside world has. DESIGN.md ("The lab") pins these names and addresses.

// tests run labs side by side: QUBES_LAB_PREFIX prefixes the namespaces, QUBES_LAB_DIR moves the state
export const LAB_DIR = process.env['QUBES_LAB_DIR'] ?? '/run/qubes-lab'
export const QUBES_DIR = `${LAB_DIR}/qubes`
const NS_PREFIX = process.env['QUBES_LAB_PREFIX'] ?? ''

/** The network namespace of a qube (or of `outside`). */
export function nsOf(name: string): string {
  return `${NS_PREFIX}${name}`
}

export interface LabQube {
  name: string
  netvm: string | null
  providesNetwork: boolean
}

/** In creation order, so qids (and so Qubes' addresses 10.137.0.<qid>) are stable. */
export const QUBES: readonly LabQube[] = [
  { name: 'sys-net', netvm: null, providesNetwork: true },
  { name: 'sys-firewall', netvm: 'sys-net', providesNetwork: true },
  { name: 'work', netvm: 'sys-firewall', providesNetwork: false },
  { name: 'personal', netvm: 'sys-firewall', providesNetwork: false },
  { name: 'untrusted', netvm: 'sys-firewall', providesNetwork: false },
  { name: 'vault', netvm: null, providesNetwork: false },
]

export const NETVMS = QUBES.filter((q) => q.providesNetwork).map((q) => q.name)

/** The world outside sys-net. */
export const OUTSIDE = {
  ns: 'outside',
  /** outside's end of sys-net's uplink, and sys-net's address on it */
  router4: '192.0.2.1',
  uplink4: '192.0.2.2',
  router6: '2001:db8::1',
  uplink6: '2001:db8::2',
  dns: '192.0.2.53',
  servers: ['192.0.2.10', '198.51.100.10', '2001:db8::10'],
  ports: [22, 80, 443],
  names: { 'www.lab.example': '192.0.2.10', 'cdn.lab.example': '198.51.100.10' } as Record<string, string>,
}

/** Qubes' virtual DNS servers: what every qube's resolv.conf names, DNATed by its netvm. */
export const VIRTUAL_DNS = ['10.139.1.1', '10.139.1.2']

export function ip4(qid: number): string {
  return `10.137.${qid >> 8}.${qid & 255}`
}

export function ip6(qid: number): string {
  return `fd09:24ef:4179::a89:${qid.toString(16)}`
}

export function qidOf(name: string): number {
  return QUBES.findIndex((q) => q.name === name) + 1
}

/** The interface on the netvm's side of a qube's link: Qubes' vif<domid>.0 (domid = qid here). */
export function vifName(name: string): string {
  return `vif${qidOf(name)}.0`
}

export function socketPath(netvm: string): string {
  return `${LAB_DIR}/${netvm}/agent.sock`
}

/** What the matrix probes: a label and a tcp target. */
export const DESTINATIONS: readonly { label: string; host: string; port: number }[] = [
  { label: 'www:80', host: 'www.lab.example', port: 80 },
  { label: 'www:443', host: 'www.lab.example', port: 443 },
  { label: 'www:22', host: 'www.lab.example', port: 22 },
  { label: 'cdn:80', host: 'cdn.lab.example', port: 80 },
  { label: 'cdn:443', host: 'cdn.lab.example', port: 443 },
  { label: '[2001:db8::10]:443', host: '2001:db8::10', port: 443 },
  { label: 'dns', host: 'dns', port: 53 },
  { label: 'personal:80', host: 'personal', port: 80 },
]
