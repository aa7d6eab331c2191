// The chains, maps and sets the agent owns in one family, created, emptied and refilled at a full apply:
// the dispatch (custom-forward -> qf-forward -> vmap by source -> qf-vm-<ip>), the reject chain,
// anti-spoofing and the connected VMs' addresses, the drop log's rate per source. The VMs' own chains are render.ts's.
import { chain, rule } from './base.js'
import {
  DOWNSTREAM, OWNER_COMMENT, TABLE, counter, ctDirection, ctState, eq, goto, jump, meta, ne, rejectAdminProhibited, ret, saddr,
} from './expr.js'
import type { Command, MapObj, NftFamily, RuleObj, SetObj, Statement } from './model.js'
import {
  ANTISPOOF_CHAIN, CONNECTED_SET, DNAT_CHAIN, DROP_LOG_BURST, DROP_LOG_GROUP, DROP_LOG_PREFIX, DROP_LOG_RATE, FORWARD_CHAIN, INBOUND_CHAIN,
  LOG_RATE_SET, REJECT_CHAIN, VM_MAP, VM_OVERLAY_MAP,
} from './names.js'

const vmMap = (family: NftFamily): MapObj => ({
  family, table: TABLE, name: VM_MAP, type: family === 'ip' ? 'ipv4_addr' : 'ipv6_addr', map: 'verdict',
})
const connectedSet = (family: NftFamily): SetObj => ({
  family, table: TABLE, name: CONNECTED_SET, type: family === 'ip' ? 'ipv4_addr' : 'ipv6_addr',
})
/** One element per source seen rejecting lately: 65535 sources at most, each forgotten after a minute. */
const logRateSet = (family: NftFamily): SetObj => ({
  family, table: TABLE, name: LOG_RATE_SET, type: family === 'ip' ? 'ipv4_addr' : 'ipv6_addr', flags: ['dynamic', 'timeout'], size: 65535, timeout: 60,
})
const antispoofChain = (family: NftFamily) => chain(family, ANTISPOOF_CHAIN, { type: 'filter', hook: 'prerouting', prio: -300, policy: 'accept' })

/** The owned chains, maps and sets, created where absent; nothing emptied (a full load's first lines). */
export function ownedObjects(family: NftFamily): Command[] {
  return [
    { add: { chain: chain(family, FORWARD_CHAIN) } },
    { add: { chain: chain(family, REJECT_CHAIN) } },
    { add: { chain: antispoofChain(family) } },
    { add: { chain: chain(family, DNAT_CHAIN) } },
    { add: { chain: chain(family, INBOUND_CHAIN) } },
    { add: { map: vmMap(family) } },
    { add: { map: { ...vmMap(family), name: VM_OVERLAY_MAP } } },
    { add: { set: connectedSet(family) } },
    { add: { set: logRateSet(family) } },
  ]
}

/** Both VM maps emptied: a VM is rejected (qf-forward's last rule) until its element is back. */
export function vmMapsEmptied(family: NftFamily): Command[] {
  return [{ flush: { map: { ...vmMap(family), name: VM_OVERLAY_MAP } } }, { flush: { map: vmMap(family) } }]
}

