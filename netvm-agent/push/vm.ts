// A VM's entries, gathered from a push, become its typed rules or its failure: a VM whose entries
// do not parse is blocked, and the error names the rule; other VMs are not affected.
import { RuleParseError } from '../../common/errors.js'
import { shown } from '../../common/untrusted-text.js'
import { LIMITS } from './limits.js'
import type { Family, FwRule, VmEntry, VmRules } from './model.js'
import { parseResolved } from './resolution.js'
import { parseCachedRule, type RuleCache } from './rule-cache.js'

/** One VM's entries as pushed, not parsed yet: its keys below /qubes-firewall/<ip>/ and its resolved names. */
export interface RawVm {
  ip: string
  family: Family
  /** The push carries /qubes-firewall/<ip>: the rules below it are complete. */
  marker: boolean
  keys: Map<string, string>
  resolved: Map<string, string>
}

export function parseVm(raw: RawVm, cache: RuleCache): VmEntry {
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
    const vm: VmRules = { ip: raw.ip, family: raw.family, policy, rules, resolved: parseResolved(raw.resolved) }
    return { ok: true, vm }
  } catch (err) {
    if (!(err instanceof RuleParseError)) throw err
    return { ok: false, failure: { ip: raw.ip, family: raw.family, error: err.message, rule: ruleNumber } }
  }
}
