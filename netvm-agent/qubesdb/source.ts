// Qubes' own QubesDB as the source of the rules, read as Qubes' agent reads it: a VM's rules are
// taken when dom0 writes its marker `/qubes-firewall/<ip>` (last, after the policy and the rules),
// with one multiread of `/qubes-firewall/<ip>/`; `/connected-ips*` when they change; everything
// once the watch is live. Once a VM's rules are in force, `/qubes-firewall-handled/<ip>` goes up
// by one per marker write taken and `/dns/<ip>/` says what its names resolved to (Qubes 4.2).
import {
  CONNECTED_IPS, CONNECTED_IPS6, FIREWALL, HANDLED, dnsPrefix, handledKey, isConnectedIps, markerKey, vmPrefix,
} from '../../common/qubesdb/keys.js'
import type { Entries } from '../daemon/state.js'
import type { Resolution } from '../push/model.js'
import { parseVmIp } from '../push/vm-ip.js'
import type { QubesDb } from '../../common/qubesdb/client.js'
import { shown } from '../../common/untrusted-text.js'

/** QubesDB's longest path (its protocol's header holds 64 bytes with the final NUL). */
const MAX_PATH = 63

/** What the source asks of the daemon: one change, serialised with every other one. */
export interface ChangeRequest {
  readonly op: 'replace' | 'update'
  readonly entries: Entries
  /** VMs whose entries could not be read: blocked, the reason named. */
  readonly unreadable: ReadonlyMap<string, string>
}

export interface SourceDeps {
  readonly db: QubesDb
  change(request: ChangeRequest): Promise<{ ok: boolean; error?: string }>
  remove(ips: readonly string[]): Promise<{ ok: boolean; error?: string }>
  /** The VM's effective resolutions once in force; undefined when it is not loaded. */
  resolutionOf(ip: string): ReadonlyMap<string, Resolution> | undefined
  log(message: string): void
}

/** The VM's ip from a fired path: only the marker itself counts, as in Qubes. */
export function markerIp(path: string): string | undefined {
  if (!path.startsWith(FIREWALL)) return undefined
  const rest = path.slice(FIREWALL.length)
  return rest !== '' && !rest.includes('/') ? rest : undefined
}

/** Qubes 4.2's spelling of a name's addresses in `/dns/<ip>/<name>`: a Python set of prefixes. */
export function formatDnsValue(addresses: readonly string[], family: 4 | 6): string {
  const suffix = family === 4 ? '/32' : '/128'
  return addresses.length === 0 ? 'set()' : `{${addresses.map((a) => `'${a}${suffix}'`).join(', ')}}`
}

const fingerprint = (entries: Entries): string => JSON.stringify(Object.entries(entries).sort(([a], [b]) => (a < b ? -1 : 1)))

export class QubesDbSource {
  /** Each VM's entries as last taken, to tell a re-read that changed a VM from one that did not. */
  private readonly taken = new Map<string, string>()
  /** What each VM's /dns/<ip>/ holds, as last written by us. */
  private readonly dnsWritten = new Map<string, string>()
  private handled: Map<string, number> | undefined
  private readonly firedMarkers = new Map<string, number>()
  private connectedFired = false
  private readAllDue = false
  private firstReadDone = false
  private running = false

  constructor(private readonly deps: SourceDeps) {}

  onPath(path: string): void {
    const ip = markerIp(path)
    if (ip !== undefined) this.firedMarkers.set(ip, (this.firedMarkers.get(ip) ?? 0) + 1)
    else if (isConnectedIps(path)) this.connectedFired = true
    else return
    this.kick()
  }

  onLive(): void {
    this.readAllDue = true
    this.kick()
  }

  /** True while changes are being read or applied. */
  get busy(): boolean {
    return this.running
  }

  private hasWork(): boolean {
    return this.readAllDue || this.connectedFired || this.firedMarkers.size > 0
  }

  private kick(): void {
    if (this.running) return
    this.running = true
    void this.drain()
      .catch((err: Error) => this.deps.log(`reading QubesDB failed: ${err.message}`))
      .finally(() => {
        this.running = false
        if (this.hasWork()) this.kick()
      })
  }

  private async drain(): Promise<void> {
    while (this.hasWork()) {
      const fired = new Map(this.firedMarkers)
      this.firedMarkers.clear()
      if (this.readAllDue) {
        this.readAllDue = false
        this.connectedFired = false
        await this.readAll(fired)
      } else {
        const connected = this.connectedFired
        this.connectedFired = false
        await this.readChanged(fired, connected)
      }
    }
  }

  /** Every VM listed under /qubes-firewall/ and the connected addresses, as one replace. */
  private async readAll(fired: ReadonlyMap<string, number>): Promise<void> {
    const listed = await this.deps.db.list(FIREWALL)
    const ips = [...new Set(listed.map(markerIp).filter((ip): ip is string => ip !== undefined))]
    const entries: Entries = { ...(await this.readConnected()) }
    const unreadable = new Map<string, string>()
    const counts = new Map<string, number>()
    for (const ip of ips) {
      const vm = await this.readVm(ip, unreadable)
      if (vm === undefined) continue
      Object.assign(entries, vm)
      const changed = this.taken.get(ip) !== fingerprint(vm)
      counts.set(ip, Math.max(fired.get(ip) ?? 0, !this.firstReadDone || changed ? 1 : 0))
      this.taken.set(ip, fingerprint(vm))
    }
    for (const ip of this.taken.keys()) if (!counts.has(ip)) this.taken.delete(ip)
    const result = await this.deps.change({ op: 'replace', entries, unreadable })
    this.firstReadDone = true
    await this.report(result, counts)
  }

