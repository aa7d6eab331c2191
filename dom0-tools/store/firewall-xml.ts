// firewall.xml in Qubes' formats: version 2 read and written, version 1 (Qubes < 4.0) read and
// converted as qubes/firewall.py's load_v1 does.
import { RuleParseError, StoreError } from '../../common/errors.js'
import { isExpired, type EpochSeconds, type Rule } from '../../common/rule/model.js'
import { addOption, ruleFromOptions, type RuleOptions } from '../rule/parse.js'
import { formatPortRange } from '../../common/rule/port.js'
import { formatDstHost } from '../../common/rule/values.js'
import { shown } from '../../common/untrusted-text.js'
import { forwardProperties } from '../forward/format.js'
import type { Forward } from '../forward/model.js'
import { forwardFromProperties } from '../forward/parse.js'
import { attr, childNodes, escapeXml, parseXml, text, type XmlNode } from './xml.js'

/** What Qubes assumes when a VM has no firewall.xml. */
export const DEFAULT_RULES: readonly Rule[] = [{ action: 'accept' }]

export interface FirewallConfig {
  rules: Rule[]
  /** Our extension: Qubes reads only <rules> and leaves <forwards> alone. */
  forwards: Forward[]
}

export function parseFirewallXml(file: string, untrustedText: string, now: EpochSeconds): Rule[] {
  return parseFirewallConfig(file, untrustedText, now).rules
}

export function parseFirewallConfig(file: string, untrustedText: string, now: EpochSeconds): FirewallConfig {
  const doc = parseXml(untrustedText)
  if (typeof doc === 'string') throw new StoreError(file, doc)
  const rootName = Object.keys(doc).find((k) => !k.startsWith('?') && !k.startsWith('#'))
  const root = rootName === undefined ? undefined : childNodes(doc, rootName)[0]
  if (root === undefined) throw new StoreError(file, 'no root element')
  const version = attr(root, 'version') ?? '1'
  // rules whose time has passed do not exist, as in Qubes' API: not listed, not numbered, not pushed
  const live = (rules: Rule[]) => rules.filter((rule) => !isExpired(rule, now))
  try {
    if (version === '2') return { rules: live(parseV2(root, now)), forwards: parseForwards(root) }
    if (version === '1') return { rules: live(parseV1(root, now)), forwards: [] }
  } catch (err) {
    if (err instanceof RuleParseError) throw new StoreError(file, err.message)
    throw err
  }
  throw new StoreError(file, `unsupported firewall.xml version: ${shown(version)}`)
}

function parseV2(root: XmlNode, now: EpochSeconds): Rule[] {
  return childNodes(childNodes(root, 'rules')[0], 'rule').map((xmlRule, index) => {
    const options: RuleOptions = {}
    try {
      for (const property of childNodes(childNodes(xmlRule, 'properties')[0], 'property')) {
        addOption(options, attr(property, 'name') ?? '', text(property))
      }
      return ruleFromOptions(options, { now })
    } catch (err) {
      if (err instanceof RuleParseError) throw new RuleParseError(`rule ${index}: ${err.message}`)
      throw err
    }
  })
}

function parseForwards(root: XmlNode): Forward[] {
  return childNodes(childNodes(root, 'forwards')[0], 'forward').map((xmlForward, index) => {
    const properties = new Map<string, string>()
    for (const property of childNodes(childNodes(xmlForward, 'properties')[0], 'property')) {
      const name = attr(property, 'name') ?? ''
      if (properties.has(name)) throw new RuleParseError(`forward ${index}: property '${shown(name)}' given twice`)
      properties.set(name, text(property))
    }
    try {
      return forwardFromProperties(properties)
    } catch (err) {
      if (err instanceof RuleParseError) throw new RuleParseError(`forward ${index}: ${err.message}`)
      throw err
    }
  })
}

