// Qubes' API form of a rule: what `qvm-firewall --raw` prints and firewall.xml round-trips.
import type { DstHost, Rule } from '../../common/rule/model.js'
import { formatPortRange } from '../../common/rule/port.js'
import { formatDstHost } from '../../common/rule/values.js'

export function dstHostKey(host: DstHost): 'dst4' | 'dst6' | 'dsthost' {
  return host.kind === 'ip4' ? 'dst4' : host.kind === 'ip6' ? 'dst6' : 'dsthost'
}

/** The match options in Qubes' order (its Rule's properties: action, proto, dsthost, dstports, icmptype, specialtarget), shared by the API and QubesDB forms. */
export function matchOptions(rule: Rule): string[] {
  const options = [`action=${rule.action}`]
  if (rule.proto) options.push(`proto=${rule.proto}`)
  if (rule.dsthost) options.push(`${dstHostKey(rule.dsthost)}=${formatDstHost(rule.dsthost)}`)
  if ((rule.proto === 'tcp' || rule.proto === 'udp') && rule.dstports) options.push(`dstports=${formatPortRange(rule.dstports, 'range')}`)
  if (rule.proto === 'icmp' && rule.icmptype !== undefined) options.push(`icmptype=${rule.icmptype}`)
  if (rule.specialtarget) options.push(`specialtarget=${rule.specialtarget}`)
  return options
}

export function formatRawRule(rule: Rule): string {
  const options = matchOptions(rule)
  if (rule.expire !== undefined) options.push(`expire=${rule.expire}`)
  // the comment may hold spaces, so it comes last
  if (rule.comment !== undefined) options.push(`comment=${rule.comment}`)
  return options.join(' ')
}
