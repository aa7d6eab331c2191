// The `status` op's answer: what is in force for each VM, as the agent holds it, and how its names
// follow DNS (when each was answered, what is still in its grace, when it is asked again).
import type { Hostname } from '../../common/rule/model.js'
import type { Agent } from '../agent.js'
import { dueAt, type NameState, type RefreshPolicy } from '../names/name-state.js'
import type { NameRefresher } from './refresher.js'
import type { Response } from './protocol.js'

/** A name's state; `asking`: the policy it is asked again by (absent while refreshes are off). */
function nameStatus(state: NameState, asking: RefreshPolicy | undefined): Record<string, unknown> {
  const due = asking ? { due: dueAt(state, asking) } : {}
  if (state.kind === 'failed') return { error: state.error, tried: state.lastTry, ...due }
  return {
    addresses: [...state.answer, ...state.graced.keys()],
    answered: state.answeredAt,
    ...(state.ttl !== undefined && { ttl: state.ttl }),
    ...(state.graced.size > 0 && { graced: Object.fromEntries(state.graced) }),
    ...(state.failing && { failing: { since: state.failing.since, error: state.failing.error } }),
    ...due,
  }
}

function refreshStatus(refresher: NameRefresher | undefined): Record<string, unknown> {
  if (refresher === undefined) return {}
  if (!refresher.enabled()) return { refresh: 'off: no nameserver in resolv.conf' }
  const { minTtl, maxTtl, graceFloor } = refresher.policy
  return { refresh: { minTtl, maxTtl, grace: graceFloor, ...(refresher.next !== undefined && { next: refresher.next }) } }
}

export function status(agent: Agent, refresher?: NameRefresher): Response {
  // resolv.conf read once, not once a name
  const asking = refresher?.enabled() ? refresher.policy : undefined
  const vms = [...agent.loadedVms()].map(([ip, { entry, resolution, names, chain }]) => ({
    ip,
    ok: entry.ok,
    chain,
    ...(entry.ok
      ? {
          policy: entry.vm.policy,
          rules: entry.vm.rules.length,
          expiries: entry.vm.rules.filter((r) => r.expire !== undefined).map((r) => ({ rule: r.number, expire: r.expire })),
        }
      : { error: entry.failure.error }),
    resolved: Object.fromEntries([...resolution].map(([name, r]) => [name, 'addresses' in r ? r.addresses : { error: r.error }])),
    names: Object.fromEntries([...names].map(([name, state]: [Hostname, NameState]) => [name, nameStatus(state, asking)])),
  }))
  const forwards = agent.loadedForwards().map((f) => ({
    id: f.id, proto: f.proto, dport: f.dport, to: f.to, toport: f.toport,
    ...(f.from && { from: `${f.from.address}/${f.from.prefix}` }), ...(f.iface !== undefined && { iface: f.iface }),
  }))
  return { ok: true, vms, forwards, ...refreshStatus(refresher), lastError: agent.lastError }
}