function parseV1(root: XmlNode, now: EpochSeconds): Rule[] {
  const policy = attr(root, 'policy')
  if (policy !== 'allow' && policy !== 'deny') throw new RuleParseError(`version 1 policy must be allow or deny, not '${shown(policy ?? '')}'`)
  const translate = (key: string) => ((attr(root, key) ?? policy) === 'allow' ? 'accept' : 'drop')
  const rules: Rule[] = [
    { action: translate('dns'), specialtarget: 'dns' },
    { action: translate('icmp'), proto: 'icmp' },
  ]
  const ruleAction = policy === 'allow' ? 'drop' : 'accept'
  const elements = Object.keys(root).filter((k) => !k.startsWith('@_') && !k.startsWith('#'))
  for (const name of elements) {
    for (const [index, element] of childNodes(root, name).entries()) {
      try {
        rules.push(ruleFromV1(element, ruleAction, now))
      } catch (err) {
        if (err instanceof RuleParseError) throw new RuleParseError(`${name} ${index}: ${err.message}`)
        throw err
      }
    }
  }
  if (policy === 'allow') rules.push({ action: 'accept' })
  return rules
}

function ruleFromV1(element: XmlNode, action: 'accept' | 'drop', now: EpochSeconds): Rule {
  const options: RuleOptions = { action }
  const netmask = attr(element, 'netmask')
  if (netmask !== undefined && !/^[0-9]{1,3}$/.test(netmask)) throw new RuleParseError(`invalid netmask '${shown(netmask)}'`)
  const address = attr(element, 'address')
  if (address) options.dsthost = address
  const port = attr(element, 'port')
  const toport = attr(element, 'toport')
  if (port) options.dstports = toport ? `${port}-${toport}` : port
  let proto = attr(element, 'proto')
  // Qubes < 4.0 meant TCP when a port was given without a protocol
  if (options.dstports && !proto) proto = 'tcp'
  if (proto && proto !== 'any') options.proto = proto
  const expire = attr(element, 'expire')
  if (expire) options.expire = expire
  return ruleFromOptions(options, { now, ...(netmask !== undefined && { defaultPrefix: Number(netmask) }) })
}

function xmlProperties(rule: Rule): [string, string][] {
  const props: [string, string][] = [['action', rule.action]]
  if (rule.dsthost) props.push(['dsthost', formatDstHost(rule.dsthost)])
  if (rule.proto) props.push(['proto', rule.proto])
  if (rule.specialtarget) props.push(['specialtarget', rule.specialtarget])
  if ((rule.proto === 'tcp' || rule.proto === 'udp') && rule.dstports) props.push(['dstports', formatPortRange(rule.dstports, 'short')])
  if (rule.proto === 'icmp' && rule.icmptype !== undefined) props.push(['icmptype', String(rule.icmptype)])
  if (rule.expire !== undefined) props.push(['expire', String(rule.expire)])
  if (rule.comment !== undefined) props.push(['comment', rule.comment])
  return props
}

/** Version 2, laid out as Qubes' lxml writes it; expired rules are left out, as Qubes' save() does. */
export function serialiseFirewallXml(rules: readonly Rule[], now: EpochSeconds, forwards: readonly Forward[] = []): string {
  const lines = [`<?xml version='1.0' encoding='UTF-8'?>`, '<firewall version="2">', '  <rules>']
  for (const rule of rules) {
    if (isExpired(rule, now)) continue
    lines.push('    <rule>', '      <properties>')
    for (const [name, value] of xmlProperties(rule)) {
      lines.push(`        <property name="${name}">${escapeXml(value)}</property>`)
    }
    lines.push('      </properties>', '    </rule>')
  }
  lines.push('  </rules>')
  if (forwards.length > 0) {
    lines.push('  <forwards>')
    for (const forward of forwards) {
      lines.push('    <forward>', '      <properties>')
      for (const [name, value] of forwardProperties(forward)) lines.push(`        <property name="${name}">${escapeXml(value)}</property>`)
      lines.push('      </properties>', '    </forward>')
    }
    lines.push('  </forwards>')
  }
  lines.push('</firewall>', '')
  return lines.join('\n')
}
