// The loaded VMs and, kept as each is set, those whose rules expire or name hosts
// (netvm-agent/loaded-vms.ts): what the daemon's timers look at after every change.
import t from 'tap'
import { LoadedVms } from '../netvm-agent/loaded-vms.js'
import type { LoadedVm } from '../netvm-agent/plan.js'
import { parsePush } from '../netvm-agent/push/parse.js'

/** A VM loaded with these rules (parsed as a push's), nothing else of it needed here. */
function vm(ip: string, ...rules: string[]): LoadedVm {
  const entries: Record<string, string> = { [`/qubes-firewall/${ip}`]: '', [`/qubes-firewall/${ip}/policy`]: 'drop' }
  rules.forEach((rule, i) => (entries[`/qubes-firewall/${ip}/${String(i).padStart(4, '0')}`] = rule))
  const entry = parsePush(entries).vms.get(ip)
  if (entry === undefined) throw new Error(`no VM ${ip}`)
  return { entry, resolution: new Map(), names: new Map(), chain: '', sets: new Map(), inOverlay: false }
}

const ips = (vms: Iterable<LoadedVm>) => [...vms].map((v) => (v.entry.ok ? v.entry.vm.ip : v.entry.failure.ip)).sort()

const PLAIN = 'action=accept proto=tcp dstports=443'
const EXPIRING = 'action=accept proto=icmp expire=1900000000'
const NAMING = 'action=accept dsthost=example.com'

t.test('a VM is followed while its rules expire or name a host, and no longer once it has none or is gone', async (t) => {
  const loaded = new LoadedVms()
  loaded.set('10.137.0.2', vm('10.137.0.2', PLAIN))
  loaded.set('10.137.0.3', vm('10.137.0.3', PLAIN, EXPIRING))
  loaded.set('10.137.0.4', vm('10.137.0.4', NAMING, EXPIRING))
  loaded.set('10.137.0.5', vm('10.137.0.5', 'action=accept proto=tcp dstports=99999', EXPIRING))
  t.same(ips(loaded.withExpiries()), ['10.137.0.3', '10.137.0.4'], 'a VM whose rules failed to parse has none')
  t.same(ips(loaded.namingHosts()), ['10.137.0.4'])
  // an update replaces a VM: what its new rules are decides
  loaded.set('10.137.0.3', vm('10.137.0.3', NAMING))
  loaded.set('10.137.0.2', vm('10.137.0.2', EXPIRING))
  t.same(ips(loaded.withExpiries()), ['10.137.0.2', '10.137.0.4'])
  t.same(ips(loaded.namingHosts()), ['10.137.0.3', '10.137.0.4'])
  loaded.delete('10.137.0.4')
  t.same(ips(loaded.withExpiries()), ['10.137.0.2'])
  t.same(ips(loaded.namingHosts()), ['10.137.0.3'])
  t.equal(loaded.size, 3)
  loaded.clear()
  t.same([...loaded.withExpiries(), ...loaded.namingHosts()], [])
})

t.test('made of a plain map: each VM kept as set() keeps it', async (t) => {
  const loaded = LoadedVms.of(new Map([['10.137.0.2', vm('10.137.0.2', EXPIRING)], ['10.137.0.3', vm('10.137.0.3', PLAIN)]]))
  t.same([...loaded.keys()], ['10.137.0.2', '10.137.0.3'])
  t.same(ips(loaded.withExpiries()), ['10.137.0.2'])
})