  private async readChanged(fired: ReadonlyMap<string, number>, connected: boolean): Promise<void> {
    const entries: Entries = connected ? await this.readConnected() : {}
    const unreadable = new Map<string, string>()
    const gone: string[] = []
    for (const ip of fired.keys()) {
      const vm = await this.readVm(ip, unreadable)
      if (vm === undefined) {
        if (this.taken.delete(ip)) gone.push(ip)
        continue
      }
      Object.assign(entries, vm)
      this.taken.set(ip, fingerprint(vm))
    }
    if (Object.keys(entries).length > 0) {
      const counts = new Map([...fired].filter(([ip]) => this.taken.has(ip)))
      await this.report(await this.deps.change({ op: 'update', entries, unreadable }), counts)
    }
    if (gone.length > 0) {
      const removed = await this.deps.remove(gone)
      if (!removed.ok) this.deps.log(`removing ${gone.join(', ')} failed: ${removed.error ?? 'unknown error'}`)
      const dns = new DnsChanges()
      for (const ip of gone) if (this.dnsWritten.delete(ip)) dns.cleared.push(dnsPrefix(ip))
      await this.writeDns(dns)
    }
  }

  private async readConnected(): Promise<Entries> {
    const entries: Entries = {}
    for (const key of [CONNECTED_IPS, CONNECTED_IPS6]) {
      const value = await this.deps.db.read(key)
      // absent: Qubes' agent reads it as an empty list too
      entries[key] = value ?? ''
    }
    return entries
  }

  /**
   * The VM's entries with its marker; undefined when the marker is gone (the VM left). Entries
   * that cannot be read leave the marker alone, and the VM is blocked with the reason.
   */
  private async readVm(untrustedIp: string, unreadable: Map<string, string>): Promise<Entries | undefined> {
    const parsed = parseVmIp(untrustedIp)
    if (parsed === undefined || parsed.ip !== untrustedIp) {
      this.deps.log(`ignoring ${FIREWALL}${shown(untrustedIp)}: not a VM address`)
      return undefined
    }
    const ip = parsed.ip
    if ((await this.deps.db.read(markerKey(ip))) === undefined) return undefined
    try {
      return { ...Object.fromEntries(await this.deps.db.multiread(vmPrefix(ip))), [markerKey(ip)]: '' }
    } catch (err) {
      unreadable.set(ip, (err as Error).message)
      return { [markerKey(ip)]: '' }
    }
  }

  /**
   * The VMs whose rules are now in force: their names in /dns/<ip>/ (rewritten when they changed),
   * then their handled counters up, in two commands for all of them.
   */
  private async report(result: { ok: boolean; error?: string }, counts: ReadonlyMap<string, number>): Promise<void> {
    if (result.error !== undefined) {
      this.deps.log(`rules not applied: ${result.error}`)
      return
    }
    const handled = await this.handledCounts()
    const inForce = [...counts].filter(([ip, count]) => count > 0 && this.deps.resolutionOf(ip) !== undefined)
    await this.namesMoved(inForce.map(([ip]) => ip))
    const raised: [string, string][] = []
    for (const [ip, count] of inForce) {
      handled.set(ip, (handled.get(ip) ?? 0) + count)
      raised.push([handledKey(ip), String(handled.get(ip))])
    }
    await this.deps.db.writeAll(raised)
  }

  /** Counted on from what QubesDB held when the agent started (as Qubes' agent does), then kept here. */
  private async handledCounts(): Promise<Map<string, number>> {
    if (this.handled !== undefined) return this.handled
    const counts = new Map<string, number>()
    for (const [path, value] of await this.deps.db.multiread(HANDLED)) {
      if (/^[0-9]{1,15}$/.test(value)) counts.set(path.slice(HANDLED.length), Number(value))
    }
    return (this.handled = counts)
  }

  /**
   * These VMs' names may have moved (a refresh, or rules now in force): /dns/<ip>/ says what they
   * stand for, in one command for all of them. A refresh leaves the handled counts: dom0 wrote nothing.
   */
  async namesMoved(ips: readonly string[]): Promise<void> {
    const dns = new DnsChanges()
    for (const ip of ips) {
      const resolution = this.deps.resolutionOf(ip)
      if (resolution !== undefined) this.dnsOf(ip, resolution, dns)
    }
    await this.writeDns(dns)
  }

  /** The VM's /dns/<ip>/ entries, into `changes` unless they are what was written last. */
  private dnsOf(ip: string, resolution: ReadonlyMap<string, Resolution>, changes: DnsChanges): void {
    const family = parseVmIp(ip)?.family ?? 4
    const entries: [string, string][] = []
    for (const [name, answer] of resolution) {
      if (!('addresses' in answer)) continue
      const path = `${dnsPrefix(ip)}${name}`
      if (path.length > MAX_PATH) {
        this.deps.log(`${ip}: ${name} not written to ${dnsPrefix(ip)}: the path is longer than QubesDB's ${MAX_PATH} characters`)
        continue
      }
      entries.push([path, formatDnsValue(answer.addresses, family)])
    }
    const written = JSON.stringify(entries)
    if (this.dnsWritten.get(ip) === written) return
    this.dnsWritten.set(ip, written)
    changes.cleared.push(dnsPrefix(ip))
    changes.written.push(...entries)
  }

  private async writeDns(changes: DnsChanges): Promise<void> {
    await this.deps.db.rmAll(changes.cleared)
    await this.deps.db.writeAll(changes.written)
  }
}

class DnsChanges {
  readonly cleared: string[] = []
  readonly written: [string, string][] = []
}
