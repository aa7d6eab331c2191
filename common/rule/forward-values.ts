// A port forward's values (our extension), read alike by dom0 (`forward add`, firewall.xml) and
// by the agent (its push); the ports are port.ts' parseServicePort.
import { RuleParseError } from '../errors.js'
import { shown } from '../untrusted-text.js'
import type { DstHost } from './model.js'
import { checkSafe } from './safe-chars.js'
import { parseChoice, parseDstHost } from './values.js'

export type ForwardProto = 'tcp' | 'udp'
export type ForwardFrom = Extract<DstHost, { kind: 'ip4' | 'ip6' }>

// a Linux interface name, as nft's iifname takes it
const IFACE = /^[A-Za-z0-9_.-]{1,15}$/

export function parseForwardProto(untrusted: string | undefined): ForwardProto {
  if (untrusted === undefined) throw new RuleParseError('missing proto= (tcp or udp)')
  return parseChoice('proto', untrusted, ['tcp', 'udp'] as const)
}

/** The network a forward is open to: an address or network, never a name. */
export function parseForwardFrom(untrusted: string): ForwardFrom {
  const host = parseDstHost(checkSafe('from', untrusted))
  if (host.kind === 'name') throw new RuleParseError(`invalid from '${shown(untrusted)}' (expected an IPv4 or IPv6 network)`)
  return host
}

export function parseIface(untrusted: string): string {
  if (!IFACE.test(untrusted)) throw new RuleParseError(`invalid iface '${shown(untrusted)}' (1-15 of A-Z a-z 0-9 _ . -)`)
  return untrusted
}
