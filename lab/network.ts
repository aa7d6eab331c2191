// Builds and removes the lab's namespaces and links, with Qubes' addressing: each qube's eth0
// holds its /32 (and /128), its netvm's vif<qid>.0 holds the netvm's own address and a host
// route to the qube (what anti-spoofing and Qubes' vif-route-qubes rely on).
import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { ip, nsExec, nsIp, namespaces } from './system.js'
import { OUTSIDE, QUBES, VIRTUAL_DNS, ip4, ip6, nsOf, qidOf, vifName } from './topology.js'

export const LAB_NAMESPACES = [OUTSIDE.ns, ...QUBES.map((q) => q.name)]

async function sysctl(ns: string, ...settings: string[]): Promise<void> {
  await nsExec(ns, 'sysctl', ['-q', '-w', ...settings])
}

/** A veth pair between two namespaces, named as each side wants. */
async function link(nsA: string, nameA: string, nsB: string, nameB: string): Promise<void> {
  const tmpA = `ql${process.pid % 100000}a${qidOf(nsB)}`
  const tmpB = `ql${process.pid % 100000}b${qidOf(nsB)}`
  await ip('link', 'add', tmpA, 'type', 'veth', 'peer', 'name', tmpB)
  await ip('link', 'set', tmpA, 'netns', nsOf(nsA))
  await ip('link', 'set', tmpB, 'netns', nsOf(nsB))
  await nsIp(nsA, 'link', 'set', tmpA, 'name', nameA)
  await nsIp(nsB, 'link', 'set', tmpB, 'name', nameB)
  await nsIp(nsA, 'link', 'set', nameA, 'up')
  await nsIp(nsB, 'link', 'set', nameB, 'up')
}

function writeResolvConf(ns: string, servers: readonly string[]): void {
  // `ip netns exec NS` bind-mounts /etc/netns/NS/resolv.conf over /etc/resolv.conf
  mkdirSync(`/etc/netns/${nsOf(ns)}`, { recursive: true })
  writeFileSync(`/etc/netns/${nsOf(ns)}/resolv.conf`, servers.map((s) => `nameserver ${s}\n`).join(''))
}

export async function buildNetwork(): Promise<void> {
  for (const ns of LAB_NAMESPACES) {
    await ip('netns', 'add', nsOf(ns))
    await nsIp(ns, 'link', 'set', 'lo', 'up')
    // no duplicate address detection on the lab's links: a link (re)made by `move` works at once
    await sysctl(ns, 'net.ipv6.conf.default.accept_dad=0', 'net.ipv6.conf.all.accept_dad=0')
  }
  // the world: a router address on the uplink, servers and the DNS server on lo
  await link(OUTSIDE.ns, 'uplink', 'sys-net', 'eth0')
  await nsIp(OUTSIDE.ns, 'addr', 'add', `${OUTSIDE.router4}/24`, 'dev', 'uplink')
  await nsIp(OUTSIDE.ns, 'addr', 'add', `${OUTSIDE.router6}/64`, 'dev', 'uplink', 'nodad')
  for (const address of [...OUTSIDE.servers, OUTSIDE.dns]) {
    // IPv6 answers neighbour solicitations only for addresses on the asking link
    if (address.includes(':')) await nsIp(OUTSIDE.ns, 'addr', 'add', `${address}/128`, 'dev', 'uplink', 'nodad')
    else await nsIp(OUTSIDE.ns, 'addr', 'add', `${address}/32`, 'dev', 'lo')
  }
  await nsIp('sys-net', 'addr', 'add', `${OUTSIDE.uplink4}/24`, 'dev', 'eth0')
  await nsIp('sys-net', 'addr', 'add', `${OUTSIDE.uplink6}/64`, 'dev', 'eth0', 'nodad')
  await nsIp('sys-net', 'route', 'add', 'default', 'via', OUTSIDE.router4)
  await nsIp('sys-net', '-6', 'route', 'add', 'default', 'via', OUTSIDE.router6)
  writeResolvConf('sys-net', [OUTSIDE.dns])

  for (const qube of QUBES) {
    if (qube.providesNetwork) {
      await sysctl(qube.name, 'net.ipv4.ip_forward=1', 'net.ipv6.conf.all.forwarding=1', 'net.ipv4.icmp_ratelimit=0', 'net.ipv6.icmp.ratelimit=0')
    }
    if (qube.netvm !== null) await connectQube(qube.name, qube.netvm)
  }
}

/** Links a qube to a netvm as Qubes' vif scripts do: its /32 and /128, the netvm's address as gateway. */
export async function connectQube(qube: string, netvm: string): Promise<void> {
  const qid = qidOf(qube)
  const netvmQid = qidOf(netvm)
  const vif = vifName(qube)
  await link(netvm, vif, qube, 'eth0')
  await nsIp(netvm, 'addr', 'add', `${ip4(netvmQid)}/32`, 'dev', vif)
  await nsIp(netvm, 'addr', 'add', `${ip6(netvmQid)}/128`, 'dev', vif, 'nodad')
  await nsIp(netvm, 'route', 'add', ip4(qid), 'dev', vif)
  await nsIp(netvm, '-6', 'route', 'add', ip6(qid), 'dev', vif)
  await nsIp(qube, 'addr', 'add', `${ip4(qid)}/32`, 'dev', 'eth0')
  await nsIp(qube, 'addr', 'add', `${ip6(qid)}/128`, 'dev', 'eth0', 'nodad')
  await nsIp(qube, 'route', 'add', ip4(netvmQid), 'dev', 'eth0')
  await nsIp(qube, 'route', 'add', 'default', 'via', ip4(netvmQid), 'dev', 'eth0', 'onlink')
  await nsIp(qube, '-6', 'route', 'add', ip6(netvmQid), 'dev', 'eth0')
  await nsIp(qube, '-6', 'route', 'add', 'default', 'via', ip6(netvmQid), 'dev', 'eth0', 'onlink')
  writeResolvConf(qube, VIRTUAL_DNS)
}

/** Unplugs a qube from its netvm (deleting one end of the pair deletes both). */
export async function disconnectQube(qube: string): Promise<void> {
  await nsIp(qube, 'link', 'del', 'eth0')
}

/** Qubes' dnat-dns in sys-net: the virtual DNS addresses go to the real nameserver. */
export function dnatDnsScript(): string {
  const rules = VIRTUAL_DNS.flatMap((vdns) => ['udp', 'tcp'].map((p) => `    ip daddr ${vdns} ${p} dport 53 dnat to ${OUTSIDE.dns}`))
  return ['table ip qubes {', '  chain dnat-dns {', '    type nat hook prerouting priority dstnat; policy accept;', ...rules, '  }', '}', ''].join('\n')
}

export async function removeNetwork(): Promise<void> {
  const existing = new Set(await namespaces())
  for (const ns of LAB_NAMESPACES) {
    if (existing.has(nsOf(ns))) await ip('netns', 'del', nsOf(ns))
    rmSync(`/etc/netns/${nsOf(ns)}`, { recursive: true, force: true })
  }
}
