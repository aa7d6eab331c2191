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

/** Qubes' table; `extra` appends a column of our own (e.g. RESOLVED). */
export function formatRuleTable(rules: readonly Rule[], now: EpochSeconds, extra?: { header: string; cell: (rule: Rule) => string }): string {
  if (!extra) return layoutTable([TABLE_HEADER, ...rules.map((rule, i) => ruleRow(rule, i, now))])
  return layoutTable([[...TABLE_HEADER, extra.header], ...rules.map((rule, i) => [...ruleRow(rule, i, now), extra.cell(rule)])])
}
