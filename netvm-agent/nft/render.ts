// Pure rendering of one VM's chain: its typed rules and how their names resolved -> the nft
// commands creating the chain (a fresh name, never one in use) and pointing a verdict map at it.
// The owned skeleton is skeleton.ts's, port forwards forwards.ts's.
import { ofFamily } from '../../common/dns/resolver.js'
import type { EpochSeconds, Hostname } from '../../common/rule/model.js'
import type { Family, FwRule, Resolution, VmEntry } from '../push/model.js'
import { addressValue, maskAddress } from './address.js'
import { chain, rule } from './base.js'
import { TABLE, counter, l4proto, daddr, eq, goto, icmpProto, meta, payload, ret } from './expr.js'
import type { Command, NftFamily, RuleObj, SetObj, Statement } from './model.js'
import { REJECT_CHAIN, nftFamily, type MapName } from './names.js'

const GOTO_REJECT = goto(REJECT_CHAIN)

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

/**
 * A name's addresses live in a set of the VM's chain (one per name), so that a refresh changes
 * elements only; named after the chain, it comes and goes with it.
 */
export const nameSetName = (chainName: string, index: number): string => `${chainName}-n${index}`

/** The sets a chain's rules refer to, in the order of first use, and their addresses of the chain's family. */
class NameSets {
  readonly sets = new Map<Hostname, { name: string; addresses: string[] }>()

  constructor(private readonly chainName: string) {}

  refer(name: Hostname, addresses: string[]): string {
    let set = this.sets.get(name)
    if (set === undefined) this.sets.set(name, (set = { name: nameSetName(this.chainName, this.sets.size), addresses }))
    return `@${set.name}`
  }
}

/** The statements matching a rule's destination, or 'nothing' when it can match no packet. */
function destinationMatches(vmIp: string, fwRule: FwRule, family: NftFamily, ctx: RenderContext, sets: NameSets): Statement[] | 'nothing' | 'failed' {
  const matches: Statement[] = []
  const host = fwRule.dsthost
  if (host?.kind === 'ip4' || host?.kind === 'ip6') {
    // mask host bits ourselves: Qubes keeps '192.168.0.1/24' as typed
    const masked = maskAddress(host.address, host.prefix)
    matches.push(eq(daddr(family), addressValue(masked, host.prefix)))
  } else if (host?.kind === 'name') {
    const resolution = ctx.resolution(vmIp, host.name)
    if ('error' in resolution) return 'failed'
    // the rule stays even while the set is empty: a refresh may fill it
    const addresses = ofFamily(resolution.addresses, family === 'ip6' ? 6 : 4)
    matches.push(eq(daddr(family), sets.refer(host.name, addresses)))
  }
  if (fwRule.dns) {
    const servers = ctx.nameservers[family === 'ip' ? 4 : 6]
    if (servers.length === 0) return 'nothing'
    matches.push(eq(daddr(family), { set: [...servers] }))
  }
  return matches
}

/** One FwRule -> zero or more nft rules (tcp+udp rules are two), or 'block' for a failed name. */
function renderRule(vmIp: string, fwRule: FwRule, family: NftFamily, ctx: RenderContext, sets: NameSets): Statement[][] | 'block' {
  const dst = destinationMatches(vmIp, fwRule, family, ctx, sets)
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
function vmChainRules(entry: VmEntry, ctx: RenderContext, name: string, sets: NameSets): RuleObj[] {
  const ip = entry.ok ? entry.vm.ip : entry.failure.ip
  const family = nftFamily(entry.ok ? entry.vm.family : entry.failure.family)
  const rejectAll = (comment: string) => rule(family, name, [counter, goto(REJECT_CHAIN)], comment)
  if (!entry.ok) return [rejectAll(`vm ${ip} blocked: rules did not parse`)]
  const rules: RuleObj[] = []
  for (const fwRule of entry.vm.rules) {
    if (fwRule.expire !== undefined && fwRule.expire <= ctx.now) continue
    const rendered = renderRule(ip, fwRule, family, ctx, sets)
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

export interface RenderedChain {
  readonly commands: Command[]
  /** The set holding each name's addresses (names that failed have none). */
  readonly sets: Map<Hostname, string>
}

/** Commands creating a VM's chain (a fresh name: never one in use), its names' sets, and filling them. */
export function renderVmChain(entry: VmEntry, ctx: RenderContext, chainName: string): RenderedChain {
  const fam = entry.ok ? entry.vm.family : entry.failure.family
  const sets = new NameSets(chainName)
  const rules = vmChainRules(entry, ctx, chainName, sets)
  const commands: Command[] = [{ add: { chain: chain(nftFamily(fam), chainName) } }]
  for (const set of sets.sets.values()) {
    commands.push({ add: { set: nameSet(fam, set.name) } })
    if (set.addresses.length > 0) commands.push(setElements('add', fam, set.name, set.addresses))
  }
  for (const r of rules) commands.push({ add: { rule: r } })
  return { commands, sets: new Map([...sets.sets].map(([name, set]) => [name, set.name])) }
}

function nameSet(family: Family, name: string): SetObj {
  return { family: nftFamily(family), table: TABLE, name, type: family === 4 ? 'ipv4_addr' : 'ipv6_addr' }
}

/** Addresses into or out of a name's set (a refresh, or the render filling it). */
export function setElements(op: 'add' | 'delete', family: Family, set: string, addresses: readonly string[]): Command {
  const obj = { element: { family: nftFamily(family), table: TABLE, name: set, elem: [...addresses] } }
  return op === 'add' ? { add: obj } : { delete: obj }
}

export function deleteNameSet(family: Family, set: string): Command {
  return { delete: { set: nameSet(family, set) } }
}

export function mapElement(op: 'add' | 'delete', family: Family, map: MapName, ip: string, chainName?: string): Command {
  const elem = chainName === undefined ? [ip] : [[ip, goto(chainName)] as [string, ReturnType<typeof goto>]]
  const obj = { element: { family: nftFamily(family), table: TABLE, name: map, elem } }
  return op === 'add' ? { add: obj } : { delete: obj }
}

/** Many VMs' elements of one map in one command (a full load: one line per family, not one per VM). */
export function mapElements(family: Family, map: MapName, chains: readonly (readonly [ip: string, chain: string])[]): Command {
  return { add: { element: { family: nftFamily(family), table: TABLE, name: map, elem: chains.map(([ip, chain]) => [ip, goto(chain)] as [string, ReturnType<typeof goto>]) } } }
}

export function deleteChain(family: Family, chainName: string): Command {
  return { delete: { chain: chain(nftFamily(family), chainName) } }
}
