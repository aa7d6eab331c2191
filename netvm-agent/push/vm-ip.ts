// A VM's address as keys, requests and forwards spell it: one canonical text per VM.
import { parseIPv4, parseIPv6 } from '../../common/rule/values.js'
import type { Family } from './model.js'

/** A VM's address as used in keys: canonical text only, so one VM cannot appear under two spellings. */
export function parseVmIp(untrusted: string): { ip: string; family: Family } | undefined {
  const v4 = parseIPv4(untrusted)
  if (v4) return { ip: v4.toString(), family: 4 }
  const v6 = parseIPv6(untrusted)
  if (v6 && v6.toString() === untrusted) return { ip: untrusted, family: 6 }
  return undefined
}

/** The family of a VM's address as parseVmIp() gave it (a key of Push.vms). */
export const familyOfVmIp = (ip: string): Family => (ip.includes(':') ? 6 : 4)
