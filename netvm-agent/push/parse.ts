// The trust boundary: a push (QubesDB paths -> strings) is parsed once into a typed Push.
// A VM whose entries do not parse becomes a VmFailure (blocked), never a crash, never a skip.
import type ipaddr from 'ipaddr.js'
import { RuleParseError } from '../../common/errors.js'
import { parseForwardFrom, parseForwardProto, parseIface } from '../../common/rule/forward-values.js'
import type { DstHost, EpochSeconds, Hostname } from '../../common/rule/model.js'
import { parsePortRange, parseServicePort } from '../../common/rule/port.js'
import {
  checkProtoPairing, parseAction, parseDstHost, parseExpire, parseHostname, parseIcmpType, parseIPv4, parseIPv6, parseProto,
  parseSpecialTarget,
} from '../../common/rule/values.js'
import { shown, UNTRUSTED_KEY_LIMIT } from '../../common/untrusted-text.js'
import { PushError } from '../errors.js'
import type { Family, ForwardRule, FwRule, L4Match, Push, Resolution, VmEntry, VmRules } from './model.js'
import { CONNECTED_IPS, CONNECTED_IPS6, FIREWALL, FORWARD, isConnectedIps, RESOLVED } from '../../common/qubesdb/keys.js'

// /connected-ips lists every VM a netvm serves: it may be long, a rule never is
export const LIMITS = { entries: 200_000, keyLength: 512, valueLength: 8192, addressListLength: 4 * 1024 * 1024, rulesPerVm: 10_000 }

const FORWARD_OPTIONS = new Set(['proto', 'dport', 'to', 'toport', 'from', 'iface'])
const RULE_OPTIONS = new Set(['action', 'proto', 'dst4', 'dst6', 'dsthost', 'dstports', 'specialtarget', 'icmptype', 'expire'])

/** A VM's address as used in keys: canonical text only, so one VM cannot appear under two spellings. */
export function parseVmIp(untrusted: string): { ip: string; family: Family } | undefined {
  const v4 = parseIPv4(untrusted)
  if (v4) return { ip: v4.toString(), family: 4 }
  const v6 = parseIPv6(untrusted)
  if (v6 && v6.toString() === untrusted) return { ip: untrusted, family: 6 }
  return undefined
}

function parseAddressList(key: string, untrusted: string, family: Family): (ipaddr.IPv4 | ipaddr.IPv6)[] {
  return untrusted
    .split(' ')
    .filter((w) => w !== '')
    .map((word) => {
      const address = family === 4 ? parseIPv4(word) : parseIPv6(word)
      if (!address) throw new PushError(`${key}: '${shown(word)}' is not an IPv${family} address`, key)
      return address
    })
}

function expectedFamily(host: DstHost, family: Family, key: string): DstHost {
  const hostFamily = host.kind === 'ip4' ? 4 : host.kind === 'ip6' ? 6 : undefined
  if (hostFamily !== undefined && hostFamily !== family) {
    throw new RuleParseError(`${key} is an IPv${hostFamily} address in the rules of an IPv${family} VM`)
  }
  return host
}

