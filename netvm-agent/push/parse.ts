// The trust boundary: a push (QubesDB paths -> strings) is parsed once into a typed Push.
// A VM whose entries do not parse becomes a VmFailure (blocked), never a crash, never a skip.
import type ipaddr from 'ipaddr.js'
import { RuleParseError } from '../../common/errors.js'
import type { Action, DstHost, EpochSeconds, Hostname } from '../../common/rule/model.js'
import {
  parseDstHost, parseExpire, parseHostname, parseIcmpType, parseIPv4, parseIPv6, parsePortRange,
} from '../../common/rule/values.js'
import { PushError } from '../errors.js'
import type { Family, ForwardRule, FwRule, L4Match, Push, Resolution, VmEntry, VmRules } from './model.js'
import { CONNECTED_IPS, CONNECTED_IPS6, FIREWALL, FORWARD, isConnectedIps, RESOLVED } from '../../common/qubesdb/keys.js'

// /connected-ips lists every VM a netvm serves: it may be long, a rule never is
export const LIMITS = { entries: 200_000, keyLength: 512, valueLength: 8192, addressListLength: 4 * 1024 * 1024, rulesPerVm: 10_000 }

const FORWARD_OPTIONS = new Set(['proto', 'dport', 'to', 'toport', 'from', 'iface'])
const IFACE = /^[A-Za-z0-9_.-]{1,15}$/
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
      if (!address) throw new PushError(`${key}: '${word.slice(0, 60)}' is not an IPv${family} address`, key)
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

/** One `NNNN` value: `action=accept dst4=192.0.2.0/24 proto=tcp dstports=443-443`. */
export function parseQdbRule(number: number, untrustedRule: string, family: Family): FwRule {
  const options = new Map<string, string>()
  for (const untrustedElement of untrustedRule.split(' ')) {
    const parts = untrustedElement.split('=')
    const [key = '', value = ''] = parts
    if (parts.length !== 2) throw new RuleParseError(`malformed element '${untrustedElement.slice(0, 60)}' (expected key=value)`)
    if (!RULE_OPTIONS.has(key)) throw new RuleParseError(`unsupported option '${key.slice(0, 30)}'`)
    if (options.has(key)) throw new RuleParseError(`option '${key}' given twice`)
    if (value === '') throw new RuleParseError(`empty value for '${key}'`)
    options.set(key, value)
  }
  const hostKeys = ['dst4', 'dst6', 'dsthost'].filter((k) => options.has(k))
  if (hostKeys.length > 1) throw new RuleParseError(`${hostKeys.join(' and ')} given together`)

  const untrustedAction = options.get('action')
  if (untrustedAction !== 'accept' && untrustedAction !== 'drop') {
    throw new RuleParseError(untrustedAction === undefined ? 'missing action' : `invalid action '${untrustedAction.slice(0, 30)}'`)
  }
  const action: Action = untrustedAction

  let dsthost: DstHost | undefined
  const hostKey = hostKeys[0]
  if (hostKey !== undefined) {
    const host = parseDstHost(options.get(hostKey) ?? '')
    if (hostKey === 'dst4' && host.kind !== 'ip4') throw new RuleParseError(`dst4 '${options.get(hostKey)}' is not an IPv4 address`)
    if (hostKey === 'dst6' && host.kind !== 'ip6') throw new RuleParseError(`dst6 '${options.get(hostKey)}' is not an IPv6 address`)
    dsthost = expectedFamily(host, family, hostKey)
  }

  const special = options.get('specialtarget')
  if (special !== undefined && special !== 'dns') throw new RuleParseError(`invalid specialtarget '${special.slice(0, 30)}'`)
  const proto = options.get('proto')
  if (proto !== undefined && proto !== 'tcp' && proto !== 'udp' && proto !== 'icmp') {
    throw new RuleParseError(`invalid proto '${proto.slice(0, 30)}'`)
  }
  const untrustedPorts = options.get('dstports')
  const untrustedIcmp = options.get('icmptype')
  if (untrustedPorts !== undefined && proto === 'icmp') throw new RuleParseError("dstports valid only for 'tcp' and 'udp'")
  if (untrustedIcmp !== undefined && proto !== 'icmp') throw new RuleParseError("icmptype valid only for 'icmp'")

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
  const options = new Map<string, string>()
  for (const untrustedElement of untrustedValue.split(' ')) {
    const parts = untrustedElement.split('=')
    const [key = '', value = ''] = parts
    if (parts.length !== 2 || value === '') throw new RuleParseError(`malformed element '${untrustedElement.slice(0, 60)}' (expected key=value)`)
    if (!FORWARD_OPTIONS.has(key)) throw new RuleParseError(`unsupported option '${key.slice(0, 30)}'`)
    if (options.has(key)) throw new RuleParseError(`option '${key}' given twice`)
    options.set(key, value)
  }
  const proto = options.get('proto')
  if (proto !== 'tcp' && proto !== 'udp') throw new RuleParseError(`invalid proto '${(proto ?? '').slice(0, 20)}' (expected tcp or udp)`)
  const servicePort = (key: string) => {
    const port = parsePortRange(options.get(key) ?? '')
    if (port.from !== port.to || port.from === 0) throw new RuleParseError(`invalid ${key} '${options.get(key)}' (expected 1-65535)`)
    return port.from
  }
  const target = parseVmIp(options.get('to') ?? '')
  if (!target) throw new RuleParseError(`invalid to '${(options.get('to') ?? '').slice(0, 60)}' (expected an IP address)`)
  let from: ForwardRule['from']
  const untrustedFrom = options.get('from')
  if (untrustedFrom !== undefined) {
    const host = parseDstHost(untrustedFrom)
    if (host.kind === 'name') throw new RuleParseError(`invalid from '${untrustedFrom}' (expected a network)`)
    if ((host.kind === 'ip4' ? 4 : 6) !== target.family) throw new RuleParseError(`from '${untrustedFrom}' is not of the family of to`)
    from = { address: host.address.toString(), prefix: host.prefix }
  }
  const iface = options.get('iface')
  if (iface !== undefined && !IFACE.test(iface)) throw new RuleParseError(`invalid iface '${iface.slice(0, 20)}'`)
  return {
    id, family: target.family, proto, dport: servicePort('dport'), to: target.ip, toport: servicePort('toport'),
    ...(from && { from }), ...(iface !== undefined && { iface }),
  }
}

