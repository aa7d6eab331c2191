// A push, parsed: what the planner may trust. Untrusted entries become these values only through
// parsePush() and its steps in push/; the agent adds only what it decides itself: the blocked form
// of a VM (its rules refused by nft, or unreadable in QubesDB) and pushes of VMs already parsed.
import type ipaddr from 'ipaddr.js'
import type { Resolution } from '../../common/dns/resolver.js'
import type { Action, DstHost, EpochSeconds, Hostname, IcmpType, Port, PortRange } from '../../common/rule/model.js'

export type Family = 4 | 6

/** Layer 4 match: tcp/udp with optional ports (both when a rule gives ports without proto), or icmp. */
export type L4Match =
  | { readonly kind: 'any' }
  | { readonly kind: 'ports'; readonly protos: readonly ('tcp' | 'udp')[]; readonly ports?: PortRange }
  | { readonly kind: 'icmp'; readonly type?: IcmpType }

export interface FwRule {
  /** The rule's NNNN key: its number in `qvm-firewall list`. */
  readonly number: number
  readonly action: Action
  readonly dsthost?: DstHost
  /** specialtarget=dns: the netvm's nameservers, port 53. */
  readonly dns: boolean
  readonly l4: L4Match
  readonly expire?: EpochSeconds
}

export type { Resolution }

export interface VmRules {
  readonly ip: string
  readonly family: Family
  readonly policy: Action
  readonly rules: readonly FwRule[]
  /** Names dom0 resolved; names absent here are resolved by the agent. */
  readonly resolved: ReadonlyMap<Hostname, Resolution>
}

/** A VM whose entries did not parse: it is blocked, and the error names it. */
export interface VmFailure {
  readonly ip: string
  readonly family: Family
  readonly error: string
  readonly rule: number | null
}

export type VmEntry = { readonly ok: true; readonly vm: VmRules } | { readonly ok: false; readonly failure: VmFailure }

/** One hop's share of a port forward: DNAT `dport` to `to`:`toport`, and let it through. */
export interface ForwardRule {
  readonly id: string
  readonly family: Family
  readonly proto: 'tcp' | 'udp'
  readonly dport: Port
  readonly to: string
  readonly toport: Port
  readonly from?: { readonly address: string; readonly prefix: number }
  readonly iface?: string
}

export interface Push {
  /** By address. parsePush() gives a map that parses each VM when it is first read (vms-parsed-on-read.ts). */
  readonly vms: ReadonlyMap<string, VmEntry>
  /** Present only when the push carries the key. */
  readonly connectedIps4?: readonly ipaddr.IPv4[]
  readonly connectedIps6?: readonly ipaddr.IPv6[]
  /** The hop's whole set of forwards, when the push carries /qubes-firewall-forward. */
  readonly forwards?: readonly ForwardRule[]
  /** Forward entries that did not parse: left out (closed), and reported. */
  readonly forwardErrors?: readonly { readonly id: string; readonly error: string }[]
  /** Keys that were not understood and did not belong to any VM. */
  readonly ignored: readonly string[]
}
