// `qvm-firewall list`: Qubes' table, as `column -t` lays it out.
import type { EpochSeconds, Rule } from '../../common/rule/model.js'
import { layoutTable } from '../../common/table.js'
import { formatPortRange } from '../../common/rule/port.js'
import { formatDstHost } from '../../common/rule/values.js'

export const TABLE_HEADER = ['NO', 'ACTION', 'HOST', 'PROTOCOL', 'PORT(S)', 'SPECIAL TARGET', 'ICMP TYPE', 'EXPIRE', 'COMMENT']

export function ruleRow(rule: Rule, index: number, now: EpochSeconds): string[] {
  const cells = [
    rule.action,
    rule.dsthost && formatDstHost(rule.dsthost),
    rule.proto,
    (rule.proto === 'tcp' || rule.proto === 'udp') && rule.dstports ? formatPortRange(rule.dstports, 'short') : undefined,
    rule.specialtarget,
    rule.proto === 'icmp' && rule.icmptype !== undefined ? String(rule.icmptype) : undefined,
    rule.expire === undefined ? undefined : `${rule.expire - now >= 0 ? '+' : ''}${rule.expire - now}s`,
    rule.comment,
  ]
  return [String(index), ...cells.map((cell) => cell ?? '-')]
}

/** A column of our own after Qubes' (RESOLVED, HITS): a cell per rule, given the rule's NO. */
export interface Column {
  readonly header: string
  readonly cell: (rule: Rule, no: number) => string
  /** Its cell in a row below the rules; `-` when absent. */
  readonly footer?: (row: Footer) => string
}

/** A row below the rules, for what no rule decides: the policy, or the reject-all of a VM whose rules did not load. */
export type Footer = 'policy' | 'blocked'

// no number (not a rule, so `del --rule-no` has nothing to take), Qubes' policy action, what it is as a comment
const footerRow = (row: Footer): string[] => ['-', 'drop', '-', '-', '-', '-', '-', '-', `(${row})`]

/** Qubes' table; `columns` append columns of our own, `footers` rows below the rules. */
export function formatRuleTable(rules: readonly Rule[], now: EpochSeconds, columns: readonly Column[] = [], footers: readonly Footer[] = []): string {
  return layoutTable([
    [...TABLE_HEADER, ...columns.map((c) => c.header)],
    ...rules.map((rule, i) => [...ruleRow(rule, i, now), ...columns.map((c) => c.cell(rule, i))]),
    ...footers.map((row) => [...footerRow(row), ...columns.map((c) => c.footer?.(row) ?? '-')]),
  ])
}
