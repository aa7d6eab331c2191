// Many VMs share rule strings (every VM of a template, the same few rules): parse each once per push.
import { RuleParseError } from '../../common/errors.js'
import type { Family, FwRule } from './model.js'
import { parseQdbRule } from './rule.js'

/** Each (family, string) parsed once per push: the rule without its number, or why it failed. */
export type RuleCache = Map<string, Omit<FwRule, 'number'> | RuleParseError>

/** parseQdbRule() through `cache`: the same rule, or a fresh error with the same message. */
export function parseCachedRule(cache: RuleCache, number: number, untrustedRule: string, family: Family): FwRule {
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
