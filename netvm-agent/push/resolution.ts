// What dom0 resolved a VM's names to (/qubes-firewall-resolved/<ip>/<name>): addresses, or that it could not.
import { RuleParseError } from '../../common/errors.js'
import type { Hostname } from '../../common/rule/model.js'
import { parseHostname, parseIPv4, parseIPv6 } from '../../common/rule/values.js'
import { shown } from '../../common/untrusted-text.js'
import type { Resolution } from './model.js'

function parseResolution(name: Hostname, untrusted: string): Resolution {
  const addresses: string[] = []
  for (const word of untrusted.split(' ').filter((w) => w !== '')) {
    const address = parseIPv4(word) ?? parseIPv6(word)
    if (!address) throw new RuleParseError(`resolved address '${shown(word)}' of ${name} is not an IP address`)
    addresses.push(address.toString())
  }
  return addresses.length > 0 ? { addresses } : { error: 'dom0 could not resolve it' }
}

/** A VM's resolved entries, name -> value as pushed; an empty value: dom0 could not resolve the name. */
export function parseResolved(untrustedResolved: ReadonlyMap<string, string>): Map<Hostname, Resolution> {
  const resolved = new Map<Hostname, Resolution>()
  for (const [untrustedName, value] of untrustedResolved) {
    const name = parseHostname(untrustedName)
    resolved.set(name, parseResolution(name, value))
  }
  return resolved
}
