// The names of a push, resolved for an apply: dom0's answers where the push carries them, a
// restart's cached answers, else the agent's own (every name asked once, all in parallel).
import type { Hostname } from '../../common/rule/model.js'
import type { Nameservers } from '../../common/dns/resolv-conf.js'
import type { FwRule, Push, Resolution, VmEntry } from '../push/model.js'

/** Per VM, what the agent itself resolved names to before a restart: used once, to restore without DNS. */
export type CachedResolutions = ReadonlyMap<string, ReadonlyMap<string, Resolution>>

/** An expired rule is never rendered, so its name is neither resolved nor reported. */
export function liveRules(entry: VmEntry & { ok: true }, now: number): FwRule[] {
  return entry.vm.rules.filter((r) => r.expire === undefined || r.expire > now)
}

function ruleName(rule: FwRule): Hostname | undefined {
  return rule.dsthost?.kind === 'name' ? rule.dsthost.name : undefined
}

/** Each VM's names -> how they resolved (`not resolved` where nothing answered). */
export async function resolvePushNames(
  push: Push,
  fx: {
    resolve: (names: readonly string[], nameservers: Nameservers) => Promise<Map<string, Resolution>>
    nameservers: () => Nameservers
    now: () => number
  },
  cached: CachedResolutions,
): Promise<Map<string, Map<Hostname, Resolution>>> {
  const now = fx.now()
  const wanted = new Set<Hostname>()
  for (const [ip, entry] of push.vms) {
    if (!entry.ok) continue
    for (const name of liveRules(entry, now).map(ruleName)) {
      if (name !== undefined && !entry.vm.resolved.has(name) && !cached.get(ip)?.has(name)) wanted.add(name)
    }
  }
  const own = wanted.size === 0 ? new Map<string, Resolution>() : await fx.resolve([...wanted], fx.nameservers())
  const perVm = new Map<string, Map<Hostname, Resolution>>()
  for (const [ip, entry] of push.vms) {
    const resolution = new Map<Hostname, Resolution>()
    perVm.set(ip, resolution)
    if (!entry.ok) continue
    for (const name of liveRules(entry, now).map(ruleName)) {
      if (name !== undefined) resolution.set(name, entry.vm.resolved.get(name) ?? cached.get(ip)?.get(name) ?? own.get(name) ?? { error: 'not resolved' })
    }
  }
  return perVm
}