function parseResolution(name: Hostname, untrusted: string): Resolution {
  const addresses: string[] = []
  for (const word of untrusted.split(' ').filter((w) => w !== '')) {
    const address = parseIPv4(word) ?? parseIPv6(word)
    if (!address) throw new RuleParseError(`resolved address '${word.slice(0, 60)}' of ${name} is not an IP address`)
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
    if (policy !== 'accept' && policy !== 'drop') throw new RuleParseError(`invalid policy '${policy.slice(0, 30)}'`)
    const rules: FwRule[] = []
    const numbered = [...raw.keys].filter(([key]) => key !== 'policy')
    if (numbered.length > LIMITS.rulesPerVm) throw new RuleParseError(`more than ${LIMITS.rulesPerVm} rules`)
    for (const [key, value] of numbered.sort(([a], [b]) => (a < b ? -1 : 1))) {
      if (!/^[0-9]{4}$/.test(key)) throw new RuleParseError(`unexpected key '${key.slice(0, 40)}' (expected policy or NNNN)`)
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
    if (typeof untrustedValue !== 'string') throw new PushError(`value of '${untrustedKey.slice(0, 80)}' is not a string`)
    if (untrustedKey.length > LIMITS.keyLength) throw new PushError(`key longer than ${LIMITS.keyLength} characters`)
    const limit = isConnectedIps(untrustedKey) ? LIMITS.addressListLength : LIMITS.valueLength
    if (untrustedValue.length > limit) {
      throw new PushError(`value of '${untrustedKey.slice(0, 80)}' longer than ${limit} characters`)
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
    ignored: ignored.map((k) => k.slice(0, 120)),
    ...(connectedIps4 && { connectedIps4 }),
    ...(connectedIps6 && { connectedIps6 }),
  }
}
