// qvm-firewall's edits as pure functions of the rule list: each returns the new list or throws.
import { UsageError } from '../../common/errors.js'
import type { Rule } from '../../common/rule/model.js'
import { DEFAULT_RULES } from '../store/firewall-xml.js'
import { formatRawRule } from '../rule/format-raw.js'

function checkRuleNo(rules: readonly Rule[], ruleNo: number, allowEnd: boolean): void {
  const last = allowEnd ? rules.length : rules.length - 1
  if (!Number.isInteger(ruleNo) || ruleNo < 0 || ruleNo > last) {
    throw new UsageError(`rule number ${ruleNo} out of range (the VM has rules 0-${rules.length - 1})`)
  }
}

export function addRule(rules: readonly Rule[], rule: Rule, before?: number): Rule[] {
  if (before === undefined) return [...rules, rule]
  checkRuleNo(rules, before, true)
  return [...rules.slice(0, before), rule, ...rules.slice(before)]
}

// Qubes refuses to leave a VM without rules: an empty list would be read back as "accept all".
function checkNotLast(rules: readonly Rule[]): void {
  if (rules.length <= 1) {
    throw new UsageError("cannot remove the last rule: add a 'drop' rule first, then delete the rest")
  }
}

export function deleteRuleNo(rules: readonly Rule[], ruleNo: number): Rule[] {
  checkRuleNo(rules, ruleNo, false)
  checkNotLast(rules)
  return rules.filter((_, i) => i !== ruleNo)
}

/** Removes the first rule equal to `rule` (same API form, as Qubes compares them). */
export function deleteMatchingRule(rules: readonly Rule[], rule: Rule): Rule[] {
  const wanted = formatRawRule(rule)
  const index = rules.findIndex((r) => formatRawRule(r) === wanted)
  if (index < 0) throw new UsageError(`rule not found: ${wanted}`)
  checkNotLast(rules)
  return rules.filter((_, i) => i !== index)
}

export function resetRules(): Rule[] {
  return [...DEFAULT_RULES]
}