/** qf-forward's dispatch and qf-reject's two ways of saying no. */
function dispatchRules(family: NftFamily): Command[] {
  const add = (name: string, expr: Statement[], comment?: string): Command => ({ add: { rule: rule(family, name, expr, comment) } })
  return [
    // what port forwards let in comes first: it is bound for a vif, which the base chain drops
    add(FORWARD_CHAIN, [jump(INBOUND_CHAIN)]),
    add(FORWARD_CHAIN, [ne(meta('iifname'), DOWNSTREAM), ret]),
    // VM to VM stays the base chain's business (isolation), whatever a VM's rules accept
    add(FORWARD_CHAIN, [eq(meta('oifname'), DOWNSTREAM), ret]),
    // answers within connections let in from upstream (port forwards) are not the VM's outgoing traffic
    add(FORWARD_CHAIN, [ctDirection('reply'), ret]),
    add(FORWARD_CHAIN, [{ vmap: { key: saddr(family), data: `@${VM_OVERLAY_MAP}` } }]),
    add(FORWARD_CHAIN, [{ vmap: { key: saddr(family), data: `@${VM_MAP}` } }]),
    add(FORWARD_CHAIN, [counter, goto(REJECT_CHAIN)], 'source is no known VM'),
    // the drop log: what is rejected goes to NFLOG too, within the source's rate (over it: rejected, unlogged)
    add(REJECT_CHAIN, [
      { set: { op: 'update', elem: saddr(family), set: `@${LOG_RATE_SET}`, stmt: [{ limit: { rate: DROP_LOG_RATE, per: 'second', burst: DROP_LOG_BURST, burst_unit: 'packets' } }] } },
      { log: { prefix: DROP_LOG_PREFIX, group: DROP_LOG_GROUP } },
    ]),
    // a connection the new rules no longer allow is cut at its next packet
    add(REJECT_CHAIN, [eq(meta('l4proto'), 'tcp'), ctState(['established']), { reject: { type: 'tcp reset' } }]),
    add(REJECT_CHAIN, [rejectAdminProhibited(family)]),
  ]
}

/** qf-antispoof's rules; with /connected-ips, those checking its set (renderConnectedSet() fills it). */
function antispoofRules(family: NftFamily, connected: readonly string[] | undefined): Command[] {
  const fromVif = eq(meta('iifname'), DOWNSTREAM)
  const add = (expr: Statement[]): Command => ({ add: { rule: rule(family, ANTISPOOF_CHAIN, expr) } })
  const inConnected = (op: '==' | '!='): Statement => ({ match: { op, left: saddr(family), right: `@${CONNECTED_SET}` } })
  return [
    // link-local and unspecified sources never leave the link: neighbour discovery needs them
    ...(family === 'ip6' ? [add([fromVif, eq(saddr(family), { set: [{ prefix: { addr: 'fe80::', len: 10 } }, '::'] }), ret])] : []),
    // a vif may only send from the addresses routed to it, and only connected VMs' addresses
    add([fromVif, eq({ fib: { result: 'oif', flags: ['saddr', 'iif'] } }, false), counter, { drop: null }]),
    ...(connected === undefined
      ? []
      : [add([fromVif, inConnected('!='), counter, { drop: null }]), add([ne(meta('iifname'), DOWNSTREAM), inConnected('=='), counter, { drop: null }])]),
  ]
}

/**
 * qf-forward, qf-reject and qf-antispoof emptied and refilled: the chains every VM's traffic passes
 * first, so a full load ends with them (nft/stream.ts: the last write, whole or not at all).
 */
export function dispatchChainsRefilled(family: NftFamily, connected: readonly string[] | undefined): Command[] {
  return [
    { flush: { chain: chain(family, FORWARD_CHAIN) } },
    { flush: { chain: chain(family, REJECT_CHAIN) } },
    { flush: { chain: antispoofChain(family) } },
    ...dispatchRules(family),
    ...antispoofRules(family, connected),
  ]
}

/** /connected-ips of one family: the set's new content. */
export function renderConnectedSet(family: NftFamily, connected: readonly string[]): Command[] {
  const set = connectedSet(family)
  return [
    { flush: { set } },
    ...(connected.length > 0 ? [{ add: { element: { family, table: TABLE, name: CONNECTED_SET, elem: [...connected] } } } as Command] : []),
  ]
}

/** The one rule the agent keeps in custom-forward (inserted first, so it sees VM traffic first). */
export function dispatchJump(family: NftFamily): RuleObj {
  return { ...rule(family, 'custom-forward', [jump(FORWARD_CHAIN)]), comment: OWNER_COMMENT }
}
