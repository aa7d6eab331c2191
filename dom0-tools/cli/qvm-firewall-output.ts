// What qvm-firewall writes: the rule listing on stdout (a table, --raw API strings, or with
// --resolved a RESOLVED column), and how an apply went on stderr.
import { UsageError } from '../../common/errors.js'
import type { EpochSeconds, Rule } from '../../common/rule/model.js'
import { describeOutcome, type NetvmOutcome } from '../apply/outcome.js'
import { formatRawRule } from '../rule/format-raw.js'
import { formatRuleTable } from '../rule/format-table.js'
import type { GlobalOptions } from './qvm-firewall-options.js'

/** `list`: Qubes' table, or with --raw one API string a line. */
export function formatRuleList(rules: readonly Rule[], now: EpochSeconds, raw: boolean | undefined): string {
  return raw ? rules.map((r) => formatRawRule(r) + '\n').join('') : formatRuleTable(rules, now)
}

/** `list --resolved`: the table with what each dsthost name resolved to (`?` when not known). */
export function formatResolvedList(rules: readonly Rule[], now: EpochSeconds, names: ReadonlyMap<string, string> | undefined): string {
  const column = (rule: Rule) => (rule.dsthost?.kind === 'name' ? names?.get(rule.dsthost.name) ?? '?' : '-')
  return formatRuleTable(rules, now, { header: 'RESOLVED', cell: column })
}

/**
 * Reports an apply on stderr (stdout carries only what was asked for): a status line unless
 * --quiet, a warning for an unreachable agent, an error (exit 1) for a refusal.
 */
export function reportOutcome(vm: string | undefined, outcome: NetvmOutcome | undefined, opts: GlobalOptions = {}): void {
  if (outcome === undefined || outcome.status === 'unmanaged') return
  const line = describeOutcome(vm, outcome)
  if (outcome.status === 'applied') {
    if (!opts.quiet) process.stderr.write(`${line}\n`)
  } else if (outcome.status === 'unreachable') process.stderr.write(`qvm-firewall: ${line}\n`)
  else throw new UsageError(line)
}