/** The `key=value` elements of a QubesDB value, each key one of `allowed`, given once. */
function qdbOptions(untrustedValue: string, allowed: ReadonlySet<string>): Map<string, string> {
  const options = new Map<string, string>()
  for (const untrustedElement of untrustedValue.split(' ')) {
    const parts = untrustedElement.split('=')
    const [key = '', value = ''] = parts
    if (parts.length !== 2) throw new RuleParseError(`malformed element '${shown(untrustedElement)}' (expected key=value)`)
    if (!allowed.has(key)) throw new RuleParseError(`unsupported option '${shown(key)}'`)
    if (options.has(key)) throw new RuleParseError(`option '${key}' given twice`)
    if (value === '') throw new RuleParseError(`empty value for '${key}'`)
    options.set(key, value)
  }
  return options
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

/** One `/qubes-firewall-forward/NNNN` value: `proto=tcp dport=8443 to=10.137.0.2 toport=443 [from=NET] [iface=IF]`. */
export function parseForwardRule(id: string, untrustedValue: string): ForwardRule {
  const options = qdbOptions(untrustedValue, FORWARD_OPTIONS)
  const proto = parseForwardProto(options.get('proto'))
  const target = parseVmIp(options.get('to') ?? '')
  if (!target) throw new RuleParseError(`invalid to '${shown(options.get('to') ?? '')}' (expected an IP address)`)
  let from: ForwardRule['from']
  const untrustedFrom = options.get('from')
  if (untrustedFrom !== undefined) {
    const host = parseForwardFrom(untrustedFrom)
    if ((host.kind === 'ip4' ? 4 : 6) !== target.family) throw new RuleParseError(`from '${shown(untrustedFrom)}' is not of the family of to`)
    from = { address: host.address.toString(), prefix: host.prefix }
  }
  const untrustedIface = options.get('iface')
  const iface = untrustedIface === undefined ? undefined : parseIface(untrustedIface)
  const dport = parseServicePort('dport', options.get('dport') ?? '')
  const toport = parseServicePort('toport', options.get('toport') ?? '')
  return { id, family: target.family, proto, dport, to: target.ip, toport, ...(from && { from }), ...(iface !== undefined && { iface }) }
}

function parseResolution(name: Hostname, untrusted: string): Resolution {
  const addresses: string[] = []
  for (const word of untrusted.split(' ').filter((w) => w !== '')) {
    const address = parseIPv4(word) ?? parseIPv6(word)
    if (!address) throw new RuleParseError(`resolved address '${shown(word)}' of ${name} is not an IP address`)
    addresses.push(address.toString())
  }
  return addresses.length > 0 ? { addresses } : { error: 'dom0 could not resolve it' }
}

interface RawVm {
  ip: string
  family: Family
  marker: boolean
  keys: Map<string, string>
  resolved: Map<string, string>
}

/** Many VMs share rule strings: each (family, string) is parsed once per push. */
type RuleCache = Map<string, Omit<FwRule, 'number'> | RuleParseError>

function parseCachedRule(cache: RuleCache, number: number, untrustedRule: string, family: Family): FwRule {
  const key = `${family}${untrustedRule}`
  let parsed = cache.get(key)
  if (parsed === undefined) {
    try {
      parsed = parseQdbRule(0, untrustedRule, family)
    } catch (err) {
      if (!(err instanceof RuleParseError)) throw err
      parsed = err
    }
    cache.set(key, parsed)
  }
  if (parsed instanceof RuleParseError) throw new RuleParseError(parsed.message)
  return { ...parsed, number }
}

function parseVm(raw: RawVm, cache: RuleCache = new Map()): VmEntry {
  let ruleNumber: number | null = null
  try {
    const policy = raw.keys.get('policy')
    if (policy === undefined) throw new RuleParseError("no 'policy' defined")
    if (policy !== 'accept' && policy !== 'drop') throw new RuleParseError(`invalid policy '${shown(policy)}'`)
    const rules: FwRule[] = []
    const numbered = [...raw.keys].filter(([key]) => key !== 'policy')
    if (numbered.length > LIMITS.rulesPerVm) throw new RuleParseError(`more than ${LIMITS.rulesPerVm} rules`)
    for (const [key, value] of numbered.sort(([a], [b]) => (a < b ? -1 : 1))) {
      if (!/^[0-9]{4}$/.test(key)) throw new RuleParseError(`unexpected key '${shown(key)}' (expected policy or NNNN)`)
      ruleNumber = Number(key)
      rules.push(parseCachedRule(cache, ruleNumber, value, raw.family))
    }
    ruleNumber = null
    const resolved = new Map<Hostname, Resolution>()
    for (const [untrustedName, value] of raw.resolved) {
      const name = parseHostname(untrustedName)
      resolved.set(name, parseResolution(name, value))
    }
    const vm: VmRules = { ip: raw.ip, family: raw.family, policy, rules, resolved }
    return { ok: true, vm }
  } catch (err) {
    if (!(err instanceof RuleParseError)) throw err
    return { ok: false, failure: { ip: raw.ip, family: raw.family, error: err.message, rule: ruleNumber } }
  }
}

/**
 * Parses a push. Throws PushError only for a push that is malformed as a whole (not an object of
 * strings, over the size limits, a bad /connected-ips); a VM's bad entries fail that VM alone.
 */
export function parsePush(untrustedPush: unknown): Push {
  if (typeof untrustedPush !== 'object' || untrustedPush === null || Array.isArray(untrustedPush)) {
    throw new PushError('entries must be an object of QubesDB paths to strings')
  }
  const untrustedEntries = Object.entries(untrustedPush as Record<string, unknown>)
  if (untrustedEntries.length > LIMITS.entries) throw new PushError(`more than ${LIMITS.entries} entries`)
  const raws = new Map<string, RawVm>()
  const ignored: string[] = []
  let connectedIps4: ipaddr.IPv4[] | undefined
  let connectedIps6: ipaddr.IPv6[] | undefined
  let forwardsPresent = false
  const forwardEntries = new Map<string, string>()
  // keys repeat each VM's address many times: parse each spelling once
  const bySpelling = new Map<string, RawVm | undefined>()
  const vmFor = (untrustedIp: string): RawVm | undefined => {
    if (bySpelling.has(untrustedIp)) return bySpelling.get(untrustedIp)
    const parsed = parseVmIp(untrustedIp)
    let raw = parsed && raws.get(parsed.ip)
    if (parsed && !raw) raws.set(parsed.ip, (raw = { ...parsed, marker: false, keys: new Map(), resolved: new Map() }))
    bySpelling.set(untrustedIp, raw)
    return raw
  }
  for (const [untrustedKey, untrustedValue] of untrustedEntries) {
    if (typeof untrustedValue !== 'string') throw new PushError(`value of '${shown(untrustedKey, UNTRUSTED_KEY_LIMIT)}' is not a string`, untrustedKey)
    if (untrustedKey.length > LIMITS.keyLength) throw new PushError(`key longer than ${LIMITS.keyLength} characters`, untrustedKey)
    const limit = isConnectedIps(untrustedKey) ? LIMITS.addressListLength : LIMITS.valueLength
    if (untrustedValue.length > limit) {
      throw new PushError(`value of '${shown(untrustedKey, UNTRUSTED_KEY_LIMIT)}' longer than ${limit} characters`, untrustedKey)
    }
    if (untrustedKey === CONNECTED_IPS) {
      connectedIps4 = parseAddressList(untrustedKey, untrustedValue, 4) as ipaddr.IPv4[]
    } else if (untrustedKey === CONNECTED_IPS6) {
      connectedIps6 = parseAddressList(untrustedKey, untrustedValue, 6) as ipaddr.IPv6[]
    } else if (untrustedKey.startsWith(FIREWALL)) {
      const [untrustedIp = '', ...rest] = untrustedKey.slice(FIREWALL.length).split('/')
      const raw = vmFor(untrustedIp)
      if (!raw || rest.length > 1) ignored.push(untrustedKey)
      else if (rest.length === 0) raw.marker = true
      else raw.keys.set(rest[0] ?? '', untrustedValue)
    } else if (untrustedKey === FORWARD) {
      forwardsPresent = true
    } else if (untrustedKey.startsWith(`${FORWARD}/`)) {
      forwardEntries.set(untrustedKey.slice(FORWARD.length + 1), untrustedValue)
    } else if (untrustedKey.startsWith(RESOLVED)) {
      const [untrustedIp = '', name, ...rest] = untrustedKey.slice(RESOLVED.length).split('/')
      const raw = vmFor(untrustedIp)
      if (!raw || name === undefined || rest.length > 0) ignored.push(untrustedKey)
      else raw.resolved.set(name, untrustedValue)
    } else {
      ignored.push(untrustedKey)
    }
  }
  const vms = new Map<string, VmEntry>()
  const cache: RuleCache = new Map()
  for (const raw of raws.values()) {
    // as in Qubes, a VM's rules count only once its empty /qubes-firewall/<ip> key says they are complete
    if (!raw.marker) {
      ignored.push(`${FIREWALL}${raw.ip}/*`)
      continue
    }
    vms.set(raw.ip, parseVm(raw, cache))
  }
  const forwards: ForwardRule[] = []
  const forwardErrors: { id: string; error: string }[] = []
  for (const [untrustedId, untrustedValue] of forwardEntries) {
    if (!forwardsPresent || !/^[0-9]{4}$/.test(untrustedId)) {
      ignored.push(`${FORWARD}/${untrustedId}`)
      continue
    }
    try {
      forwards.push(parseForwardRule(untrustedId, untrustedValue))
    } catch (err) {
      if (!(err instanceof RuleParseError)) throw err
      forwardErrors.push({ id: untrustedId, error: err.message })
    }
  }
  forwards.sort((a, b) => (a.id < b.id ? -1 : 1))
  return {
    vms,
    ...(forwardsPresent && { forwards, forwardErrors }),
    ignored: ignored.map((k) => shown(k, UNTRUSTED_KEY_LIMIT)),
    ...(connectedIps4 && { connectedIps4 }),
    ...(connectedIps6 && { connectedIps6 }),
  }
}
