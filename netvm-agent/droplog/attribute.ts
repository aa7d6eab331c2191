// A logged drop, attributed: the kernel logs every packet qf-reject refuses (one NFLOG rule for all
// VMs), and the agent names the VM by the source and the rule by deciding the packet again with the
// rules in force (check.ts: the kernel's semantics as rendered), so no VM chain carries log rules.
import type { Drop } from '../../common/observe/drop.js'
import type { EpochSeconds, Hostname } from '../../common/rule/model.js'
import { decide, type Probe } from '../check.js'
import type { LoadedVm } from '../plan.js'
import type { Resolution } from '../push/model.js'
import type { NflogRecord } from './nflog-pcap.js'

export type { Drop }

export interface AttributionContext {
  readonly now: EpochSeconds
  readonly nameservers: { readonly 4: readonly string[]; readonly 6: readonly string[] }
}

function probeOf(record: NflogRecord): Probe {
  const proto = record.proto === 'icmpv6' ? 'icmp' : record.proto
  if (proto === 'tcp' || proto === 'udp') return { dst: record.dst, proto, ...(record.dport !== undefined && { port: record.dport }) }
  if (proto === 'icmp') return { dst: record.dst, proto, ...(record.icmpType !== undefined && { icmpType: record.icmpType }) }
  return { dst: record.dst }
}

function ruleOf(vm: LoadedVm | undefined, record: NflogRecord, ctx: AttributionContext): Drop['rule'] {
  if (vm === undefined) return 'unknown'
  try {
    const decision = decide(vm.entry, vm.resolution as ReadonlyMap<Hostname, Resolution>, ctx, probeOf(record))
    // a packet the rules in force would let through was refused by rules since replaced
    if (decision.action !== 'drop' || decision.by === 'isolation') return 'unknown'
    return typeof decision.by === 'object' ? decision.by.rule : decision.by
  } catch {
    return 'unknown'
  }
}

export function attribute(record: NflogRecord, vms: ReadonlyMap<string, LoadedVm>, ctx: AttributionContext): Drop {
  return {
    time: record.time.toISOString(),
    vm: record.src,
    rule: ruleOf(vms.get(record.src), record, ctx),
    proto: String(record.proto),
    src: record.src,
    dst: record.dst,
    ...(record.sport !== undefined && { sport: record.sport }),
    ...(record.dport !== undefined && { dport: record.dport }),
    ...(record.icmpType !== undefined && { icmpType: record.icmpType }),
  }
}
