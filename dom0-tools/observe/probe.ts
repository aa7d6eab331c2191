// `qvm-firewall VM check DEST [PROTO [PORT|ICMPTYPE]]`: the packet to ask about, from the user's
// words, checked as Qubes checks a rule's values; DEST's family picks the VM's address it comes from.
import { RuleParseError, UsageError } from '../../common/errors.js'
import type { IcmpType, Port, Proto } from '../../common/rule/model.js'
import { parsePort } from '../../common/rule/port.js'
import { parseIcmpType, parseIPv4, parseIPv6, parseProto } from '../../common/rule/values.js'
import { shown } from '../../common/untrusted-text.js'

export interface Probe {
  /** An address, as typed (it parsed as a dotted quad or an IPv6 address). */
  readonly dst: string
  readonly family: 4 | 6
  readonly proto?: Proto
  readonly port?: Port
  readonly icmpType?: IcmpType
}

function l4(proto: Proto, untrusted: string | undefined): Pick<Probe, 'port' | 'icmpType'> {
  if (untrusted === undefined) return {}
  if (proto === 'icmp') return { icmpType: parseIcmpType(untrusted) }
  const port = parsePort(untrusted)
  if (port === undefined) throw new RuleParseError(`invalid port '${shown(untrusted)}' (expected a number 0-65535)`)
  return { port }
}

export function parseProbe(untrustedDest: string, untrustedProto?: string, untrustedPort?: string): Probe {
  const family = parseIPv4(untrustedDest) ? 4 : parseIPv6(untrustedDest) ? 6 : undefined
  if (family === undefined) throw new UsageError(`invalid destination '${shown(untrustedDest)}' (expected an IPv4 dotted quad or an IPv6 address)`)
  if (untrustedProto === undefined) return { dst: untrustedDest, family }
  const proto = parseProto(untrustedProto)
  return { dst: untrustedDest, family, proto, ...l4(proto, untrustedPort) }
}

/** The `check` request for the VM's address `ip` of the probe's family. */
export function checkRequest(probe: Probe, ip: string): object {
  const { dst, proto, port, icmpType } = probe
  return { op: 'check', ip, dst, ...(proto !== undefined && { proto }), ...(port !== undefined && { port }), ...(icmpType !== undefined && { icmpType }) }
}
