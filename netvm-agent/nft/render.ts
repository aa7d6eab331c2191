import ipaddr from 'ipaddr.js'
// Pure rendering: the desired state (typed VM rules, resolved names) -> one list of nft commands.
import type { EpochSeconds, Hostname } from '../../common/rule/model.js'
import type { Family, ForwardRule, FwRule, Resolution, VmEntry } from '../push/model.js'
import { chain, rule } from './base.js'
import {
  DOWNSTREAM, OWNER_COMMENT, TABLE, counter, l4proto, ctDirection, ctState, daddr, eq, goto, icmpProto, jump, meta, ne,
  payload, rejectAdminProhibited, ret, saddr,
} from './expr.js'
import type { ChainObj, Command, MapObj, NftFamily, RuleObj, SetObj, Statement, Value } from './model.js'

export const FORWARD_CHAIN = 'qf-forward'
export const REJECT_CHAIN = 'qf-reject'
export const ANTISPOOF_CHAIN = 'qf-antispoof'
export const VM_MAP = 'qf-vms'
/** Consulted before qf-vms: a one-VM update lands here without deleting anything (deletions make the kernel wait). */
export const VM_OVERLAY_MAP = 'qf-vms-update'
export const CONNECTED_SET = 'qf-connected'
/** Port forwards: DNAT (jumped from custom-dnat) and the matching accept (first in qf-forward). */
export const DNAT_CHAIN = 'qf-dnat'
export const INBOUND_CHAIN = 'qf-inbound'

const GOTO_REJECT = goto(REJECT_CHAIN)

export const nftFamily = (family: Family): NftFamily => (family === 4 ? 'ip' : 'ip6')

export const VM_CHAIN_PREFIX = 'qf-vm-'

/** A VM's chain: its address, and a generation so that a new chain never replaces one in use. */
export function vmChainName(ip: string, generation: string): string {
  return `${VM_CHAIN_PREFIX}${ip.replace(/[.:]/g, '-')}-g${generation}`
}

export interface RenderContext {
  now: EpochSeconds
  /** The netvm's nameservers (specialtarget=dns), per family. */
  nameservers: { readonly 4: readonly string[]; readonly 6: readonly string[] }
  /** How each VM's names resolved at this apply. */
  resolution: (vmIp: string, name: Hostname) => Resolution
}

const vmMap = (family: NftFamily): MapObj => ({
  family, table: TABLE, name: VM_MAP, type: family === 'ip' ? 'ipv4_addr' : 'ipv6_addr', map: 'verdict',
})
const connectedSet = (family: NftFamily): SetObj => ({
  family, table: TABLE, name: CONNECTED_SET, type: family === 'ip' ? 'ipv4_addr' : 'ipv6_addr',
})

function addressValue(address: string, prefix: number): Value {
  const full = address.includes(':') ? 128 : 32
  return prefix === full ? address : { prefix: { addr: address, len: prefix } }
}

/** The statements matching a rule's destination, or 'nothing' when it can match no packet. */
function destinationMatches(vmIp: string, fwRule: FwRule, family: NftFamily, ctx: RenderContext): Statement[] | 'nothing' | 'failed' {
  const matches: Statement[] = []
  const host = fwRule.dsthost
  if (host?.kind === 'ip4' || host?.kind === 'ip6') {
    // mask host bits ourselves: Qubes keeps '192.168.0.1/24' as typed
    const masked = maskAddress(host.address, host.prefix)
    matches.push(eq(daddr(family), addressValue(masked, host.prefix)))
  } else if (host?.kind === 'name') {
    const resolution = ctx.resolution(vmIp, host.name)
    if ('error' in resolution) return 'failed'
    const addresses = resolution.addresses.filter((a) => a.includes(':') === (family === 'ip6'))
    if (addresses.length === 0) return 'nothing'
    matches.push(eq(daddr(family), { set: addresses }))
  }
  if (fwRule.dns) {
    const servers = ctx.nameservers[family === 'ip' ? 4 : 6]
    if (servers.length === 0) return 'nothing'
    matches.push(eq(daddr(family), { set: [...servers] }))
  }
  return matches
}

/** The network of an address and prefix (host bits cleared), as text. */
export function maskAddress(address: ipaddr.IPv4 | ipaddr.IPv6, prefix: number): string {
  const bytes = address.toByteArray()
  if (prefix >= bytes.length * 8) return address.toString()
  const masked = bytes.map((byte, i) => {
    const keep = Math.min(8, Math.max(0, prefix - i * 8))
    return byte & ((0xff << (8 - keep)) & 0xff)
  })
  return ipaddr.fromByteArray(masked).toString()
}

