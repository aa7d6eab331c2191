// What qvm-firewall writes on stdout: the rule listing (a table, --raw API strings, or with
// --resolved a RESOLVED column; --hits adds observe/hits.ts's). How a push went is verbosity.ts's,
// shared by every dom0 command.
import type { EpochSeconds, Rule } from '../../common/rule/model.js'
import { formatRawRule } from '../rule/format-raw.js'
import { formatRuleTable, type Column } from '../rule/format-table.js'

/** `list`: Qubes' table, or with --raw one API string a line. */
export function formatRuleList(rules: readonly Rule[], now: EpochSeconds, raw: boolean | undefined): string {
  return raw ? rules.map((r) => formatRawRule(r) + '\n').join('') : formatRuleTable(rules, now)
}

/** `list --resolved`: RESOLVED, what each dsthost name resolved to (`?` when not known). */
export function resolvedColumn(names: ReadonlyMap<string, string> | undefined): Column {
  return { header: 'RESOLVED', cell: (rule) => (rule.dsthost?.kind === 'name' ? names?.get(rule.dsthost.name) ?? '?' : '-') }
}
