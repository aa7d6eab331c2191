// One firewall rule as the agent reads it from QubesDB: a typed FwRule, or a RuleParseError whose
// message reaches the user as the VM's "blocked: ..." line.
import { RuleParseError } from '../../common/errors.js'
import type { DstHost, EpochSeconds } from '../../common/rule/model.js'
import { parsePortRange } from '../../common/rule/port.js'
import { checkProtoPairing, parseAction, parseDstHost, parseExpire, parseIcmpType, parseProto, parseSpecialTarget } from '../../common/rule/values.js'
import { shown } from '../../common/untrusted-text.js'
import type { Family, FwRule, L4Match } from './model.js'
import { qdbOptions } from './qdb-options.js'

const RULE_OPTIONS = new Set(['action', 'proto', 'dst4', 'dst6', 'dsthost', 'dstports', 'specialtarget', 'icmptype', 'expire'])

function expectedFamily(host: DstHost, family: Family, key: string): DstHost {
  const hostFamily = host.kind === 'ip4' ? 4 : host.kind === 'ip6' ? 6 : undefined
  if (hostFamily !== undefined && hostFamily !== family) {
    throw new RuleParseError(`${key} is an IPv${hostFamily} address in the rules of an IPv${family} VM`)
  }
  return host
}

function qdbDstHost(hostKey: string, untrustedHost: string, family: Family): DstHost {
  const host = parseDstHost(untrustedHost)
  if (hostKey === 'dst4' && host.kind !== 'ip4') throw new RuleParseError(`dst4 '${shown(untrustedHost)}' is not an IPv4 address`)
  if (hostKey === 'dst6' && host.kind !== 'ip6') throw new RuleParseError(`dst6 '${shown(untrustedHost)}' is not an IPv6 address`)
  return expectedFamily(host, family, hostKey)
}

/** One `NNNN` value: `action=accept dst4=192.0.2.0/24 proto=tcp dstports=443-443`. */
export function parseQdbRule(number: number, untrustedRule: string, family: Family): FwRule {
  const options = qdbOptions(untrustedRule, RULE_OPTIONS)
  const hostKeys = ['dst4', 'dst6', 'dsthost'].filter((k) => options.has(k))
  if (hostKeys.length > 1) throw new RuleParseError(`${hostKeys.join(' and ')} given together`)
  const action = parseAction(options.get('action'))
  const hostKey = hostKeys[0]
  const dsthost = hostKey === undefined ? undefined : qdbDstHost(hostKey, options.get(hostKey) ?? '', family)
  const untrustedSpecial = options.get('specialtarget')
  const special = untrustedSpecial === undefined ? undefined : parseSpecialTarget(untrustedSpecial)
  const untrustedProto = options.get('proto')
  const proto = untrustedProto === undefined ? undefined : parseProto(untrustedProto)
  const untrustedPorts = options.get('dstports')
  const untrustedIcmp = options.get('icmptype')
  checkProtoPairing(proto, { dstports: untrustedPorts !== undefined, icmptype: untrustedIcmp !== undefined }, 'tcp and udp')

  let l4: L4Match
  if (proto === 'icmp') {
    l4 = { kind: 'icmp', ...(untrustedIcmp !== undefined && { type: parseIcmpType(untrustedIcmp) }) }
  } else if (proto !== undefined || untrustedPorts !== undefined) {
    // Qubes: a rule with ports but no proto covers tcp and udp
    const protos = proto === undefined ? (['tcp', 'udp'] as const) : ([proto] as const)
    l4 = { kind: 'ports', protos, ...(untrustedPorts !== undefined && { ports: parsePortRange(untrustedPorts) }) }
  } else {
    l4 = { kind: 'any' }
  }
  const untrustedExpire = options.get('expire')
  const expire = untrustedExpire === undefined ? undefined : parseExpire(untrustedExpire, 0 as EpochSeconds, false)
  return { number, action, dns: special === 'dns', l4, ...(dsthost && { dsthost }), ...(expire !== undefined && { expire }) }
}
