// Port forwards (/qubes-firewall-forward): per forward a DNAT rule in qf-dnat (jumped from Qubes'
// custom-dnat) and the matching accept in qf-inbound (jumped first from qf-forward).
import type { ForwardRule } from '../push/model.js'
import { addressValue } from './address.js'
import { chain, rule } from './base.js'
import { DOWNSTREAM, OWNER_COMMENT, counter, daddr, eq, jump, meta, ne, payload, saddr } from './expr.js'
import type { ChainObj, Command, NftFamily, RuleObj, Statement } from './model.js'
import { DNAT_CHAIN, INBOUND_CHAIN, nftFamily } from './names.js'

/** One forward's two rules: its DNAT, and the accept of what that DNAT let in. */
function forwardRules(family: NftFamily, f: ForwardRule): Command[] {
  const from: Statement[] = f.from ? [eq(saddr(family), addressValue(f.from.address, f.from.prefix))] : []
  const comment = `forward ${f.id}`
  const dnat = rule(family, DNAT_CHAIN, [
    ...(f.iface !== undefined ? [eq(meta('iifname'), f.iface)] : []),
    ne(meta('iifname'), DOWNSTREAM),
    ...from,
    // only what is addressed to this hop itself, not traffic passing through it
    eq({ fib: { result: 'type', flags: ['daddr'] } }, 'local'),
    eq(meta('l4proto'), f.proto),
    eq(payload(f.proto, 'dport'), f.dport),
    counter,
    { dnat: { addr: f.to, port: f.toport } },
  ], comment)
  const inbound = rule(family, INBOUND_CHAIN, [
    ne(meta('iifname'), DOWNSTREAM),
    eq(meta('oifname'), DOWNSTREAM),
    ...from,
    eq(daddr(family), f.to),
    eq(meta('l4proto'), f.proto),
    eq(payload(f.proto, 'dport'), f.toport),
    { match: { op: 'in', left: { ct: { key: 'status' } }, right: ['dnat'] } },
    counter,
    { accept: null },
  ], comment)
  return [{ add: { rule: dnat } }, { add: { rule: inbound } }]
}

/** A hop's forwards, replacing what qf-dnat and qf-inbound held. */
export function renderForwards(family: NftFamily, forwards: readonly ForwardRule[]): Command[] {
  const commands: Command[] = [{ flush: { chain: chain(family, DNAT_CHAIN) } }, { flush: { chain: chain(family, INBOUND_CHAIN) } }]
  for (const f of forwards.filter((f) => nftFamily(f.family) === family)) commands.push(...forwardRules(family, f))
  return commands
}

export function customDnatChain(family: NftFamily): ChainObj {
  return chain(family, 'custom-dnat', { type: 'nat', hook: 'prerouting', prio: -100, policy: 'accept' })
}

/** The one rule the agent keeps in custom-dnat, towards qf-dnat. */
export function dnatJump(family: NftFamily): RuleObj {
  return { ...rule(family, 'custom-dnat', [jump(DNAT_CHAIN)]), comment: OWNER_COMMENT }
}
