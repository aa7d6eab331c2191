// Each entry of a push goes where its QubesDB path says: to a VM (by its canonical address), to the
// forwards, to /connected-ips, or to `ignored`. Values stay untrusted strings, bounded in size.
import type ipaddr from 'ipaddr.js'
import { CONNECTED_IPS, CONNECTED_IPS6, FIREWALL, FORWARD, isConnectedIps, RESOLVED } from '../../common/qubesdb/keys.js'
import { parseIPv4, parseIPv6 } from '../../common/rule/values.js'
import { shown, UNTRUSTED_KEY_LIMIT } from '../../common/untrusted-text.js'
import { PushError } from '../errors.js'
import { LIMITS } from './limits.js'
import type { Family } from './model.js'
import type { RawVm } from './vm.js'
import { parseVmIp } from './vm-ip.js'

export interface RoutedPush {
  /** By canonical address, in the order first seen. */
  readonly vms: Map<string, RawVm>
  readonly forwardEntries: Map<string, string>
  /** The push carries /qubes-firewall-forward: its forward entries are complete. */
  forwardsPresent: boolean
  connectedIps4?: ipaddr.IPv4[]
  connectedIps6?: ipaddr.IPv6[]
  /** Keys that are not understood and belong to no VM. */
  readonly ignored: string[]
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

function checkBounds(untrustedKey: string, untrustedValue: unknown): asserts untrustedValue is string {
  if (typeof untrustedValue !== 'string') throw new PushError(`value of '${shown(untrustedKey, UNTRUSTED_KEY_LIMIT)}' is not a string`, untrustedKey)
  if (untrustedKey.length > LIMITS.keyLength) throw new PushError(`key longer than ${LIMITS.keyLength} characters`, untrustedKey)
  const limit = isConnectedIps(untrustedKey) ? LIMITS.addressListLength : LIMITS.valueLength
  if (untrustedValue.length > limit) {
    throw new PushError(`value of '${shown(untrustedKey, UNTRUSTED_KEY_LIMIT)}' longer than ${limit} characters`, untrustedKey)
  }
}

/** The VM of an address as a key spells it (undefined: not a VM address), made when first seen. */
function vmLookup(raws: Map<string, RawVm>): (untrustedIp: string) => RawVm | undefined {
  // keys repeat each VM's address many times: parse each spelling once
  const bySpelling = new Map<string, RawVm | undefined>()
  return (untrustedIp) => {
    if (bySpelling.has(untrustedIp)) return bySpelling.get(untrustedIp)
    const parsed = parseVmIp(untrustedIp)
    let raw = parsed && raws.get(parsed.ip)
    if (parsed && !raw) raws.set(parsed.ip, (raw = { ...parsed, marker: false, keys: new Map(), resolved: new Map() }))
    bySpelling.set(untrustedIp, raw)
    return raw
  }
}

function route(routed: RoutedPush, vmFor: (untrustedIp: string) => RawVm | undefined, untrustedKey: string, untrustedValue: string): void {
  if (untrustedKey === CONNECTED_IPS) {
    routed.connectedIps4 = parseAddressList(untrustedKey, untrustedValue, 4) as ipaddr.IPv4[]
  } else if (untrustedKey === CONNECTED_IPS6) {
    routed.connectedIps6 = parseAddressList(untrustedKey, untrustedValue, 6) as ipaddr.IPv6[]
  } else if (untrustedKey.startsWith(FIREWALL)) {
    // /qubes-firewall/<ip> or /qubes-firewall/<ip>/<key> (indexOf, not split: every rule has a key)
    const slash = untrustedKey.indexOf('/', FIREWALL.length)
    const raw = vmFor(slash < 0 ? untrustedKey.slice(FIREWALL.length) : untrustedKey.slice(FIREWALL.length, slash))
    if (!raw || (slash >= 0 && untrustedKey.includes('/', slash + 1))) routed.ignored.push(untrustedKey)
    else if (slash < 0) raw.marker = true
    else raw.keys.set(untrustedKey.slice(slash + 1), untrustedValue)
  } else if (untrustedKey === FORWARD) {
    routed.forwardsPresent = true
  } else if (untrustedKey.startsWith(`${FORWARD}/`)) {
    routed.forwardEntries.set(untrustedKey.slice(FORWARD.length + 1), untrustedValue)
  } else if (untrustedKey.startsWith(RESOLVED)) {
    const [untrustedIp = '', name, ...rest] = untrustedKey.slice(RESOLVED.length).split('/')
    const raw = vmFor(untrustedIp)
    if (!raw || name === undefined || rest.length > 0) routed.ignored.push(untrustedKey)
    else raw.resolved.set(name, untrustedValue)
  } else {
    routed.ignored.push(untrustedKey)
  }
}

/** The entries (`keys`: their own keys, in push order); throws PushError at the first value out of bounds or a bad /connected-ips. */
export function routeEntries(untrustedEntries: Readonly<Record<string, unknown>>, keys: readonly string[]): RoutedPush {
  const routed: RoutedPush = { vms: new Map(), forwardEntries: new Map(), forwardsPresent: false, ignored: [] }
  const vmFor = vmLookup(routed.vms)
  for (const untrustedKey of keys) {
    const untrustedValue = untrustedEntries[untrustedKey]
    checkBounds(untrustedKey, untrustedValue)
    route(routed, vmFor, untrustedKey, untrustedValue)
  }
  return routed
}
