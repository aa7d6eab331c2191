// `qvm-firewall VM check DEST [PROTO [PORT]]`: which rule decides a packet from a VM to DEST, and
// why, from the typed rules in force, with the kernel's semantics as nft/render.ts renders them.
//
// Before the VM's chain (nft/skeleton.ts, nft/base.ts), and what of it is modelled:
// - a packet out through a vif (to another VM behind this netvm) leaves qf-forward before the VM's
//   chain, and Qubes' forward chain drops it silently (`oifname vif* drop`): 'isolation', given
//   `downstream` (downstreamOf(push): the push's VMs and /connected-ips*);
// - every packet of the VM's own direction reaches its chain, established ones too: a drop cuts a
//   connection at its next packet (qf-reject: tcp reset within a connection, else admin-prohibited);
// - the source is the VM's own address: qf-antispoof drops any other before this.
// Not decidable from typed data, so not modelled:
// - DEST being the netvm's own address: such packets go to the input chain, not forward, and the
//   VM's rules do not apply (Qubes' input takes ICMP and established, rejects the rest from vifs);
// - accept is `return`: custom-forward's later rules and Qubes' `ct state invalid drop` still see
//   the packet, so accept means "the VM's firewall lets it on";
// - replies within connections let in by port forwards, which bypass the chain (ct direction reply).
// A probe field left out matches only rules that do not constrain it: no proto is a protocol no
// rule names (rules with proto, and dns rules needing port 53, do not match); tcp/udp without port
// is a port no dstports covers; icmp without type a type no icmptype names.
import ipaddr from 'ipaddr.js'
import type { Decision } from '../common/observe/decision.js'
import { UsageError } from '../common/errors.js'
import type { EpochSeconds, Hostname } from '../common/rule/model.js'
import { formatPortRange } from '../common/rule/port.js'
import { formatDstHost, parseIPv4, parseIPv6 } from '../common/rule/values.js'
import { shown } from '../common/untrusted-text.js'
import { maskAddress } from './nft/address.js'
import type { Family, FwRule, Push, Resolution, VmEntry } from './push/model.js'

type Address = ipaddr.IPv4 | ipaddr.IPv6

/** A packet from the VM: `dst` is address text (user input, checked here). */
export interface Probe {
  readonly dst: string
  readonly proto?: 'tcp' | 'udp' | 'icmp'
  readonly port?: number
  readonly icmpType?: number
}

export interface CheckContext {
  readonly now: EpochSeconds
  /** The netvm's nameservers (specialtarget=dns), per family, as render gets them. */
  readonly nameservers: { readonly 4: readonly string[]; readonly 6: readonly string[] }
  /** Addresses routed to a vif: the VMs behind this netvm. */
  readonly downstream?: readonly string[]
}

/** What a push knows to be behind this netvm: its VMs and /connected-ips*. */
export function downstreamOf(push: Push): string[] {
  return [...push.vms.keys(), ...(push.connectedIps4 ?? []).map(String), ...(push.connectedIps6 ?? []).map(String)]
}

const familyOf = (address: Address): Family => (address.kind() === 'ipv4' ? 4 : 6)

/** Whether address text (a resolved name, a nameserver) is `dst`; as in render, ':' makes it IPv6. */
function same(dst: Address, text: string): boolean {
  if (!ipaddr.isValid(text)) return false
  const other = ipaddr.parse(text)
  return other.kind() === dst.kind() && other.toNormalizedString() === dst.toNormalizedString()
}

function checkL4(probe: Probe): void {
  const { proto, port, icmpType } = probe
  if (proto !== undefined && !['tcp', 'udp', 'icmp'].includes(proto)) {
    throw new UsageError(`invalid proto '${shown(String(proto))}' (expected tcp, udp or icmp)`)
  }
  if (port !== undefined && proto !== 'tcp' && proto !== 'udp') throw new UsageError("port valid only for 'tcp' and 'udp' protocols")
  if (port !== undefined && !(Number.isInteger(port) && port >= 0 && port <= 65535)) {
    throw new UsageError(`invalid port '${port}' (expected a number 0-65535)`)
  }
  if (icmpType !== undefined && proto !== 'icmp') throw new UsageError("icmp type valid only for 'icmp' protocol")
  if (icmpType !== undefined && !(Number.isInteger(icmpType) && icmpType >= 0 && icmpType <= 255)) {
    throw new UsageError(`invalid icmp type '${icmpType}' (expected a number 0-255)`)
  }
}

/** The probe's destination, strict as Qubes reads addresses; a probe these rules cannot decide throws. */
function probeDestination(entry: VmEntry, probe: Probe): Address {
  const dst = parseIPv4(probe.dst) ?? parseIPv6(probe.dst)
  if (dst === undefined) {
    throw new UsageError(`invalid destination '${shown(probe.dst)}' (expected an IPv4 dotted quad or an IPv6 address)`)
  }
  const { ip, family } = entry.ok ? entry.vm : entry.failure
  // each family has its own table: the VM's other-family packets meet the rules of its other address
  if (familyOf(dst) !== family) throw new UsageError(`${dst} is an IPv${familyOf(dst)} address; the rules of ${ip} are for IPv${family}`)
  if (same(dst, ip)) throw new UsageError(`${dst} is the VM's own address: its packets to it never reach the netvm`)
  checkL4(probe)
  return dst
}

