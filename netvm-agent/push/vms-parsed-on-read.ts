// A push's VMs, each parsed the first time it is read. A full load reads each VM as it renders its
// chain, while nft parses the chains written before it: the push's parse no longer has to end before
// nft can start. Only VMs whose rules may name a host are read before (their names are resolved first).
import type { VmEntry } from './model.js'
import { parseVm, type RawVm } from './vm.js'
import { SameRules } from './same-rules.js'
import { FIREWALL } from '../../common/qubesdb/keys.js'

/** A rule names a host only through this option; a VM without it in any value needs no DNS. */
const NAMING_OPTION = 'dsthost='

export class VmsParsedOnRead implements ReadonlyMap<string, VmEntry> {
  private readonly parsed = new Map<string, VmEntry>()

  /** `raws`: complete VMs (their marker present) by canonical address. */
  constructor(
    private readonly raws: ReadonlyMap<string, RawVm>,
    private readonly same: SameRules,
  ) {}

  get size(): number {
    return this.raws.size
  }

  has(ip: string): boolean {
    return this.raws.has(ip)
  }

  get(ip: string): VmEntry | undefined {
    let entry = this.parsed.get(ip)
    if (entry === undefined) {
      const raw = this.raws.get(ip)
      if (raw === undefined) return undefined
      entry = parseVm(raw, this.same)
      this.parsed.set(ip, entry)
    }
    return entry
  }

  /** The VMs whose rules may name a host (a value with `dsthost=`); the others have no name to resolve. */
  *mayNameHosts(): Generator<string> {
    for (const [ip, raw] of this.raws) {
      for (const value of raw.keys.values()) {
        if (value.includes(NAMING_OPTION)) {
          yield ip
          break
        }
      }
    }
  }

  keys(): MapIterator<string> {
    return this.raws.keys()
  }

  *entries(): MapIterator<[string, VmEntry]> {
    for (const ip of this.raws.keys()) yield [ip, this.get(ip) as VmEntry]
  }

  *values(): MapIterator<VmEntry> {
    for (const ip of this.raws.keys()) yield this.get(ip) as VmEntry
  }

  forEach(callback: (entry: VmEntry, ip: string, map: ReadonlyMap<string, VmEntry>) => void, thisArg?: unknown): void {
    for (const [ip, entry] of this.entries()) callback.call(thisArg, entry, ip, this)
  }

  [Symbol.iterator](): MapIterator<[string, VmEntry]> {
    return this.entries()
  }
}

/** The VMs whose rules may name a host, read: of a push's map, only those (the rest are read as they are rendered); of another map, all. */
export function namingVms(vms: ReadonlyMap<string, VmEntry>): [string, VmEntry][] {
  if (!(vms instanceof VmsParsedOnRead)) return [...vms]
  return [...vms.mayNameHosts()].map((ip) => [ip, vms.get(ip) as VmEntry])
}

/** Every complete VM of a push, by address, parsed when first read; `ignored` names the VMs whose rules are not complete. */
export function parseVms(raws: Iterable<RawVm>): { vms: VmsParsedOnRead; ignored: string[] } {
  const complete = new Map<string, RawVm>()
  const ignored: string[] = []
  for (const raw of raws) {
    // as in Qubes, a VM's rules count only once its empty /qubes-firewall/<ip> key says they are complete
    if (raw.marker) complete.set(raw.ip, raw)
    else ignored.push(`${FIREWALL}${raw.ip}/*`)
  }
  return { vms: new VmsParsedOnRead(complete, new SameRules()), ignored }
}