/** One FwRule -> zero or more nft rules (tcp+udp rules are two), or 'block' for a failed name. */
function renderRule(vmIp: string, fwRule: FwRule, family: NftFamily, ctx: RenderContext): Statement[][] | 'block' {
  const dst = destinationMatches(vmIp, fwRule, family, ctx)
  if (dst === 'failed') return fwRule.action === 'drop' ? 'block' : []
  if (dst === 'nothing') return []
  const verdict = fwRule.action === 'accept' ? ret : GOTO_REJECT
  // the kernel stops matching an expiring rule on its own, to the second
  const expiry: Statement[] = fwRule.expire === undefined ? [] : [{ match: { op: '<', left: meta('time'), right: fwRule.expire } }]
  const l4 = fwRule.l4
  const dnsPorts = fwRule.dns && (l4.kind === 'any' || (l4.kind === 'ports' && l4.ports === undefined))
  if (l4.kind === 'icmp') {
    const proto = family === 'ip' ? 'icmp' : 'icmpv6'
    const type: Statement[] = l4.type === undefined ? [] : [eq(payload(proto, 'type'), l4.type)]
    return [[...expiry, l4proto(icmpProto(family)), ...dst, ...type, counter, verdict]]
  }
  if (l4.kind === 'any' && !dnsPorts) return [[...expiry, ...dst, counter, verdict]]
  const protos = l4.kind === 'ports' ? l4.protos : (['tcp', 'udp'] as const)
  const ports = l4.kind === 'ports' && l4.ports ? l4.ports : dnsPorts ? { from: 53, to: 53 } : undefined
  return protos.map((proto) => {
    const portMatch: Statement[] =
      ports === undefined ? [] : [eq(payload(proto, 'dport'), ports.from === ports.to ? ports.from : { range: [ports.from, ports.to] })]
    return [...expiry, l4proto(proto), ...dst, ...portMatch, counter, verdict]
  })
}

const ruleComment = (vmIp: string, fwRule: FwRule | 'policy') =>
  `vm ${vmIp} ${fwRule === 'policy' ? 'policy' : `rule ${fwRule.number}`}`

/** The rules of one VM's chain; a VM that failed to parse gets a single reject-all rule. */
export function vmChainRules(entry: VmEntry, ctx: RenderContext, name: string): RuleObj[] {
  const ip = entry.ok ? entry.vm.ip : entry.failure.ip
  const family = nftFamily(entry.ok ? entry.vm.family : entry.failure.family)
  const rejectAll = (comment: string) => rule(family, name, [counter, goto(REJECT_CHAIN)], comment)
  if (!entry.ok) return [rejectAll(`vm ${ip} blocked: rules did not parse`)]
  const rules: RuleObj[] = []
  for (const fwRule of entry.vm.rules) {
    if (fwRule.expire !== undefined && fwRule.expire <= ctx.now) continue
    const rendered = renderRule(ip, fwRule, family, ctx)
    if (rendered === 'block') {
      // a drop rule whose name did not resolve drops everything from here on: never fail open
      rules.push(rejectAll(`${ruleComment(ip, fwRule)}: name did not resolve, blocking from here`))
      return rules
    }
    for (const expr of rendered) rules.push(rule(family, name, expr, ruleComment(ip, fwRule)))
  }
  rules.push(rule(family, name, [counter, entry.vm.policy === 'accept' ? ret : goto(REJECT_CHAIN)], ruleComment(ip, 'policy')))
  return rules
}

export type MapName = typeof VM_MAP | typeof VM_OVERLAY_MAP

/** Commands creating a VM's chain (a fresh name: never one in use) and filling it. */
export function renderVmChain(entry: VmEntry, ctx: RenderContext, chainName: string): Command[] {
  const family = nftFamily(entry.ok ? entry.vm.family : entry.failure.family)
  return [
    { add: { chain: chain(family, chainName) } },
    ...vmChainRules(entry, ctx, chainName).map((r): Command => ({ add: { rule: r } })),
  ]
}

export function mapElement(op: 'add' | 'delete', family: Family, map: MapName, ip: string, chainName?: string): Command {
  const elem = chainName === undefined ? [ip] : [[ip, goto(chainName)] as [string, ReturnType<typeof goto>]]
  const obj = { element: { family: nftFamily(family), table: TABLE, name: map, elem } }
  return op === 'add' ? { add: obj } : { delete: obj }
}

export function deleteChain(family: Family, chainName: string): Command {
  return { delete: { chain: chain(nftFamily(family), chainName) } }
}

/**
 * The chains, map and set the agent owns in one family, emptied and refilled: the dispatch
 * (custom-forward -> qf-forward -> vmap by source -> qf-vm-<ip>), the reject chain, and anti-spoofing.
 */
