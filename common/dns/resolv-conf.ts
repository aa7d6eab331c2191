// The netvm's nameservers, from resolv.conf's `nameserver` lines (what specialtarget=dns means).
import { parseIPv4, parseIPv6 } from '../rule/values.js'

export interface Nameservers {
  readonly 4: readonly string[]
  readonly 6: readonly string[]
}

export function parseResolvConf(untrustedText: string): Nameservers {
  const v4: string[] = []
  const v6: string[] = []
  for (const line of untrustedText.split('\n')) {
    const [keyword, untrustedAddress = ''] = line.trim().split(/\s+/)
    if (keyword !== 'nameserver') continue
    const a4 = parseIPv4(untrustedAddress)
    const a6 = a4 ? undefined : parseIPv6(untrustedAddress)
    if (a4) v4.push(a4.toString())
    else if (a6) v6.push(a6.toString())
  }
  return { 4: v4, 6: v6 }
}
