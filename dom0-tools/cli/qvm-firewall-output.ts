// What qvm-firewall writes on stdout: the rule listing (a table, --raw API strings, or with
// --resolved a RESOLVED column; --hits adds observe/hits.ts's). How a push went is verbosity.ts's,
// shared by every dom0 command.
import type { EpochSeconds, Rule } from '../../common/rule/model.js'
import { formatAge } from '../../common/observe/age.js'
import type { NameInNetvm } from '../apply/push.js'
import { formatRawRule } from '../rule/format-raw.js'
import { formatRuleTable, type Column } from '../rule/format-table.js'

/** `list`: Qubes' table, or with --raw one API string a line. */
export function formatRuleList(rules: readonly Rule[], now: EpochSeconds, raw: boolean | undefined): string {
  return raw ? rules.map((r) => formatRawRule(r) + '\n').join('') : formatRuleTable(rules, now)
}

/**
 * `list --resolved`: RESOLVED, what each dsthost name stands for in the netvm's agent now (`?` when
 * not known), and REFRESHED, when DNS last answered for it (and whether refreshing it fails).
 */
export function resolvedColumns(names: ReadonlyMap<string, NameInNetvm> | undefined, now: EpochSeconds): Column[] {
  const of = (rule: Rule) => (rule.dsthost?.kind === 'name' ? names?.get(rule.dsthost.name) : undefined)
  const refreshed = (name: NameInNetvm | undefined) => {
    if (name?.trouble === 'failed') return 'failed'
    const age = name?.refreshed === undefined ? '?' : formatAge(now - name.refreshed)
    return name?.trouble === 'failing' ? `${age}, failing` : age
  }
  return [
    { header: 'RESOLVED', cell: (rule) => (rule.dsthost?.kind === 'name' ? of(rule)?.addresses ?? '?' : '-') },
    { header: 'REFRESHED', cell: (rule) => (rule.dsthost?.kind === 'name' ? refreshed(of(rule)) : '-') },
  ]
}