export function renderOwnedSkeleton(family: NftFamily, connected: readonly string[] | undefined): Command[] {
  const fromVif = eq(meta('iifname'), DOWNSTREAM)
  const forward = chain(family, FORWARD_CHAIN)
  const reject = chain(family, REJECT_CHAIN)
  const antispoof = chain(family, ANTISPOOF_CHAIN, { type: 'filter', hook: 'prerouting', prio: -300, policy: 'accept' })
  const add = (c: ChainObj, expr: Statement[], comment?: string): Command => ({ add: { rule: rule(family, c.name, expr, comment) } })
  const map = vmMap(family)
  const overlay = { ...vmMap(family), name: VM_OVERLAY_MAP }
  const set = connectedSet(family)
  return [
    { add: { chain: forward } },
    { flush: { chain: forward } },
    { add: { chain: reject } },
    { flush: { chain: reject } },
    { add: { chain: antispoof } },
    { flush: { chain: antispoof } },
    { add: { chain: chain(family, DNAT_CHAIN) } },
    { add: { chain: chain(family, INBOUND_CHAIN) } },
    { add: { map } },
    { flush: { map } },
    { add: { map: overlay } },
    { flush: { map: overlay } },
    { add: { set } },
    // what port forwards let in comes first: it is bound for a vif, which the base chain drops
    add(forward, [jump(INBOUND_CHAIN)]),
    add(forward, [ne(meta('iifname'), DOWNSTREAM), ret]),
    // VM to VM stays the base chain's business (isolation), whatever a VM's rules accept
    add(forward, [eq(meta('oifname'), DOWNSTREAM), ret]),
    // answers within connections let in from upstream (port forwards) are not the VM's outgoing traffic
    add(forward, [ctDirection('reply'), ret]),
    add(forward, [{ vmap: { key: saddr(family), data: `@${VM_OVERLAY_MAP}` } }]),
    add(forward, [{ vmap: { key: saddr(family), data: `@${VM_MAP}` } }]),
    add(forward, [counter, goto(REJECT_CHAIN)], 'source is no known VM'),
    // a connection the new rules no longer allow is cut at its next packet
    add(reject, [eq(meta('l4proto'), 'tcp'), ctState(['established']), { reject: { type: 'tcp reset' } }]),
    add(reject, [rejectAdminProhibited(family)]),
    // link-local and unspecified sources never leave the link: neighbour discovery needs them
    ...(family === 'ip6' ? [add(antispoof, [fromVif, eq(saddr(family), { set: [{ prefix: { addr: 'fe80::', len: 10 } }, '::'] }), ret])] : []),
    // a vif may only send from the addresses routed to it, and only connected VMs' addresses
    add(antispoof, [fromVif, eq({ fib: { result: 'oif', flags: ['saddr', 'iif'] } }, false), counter, { drop: null }]),
    ...(connected === undefined
      ? []
      : [
          ...renderConnectedSet(family, connected),
          add(antispoof, [fromVif, { match: { op: '!=', left: saddr(family), right: `@${CONNECTED_SET}` } }, counter, { drop: null }]),
          add(antispoof, [ne(meta('iifname'), DOWNSTREAM), { match: { op: '==', left: saddr(family), right: `@${CONNECTED_SET}` } }, counter, { drop: null }]),
        ]),
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

/** A hop's forwards, replacing what qf-dnat and qf-inbound held. */
export function renderForwards(family: NftFamily, forwards: readonly ForwardRule[]): Command[] {
  const dnat = chain(family, DNAT_CHAIN)
  const inbound = chain(family, INBOUND_CHAIN)
  const commands: Command[] = [{ flush: { chain: dnat } }, { flush: { chain: inbound } }]
  for (const f of forwards.filter((f) => nftFamily(f.family) === family)) {
    const from: Statement[] = f.from ? [eq(saddr(family), addressValue(f.from.address, f.from.prefix))] : []
    const comment = `forward ${f.id}`
    commands.push({
      add: {
        rule: rule(family, DNAT_CHAIN, [
          ...(f.iface !== undefined ? [eq(meta('iifname'), f.iface)] : []),
          ne(meta('iifname'), DOWNSTREAM),
          ...from,
          // only what is addressed to this hop itself, not traffic passing through it
          eq({ fib: { result: 'type', flags: ['daddr'] } }, 'local'),
          eq(meta('l4proto'), f.proto),
          eq(payload(f.proto, 'dport'), f.dport),
          counter,
          { dnat: { addr: f.to, port: f.toport } },
        ], comment),
      },
    })
    commands.push({
      add: {
        rule: rule(family, INBOUND_CHAIN, [
          ne(meta('iifname'), DOWNSTREAM),
          eq(meta('oifname'), DOWNSTREAM),
          ...from,
          eq(daddr(family), f.to),
          eq(meta('l4proto'), f.proto),
          eq(payload(f.proto, 'dport'), f.toport),
          { match: { op: 'in', left: { ct: { key: 'status' } }, right: ['dnat'] } },
          counter,
          { accept: null },
        ], comment),
      },
    })
  }
  return commands
}

export function customDnatChain(family: NftFamily): ChainObj {
  return chain(family, 'custom-dnat', { type: 'nat', hook: 'prerouting', prio: -100, policy: 'accept' })
}

/** The one rule the agent keeps in custom-dnat, towards qf-dnat. */
export function dnatJump(family: NftFamily): RuleObj {
  return { ...rule(family, 'custom-dnat', [jump(DNAT_CHAIN)]), comment: OWNER_COMMENT }
}

/** The one rule the agent keeps in custom-forward (inserted first, so it sees VM traffic first). */
export function dispatchJump(family: NftFamily): RuleObj {
  return { ...rule(family, 'custom-forward', [jump(FORWARD_CHAIN)]), comment: OWNER_COMMENT }
}
