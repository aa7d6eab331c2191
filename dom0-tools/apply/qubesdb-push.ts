// dom0 writing a netvm's rules into its QubesDB as qubesd does on Qubes (`qubesdb-write -d NETVM`):
// per VM, its old entries removed, the policy and the rules written, then the marker
// `/qubes-firewall/<ip>` last; the agent's `/qubes-firewall-handled/<ip>` going up confirms that
// they are in force. Only Qubes' own keys travel this way: names are resolved by the agent, and
// forwards (ours) need the socket.
import type { QubesDb } from '../../common/qubesdb/client.js'
import { CONNECTED_IPS, CONNECTED_IPS6, dnsPrefix, FIREWALL, FORWARD, handledKey, markerKey, vmPrefix } from '../../common/qubesdb/keys.js'
import type { AgentAnswer } from './outcome.js'

/** How often the handled counters are read while waiting for the agent. */
const CONFIRM_POLL_MS = 20

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

const handledCount = async (db: QubesDb, ip: string): Promise<number> => Number((await db.read(handledKey(ip))) ?? '0') || 0

/** Writes a `replace` or `update` push in Qubes' order and waits until the agent took every VM. */
export async function pushThroughQubesDb(db: QubesDb, op: 'replace' | 'update', entries: Readonly<Record<string, string>>, timeoutMs: number): Promise<AgentAnswer> {
  if (Object.keys(entries).some((key) => key.startsWith(`${FORWARD}/`))) {
    return { ok: false, error: "port forwards need the agent's socket (a unix: or exec: transport): QubesDB carries Qubes' own keys only" }
  }
  const { vms, connected } = groupByVm(entries)
  await db.writeAll(connected)
  if (op === 'replace') {
    const listed = new Set((await db.list(FIREWALL)).map((path) => path.slice(FIREWALL.length).split('/')[0] ?? ''))
    for (const ip of listed) {
      if (ip === '' || vms.has(ip)) continue
      await db.rm(vmPrefix(ip))
      await db.rm(markerKey(ip))
    }
  }
  const before = new Map<string, number>()
  for (const [ip, vmEntries] of vms) {
    before.set(ip, await handledCount(db, ip))
    await db.rm(vmPrefix(ip))
    // the policy first, then the rules in order, then the marker, as qubesd writes them
    const ordered = vmEntries.sort(([a], [b]) => (a.endsWith('/policy') ? -1 : b.endsWith('/policy') ? 1 : a < b ? -1 : 1))
    await db.writeAll([...ordered, [markerKey(ip), '']])
  }
  const deadline = Date.now() + timeoutMs
  for (const [ip, count] of before) {
    while ((await handledCount(db, ip)) <= count) {
      if (Date.now() > deadline) throw new NotConfirmedError(`the agent did not take the rules of ${ip} within ${Math.round(timeoutMs / 1000)} s`)
      await new Promise((resolve) => setTimeout(resolve, CONFIRM_POLL_MS))
    }
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
