// dom0 writing a netvm's rules into its QubesDB as qubesd does on Qubes (`qubesdb-write -d NETVM`):
// per VM, its old entries removed, the policy and the rules written, then the marker
// `/qubes-firewall/<ip>` last; the agent's `/qubes-firewall-handled/<ip>` going up confirms that
// they are in force. Only Qubes' own keys travel this way: names are resolved by the agent, and
// forwards (ours) need the socket.
import type { QubesDb } from '../../common/qubesdb/client.js'
import { CONNECTED_IPS, CONNECTED_IPS6, dnsPrefix, FIREWALL, FORWARD, HANDLED, markerKey, vmPrefix } from '../../common/qubesdb/keys.js'
import type { AgentAnswer } from './outcome.js'

/** How often the handled counters are read while waiting for the agent: soon at first, then less often. */
const FIRST_POLL_MS = 20
const LONGEST_POLL_MS = 250

export class NotConfirmedError extends Error {
  override name = 'NotConfirmedError'
}

/** The push's entries by VM (its marker's ip) and the connected addresses; everything else is left out. */
function groupByVm(entries: Readonly<Record<string, string>>): { vms: Map<string, [string, string][]>; connected: [string, string][] } {
  const vms = new Map<string, [string, string][]>()
  const connected: [string, string][] = []
  for (const [key, value] of Object.entries(entries)) {
    if (key === CONNECTED_IPS || key === CONNECTED_IPS6) connected.push([key, value])
    else if (key.startsWith(FIREWALL) && !key.slice(FIREWALL.length).includes('/')) vms.set(key.slice(FIREWALL.length), [])
  }
  for (const [key, value] of Object.entries(entries)) {
    const ip = key.startsWith(FIREWALL) ? key.slice(FIREWALL.length).split('/')[0] : undefined
    if (ip !== undefined && key.startsWith(vmPrefix(ip))) vms.get(ip)?.push([key, value])
  }
  return { vms, connected }
}

/** Every VM's handled count, with one command. */
async function handledCounts(db: QubesDb): Promise<Map<string, number>> {
  const counts = new Map<string, number>()
  for (const [path, value] of await db.multiread(HANDLED)) counts.set(path.slice(HANDLED.length), Number(value) || 0)
  return counts
}

/** Writes a `replace` or `update` push in Qubes' order and waits until the agent took every VM. */
export async function pushThroughQubesDb(db: QubesDb, op: 'replace' | 'update', entries: Readonly<Record<string, string>>, timeoutMs: number): Promise<AgentAnswer> {
  if (Object.keys(entries).some((key) => key.startsWith(`${FORWARD}/`))) {
    return { ok: false, error: "port forwards need the agent's socket (a unix: or exec: transport): QubesDB carries Qubes' own keys only" }
  }
  const { vms, connected } = groupByVm(entries)
  // a replace also forgets the VMs it does not name: their marker goes, which the agent takes as such
  const gone = op === 'replace' ? [...new Set((await db.list(FIREWALL)).map((path) => path.slice(FIREWALL.length).split('/')[0] ?? ''))].filter((ip) => ip !== '' && !vms.has(ip)) : []
  const counted = await handledCounts(db)
  const before = new Map([...vms.keys()].map((ip) => [ip, counted.get(ip) ?? 0]))
  await db.rmAll([...gone.flatMap((ip) => [vmPrefix(ip), markerKey(ip)]), ...[...vms.keys()].map(vmPrefix)])
  // one command, in qubesd's order for each VM: the policy, the rules, then the marker
  const ordered = [...vms].flatMap(([ip, vmEntries]): [string, string][] => [
    ...vmEntries.sort(([a], [b]) => (a.endsWith('/policy') ? -1 : b.endsWith('/policy') ? 1 : a < b ? -1 : 1)),
    [markerKey(ip), ''],
  ])
  await db.writeAll([...connected, ...ordered])
  const deadline = Date.now() + timeoutMs
  for (let pause = FIRST_POLL_MS; ; pause = Math.min(LONGEST_POLL_MS, pause * 2)) {
    const now = await handledCounts(db)
    const waiting = [...before].filter(([ip, count]) => (now.get(ip) ?? 0) <= count).map(([ip]) => ip)
    if (waiting.length === 0) break
    if (Date.now() > deadline) throw new NotConfirmedError(`the agent did not take the rules of ${waiting.join(', ')} within ${Math.round(timeoutMs / 1000)} s`)
    await new Promise((resolve) => setTimeout(resolve, pause))
  }
  return { ok: true, applied: [...vms.keys()], resolved: await resolvedNames(db, [...vms.keys()]) }
}

/** What the agent wrote to `/dns/<ip>/`: `{'192.0.2.10/32', ...}` per name (Qubes 4.2's spelling). */
async function resolvedNames(db: QubesDb, ips: readonly string[]): Promise<Record<string, string[]>> {
  const names: Record<string, string[]> = {}
  for (const ip of ips) {
    for (const [path, untrustedValue] of await db.multiread(dnsPrefix(ip))) {
      const name = path.slice(dnsPrefix(ip).length)
      const addresses = [...untrustedValue.matchAll(/'([0-9a-fA-F.:]+)\/[0-9]+'/g)].map((m) => m[1] ?? '')
      names[name] = [...new Set([...(names[name] ?? []), ...addresses])]
    }
  }
  return names
}
