// The `status` op's answer: what is in force for each VM, as the agent holds it.
import type { Agent } from '../agent.js'
import type { Response } from './protocol.js'

export function status(agent: Agent): Response {
  const vms = [...agent.loadedVms()].map(([ip, { entry, resolution, chain }]) => ({
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
  }))
  const forwards = agent.loadedForwards().map((f) => ({
    id: f.id, proto: f.proto, dport: f.dport, to: f.to, toport: f.toport,
    ...(f.from && { from: `${f.from.address}/${f.from.prefix}` }), ...(f.iface !== undefined && { iface: f.iface }),
  }))
  return { ok: true, vms, forwards, lastError: agent.lastError }
}
