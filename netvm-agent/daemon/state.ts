// What the daemon enforces, kept on disk so that a restart restores it before anything else: the
// entries each VM was pushed (with the names the agent resolved for it) and the global keys.
//
// Each change is one line appended to journal.jsonl and synced before the answer goes out, so a
// one-VM update costs the same whatever the number of VMs. state.json is a snapshot, rewritten
// atomically now and then (compact()); journal lines up to its `seq` are then dropped. A line torn by
// a crash was never answered, and is ignored: a restart restores exactly what was last answered.
import { closeSync, fdatasyncSync, fstatSync, ftruncateSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { atomicWriteFile } from '../../common/atomic-write.js'
import type { Resolution } from '../../common/dns/resolver.js'
import { FIREWALL, FORWARD, isConnectedIps, RESOLVED, resolvedKey } from '../../common/qubesdb/keys.js'

export type Entries = Record<string, string>

/** One change: `reset` clears everything first; a VM mapped to null is forgotten. */
interface Change {
  seq: number
  reset?: true
  vms: Record<string, Entries | null>
  globals: Record<string, string | null>
}

interface Snapshot {
  version: 2
  seq: number
  vms: Record<string, Entries>
  globals: Entries
}

/** What the agent itself resolved a VM's names to: kept apart from dom0's, so that it is asked again after a restart. */
export const CACHED = '/qubes-firewall-cached/'
const cachedKey = (vm: string, name: string) => `${CACHED}${vm}/${name}`

/** The VM and name of a key cachedKey() made; undefined for any other key (a CACHED one of another shape too). */
export function cachedKeyParts(key: string): { vm: string; name: string } | undefined {
  if (!key.startsWith(CACHED)) return undefined
  const slash = key.indexOf('/', CACHED.length)
  if (slash < 0 || key.includes('/', slash + 1)) return undefined
  return { vm: key.slice(CACHED.length, slash), name: key.slice(slash + 1) }
}
/** The global keys the agent takes; anything else without a VM is ignored, and so not kept. */
const isGlobal = (key: string) => isConnectedIps(key) || key.startsWith(FORWARD)
/** A VM's keys start with one of these, then its IP. */
const VM_KEY_PREFIXES = [FIREWALL, RESOLVED, CACHED]

/** Which VM a key belongs to (its IP), or null for a global key such as /connected-ips. */
function keyOwner(key: string): string | null {
  // (startsWith and indexOf, not a regular expression: a full push has tens of thousands of keys)
  for (const prefix of VM_KEY_PREFIXES) {
    if (!key.startsWith(prefix)) continue
    const end = key.indexOf('/', prefix.length)
    const owner = end < 0 ? key.slice(prefix.length) : key.slice(prefix.length, end)
    return owner === '' ? null : owner
  }
  return null
}

/** Entries grouped by the VM they belong to, and the global ones. */
function groupByVm(entries: Entries): { vms: Map<string, Entries>; globals: Map<string, string> } {
  const vms = new Map<string, Entries>()
  const globals = new Map<string, string>()
  for (const key in entries) {
    const value = entries[key] as string
    const owner = keyOwner(key)
    if (owner === null) {
      globals.set(key, value)
      continue
    }
    let ofVm = vms.get(owner)
    if (ofVm === undefined) vms.set(owner, (ofVm = {}))
    ofVm[key] = value
  }
  return { vms, globals }
}

export class PersistedState {
  private vms = new Map<string, Entries>()
  private globals = new Map<string, string>()
  private seq = 0
  private journalFd: number | undefined
  private journalBytes = 0
  private snapshotBytes = 0
  /** The last change number load() saw on disk: a restored state goes on from there. */
  private loadedSeq = 0

  constructor(private readonly dir: string) {}

  private get snapshotFile(): string {
    return join(this.dir, 'state.json')
  }

  private get journalFile(): string {
    return join(this.dir, 'journal.jsonl')
  }

  /** What is on disk, as one entries object (undefined: nothing kept yet). Reads only; throws if unreadable. */
  load(): Entries | undefined {
    const { vms, globals, found, seq } = this.read()
    this.loadedSeq = seq
    if (!found) return undefined
    return Object.assign({}, ...vms.values(), Object.fromEntries(globals)) as Entries
  }

  /** Takes `entries` (what the restored agent enforces) as the state, written afresh as a snapshot. */
  restore(entries: Entries): void {
    this.seq = Math.max(this.seq, this.loadedSeq)
    const { vms, globals } = groupByVm(entries)
    this.vms = vms
    this.globals = new Map([...globals].filter(([key]) => isGlobal(key)))
    this.compact()
  }

  /** Records a change: replace swaps everything, update swaps the pushed VMs' keys and the globals it carries. */
  record(op: 'replace' | 'update', pushed: Entries, resolutionOf: (vm: string) => ReadonlyMap<string, Resolution> | undefined): void {
    const change: Change = { seq: this.seq + 1, vms: {}, globals: {}, ...(op === 'replace' && { reset: true as const }) }
    const { vms: byVm, globals } = groupByVm(pushed)
    for (const [key, value] of globals) if (isGlobal(key)) change.globals[key] = value
    // only what the agent took: keys of a VM without its marker were ignored, so are not kept
    const vms = [...byVm.keys()].filter((vm) => pushed[`${FIREWALL}${vm}`] !== undefined)
    for (const vm of vms) change.vms[vm] = byVm.get(vm) as Entries
    // a push with the forward marker carries the hop's whole set of forwards
    if (op === 'update' && FORWARD in pushed) {
      for (const key of this.globals.keys()) if (key.startsWith(FORWARD) && !(key in pushed)) change.globals[key] = null
    }
    // keep what the agent resolved each VM's names to, so a restart restores its rules without
    // waiting for DNS; apart from dom0's answers, which the agent does not ask about again
    for (const vm of vms) {
      const kept = change.vms[vm] as Entries
      for (const [name, resolution] of resolutionOf(vm) ?? []) {
        if ('addresses' in resolution && kept[resolvedKey(vm, name)] === undefined) kept[cachedKey(vm, name)] = resolution.addresses.join(' ')
      }
    }
    this.append(change)
  }

  /** What is kept now: every VM's entries and the globals (`ips`: only those VMs' entries). */
  current(ips?: readonly string[]): Entries {
    const vms = ips === undefined ? [...this.vms.values()] : ips.map((ip) => this.vms.get(ip)).filter((e): e is Entries => e !== undefined)
    return Object.assign({}, ...vms, ips === undefined ? Object.fromEntries(this.globals) : {}) as Entries
  }

  /** Whether a VM is kept. */
  has(ip: string): boolean {
    return this.vms.has(ip)
  }

  forget(ips: readonly string[]): void {
    const change: Change = { seq: this.seq + 1, vms: {}, globals: {} }
    for (const ip of ips) if (this.vms.has(ip)) change.vms[ip] = null
    if (Object.keys(change.vms).length > 0) this.append(change)
  }

  /** Whether the journal has grown past the snapshot (or 1 MiB): compacting then keeps its cost per change constant. */
  compactionDue(): boolean {
    return this.journalBytes > Math.max(1 << 20, this.snapshotBytes)
  }

  /** Writes the whole state as a snapshot, atomically, then empties the journal. */
  compact(): void {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 })
    const snapshot: Snapshot = { version: 2, seq: this.seq, vms: Object.fromEntries(this.vms), globals: Object.fromEntries(this.globals) }
    const text = JSON.stringify(snapshot) + '\n'
    atomicWriteFile(this.snapshotFile, text, 0o600)
    this.snapshotBytes = Buffer.byteLength(text)
    // lines up to seq are in the snapshot now; a crash before this truncation only leaves them to be skipped
    ftruncateSync(this.openJournal(), 0)
    this.journalBytes = 0
  }

  close(): void {
    if (this.journalFd !== undefined) closeSync(this.journalFd)
    this.journalFd = undefined
  }

  private openJournal(): number {
    if (this.journalFd === undefined) {
      mkdirSync(this.dir, { recursive: true, mode: 0o700 })
      this.journalFd = openSync(this.journalFile, 'a', 0o600)
      this.journalBytes = fstatSync(this.journalFd).size
    }
    return this.journalFd
  }

  /** Synced before it returns: the caller answers only then. A failed write (a full disk) leaves no part of it behind, and throws. */
  private append(change: Change): void {
    const line = Buffer.from(JSON.stringify(change) + '\n')
    const fd = this.openJournal()
    let written = 0
    try {
      while (written < line.length) written += writeSync(fd, line, written)
      fdatasyncSync(fd)
    } catch (err) {
      // back to the last whole line: a torn one would hide every line written after it
      ftruncateSync(fd, this.journalBytes)
      throw err
    }
    this.journalBytes += line.length
    this.seq = change.seq
    applyChange(this.vms, this.globals, change)
  }

  private read(): { vms: Map<string, Entries>; globals: Map<string, string>; found: boolean; seq: number } {
    const vms = new Map<string, Entries>()
    const globals = new Map<string, string>()
    let seq = 0
    const snapshotText = readIfPresent(this.snapshotFile)
    if (snapshotText !== undefined) {
      const untrusted = JSON.parse(snapshotText) as { version?: number; entries?: Entries; seq?: number; vms?: Record<string, Entries>; globals?: Entries }
      if (untrusted.version === 1 && untrusted.entries) {
        // the first format: one entries object
        const grouped = groupByVm(untrusted.entries)
        for (const [ip, entries] of grouped.vms) vms.set(ip, entries)
        for (const [key, value] of grouped.globals) globals.set(key, value)
      } else if (untrusted.version === 2) {
        for (const [ip, entries] of Object.entries(untrusted.vms ?? {})) vms.set(ip, entries)
        for (const [key, value] of Object.entries(untrusted.globals ?? {})) globals.set(key, value)
        seq = untrusted.seq ?? 0
      } else {
        throw new Error(`${this.snapshotFile}: unknown version`)
      }
    }
    const journalText = readIfPresent(this.journalFile) ?? ''
    // only whole lines: the last one may be torn by a crash, and was never answered
    for (const line of journalText.split('\n').slice(0, -1)) {
      let change: Change
      try {
        change = JSON.parse(line) as Change
      } catch {
        break
      }
      if (change.seq <= seq) continue
      applyChange(vms, globals, change)
      seq = change.seq
    }
    return { vms, globals, found: snapshotText !== undefined || journalText !== '', seq }
  }
}

function applyChange(vms: Map<string, Entries>, globals: Map<string, string>, change: Change): void {
  if (change.reset) {
    vms.clear()
    globals.clear()
  }
  for (const [ip, entries] of Object.entries(change.vms)) {
    if (entries === null) vms.delete(ip)
    else vms.set(ip, entries)
  }
  for (const [key, value] of Object.entries(change.globals)) {
    if (value === null) globals.delete(key)
    else globals.set(key, value)
  }
}

function readIfPresent(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw err
  }
}