/** What a rule's destination matched (to show), undefined when it does not, `failed` when its name did not resolve. */
type DestMatch = { readonly resolvedTo?: string; readonly nameserver?: string } | { readonly failed: string } | undefined

function destination(rule: FwRule, dst: Address, resolution: ReadonlyMap<Hostname, Resolution>, ctx: CheckContext): DestMatch {
  const host = rule.dsthost
  let resolvedTo: string | undefined
  if (host?.kind === 'ip4' || host?.kind === 'ip6') {
    // the network as render masks it (Qubes keeps '192.0.2.7/24' as typed)
    const sameFamily = (host.kind === 'ip4') === (familyOf(dst) === 4)
    if (!sameFamily || maskAddress(dst, host.prefix) !== maskAddress(host.address, host.prefix)) return undefined
  } else if (host?.kind === 'name') {
    // a name missing from this apply's answers is one that did not resolve, as the agent renders it
    const resolved = resolution.get(host.name) ?? { error: 'not resolved' }
    if ('error' in resolved) return { failed: resolved.error }
    resolvedTo = resolved.addresses.find((a) => same(dst, a))
    if (resolvedTo === undefined) return undefined
  }
  if (!rule.dns) return { ...(resolvedTo !== undefined && { resolvedTo }) }
  const nameserver = ctx.nameservers[familyOf(dst)].find((s) => same(dst, s))
  if (nameserver === undefined) return undefined
  return { ...(resolvedTo !== undefined && { resolvedTo }), nameserver }
}

/** The rule's layer 4 match, as renderRule builds it (dns without ports: tcp and udp port 53). */
function l4Matches(rule: FwRule, probe: Probe): boolean {
  const l4 = rule.l4
  if (l4.kind === 'icmp') return probe.proto === 'icmp' && (l4.type === undefined || probe.icmpType === l4.type)
  const dnsPorts = rule.dns && (l4.kind === 'any' || l4.ports === undefined)
  if (l4.kind === 'any' && !dnsPorts) return true
  const protos: readonly string[] = l4.kind === 'ports' ? l4.protos : ['tcp', 'udp']
  const ports = l4.kind === 'ports' && l4.ports ? l4.ports : dnsPorts ? { from: 53, to: 53 } : undefined
  if (probe.proto === undefined || !protos.includes(probe.proto)) return false
  return ports === undefined || (probe.port !== undefined && probe.port >= ports.from && probe.port <= ports.to)
}

/** The rule in Qubes' words, with what its name or dns target matched. */
function describe(rule: FwRule, matched: { readonly resolvedTo?: string; readonly nameserver?: string }): string {
  const words: string[] = [rule.action]
  if (rule.dsthost) {
    const note = matched.resolvedTo === undefined ? '' : ` (resolved to ${matched.resolvedTo})`
    words.push(`dsthost=${formatDstHost(rule.dsthost)}${note}`)
  }
  if (rule.dns) words.push(`specialtarget=dns (nameserver ${matched.nameserver ?? '?'})`)
  const l4 = rule.l4
  if (l4.kind === 'icmp') words.push('proto=icmp', ...(l4.type === undefined ? [] : [`icmptype=${l4.type}`]))
  // ports without proto stand for tcp and udp, as written: no proto= then
  if (l4.kind === 'ports' && l4.protos.length === 1) words.push(`proto=${l4.protos[0]}`)
  if (l4.kind === 'ports' && l4.ports) words.push(`dstports=${formatPortRange(l4.ports, 'short')}`)
  if (rule.expire !== undefined) words.push(`expire=${rule.expire}`)
  return words.join(' ')
}

/** The decision on one packet from the VM of `entry`; throws a one-line UsageError for a bad probe. */
export function decide(entry: VmEntry, resolution: ReadonlyMap<Hostname, Resolution>, ctx: CheckContext, probe: Probe): Decision {
  const dst = probeDestination(entry, probe)
  if (ctx.downstream?.some((address) => same(dst, address))) {
    const reason = `${dst} is a VM behind this netvm: dropped, VMs stay isolated from each other even when their rules accept all`
    return { action: 'drop', by: 'isolation', reason }
  }
  if (!entry.ok) {
    const { rule, error } = entry.failure
    return { action: 'drop', by: 'blocked', reason: `blocked, rules did not parse: ${rule === null ? '' : `rule ${rule}: `}${error}` }
  }
  for (const rule of entry.vm.rules) {
    if (rule.expire !== undefined && rule.expire <= ctx.now) continue
    const by = { rule: rule.number }
    const matched = destination(rule, dst, resolution, ctx)
    if (matched !== undefined && 'failed' in matched) {
      // render: an accept matches nothing, a drop ends the chain with a reject-all (never fail open)
      if (rule.action === 'accept') continue
      const name = rule.dsthost?.kind === 'name' ? rule.dsthost.name : '?'
      return { action: 'drop', by, reason: `rule ${rule.number}: name ${name} did not resolve (${matched.failed}): drop rule blocks from here` }
    }
    if (matched !== undefined && l4Matches(rule, probe)) return { action: rule.action, by, reason: `rule ${rule.number}: ${describe(rule, matched)}` }
  }
  const policy = entry.vm.policy
  return { action: policy, by: 'policy', reason: `policy ${policy} (no rule matched)` }
}
