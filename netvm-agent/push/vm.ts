// A VM's entries, gathered from a push, become its typed rules or its failure: a VM whose entries
// do not parse is blocked, and the error names the rule; other VMs are not affected.
import { RuleParseError } from '../../common/errors.js'
import { shown } from '../../common/untrusted-text.js'
import { LIMITS } from './limits.js'
import type { Family, FwRule, VmEntry } from './model.js'
import { parseResolved } from './resolution.js'
import { parseQdbRule } from './rule.js'
import type { ParsedRules, SameRules } from './same-rules.js'

/** One VM's entries as pushed, not parsed yet: its keys below /qubes-firewall/<ip>/ and its resolved names. */
export interface RawVm {
  ip: string
  family: Family
  /** The push carries /qubes-firewall/<ip>: the rules below it are complete. */
  marker: boolean
  keys: Map<string, string>
  resolved: Map<string, string>
}

/** The NNNN entries in order, each a rule; the first that does not parse (a bad key first) fails them all. */
function parseNumbered(keys: readonly string[], values: readonly string[], family: Family): ParsedRules {
  const rules: FwRule[] = []
  let ruleNumber: number | null = null
  try {
    keys.forEach((key, i) => {
      ruleNumber = null
      if (!/^[0-9]{4}$/.test(key)) throw new RuleParseError(`unexpected key '${shown(key)}' (expected policy or NNNN)`)
      ruleNumber = Number(key)
      rules.push(parseQdbRule(ruleNumber, values[i] as string, family))
    })
    return { rules }
  } catch (err) {
    if (!(err instanceof RuleParseError)) throw err
    return { error: err.message, rule: ruleNumber }
  }
}

export function parseVm(raw: RawVm, same: SameRules): VmEntry {
  const failed = (error: string, rule: number | null): VmEntry => ({ ok: false, failure: { ip: raw.ip, family: raw.family, error, rule } })
  const policy = raw.keys.get('policy')
  if (policy === undefined) return failed("no 'policy' defined", null)
  if (policy !== 'accept' && policy !== 'drop') return failed(`invalid policy '${shown(policy)}'`, null)
  const numbered = [...raw.keys].filter(([key]) => key !== 'policy')
  if (numbered.length > LIMITS.rulesPerVm) return failed(`more than ${LIMITS.rulesPerVm} rules`, null)
  numbered.sort(([a], [b]) => (a < b ? -1 : 1))
  const keys = numbered.map(([key]) => key)
  const values = numbered.map(([, value]) => value)
  const parsed = same.parsedOnce(raw.family, keys, values, () => parseNumbered(keys, values, raw.family))
  if ('error' in parsed) return failed(parsed.error, parsed.rule)
  try {
    return { ok: true, vm: { ip: raw.ip, family: raw.family, policy, rules: parsed.rules, resolved: parseResolved(raw.resolved) } }
  } catch (err) {
    if (!(err instanceof RuleParseError)) throw err
    return failed(err.message, null)
  }
}
