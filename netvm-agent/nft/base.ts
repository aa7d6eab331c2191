// The fixed skeleton: Qubes 4.2's `table ip|ip6 qubes`, created only where it does not exist yet
// (on real Qubes it does, and the agent leaves it alone). Downstream interfaces are vif*.
import type { ChainObj, Command, NftFamily, RuleObj, Statement } from './model.js'
import {
  DOWNSTREAM, TABLE, accept, counter, ctState, drop, eq, icmpProto, jump, meta, ne, payload, rejectAdminProhibited,
} from './expr.js'

export function chain(family: NftFamily, name: string, hook?: Pick<ChainObj, 'type' | 'hook' | 'prio' | 'policy'>): ChainObj {
  return { family, table: TABLE, name, ...hook }
}

export function rule(family: NftFamily, chainName: string, expr: Statement[], comment?: string): RuleObj {
  return { family, table: TABLE, chain: chainName, expr, ...(comment !== undefined && { comment }) }
}

/** Commands creating Qubes' base table for one family (run only when the table is absent). */
export function baseTable(family: NftFamily): Command[] {
  const fromVif = eq(meta('iifname'), DOWNSTREAM)
  const toVif = eq(meta('oifname'), DOWNSTREAM)
  const add = (name: string, expr: Statement[]): Command => ({ add: { rule: rule(family, name, expr) } })
  const inputRules: Statement[][] = [
    [jump('custom-input')],
    [ctState(['invalid']), counter, drop],
    ...(family === 'ip' ? [[fromVif, eq(meta('l4proto'), 'udp'), eq(payload('udp', 'dport'), 68), counter, drop]] : []),
    [ctState(['established', 'related']), accept],
    [fromVif, eq(meta('l4proto'), icmpProto(family)), accept],
    [eq(meta('iif'), 'lo'), accept],
    ...(family === 'ip6' ? [[eq(meta('l4proto'), icmpProto(family)), accept]] : []),
    [fromVif, counter, rejectAdminProhibited(family)],
    [counter],
  ]
  return [
    { add: { table: { family, name: TABLE } } },
    { add: { chain: chain(family, 'postrouting', { type: 'nat', hook: 'postrouting', prio: 100, policy: 'accept' }) } },
    { add: { chain: chain(family, 'input', { type: 'filter', hook: 'input', prio: 0, policy: 'drop' }) } },
    { add: { chain: chain(family, 'forward', { type: 'filter', hook: 'forward', prio: 0, policy: 'accept' }) } },
    { add: { chain: chain(family, 'custom-input') } },
    { add: { chain: chain(family, 'custom-forward') } },
    { add: { chain: chain(family, 'custom-dnat', { type: 'nat', hook: 'prerouting', prio: -100, policy: 'accept' }) } },
    add('postrouting', [toVif, accept]),
    add('postrouting', [eq(meta('oif'), 'lo'), accept]),
    add('postrouting', [ne(meta('oifname'), DOWNSTREAM), { masquerade: null }]),
    ...inputRules.map((expr) => add('input', expr)),
    add('forward', [jump('custom-forward')]),
    add('forward', [ctState(['invalid']), counter, drop]),
    add('forward', [ctState(['established', 'related']), accept]),
    add('forward', [toVif, counter, drop]),
  ]
}
