// Parsers of single rule values and the check of how they pair, strict as Qubes (qubes/firewall.py):
// one function and one message for each, whether dom0 or the agent reads the value.
import ipaddr from 'ipaddr.js'
import { RuleParseError } from '../errors.js'
import { shown } from '../untrusted-text.js'
import { checkSafe } from './safe-chars.js'
import {
  ACTIONS, PROTOS, SPECIAL_TARGETS, type Action, type DstHost, type EpochSeconds, type Hostname, type IcmpType, type Proto, type SpecialTarget,
} from './model.js'

const HOSTNAME_CHARS = /^[a-z0-9._-]+$/
const DECIMAL = /^[0-9]+$/
const MAX_EXPIRE = 9_223_372_036
const DOTTED_QUAD = /^(0|[1-9][0-9]{0,2})(\.(0|[1-9][0-9]{0,2})){3}$/
const IPV6_CHARS = /^[0-9A-Fa-f:.]+$/
const INET_ATON_FORM = /^(0x[0-9a-f]*|[0-9]+)(\.(0x[0-9a-f]*|[0-9]+)){0,3}$/

/** One of `allowed`, as `key`'s value. */
export function parseChoice<T extends string>(key: string, untrusted: string, allowed: readonly T[]): T {
  checkSafe(key, untrusted)
  if (!(allowed as readonly string[]).includes(untrusted)) {
    throw new RuleParseError(`invalid ${key} '${shown(untrusted)}' (expected ${allowed.join(' or ')})`)
  }
  return untrusted as T
}

export function parseAction(untrusted: string | undefined): Action {
  if (untrusted === undefined) throw new RuleParseError('missing action= (accept or drop)')
  return parseChoice('action', untrusted, ACTIONS)
}

export function parseProto(untrusted: string): Proto {
  return parseChoice('proto', untrusted, PROTOS)
}

export function parseSpecialTarget(untrusted: string): SpecialTarget {
  return parseChoice('specialtarget', untrusted, SPECIAL_TARGETS)
}

/**
 * Qubes' pairing: dstports only with tcp or udp, icmptype only with icmp. dom0 (qubes/firewall.py)
 * refuses dstports without a proto; Qubes' agent takes them as tcp and udp (`portsWithoutProto`).
 */
export function checkProtoPairing(
  proto: Proto | undefined,
  given: { readonly dstports: boolean; readonly icmptype: boolean },
  portsWithoutProto: 'refused' | 'tcp and udp',
): void {
  if (given.dstports && (proto === 'icmp' || (proto === undefined && portsWithoutProto === 'refused'))) {
    throw new RuleParseError("dstports valid only for 'tcp' and 'udp' protocols")
  }
  if (given.icmptype && proto !== 'icmp') throw new RuleParseError("icmptype valid only for 'icmp' protocol")
}

export function parseIcmpType(untrusted: string): IcmpType {
  checkSafe('icmptype', untrusted)
  if (!DECIMAL.test(untrusted) || untrusted.length > 3 || Number(untrusted) > 255) {
    throw new RuleParseError(`invalid icmptype '${shown(untrusted)}' (expected a number 0-255)`)
  }
  return Number(untrusted) as IcmpType
}

export function parseHostname(untrusted: string): Hostname {
  if (!HOSTNAME_CHARS.test(untrusted)) {
    throw new RuleParseError(`invalid dsthost '${shown(untrusted)}' (not an IP address, and a hostname may hold only a-z 0-9 . _ -)`)
  }
  const name = untrusted.endsWith('.') ? untrusted.slice(0, -1) : untrusted
  // resolvers read such names as numeric addresses (inet_aton: 0x7f.0.0.1, 2130706433): never a name
  if (INET_ATON_FORM.test(name) || /^[0-9]+$/.test(name.split('.').pop() ?? '')) {
    throw new RuleParseError(`invalid dsthost '${shown(untrusted)}' (looks like a numeric address; IPv4 must be a dotted quad)`)
  }
  if (name.length === 0 || name.length > 253) {
    throw new RuleParseError(`invalid dsthost '${shown(untrusted)}' (a hostname has 1-253 characters)`)
  }
  if (name.split('.').some((label) => label.length === 0 || label.length > 63)) {
    throw new RuleParseError(`invalid dsthost '${shown(untrusted)}' (empty or over-long label)`)
  }
  return untrusted as Hostname
}

export function parseIPv4(untrusted: string): ipaddr.IPv4 | undefined {
  if (!DOTTED_QUAD.test(untrusted)) return undefined
  const octets = untrusted.split('.').map(Number)
  if (octets.some((o) => o > 255)) return undefined
  return new ipaddr.IPv4(octets)
}

