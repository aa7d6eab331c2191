// The names of a push, resolved for an apply: dom0's answers where the push carries them, a
// restart's cached answers, else the agent's own (every name asked once, all in parallel).
import type { Hostname } from '../../common/rule/model.js'
import type { Nameservers } from '../../common/dns/resolv-conf.js'
import { forFamily } from '../../common/dns/resolver.js'
import type { FwRule, Push, Resolution, VmEntry } from '../push/model.js'
import { namingVms } from '../push/vms-parsed-on-read.js'

/** Per VM, what the agent itself resolved names to before a restart: used once, to restore without DNS. */
export type CachedResolutions = ReadonlyMap<string, ReadonlyMap<string, Resolution>>

/** What a name of a VM already stands for (a restart's cache, or a re-render's names in force): not asked again. */
export type KnownResolution = (ip: string, name: Hostname) => Resolution | undefined

export const cachedLookup = (cached: CachedResolutions): KnownResolution => (ip, name) => cached.get(ip)?.get(name)

/** An expired rule is never rendered, so its name is neither resolved nor reported. */
export function liveRules(entry: VmEntry & { ok: true }, now: number): FwRule[] {
  return entry.vm.rules.filter((r) => r.expire === undefined || r.expire > now)
}

function ruleName(rule: FwRule): Hostname | undefined {
  return rule.dsthost?.kind === 'name' ? rule.dsthost.name : undefined
}

/**
 * Each VM with names -> how they resolved (`not resolved` where nothing answered): what is known first,
 * then dom0's answer, then the agent's own; a failed query of the VM's own family is a failure.
 */
export async function resolvePushNames(
  push: Push,
  fx: {
    resolve: (names: readonly string[], nameservers: Nameservers) => Promise<Map<string, Resolution>>
    nameservers: () => Nameservers
    now: () => number
  },
  known: KnownResolution = () => undefined,
): Promise<Map<string, Map<Hostname, Resolution>>> {
  const now = fx.now()
  const wanted = new Set<Hostname>()
  const naming = namingVms(push.vms)
  for (const [ip, entry] of naming) {
    if (!entry.ok) continue
    for (const name of liveRules(entry, now).map(ruleName)) {
      if (name !== undefined && !entry.vm.resolved.has(name) && known(ip, name) === undefined) wanted.add(name)
    }
  }
  const own = wanted.size === 0 ? new Map<string, Resolution>() : await fx.resolve([...wanted], fx.nameservers())
  const perVm = new Map<string, Map<Hostname, Resolution>>()
  for (const [ip, entry] of naming) {
    const resolution = new Map<Hostname, Resolution>()
    perVm.set(ip, resolution)
    if (!entry.ok) continue
    for (const name of liveRules(entry, now).map(ruleName)) {
      if (name === undefined) continue
      const answer = known(ip, name) ?? entry.vm.resolved.get(name) ?? own.get(name)
      resolution.set(name, answer === undefined ? { error: 'not resolved' } : forFamily(answer, entry.vm.family))
    }
  }
  return perVm
}
