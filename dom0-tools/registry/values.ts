// Qubes' rules for property values (qubes/vm/__init__.py, qubes/app.py): what may be stored, and
// the messages Qubes gives for what may not.
import { UsageError } from '../../common/errors.js'
import { parseIPv4, parseIPv6 } from '../../common/rule/values.js'

export const PROPERTY_NAME = /^[a-z][a-z0-9_]*$/
const DECIMAL = /^(0|[1-9][0-9]{0,8})$/

/** Qubes' property.bool: the spellings it accepts, stored as Python writes a bool. */
export function parseBool(untrustedValue: string): 'True' | 'False' {
  const lower = untrustedValue.toLowerCase()
  if (['0', 'no', 'false', 'off'].includes(lower)) return 'False'
  if (['1', 'yes', 'true', 'on'].includes(lower)) return 'True'
  throw new UsageError(`Invalid literal for boolean property: '${untrustedValue}'`)
}

/** Qubes' own global properties (qubes/app.py): kept and shown, ours to check only where we use them. */
export const QUBES_GLOBAL_PROPERTIES = new Set([
  'check_updates_vm', 'clockvm', 'default_audiovm', 'default_dispvm', 'default_guivm', 'default_kernel', 'default_netvm',
  'default_pool', 'default_pool_kernel', 'default_pool_private', 'default_pool_root', 'default_pool_volatile',
  'default_qrexec_timeout', 'default_shutdown_timeout', 'default_template', 'management_dispvm', 'stats_interval', 'updatevm',
])

/** The global properties this project adds, with the values each may take. */
export const GLOBAL_PROPERTY_VALUES: Record<string, readonly string[]> = {
  // who resolves dsthost names: dom0 before pushing (default), or each netvm's agent at apply
  qubes_firewall_resolve: ['dom0', 'agent'],
}

export function noSuchProperty(prop: string): UsageError {
  return new UsageError(`no such property: '${prop}'`)
}

// a value we store must read back the same: the parser trims text and XML has no raw control characters
export function checkOpaqueValue(prop: string, untrustedValue: string): string {
  if (/[\u0000-\u001f\u007f]/.test(untrustedValue)) {
    throw new UsageError(`invalid value for property '${prop}': control characters are not allowed`)
  }
  if (untrustedValue !== untrustedValue.trim()) {
    throw new UsageError(`invalid value for property '${prop}': leading or trailing whitespace is not allowed`)
  }
  return untrustedValue
}

export function checkIp(untrustedValue: string): string {
  if (parseIPv4(untrustedValue) === undefined) throw new UsageError(`Invalid IP address value: '${untrustedValue}'`)
  return untrustedValue
}

export function checkIp6(untrustedValue: string): string {
  const address = parseIPv6(untrustedValue)
  if (address === undefined) throw new UsageError(`Invalid IPv6 address value: '${untrustedValue}'`)
  return address.toString()
}

export function decimal(value: string | undefined): number | undefined {
  return value !== undefined && DECIMAL.test(value) ? Number(value) : undefined
}
