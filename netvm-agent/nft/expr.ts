// Small builders of model values, so renderers read like the rules they make.
import type { NftFamily, Selector, Statement, Value, Verdict } from './model.js'

export const TABLE = 'qubes'
/** Everything the agent owns is named with this prefix (or tagged with OWNER_COMMENT). */
export const OWNER_COMMENT = 'qubes-firewall-agent'
export const DOWNSTREAM = 'vif*'

type MetaKey = 'iifname' | 'oifname' | 'l4proto' | 'time' | 'iif' | 'oif'
const metas = new Map<MetaKey, Selector>()
export const meta = (key: MetaKey): Selector => {
  let selector = metas.get(key)
  if (!selector) metas.set(key, (selector = { meta: { key } }))
  return selector
}
// selectors are shared, never mutated: a ruleset of thousands of rules then allocates far less
const payloads = new Map<string, Selector>()
export const payload = (protocol: 'ip' | 'ip6' | 'tcp' | 'udp' | 'icmp' | 'icmpv6', field: string): Selector => {
  const key = `${protocol} ${field}`
  let selector = payloads.get(key)
  if (!selector) payloads.set(key, (selector = { payload: { protocol, field } }))
  return selector
}
export const eq = (left: Selector, right: Value): Statement => ({ match: { op: '==', left, right } })
const l4protos = new Map<string, Statement>()
/** `meta l4proto P`, one shared value per protocol. */
export const l4proto = (proto: 'tcp' | 'udp' | 'icmp' | 'ipv6-icmp'): Statement => {
  let statement = l4protos.get(proto)
  if (!statement) l4protos.set(proto, (statement = eq(meta('l4proto'), proto)))
  return statement
}
export const ne = (left: Selector, right: Value): Statement => ({ match: { op: '!=', left, right } })
export const counter: Statement = { counter: null }
export const accept: Verdict = { accept: null }
export const drop: Verdict = { drop: null }
export const ret: Verdict = { return: null }
export const jump = (target: string): Verdict => ({ jump: { target } })
export const goto = (target: string): Verdict => ({ goto: { target } })

export const saddr = (family: NftFamily): Selector => payload(family, 'saddr')
export const daddr = (family: NftFamily): Selector => payload(family, 'daddr')
export const icmpProto = (family: NftFamily): 'icmp' | 'ipv6-icmp' => (family === 'ip' ? 'icmp' : 'ipv6-icmp')

export function rejectAdminProhibited(family: NftFamily): Statement {
  return family === 'ip' ? { reject: { type: 'icmp', expr: 'admin-prohibited' } } : { reject: { type: 'icmpv6', expr: 'admin-prohibited' } }
}

export const ctState = (states: string[]): Statement => ({ match: { op: 'in', left: { ct: { key: 'state' } }, right: states } })
export const ctDirection = (direction: 'original' | 'reply'): Statement => eq({ ct: { key: 'direction' } }, direction)
