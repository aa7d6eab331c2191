// Rules from untrusted text: key=value options (API strings, firewall.xml, CLI words).
import { RuleParseError } from '../../common/errors.js'
import type { EpochSeconds, Rule } from '../../common/rule/model.js'
import { parsePortRange } from '../../common/rule/port.js'
import { checkSafe } from '../../common/rule/safe-chars.js'
import {
  checkProtoPairing, parseAction, parseDstHost, parseExpire, parseIcmpType, parseProto, parseSpecialTarget,
} from '../../common/rule/values.js'
import { shown } from '../../common/untrusted-text.js'

export const RULE_KEYS = ['action', 'dsthost', 'proto', 'dstports', 'icmptype', 'specialtarget', 'expire', 'comment'] as const
export type RuleKey = (typeof RULE_KEYS)[number]
// Qubes takes dst4/dst6 (and the API's dstname) for dsthost whatever the address family
const DSTHOST_ALIASES = new Set(['dst4', 'dst6', 'dstname'])

export function canonicalKey(untrustedKey: string): RuleKey {
  if (DSTHOST_ALIASES.has(untrustedKey)) return 'dsthost'
  if ((RULE_KEYS as readonly string[]).includes(untrustedKey)) return untrustedKey as RuleKey
  throw new RuleParseError(`unknown rule option '${shown(untrustedKey)}'`)
}

export type RuleOptions = Partial<Record<RuleKey, string>>

/** Adds one option, refusing a second value for the same key (dst4 and dsthost count as one). */
export function addOption(options: RuleOptions, untrustedKey: string, untrustedValue: string): void {
  const key = canonicalKey(untrustedKey)
  if (options[key] !== undefined) throw new RuleParseError(`option '${key}' given twice`)
  options[key] = untrustedValue
}

export interface ParseContext {
  now: EpochSeconds
  /** "+seconds" is a CLI convenience; stored rules carry absolute times. */
  relativeExpire?: boolean
  /** firewall.xml v1 gives the netmask apart from the address. */
  defaultPrefix?: number
}

/** Builds a Rule from validated-once options: the single place where rule validation lives. */
export function ruleFromOptions(options: RuleOptions, ctx: ParseContext): Rule {
  for (const [key, value] of Object.entries(options)) {
    if (value === '') throw new RuleParseError(`empty value for '${key}'`)
  }
  const action = parseAction(options.action)
  const proto = options.proto === undefined ? undefined : parseProto(options.proto)
  const common = {
    action,
    ...(options.dsthost !== undefined && { dsthost: parseDstHost(options.dsthost, ctx.defaultPrefix) }),
    ...(options.specialtarget !== undefined && { specialtarget: parseSpecialTarget(options.specialtarget) }),
    ...(options.expire !== undefined && {
      expire: parseExpire(options.expire, ctx.now, ctx.relativeExpire ?? false),
    }),
    ...(options.comment !== undefined && { comment: checkSafe('comment', options.comment, true) }),
  }
  checkProtoPairing(proto, { dstports: options.dstports !== undefined, icmptype: options.icmptype !== undefined }, 'refused')
  if (proto === 'tcp' || proto === 'udp') {
    const dstports = options.dstports === undefined ? undefined : parsePortRange(options.dstports)
    return { ...common, proto, ...(dstports && { dstports }) }
  }
  if (proto === 'icmp') {
    const icmptype = options.icmptype === undefined ? undefined : parseIcmpType(options.icmptype)
    return { ...common, proto, ...(icmptype !== undefined && { icmptype }) }
  }
  return common
}

/**
 * Qubes' API form, as `qvm-firewall --raw` prints it: `action=accept dst4=10.0.0.0/8 proto=tcp
 * dstports=443-443 comment=Allow LAN`. Everything after `comment=` is the comment.
 */
export function parseApiRule(untrustedLine: string, ctx: ParseContext): Rule {
  const [untrustedOptions = '', ...commentParts] = untrustedLine.split('comment=')
  const options: RuleOptions = {}
  if (commentParts.length > 0) options.comment = commentParts.join('comment=')
  for (const untrustedOption of untrustedOptions.trim().split(' ').filter((o) => o !== '')) {
    const eq = untrustedOption.indexOf('=')
    if (eq < 0) throw new RuleParseError(`invalid rule option '${shown(untrustedOption)}' (expected key=value)`)
    addOption(options, untrustedOption.slice(0, eq), untrustedOption.slice(eq + 1))
  }
  return ruleFromOptions(options, ctx)
}

/**
 * qvm-firewall's rule words: `<action> [<dsthost> [<proto> [<dstports>|<icmptype>]]]` mixed with
 * key=value words. A bare word fills the first positional slot still free, as Qubes' RuleAction does.
 */
export function parseCliRule(untrustedWords: readonly string[], ctx: ParseContext): Rule {
  const slots: RuleKey[] = ['action', 'dsthost', 'proto', 'dstports', 'icmptype']
  const options: RuleOptions = {}
  for (const untrustedWord of untrustedWords) {
    // split at the first '=' as Qubes does: a comment may hold '='
    const equals = untrustedWord.indexOf('=')
    let key: RuleKey
    let value: string
    if (equals >= 0) {
      const untrustedKey = untrustedWord.slice(0, equals)
      // dstname exists only in Qubes' API; its qvm-firewall does not take it
      if (untrustedKey === 'dstname') throw new RuleParseError(`invalid rule description: ${shown(untrustedWord)}`)
      key = canonicalKey(untrustedKey)
      value = untrustedWord.slice(equals + 1)
    } else {
      const slot = slots[0]
      if (slot === undefined) throw new RuleParseError(`unexpected rule word '${shown(untrustedWord)}'`)
      key = slot
      value = untrustedWord
    }
    addOption(options, key, value)
    const used = slots.indexOf(key)
    if (used >= 0) slots.splice(used, 1)
    const unusable = key !== 'proto' ? undefined : value === 'icmp' ? 'dstports' : value === 'tcp' || value === 'udp' ? 'icmptype' : undefined
    if (unusable && slots.includes(unusable)) slots.splice(slots.indexOf(unusable), 1)
  }
  return ruleFromOptions(options, { ...ctx, relativeExpire: true })
}