export function parseIPv6(untrusted: string): ipaddr.IPv6 | undefined {
  // no zone ids, no brackets: what inet_pton(AF_INET6) takes
  if (!IPV6_CHARS.test(untrusted) || !untrusted.includes(':')) return undefined
  let text = untrusted
  const lastColon = text.lastIndexOf(':')
  const tail = text.slice(lastColon + 1)
  if (tail.includes('.')) {
    // an embedded IPv4 is a strict dotted quad, and becomes two groups as inet_pton reads it
    // (ipaddr.js would turn '::1.2.3.4' into the IPv4-mapped '::ffff:1.2.3.4')
    const v4 = parseIPv4(tail)
    if (!v4) return undefined
    const [a = 0, b = 0, c = 0, d = 0] = v4.octets
    text = `${text.slice(0, lastColon + 1)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`
  }
  if (!ipaddr.IPv6.isValid(text)) return undefined
  try {
    return ipaddr.IPv6.parse(text)
  } catch {
    return undefined
  }
}

function parsePrefix(untrustedValue: string, untrustedPrefix: string, max: number): number {
  if (!DECIMAL.test(untrustedPrefix) || untrustedPrefix.length > 3 || Number(untrustedPrefix) > max) {
    throw new RuleParseError(`invalid dsthost '${shown(untrustedValue)}' (netmask must be 0-${max})`)
  }
  return Number(untrustedPrefix)
}

/**
 * An IPv4/IPv6 address or network, or a hostname. A bare address gets /32 or /128;
 * a hostname never has a '/'. `defaultPrefix` serves firewall.xml v1's netmask attribute.
 */
export function parseDstHost(untrusted: string, defaultPrefix?: number): DstHost {
  checkSafe('dsthost', untrusted)
  const slashes = untrusted.split('/').length - 1
  if (slashes > 1) throw new RuleParseError(`invalid dsthost '${shown(untrusted)}' (too many '/')`)
  if (slashes === 0) {
    const v6 = parseIPv6(untrusted)
    if (v6) return { kind: 'ip6', address: v6, prefix: checkedPrefix(untrusted, defaultPrefix ?? 128, 128), typed: untrusted }
    if (/^[0-9.]+$/.test(untrusted)) {
      const v4 = parseIPv4(untrusted)
      if (!v4) throw new RuleParseError(`invalid dsthost '${shown(untrusted)}' (IPv4 must be a dotted quad)`)
      return { kind: 'ip4', address: v4, prefix: checkedPrefix(untrusted, defaultPrefix ?? 32, 32) }
    }
    return { kind: 'name', name: parseHostname(untrusted) }
  }
  const [untrustedHost = '', untrustedPrefix = ''] = untrusted.split('/')
  const v6 = parseIPv6(untrustedHost)
  if (v6) return { kind: 'ip6', address: v6, prefix: parsePrefix(untrusted, untrustedPrefix, 128), typed: untrustedHost }
  const v4 = parseIPv4(untrustedHost)
  if (v4) return { kind: 'ip4', address: v4, prefix: parsePrefix(untrusted, untrustedPrefix, 32) }
  throw new RuleParseError(`invalid dsthost '${shown(untrusted)}' (invalid IP address '${shown(untrustedHost)}')`)
}

function checkedPrefix(untrusted: string, prefix: number, max: number): number {
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > max) {
    throw new RuleParseError(`invalid dsthost '${shown(untrusted)}' (netmask must be 0-${max})`)
  }
  return prefix
}

/** Seconds since 1970, or "+N" meaning N seconds from now. */
export function parseExpire(untrusted: string, now: EpochSeconds, allowRelative: boolean): EpochSeconds {
  const relative = allowRelative && untrusted.startsWith('+')
  const digits = relative ? untrusted.slice(1) : untrusted
  if (!DECIMAL.test(digits) || digits.length > 12) {
    throw new RuleParseError(
      `invalid expire '${shown(untrusted)}' (expected seconds since 1970${allowRelative ? ', or +seconds' : ''})`,
    )
  }
  const expire = relative ? now + Number(digits) : Number(digits)
  // nftables keeps time in 64-bit nanoseconds: later than 2262 cannot be matched
  if (expire > MAX_EXPIRE) throw new RuleParseError(`invalid expire '${shown(untrusted)}' (later than ${MAX_EXPIRE}, year 2262)`)
  return expire as EpochSeconds
}

export function formatDstHost(host: DstHost): string {
  if (host.kind === 'name') return host.name
  return `${host.kind === 'ip6' ? host.typed : host.address.toString()}/${host.prefix}`
}
