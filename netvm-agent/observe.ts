// What the daemon tells about the rules in force, without changing them: a VM's hit counts (its
// chain's counters, read from the kernel) and which rule decides a packet (check.ts).
import type { Hostname } from '../common/rule/model.js'
import type { Agent, AgentEffects } from './agent.js'
import { decide, type Probe } from './check.js'
import type { Response } from './daemon/protocol.js'
import type { Counter } from '../common/observe/hits.js'
import { HitHistory, parseChainCounters } from './hits.js'
import type { Resolution } from './push/model.js'

const hitJson = (hit: Counter) => ({ packets: hit.packets, bytes: hit.bytes, last: hit.last })

export class Observer {
  private readonly history = new HitHistory()

  constructor(
    private readonly agent: Agent,
    private readonly fx: Pick<AgentEffects, 'listNft' | 'nameservers' | 'now'>,
  ) {}

  /** The counters of one VM's chain (only that chain is listed: listing the table costs O(VMs)). */
  async hits(ip: string): Promise<Response> {
    const vm = this.agent.loadedVms().get(ip)
    if (vm === undefined) return { ok: false, error: `no rules loaded for ${ip}` }
    const family = (vm.entry.ok ? vm.entry.vm.family : vm.entry.failure.family) === 4 ? 'ip' : 'ip6'
    const [listing] = await this.fx.listNft([['chain', family, 'qubes', vm.chain]])
    if (listing === undefined) return { ok: false, error: `the chain of ${ip} is not in the kernel` }
    this.history.keepOnly(new Set([...this.agent.loadedVms().values()].map((v) => v.chain)))
    const hits = this.history.read(vm.chain, parseChainCounters(listing), this.fx.now())
    return {
      ok: true,
      ip,
      rules: [...hits.rules].map(([rule, hit]) => ({ rule, ...hitJson(hit) })),
      policy: hitJson(hits.policy),
      ...(hits.blocked && { blocked: hitJson(hits.blocked) }),
    }
  }

  check(ip: string, probe: Probe): Response {
    const vm = this.agent.loadedVms().get(ip)
    if (vm === undefined) return { ok: false, error: `no rules loaded for ${ip}` }
    const ctx = { now: this.fx.now(), nameservers: this.fx.nameservers(), downstream: this.agent.downstream() }
    try {
      return { ok: true, ip, ...decide(vm.entry, vm.resolution as ReadonlyMap<Hostname, Resolution>, ctx, probe) }
    } catch (err) {
      return { ok: false, error: (err as Error).message }
    }
  }
}
