// What dom0 writes to QubesDB for a VM's netvm (Qubes' Firewall.qdb_entries).
import { isExpired, ruleFamily, type EpochSeconds, type Rule } from '../../common/rule/model.js'
import { matchOptions } from './format-raw.js'

/** The QubesDB form: no comment; expire kept, as the agent enforces it by itself. */
export function formatQdbRule(rule: Rule): string {
  const options = matchOptions(rule)
  if (rule.expire !== undefined) options.push(`expire=${rule.expire}`)
  return options.join(' ')
}

/**
 * The entries below `/qubes-firewall/<ip>/` for one address family: `policy` and one `NNNN` per rule.
 * Rule numbers are the rule's place in `qvm-firewall list`, so gaps mark the other family's rules
 * and expired ones, and an agent's error about rule N points at the line the user sees.
 */
export function qdbEntries(rules: readonly Rule[], family: 4 | 6, now: EpochSeconds): Record<string, string> {
  const entries: Record<string, string> = { policy: 'drop' }
  rules.forEach((rule, index) => {
    const ruleFam = ruleFamily(rule)
    if (ruleFam !== undefined && ruleFam !== family) return
    if (isExpired(rule, now)) return
    entries[String(index).padStart(4, '0')] = formatQdbRule(rule)
  })
  return entries
}
