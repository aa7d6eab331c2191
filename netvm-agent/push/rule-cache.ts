// Many VMs share rule strings (every VM of a template, the same few rules): parse each once per push.
import { RuleParseError } from '../../common/errors.js'
import type { Family, FwRule } from './model.js'
import { parseQdbRule } from './rule.js'

/**
 * Each string parsed once per push and family: the rule without its number, or why it failed.
 * (A map per family: a key made of family and string would be a new string to hash per rule.)
 */
export type RuleCache = Record<Family, Map<string, Omit<FwRule, 'number'> | RuleParseError>>

export const newRuleCache = (): RuleCache => ({ 4: new Map(), 6: new Map() })

/** parseQdbRule() through `cache`: the same rule, or a fresh error with the same message. */
export function parseCachedRule(cache: RuleCache, number: number, untrustedRule: string, family: Family): FwRule {
  const ofFamily = cache[family]
  let parsed = ofFamily.get(untrustedRule)
  if (parsed === undefined) {
    try {
      parsed = parseQdbRule(0, untrustedRule, family)
    } catch (err) {
      if (!(err instanceof RuleParseError)) throw err
      parsed = err
    }
    ofFamily.set(untrustedRule, parsed)
  }
  if (parsed instanceof RuleParseError) throw new RuleParseError(parsed.message)
  return { ...parsed, number }
}
