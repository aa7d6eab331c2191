// The typed firewall rule. Values only come from the parsers beside it (values.ts, port.ts),
// so holding a Rule is proof that it passed Qubes' validation.
import type ipaddr from 'ipaddr.js'

declare const brand: unique symbol
type Brand<T, B extends string> = T & { readonly [brand]: B }

/** A TCP/UDP port, 0-65535. Only parsePort() (port.ts) makes one. */
export type Port = Brand<number, 'Port'>
/** An ICMP type, 0-255. */
export type IcmpType = Brand<number, 'IcmpType'>
/** A DNS name of [a-z0-9._-], at most 253 characters, labels of 1-63. */
export type Hostname = Brand<string, 'Hostname'>
/** Seconds since 1970. */
export type EpochSeconds = Brand<number, 'EpochSeconds'>

export type Action = 'accept' | 'drop'
export const ACTIONS: readonly Action[] = ['accept', 'drop']
export type Proto = 'tcp' | 'udp' | 'icmp'
export const PROTOS: readonly Proto[] = ['tcp', 'udp', 'icmp']
export type SpecialTarget = 'dns'
export const SPECIAL_TARGETS: readonly SpecialTarget[] = ['dns']

export interface PortRange {
  readonly from: Port
  readonly to: Port
}

export type DstHost =
  | { readonly kind: 'ip4'; readonly address: ipaddr.IPv4; readonly prefix: number }
  /** `typed`: the address as given (validated), kept as Qubes keeps it: `2001:DB8::1`, `::ffff:192.0.2.1` */
  | { readonly kind: 'ip6'; readonly address: ipaddr.IPv6; readonly prefix: number; readonly typed: string }
  | { readonly kind: 'name'; readonly name: Hostname }

/** dstports exist only with tcp/udp and icmptype only with icmp: no later check needed. */
export type ProtoMatch =
  | { readonly proto?: undefined }
  | { readonly proto: 'tcp' | 'udp'; readonly dstports?: PortRange }
  | { readonly proto: 'icmp'; readonly icmptype?: IcmpType }

export type Rule = ProtoMatch & {
  readonly action: Action
  readonly dsthost?: DstHost
  readonly specialtarget?: SpecialTarget
  readonly expire?: EpochSeconds
  readonly comment?: string
}

/** The address family a rule is limited to by its dsthost, if any. */
export function ruleFamily(rule: Rule): 4 | 6 | undefined {
  if (rule.dsthost?.kind === 'ip4') return 4
  if (rule.dsthost?.kind === 'ip6') return 6
  return undefined
}

export function isExpired(rule: Rule, now: EpochSeconds): boolean {
  return rule.expire !== undefined && rule.expire <= now
}

export function nowEpoch(): EpochSeconds {
  return Math.floor(Date.now() / 1000) as EpochSeconds
}
